"""Keeping the Dagster instance under the home folder usable after a run was killed.

A run killed hard (SIGKILL, the OOM killer, `docker kill`, a closed laptop) stays STARTED and keeps
its `gpu` pool slot, and every later run in the home then waits for that slot forever, spinning
and deaf to Ctrl-C. Run monitoring only helps where a daemon runs, so before each run the CLI
reaps runs whose process is gone: marks them failed and frees their slots. A live run that holds
the slot is reported instead of waited for.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus
from dagster._core.storage.dagster_run import RunsFilter

ACTIVE = [DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.CANCELING]
GPU_POOL = "gpu"


@dataclass(frozen=True)
class SlotHolder:
    """A live run that holds (or was given) a slot of a pool."""

    run_id: str
    job_name: str
    pid: int | None


def _process_start(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), or None if there is none or it
    cannot be told (then any live pid counts)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, IndexError, ValueError):
        return None


def _alive(pid: int, since: float | None) -> bool:
    """Whether process `pid` runs and started no later than `since` (the run's start): a pid
    reused by a newer process is not the run's."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    started = _process_start(pid)
    return started is None or since is None or started <= since + 1.0


def worker_pid(instance: DagsterInstance, run_id: str) -> int | None:
    """The pid of the process executing a run's steps (Dagster logs it when execution starts)."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT).records
    for record in records:
        event = record.event_log_entry.dagster_event
        metadata = (event.engine_event_data.metadata if event.engine_event_data else None) or {}
        if "pid" in metadata:
            return int(metadata["pid"].value)
    return None


def reap_dead_runs(instance: DagsterInstance) -> list[str]:
    """Mark failed every run still marked active whose process is gone (on this host), free the
    pool slots of those runs and of finished runs that still hold some; returns the reaped ids."""
    reaped = []
    for run in instance.get_runs(filters=RunsFilter(statuses=ACTIVE)):
        pid = worker_pid(instance, run.run_id)
        record = instance.get_run_record_by_id(run.run_id)
        since = record.start_time if record else None
        if pid is None and since is not None and time.time() - since < 60:
            continue  # starting right now: no pid logged yet
        if pid is not None and _alive(pid, since):
            continue
        instance.report_run_failed(
            run, f"its process ({pid or 'unknown pid'}) is gone: killed; marked failed on restart"
        )
        reaped.append(run.run_id)
    holders = sorted(instance.event_log_storage.get_concurrency_run_ids())
    runs = instance.get_runs(RunsFilter(run_ids=holders)) if holders else []
    finished = {run.run_id for run in runs if run.is_finished}
    for run_id in set(reaped) | finished:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    return reaped


def gpu_pool_holders(instance: DagsterInstance) -> list[SlotHolder]:
    """Live runs that hold the `gpu` pool's slot (claimed, or assigned while waiting)."""
    info = instance.event_log_storage.get_concurrency_info(GPU_POOL)
    run_ids = {slot.run_id for slot in info.claimed_slots}
    run_ids |= {step.run_id for step in info.pending_steps if step.assigned_timestamp}
    holders = []
    for run in instance.get_runs(RunsFilter(run_ids=sorted(run_ids))) if run_ids else []:
        if not run.is_finished:
            holders.append(SlotHolder(run.run_id, run.job_name, worker_pid(instance, run.run_id)))
    return holders
