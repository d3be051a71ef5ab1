"""`numerai-pipeline run`: materialize the whole asset graph in order and print the results."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from numerai_pipeline.storage.home import PipelineHome

REPO_DAGSTER_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"


def prepare_dagster_home(home: PipelineHome) -> Path:
    """Point DAGSTER_HOME into the home folder and install the project's dagster.yaml there."""
    home.dagster.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home.dagster)
    if REPO_DAGSTER_YAML.exists():
        shutil.copyfile(REPO_DAGSTER_YAML, home.dagster / "dagster.yaml")
    return home.dagster


def run_pipeline(log_level: str = "INFO", resources: dict[str, object] | None = None) -> dict:
    """Run data preparation, every CV fold, then report, final fit and submission.

    Each stage is a Dagster run recorded in the instance under the home folder (see them in
    `make ui`); `resources` overrides the ones built from the environment.
    """
    from dagster import DagsterInstance

    from numerai_pipeline.assets.partitions import cv_fold_partitions
    from numerai_pipeline.definitions import defs

    home = PipelineHome.from_env()
    prepare_dagster_home(home)
    instance = DagsterInstance.get()
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    options = {"instance": instance, "resources": resources}
    defs.resolve_job_def("prepare_data").execute_in_process(run_config, **options)
    cv_job = defs.resolve_job_def("cross_validate")
    for fold in cv_fold_partitions.get_partition_keys():
        cv_job.execute_in_process(run_config, partition_key=fold, **options)
    result = defs.resolve_job_def("report_train_submit").execute_in_process(run_config, **options)
    return {
        "report": json.loads((home.reports / "cv_report.json").read_text()),
        "submission": result.output_for_node("submission"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="numerai-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="materialize the whole graph and print CV metrics")
    run.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if args.command == "run":
        from numerai_pipeline.evaluation.report import report_table

        outcome = run_pipeline(args.log_level)
        print("\nCV metrics (walk-forward, embargoed, out-of-fold):")
        print(report_table(outcome["report"]))
        print(f"\nsubmission file: {outcome['submission']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
