"""The new-round sensor, for users who submit every daily round (off by default)."""

from datetime import UTC, datetime

from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, SkipReason, sensor

from numerai_pipeline.assets.partitions import round_partitions
from numerai_pipeline.jobs import submit_job
from numerai_pipeline.resources.data_source import NumeraiDataSource
from numerai_pipeline.resources.numerai import NumeraiResource, calendar_for
from numerai_pipeline.schedules import MAX_GAP_ROUNDS, round_request

NEW_ROUND_HOURS = 24
"""How recently a round must have opened to count as new (numerapi's `check_new_round`)."""


@sensor(job=submit_job, minimum_interval_seconds=900, default_status=DefaultSensorStatus.STOPPED)
def new_round_sensor(
    context: SensorEvaluationContext, numerai: NumeraiResource, data_source: NumeraiDataSource
) -> SensorResult | SkipReason:
    """A submission run for each round when it opens (Tuesday to Saturday); the cursor is the
    last round requested. Rounds opened since then without a run (the daemon was down) get
    their partitions but no run, so they show as gaps: missed rounds are not uploaded late."""
    calendar = calendar_for(numerai, data_source)
    if calendar.client is not None and not calendar.client.check_new_round(NEW_ROUND_HOURS):
        return SkipReason(f"no round opened in the last {NEW_ROUND_HOURS} hours")
    current = calendar.current(datetime.now(UTC))
    previous = int(context.cursor) if context.cursor else None
    if previous == current.number:
        return SkipReason(f"round {current.number} was requested already")
    recent = previous is not None and 0 < current.number - previous <= MAX_GAP_ROUNDS
    missed = range(previous + 1, current.number) if recent else range(0)
    keys = [str(number) for number in missed] + [current.key]
    return SensorResult(
        run_requests=[round_request(current, "new-round")],
        dynamic_partitions_requests=[round_partitions.build_add_request(keys)],
        cursor=current.key,
    )
