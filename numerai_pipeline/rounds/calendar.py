"""Numerai's round calendar: which round is open (or last opened) at a given UTC time, and when
it opens and closes.

With the API (credentials or an API URL set) the numbers and times are Numerai's own. Offline
(the synthetic data, tests) a documented rule stands in, from Numerai's published schedule of
2026-04: a round opens every Tuesday to Saturday at 12:00 UTC; weekday rounds close at 13:00 UTC
the same day, the weekend (Saturday) round on Sunday at 14:00 UTC. Rounds are numbered by
counting opening days from `ANCHOR_ROUND`, which opened at `ANCHOR_OPEN`. The published times
move (and the docs disagree on the weekend close), which is why the API's are used when there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from dateutil.parser import isoparse

from numerai_pipeline.numerai_api.client import NumeraiClient

OPENING_DAYS = (1, 2, 3, 4, 5)
"""Tuesday..Saturday (Monday = 0)."""
SATURDAY = 5
OPENS = time(12, 0)
WEEKDAY_CLOSE = timedelta(hours=1)
WEEKEND_CLOSE = timedelta(days=1, hours=2)
"""Saturday 12:00 to Sunday 14:00 UTC."""
ANCHOR_ROUND = 1000
ANCHOR_OPEN = datetime(2025, 1, 7, 12, tzinfo=UTC)
"""A Tuesday: the offline numbering's origin."""


@dataclass(frozen=True)
class Round:
    """A tournament round: its number and submission window (UTC)."""

    number: int
    opens: datetime
    closes: datetime

    @property
    def weekend(self) -> bool:
        """The Saturday round, with the long window (what the weekly submission targets)."""
        return self.opens.weekday() == SATURDAY

    @property
    def key(self) -> str:
        """The round's partition key in Dagster."""
        return str(self.number)

    def is_open(self, at: datetime) -> bool:
        return self.opens <= at < self.closes


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def offline_round(number: int) -> Round:
    """Round `number` by the offline rule."""
    weeks, day = divmod(number - ANCHOR_ROUND, len(OPENING_DAYS))
    opens = ANCHOR_OPEN + timedelta(weeks=weeks, days=day)
    close = WEEKEND_CLOSE if opens.weekday() == SATURDAY else WEEKDAY_CLOSE
    return Round(number, opens, opens + close)


def offline_round_at(at: datetime) -> Round:
    """The round last opened at or before `at` (the current round) by the offline rule."""
    at = _utc(at)
    days = (at.date() - ANCHOR_OPEN.date()).days
    weeks, weekday = divmod(days, 7)
    opened_days = weeks * len(OPENING_DAYS) + sum(
        1 for d in range(weekday + 1) if (ANCHOR_OPEN.weekday() + d) % 7 in OPENING_DAYS
    )
    if (ANCHOR_OPEN + timedelta(days=days)).weekday() in OPENING_DAYS and at.time() < OPENS:
        opened_days -= 1  # today's round has not opened yet
    return offline_round(ANCHOR_ROUND + opened_days - 1)


def api_round(client: NumeraiClient, number: int = 0) -> Round:
    """Round `number` (0: the current one) as the API gives it; its submissions close at the
    staking close (what numerapi's `check_round_open` checks)."""
    answer = client.round_times(number)
    close = answer.get("closeStakingTime") or answer["closeTime"]
    return Round(int(answer["number"]), isoparse(answer["openTime"]), isoparse(close))


class RoundCalendar:
    """The current round at a time: from the API with `client`, else by the offline rule."""

    def __init__(self, client: NumeraiClient | None = None) -> None:
        self.client = client

    def current(self, at: datetime | None = None) -> Round:
        """The round open (or last opened) at `at` (default: now). The API only knows the
        current round, so with it `at` must be now."""
        if self.client is not None:
            return api_round(self.client)
        return offline_round_at(at or datetime.now(UTC))
