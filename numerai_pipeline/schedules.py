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
from numerai_pipeline.numerai_api import NumeraiApiError
from numerai_pipeline.resources.data_source import NumeraiDataSource
from numerai_pipeline.resources.numerai import NumeraiResource, calendar_for
from numerai_pipeline.rounds.calendar import OPENING_DAYS, Round

WEEKLY_CRON = ["30 12-23 * * 6", "30 0-12 * * 0"]
"""Every hour of the weekend round's window, from Saturday 12:30 UTC (it opens at 12:00) to
Sunday 12:30: the first tick that finds it open requests its run (once: the run key), so a
round that opens late is still submitted."""
ROUNDS_PER_WEEK = len(OPENING_DAYS)
"""Rounds are numbered by opening day: weekend rounds are this many apart."""
MAX_GAP_ROUNDS = 4 * ROUNDS_PER_WEEK
"""Missed rounds are shown as gaps for up to four weeks back; a longer gap (a long outage, or
partitions numbered by another calendar) adds only the current round."""
RETRAIN_CRON = "0 6 1 * *"
"""The first of each month, 06:00 UTC: far from Saturday's submission."""


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
    try:
        current = calendar_for(numerai, data_source).current(at)
    except NumeraiApiError as exc:  # e.g. between rounds: no current round
        return SkipReason(f"no current round from Numerai's API: {exc}")
    if not current.weekend:
        return SkipReason(f"round {current.number} (opened {current.opens}) is not a weekend round")
    if not current.is_open(at):
        return SkipReason(f"the weekend round {current.number} closed at {current.closes}")
    known = [int(k) for k in context.instance.get_dynamic_partitions(round_partitions.name)]
    earlier = [k for k in known if 0 < current.number - k <= MAX_GAP_ROUNDS]
    last = max((k for k in earlier if (current.number - k) % ROUNDS_PER_WEEK == 0), default=None)
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
