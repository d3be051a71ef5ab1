"""The single Definitions object: assets, checks, jobs and resources of numerai-pipeline."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, FilesystemIOManager, define_asset_job

from numerai_pipeline.assets import eras, evaluation, features, ingest, models, neural, submission
from numerai_pipeline.assets.partitions import cv_fold_partitions
from numerai_pipeline.resources import resources_from_env
from numerai_pipeline.storage.home import PipelineHome

PREPARE = AssetSelection.groups("ingest", "eras", "features")
CV = AssetSelection.assets(
    evaluation.cv_predictions, neural.mtm_encoder, neural.mtm_heads, neural.neural_baselines
)
TRAIN_AND_SUBMIT = AssetSelection.assets(
    evaluation.cv_report, models.xgboost_model, submission.live_predictions, submission.submission
)

prepare_job = define_asset_job(
    "prepare_data", selection=PREPARE, description="Dataset, eras, features."
)
cv_job = define_asset_job(
    "cross_validate", selection=CV, partitions_def=cv_fold_partitions, description="One CV fold."
)
train_and_submit_job = define_asset_job(
    "report_train_submit",
    selection=TRAIN_AND_SUBMIT,
    description="CV report, final fit, submission.",
)

defs = Definitions(
    assets=[
        ingest.numerai_dataset,
        eras.era_index,
        features.feature_matrix,
        evaluation.cv_predictions,
        neural.mtm_encoder,
        neural.mtm_heads,
        neural.neural_baselines,
        evaluation.cv_report,
        models.xgboost_model,
        submission.live_predictions,
        submission.submission,
    ],
    asset_checks=[ingest.dataset_checks],
    jobs=[prepare_job, cv_job, train_and_submit_job],
    resources={
        **resources_from_env(),
        "io_manager": FilesystemIOManager(base_dir=str(PipelineHome.from_env().storage)),
    },
)
