"""The jobs: data, one CV fold, selection and final fits, a round's submission, diagnostics
over past rounds, and retraining (kept apart, so a submission never waits on training)."""

from dagster import AssetSelection, define_asset_job

from numerai_pipeline.assets.partitions import cv_fold_partitions, round_partitions

PREPARE = AssetSelection.groups("ingest", "eras", "features")
CV = AssetSelection.groups("cv")
SELECT_AND_TRAIN = AssetSelection.groups("evaluation", "models")
SUBMIT = AssetSelection.groups("submission")
PREDICT = AssetSelection.assets("live_dataset", "live_features", "live_predictions")

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
    "submit",
    selection=SUBMIT,
    partitions_def=round_partitions,
    description="A round's live data, the champion's predictions, the submission (uploaded once).",
)
predict_rounds_job = define_asset_job(
    "predict_rounds",
    selection=PREDICT,
    partitions_def=round_partitions,
    description="The champion's predictions for rounds, without submitting (backfills, diagnostics).",
)
retrain_job = define_asset_job(
    "retrain",
    selection=PREPARE | SELECT_AND_TRAIN,
    description="New data, final fits with the schedules CV chose, ensemble and champion.",
)

JOBS = [prepare_job, cv_job, select_and_train_job, submit_job, predict_rounds_job, retrain_job]
