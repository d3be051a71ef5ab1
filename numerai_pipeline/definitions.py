"""The single Definitions object: assets, checks, jobs and resources of numerai-pipeline."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, FilesystemIOManager, define_asset_job

from numerai_pipeline.assets import cv, eras, evaluation, features, ingest, models, submission
from numerai_pipeline.assets.partitions import cv_fold_partitions
from numerai_pipeline.resources import resources_from_env
from numerai_pipeline.runner.console import console_logger
from numerai_pipeline.storage.home import PipelineHome

PREPARE = AssetSelection.groups("ingest", "eras", "features")
CV = AssetSelection.groups("cv")
SELECT_AND_TRAIN = AssetSelection.groups("evaluation", "models")
SUBMIT = AssetSelection.groups("submission")

prepare_job = define_asset_job(
    "prepare_data", selection=PREPARE, description="Dataset, eras, features, era context."
)
cv_job = define_asset_job(
    "cross_validate",
    selection=CV,
    partitions_def=cv_fold_partitions,
    description="Every roster model on one CV fold.",
)
select_and_train_job = define_asset_job(
    "select_and_train",
    selection=SELECT_AND_TRAIN,
    description="Ensemble selection, CV report, final fits, champion.",
)
submit_job = define_asset_job(
    "submit", selection=SUBMIT, description="Live predictions of the champion, submission."
)

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
    submission.live_predictions,
    submission.submission,
]


def build_definitions(resources: dict[str, object] | None = None) -> Definitions:
    """The Definitions with `resources` (default: from the environment, the IO manager writing
    under the home folder)."""
    if resources is None:
        storage = str(PipelineHome.from_env().storage)
        resources = {**resources_from_env(), "io_manager": FilesystemIOManager(base_dir=storage)}
    return Definitions(
        assets=ASSETS,
        asset_checks=[ingest.dataset_checks],
        jobs=[prepare_job, cv_job, select_and_train_job, submit_job],
        loggers={"console": console_logger},
        resources=resources,
    )


defs = build_definitions()
