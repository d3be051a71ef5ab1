"""The single Definitions object: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from dagster import Definitions, ExecutorDefinition, FilesystemIOManager

from numerai_pipeline.assets import cv, eras, evaluation, features, ingest, models, submission
from numerai_pipeline.jobs import JOBS
from numerai_pipeline.resources import SettingsError, resources_from_env
from numerai_pipeline.runner.console import console_logger
from numerai_pipeline.schedules import monthly_retraining, weekly_submission
from numerai_pipeline.sensors import new_round_sensor
from numerai_pipeline.storage.home import PipelineHome

ASSETS = [
    ingest.numerai_dataset,
    eras.era_index,
    features.feature_matrix,
    features.era_context,
    *cv.CV_ASSETS,
    evaluation.ensemble,
    evaluation.cv_report,
    *models.FINAL_ASSETS,
    models.champion,
    models.model_upload,
    submission.live_dataset,
    submission.live_features,
    submission.live_predictions,
    submission.submission,
]


def executor_from_env() -> ExecutorDefinition | None:
    """The `k8s_job_executor` (a pod per step) configured by the file that
    NUMERAI_K8S_EXECUTOR_CONFIG names (docker/k8s/executor.yaml's layout), or None when it is
    unset: Dagster's default executor, as `make run` uses."""
    path = os.environ.get("NUMERAI_K8S_EXECUTOR_CONFIG", "").strip()
    if not path:
        return None
    try:
        config = yaml.safe_load(Path(path).read_text())["execution"]["config"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise SettingsError(
            f"NUMERAI_K8S_EXECUTOR_CONFIG names {path}, which is not a readable executor config "
            f"with execution.config ({exc}); fix the file or unset the variable"
        ) from None
    from dagster_k8s import k8s_job_executor

    return k8s_job_executor.configured(config)


def build_definitions(resources: dict[str, object] | None = None) -> Definitions:
    """The Definitions with `resources` (default: from the environment, the IO manager writing
    under the home folder)."""
    if resources is None:
        storage = str(PipelineHome.from_env().storage)
        resources = {**resources_from_env(), "io_manager": FilesystemIOManager(base_dir=storage)}
    return Definitions(
        assets=ASSETS,
        asset_checks=[ingest.dataset_checks, submission.live_file_valid],
        jobs=JOBS,
        schedules=[weekly_submission, monthly_retraining],
        sensors=[new_round_sensor],
        loggers={"console": console_logger},
        resources=resources,
        executor=executor_from_env(),
    )


defs = build_definitions()
