"""`numerai-pipeline run`: materialize the asset graph stage by stage and print the results.

Each stage is a Dagster run in the instance under the home folder (`make ui` shows them). Runs
killed earlier are reaped first; assets materialized from the same code, data and settings are
reused (`--redo` re-materializes them); a failure ends with the message of what stopped it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from numerai_pipeline.storage.home import PipelineHome

REPO_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"
STAGES = ("dataset", "prepare_data", "cross_validate", "select_and_train", "submit")
"""`dataset` (the raw files and their checks, on every run: the data may have changed) runs alone
first, so that what depends on it is planned against the dataset's new data version."""
RESULT_SETTINGS = ("data_source", "compute")
"""Resources whose configuration changes results: a change re-materializes what they feed."""


class PipelineError(Exception):
    """A stage could not run or failed; the message is what the console shows last."""


def prepare_dagster_home(home: PipelineHome) -> Path:
    """Point DAGSTER_HOME into the home folder and install the project's dagster.yaml there."""
    home.dagster.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home.dagster)
    if REPO_DAGSTER_YAML.exists():
        shutil.copyfile(REPO_DAGSTER_YAML, home.dagster / "dagster.yaml")
    return home.dagster


def _partitions(stage: str, instance, resources: dict[str, object]) -> list[str | None]:
    """The stage's partitions: every CV fold, the current round (added to the instance), or
    none."""
    from numerai_pipeline.assets.partitions import cv_fold_partitions, round_partitions
    from numerai_pipeline.resources.numerai import calendar_for

    if stage == "cross_validate":
        return list(cv_fold_partitions.get_partition_keys())
    if stage != "submit":
        return [None]
    numerai = resources["numerai"].process_config_and_initialize()
    data_source = resources["data_source"].process_config_and_initialize()
    key = calendar_for(numerai, data_source).current().key
    instance.add_dynamic_partitions(round_partitions.name, [key])
    return [key]


def _check_gpu_pool(instance, report: Callable[[str], None]) -> None:
    """Reap dead runs; refuse to start while a live run holds the `gpu` pool's slot."""
    from numerai_pipeline.runner.housekeeping import gpu_pool_holders, reap_dead_runs

    for run_id in reap_dead_runs(instance):
        report(f"run {run_id} was killed earlier: marked failed and its pool slot freed")
    holders = gpu_pool_holders(instance)
    if holders:
        who = ", ".join(f"run {h.run_id} ({h.job_name}, pid {h.pid})" for h in holders)
        raise PipelineError(
            f"the gpu pool of this home is held by {who}: wait for it to finish or stop it "
            f"(or use another NUMERAI_PIPELINE_HOME); waiting would block this run"
        )


def run_pipeline(
    log_level: str = "INFO",
    resources: dict[str, object] | None = None,
    redo: bool = False,
    report: Callable[[str], None] = print,
    until: str = STAGES[-1],
) -> dict:
    """Run the stages up to `until` (each CV fold on its own), materializing only what is
    missing or stale; `resources` overrides the ones built from the environment."""
    from dagster import AssetKey, DagsterInstance

    from numerai_pipeline.definitions import build_definitions
    from numerai_pipeline.resources import resources_from_env
    from numerai_pipeline.runner.console import describe_failures, run_failures, run_notes
    from numerai_pipeline.runner.plan import SETTINGS_TAG, Planner, settings_fingerprint

    home = PipelineHome.from_env()
    prepare_dagster_home(home)
    instance = DagsterInstance.get()
    defs = build_definitions(resources)
    resources = resources or resources_from_env()
    fingerprint = settings_fingerprint(resources, RESULT_SETTINGS)
    planner = Planner(defs, instance, fingerprint)
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    dataset = AssetKey("numerai_dataset")
    for stage in STAGES[: STAGES.index(until) + 1]:
        for partition in _partitions(stage, instance, resources):
            _check_gpu_pool(instance, report)
            job_name = "prepare_data" if stage == "dataset" else stage
            plan = planner.plan(job_name, partition, redo)
            if stage == "dataset":
                plan.run, plan.reused = [dataset], []
            else:
                plan.reused = [k for k in plan.reused if k != dataset]
            where = f"{stage}{f' {partition}' if partition else ''}"
            if plan.reused:
                names = ", ".join(k.to_user_string() for k in plan.reused)
                report(f"{where}: reused (same code, data and settings): {names}")
            if not plan.run:
                continue
            result = defs.resolve_job_def(job_name).execute_in_process(
                run_config,
                instance=instance,
                partition_key=partition,
                asset_selection=plan.run,
                tags={SETTINGS_TAG: fingerprint},
                raise_on_error=False,
            )
            for note in run_notes(result):
                report(note)
            if not result.success:
                raise PipelineError(describe_failures(where, result.run_id, run_failures(result)))
    report_path = home.reports / "cv_report.json"
    return {
        "report": json.loads(report_path.read_text()) if report_path.exists() else None,
        "submission": _latest_path(instance, AssetKey("submission")),
    }


def _latest_path(instance, key) -> str:
    """The `submission_file` metadata of the submission's latest materialization."""
    event = instance.get_latest_materialization_event(key)
    return str(event.asset_materialization.metadata["submission_file"].value) if event else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="numerai-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="materialize the graph and print CV metrics")
    run.add_argument("--log-level", default="INFO", help="DEBUG shows tracebacks of failures")
    run.add_argument("--redo", action="store_true", help="re-materialize assets that are fresh")
    run.add_argument(
        "--until", choices=STAGES, default=STAGES[-1], help="the last stage to run (default: all)"
    )
    args = parser.parse_args(argv)
    try:
        from numerai_pipeline.evaluation.report import report_markdown

        outcome = run_pipeline(args.log_level, redo=args.redo, until=args.until)
    except PipelineError as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # settings and data errors raised before a run starts
        if args.log_level.upper() == "DEBUG":
            raise
        print(f"\nnumerai-pipeline: {exc}", file=sys.stderr)
        return 2
    if args.until == STAGES[-1]:
        print("\nCV metrics (walk-forward, embargoed, out-of-fold):")
        print(report_markdown(outcome["report"]))
        print(f"\nsubmission file: {outcome['submission']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
