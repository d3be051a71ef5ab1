"""The round calendar: the offline rule, and Numerai's own rounds through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from numerai_pipeline.rounds.calendar import (
    ANCHOR_ROUND,
    RoundCalendar,
    offline_round,
    offline_round_at,
)
from numerai_pipeline_tests.fake_numerai_server import running_fake_numerai, write_tiny_dataset


def test_rounds_open_tuesday_to_saturday_and_the_weekend_round_closes_on_sunday():
    week = [offline_round(ANCHOR_ROUND + k) for k in range(6)]
    assert [r.opens.strftime("%a %H:%M") for r in week] == [
        "Tue 12:00", "Wed 12:00", "Thu 12:00", "Fri 12:00", "Sat 12:00", "Tue 12:00"
    ]  # fmt: skip
    assert [r.weekend for r in week] == [False, False, False, False, True, False]
    assert week[0].closes - week[0].opens == timedelta(hours=1)
    assert week[4].closes.strftime("%a %H:%M") == "Sun 14:00"
    assert offline_round(ANCHOR_ROUND - 1).weekend, "numbering runs back before the anchor too"


@pytest.mark.parametrize(
    ("at", "number", "open_"),
    [
        (datetime(2025, 1, 11, 12, 30, tzinfo=UTC), ANCHOR_ROUND + 4, True),  # Saturday
        (datetime(2025, 1, 13, 9, 0, tzinfo=UTC), ANCHOR_ROUND + 4, False),  # Monday
        (datetime(2025, 1, 14, 11, 59, tzinfo=UTC), ANCHOR_ROUND + 4, False),  # before 12:00
        (datetime(2025, 1, 14, 12, 0, tzinfo=UTC), ANCHOR_ROUND + 5, True),
    ],
)
def test_the_current_round_is_the_last_one_opened(at, number, open_):
    current = offline_round_at(at)
    assert current.number == number and current.is_open(at) == open_
    assert current.opens <= at < offline_round(number + 1).opens


def test_every_moment_belongs_to_exactly_one_round():
    at = datetime(2024, 12, 20, tzinfo=UTC)
    while at < datetime(2025, 2, 20, tzinfo=UTC):
        current = offline_round_at(at)
        assert current.opens <= at < offline_round(current.number + 1).opens
        at += timedelta(minutes=47)


def test_with_the_api_the_round_and_its_times_are_numerais(tmp_path):
    write_tiny_dataset(tmp_path)
    with running_fake_numerai(tmp_path, current_round=1234) as fake:
        fake.round_opened = datetime(2026, 7, 18, 12, tzinfo=UTC)
        current = RoundCalendar(fake.client()).current()
    assert current.number == 1234 and current.key == "1234"
    assert current.opens == datetime(2026, 7, 18, 12, tzinfo=UTC) and current.weekend
