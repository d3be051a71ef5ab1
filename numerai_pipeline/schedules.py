"""Schedules: the weekly submission for the weekend round, and a rarer retraining apart from it."""

from datetime import datetime

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from numerai_pipeline.assets.partitions import round_partitions
from numerai_pipeline.jobs import retrain_job, submit_job
from numerai_pipeline.resources.data_source import NumeraiDataSource
from numerai_pipeline.resources.numerai import NumeraiResource
from numerai_pipeline.rounds.calendar import OPENING_DAYS, Round, RoundCalendar

WEEKLY_CRON = "30 12 * * 6"
"""Saturday 12:30 UTC: the weekend round opened at 12:00 and has the long window."""
ROUNDS_PER_WEEK = len(OPENING_DAYS)
"""Rounds are numbered by opening day: weekend rounds are this many apart."""
RETRAIN_CRON = "0 6 1 * *"
"""The first of each month, 06:00 UTC: far from Saturday's submission."""


def calendar_for(numerai: NumeraiResource, data_source: NumeraiDataSource) -> RoundCalendar:
    """Numerai's calendar through its API when the data comes from it or an API is configured;
    the offline rule otherwise (synthetic or local data, no network)."""
    uses_api = data_source.source == "numerai" or bool(numerai.api_url)
    return RoundCalendar(numerai.client() if uses_api else None)


def round_request(round_: Round, reason: str) -> RunRequest:
    """A run of the `submit` job for `round_` (its partition must exist or be requested)."""
    return RunRequest(
        partition_key=round_.key,
        run_key=f"{reason}-{round_.key}",
        tags={"numerai/round": round_.key},
    )


@schedule(
    job=submit_job,
    cron_schedule=WEEKLY_CRON,
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)
def weekly_submission(
    context: ScheduleEvaluationContext, numerai: NumeraiResource, data_source: NumeraiDataSource
) -> RunRequest | SkipReason:
    """Each Saturday, the weekend round: its live data, the champion's predictions, the upload.
    Weekend rounds since the last one with a partition that had no run get their partitions
    too, so a missed Saturday shows as a gap (it is not uploaded late)."""
    at: datetime = context.scheduled_execution_time
    current = calendar_for(numerai, data_source).current(at)
    if not current.weekend:
        return SkipReason(f"round {current.number} (opened {current.opens}) is not a weekend round")
    known = [int(k) for k in context.instance.get_dynamic_partitions(round_partitions.name)]
    last = max(
        (k for k in known if k % ROUNDS_PER_WEEK == current.number % ROUNDS_PER_WEEK), default=None
    )
    missed = range(last + ROUNDS_PER_WEEK, current.number, ROUNDS_PER_WEEK) if last else range(0)
    keys = [str(number) for number in missed] + [current.key]
    context.instance.add_dynamic_partitions(round_partitions.name, keys)
    return round_request(current, "weekly")


monthly_retraining = ScheduleDefinition(
    name="monthly_retraining",
    job=retrain_job,
    cron_schedule=RETRAIN_CRON,
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="New data, final fits with the schedules CV chose, ensemble and champion.",
)
