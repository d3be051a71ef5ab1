"""[submission] Ranked live predictions and the validated submission file."""

from dataclasses import asdict
from datetime import UTC, datetime

import pandas as pd
from dagster import AssetExecutionContext, Config, MetadataValue, Output, asset

from numerai_pipeline.data.schema import ERA_COL
from numerai_pipeline.data.sources import DatasetFiles
from numerai_pipeline.features.engineering import FeatureMatrix, load_live_features
from numerai_pipeline.models.xgb import XGBoostModel
from numerai_pipeline.resources.home import HomeResource
from numerai_pipeline.resources.mlflow_tracking import MlflowTracking
from numerai_pipeline.resources.numerai import NumeraiResource
from numerai_pipeline.submission.predictions import (
    submission_frame,
    validate_submission,
    write_submission,
)
from numerai_pipeline.submission.upload import submit_predictions


@asset(group_name="submission")
def live_predictions(
    feature_matrix: FeatureMatrix, xgboost_model: XGBoostModel
) -> Output[pd.DataFrame]:
    """Predictions for the live era, ranked into (0, 1), one row per live id."""
    live = load_live_features(feature_matrix)
    raw = xgboost_model.predict(
        live[feature_matrix.all_features].to_numpy(), live[ERA_COL].to_numpy()
    )
    frame = submission_frame(live.index, raw, live[ERA_COL].to_numpy())
    validate_submission(frame, live.index)
    return Output(
        frame,
        metadata={
            "rows": len(frame),
            "live_eras": MetadataValue.text(", ".join(live[ERA_COL].unique())),
        },
    )


class SubmissionConfig(Config):
    """Upload with numerapi when credentials are set; `force` re-uploads an already submitted round."""

    upload: bool = True
    force: bool = False


@asset(group_name="submission", kinds={"csv"})
def submission(
    context: AssetExecutionContext,
    config: SubmissionConfig,
    home: HomeResource,
    numerai: NumeraiResource,
    mlflow_tracking: MlflowTracking,
    numerai_dataset: DatasetFiles,
    live_predictions: pd.DataFrame,
) -> Output[str]:
    """The validated `id,prediction` CSV for this round, written atomically, then uploaded."""
    label = (
        f"round_{numerai_dataset.round_num}"
        if numerai_dataset.round_num is not None
        else datetime.now(UTC).strftime("%Y-%m-%d")
    )
    path = write_submission(live_predictions, home.paths.submissions / label / "predictions.csv")
    context.log.info(f"submission file: {path}")
    metadata = {"path": MetadataValue.path(str(path)), "rows": len(live_predictions)}
    if config.upload:
        result = submit_predictions(
            numerai.client(),
            path,
            numerai.model_name,
            round_num=numerai_dataset.round_num,
            ledger_path=home.paths.submissions / "ledger.json",
            force=config.force,
            live_ids=live_predictions["id"].tolist(),
        )
        context.log.info(f"{result.model_name or 'submission'}: {result.reason}")
        record = {k: "" if v is None else str(v) for k, v in asdict(result).items()}
        with mlflow_tracking.start_run(context, "submission", {"round": record["round_num"]}):
            mlflow_tracking.log_fit(record, {})
        metadata.update(record)
    return Output(str(path), metadata=metadata)
