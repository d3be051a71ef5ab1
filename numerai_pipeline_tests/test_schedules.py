"""The weekly submission schedule, the new-round sensor and the retraining schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import (
    DagsterInstance,
    FilesystemIOManager,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)

from numerai_pipeline.assets.partitions import round_partitions
from numerai_pipeline.definitions import ASSETS, build_definitions
from numerai_pipeline.jobs import retrain_job
from numerai_pipeline.resources import resources_from_env
from numerai_pipeline.resources.data_source import NumeraiDataSource
from numerai_pipeline.resources.numerai import NumeraiResource
from numerai_pipeline.rounds.calendar import offline_round_at
from numerai_pipeline.schedules import monthly_retraining, weekly_submission
from numerai_pipeline.sensors import new_round_sensor
from numerai_pipeline_tests.fake_numerai_server import running_fake_numerai, write_tiny_dataset

SATURDAY = datetime(2026, 12, 5, 12, 30, tzinfo=UTC)


def definitions_with(**resources):
    """The project's definitions, with some resources replaced."""
    base = {**resources_from_env(), "io_manager": FilesystemIOManager()}
    return build_definitions({**base, **resources})


def schedule_tick(instance: DagsterInstance, at: datetime):
    resources = {"numerai": NumeraiResource(), "data_source": NumeraiDataSource()}
    context = build_schedule_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        scheduled_execution_time=at,
        repository_def=definitions_with(**resources).get_repository_def(),
        resources=resources,
    )
    return weekly_submission.evaluate_tick(context)


def test_the_saturday_tick_requests_the_weekend_rounds_submission():
    with instance_for_test() as instance:
        data = schedule_tick(instance, SATURDAY)
        (request,) = data.run_requests
        expected = offline_round_at(SATURDAY)
        assert expected.weekend and request.partition_key == expected.key
        assert request.job_name in (None, "submit") and weekly_submission.job_name == "submit"
        assert request.tags["dagster/partition"] == expected.key
        assert instance.get_dynamic_partitions(round_partitions.name) == [expected.key]
        assert weekly_submission.cron_schedule == ["30 12-23 * * 6", "30 0-12 * * 0"]
        again = schedule_tick(instance, SATURDAY + timedelta(hours=3))  # a later tick: same run
        assert [r.run_key for r in again.run_requests] == [request.run_key]


def test_a_missed_saturday_gets_its_partition_as_a_gap_and_no_run():
    with instance_for_test() as instance:
        schedule_tick(instance, SATURDAY)
        later = schedule_tick(instance, SATURDAY + timedelta(weeks=2))
        first, missed, current = (offline_round_at(SATURDAY + timedelta(weeks=k)) for k in range(3))
        assert [r.partition_key for r in later.run_requests] == [current.key]
        keys = [first.key, missed.key, current.key]
        assert instance.get_dynamic_partitions(round_partitions.name) == keys
        assert missed.weekend and int(current.key) - int(missed.key) == 5


def test_a_tick_on_a_weekday_round_is_skipped():
    with instance_for_test() as instance:
        data = schedule_tick(instance, SATURDAY - timedelta(days=2))
        assert not data.run_requests and "not a weekend round" in data.skip_message


def test_retraining_is_kept_apart_from_submission():
    assert monthly_retraining.job_name == "retrain"
    keys = {k.to_user_string() for k in retrain_job.selection.resolve(ASSETS)}
    assert "champion" in keys and "feature_matrix" in keys
    assert not keys & {"submission", "live_predictions"} and not any(
        k.startswith("cv/") for k in keys
    )


def sensor_tick(instance: DagsterInstance, fake, cursor: str | None):
    resources = {
        "numerai": NumeraiResource(api_url=fake.url, max_retries=0, timeout_seconds=5.0),
        "data_source": NumeraiDataSource(source="numerai"),
    }
    context = build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        cursor=cursor,
        definitions=definitions_with(**resources),
        resources=resources,
    )
    return new_round_sensor.evaluate_tick(context)


def test_the_sensor_requests_a_run_only_when_a_new_round_opens(tmp_path):
    write_tiny_dataset(tmp_path)
    with (
        instance_for_test() as instance,
        running_fake_numerai(tmp_path, current_round=1300) as fake,
    ):
        fake.round_opened = datetime.now(UTC) - timedelta(hours=30)
        assert not sensor_tick(instance, fake, None).run_requests  # opened too long ago
        fake.round_opened = datetime.now(UTC) - timedelta(minutes=5)
        first = sensor_tick(instance, fake, None)
        assert [r.partition_key for r in first.run_requests] == ["1300"] and first.cursor == "1300"
        assert list(first.dynamic_partitions_requests[0].partition_keys) == ["1300"]
        assert not sensor_tick(instance, fake, first.cursor).run_requests  # the same round
        fake.current_round = 1301
        second = sensor_tick(instance, fake, first.cursor)
        assert [r.partition_key for r in second.run_requests] == ["1301"]
        fake.current_round = 1304  # the daemon was down for two rounds: gaps, not late runs
        third = sensor_tick(instance, fake, second.cursor)
        assert [r.partition_key for r in third.run_requests] == ["1304"]
        assert list(third.dynamic_partitions_requests[0].partition_keys) == ["1302", "1303", "1304"]
    assert not isinstance(second, SkipReason)
