"""[submission] Ranked live predictions and the validated submission file."""

from dataclasses import asdict
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, Config, MetadataValue, Output, asset

from numerai_pipeline.assets import CODE_VERSION
from numerai_pipeline.core.schema import DATA_TYPE_COL, ERA_COL
from numerai_pipeline.data.sources import DatasetFiles
from numerai_pipeline.features.engineering import FeatureMatrix, load_live_features
from numerai_pipeline.resources.home import HomeResource
from numerai_pipeline.resources.mlflow_tracking import MlflowTracking
from numerai_pipeline.resources.numerai import NumeraiResource
from numerai_pipeline.submission.predictions import validate_submission, write_submission
from numerai_pipeline.submission.upload import submit_predictions


@asset(code_version=CODE_VERSION, group_name="submission")
def live_predictions(
    context: AssetExecutionContext,
    mlflow_tracking: MlflowTracking,
    feature_matrix: FeatureMatrix,
    champion: str,
) -> Output[pd.DataFrame]:
    """The champion's predictions for the live era, in (0, 1), one row per live id."""
    live = load_live_features(feature_matrix)
    model = mlflow_tracking.load_pyfunc(champion)
    rows = live.drop(columns=[DATA_TYPE_COL], errors="ignore").reset_index(drop=True)
    values = np.asarray(model.predict(rows), dtype="float64")
    frame = pd.DataFrame({"id": live.index.to_numpy(), "prediction": values})
    validate_submission(frame, live.index)
    context.log.info(f"{len(frame)} live predictions from {champion}")
    return Output(
        frame,
        metadata={
            "rows": len(frame),
            "model": champion,
            "live_eras": MetadataValue.text(", ".join(live[ERA_COL].unique())),
        },
    )


class SubmissionConfig(Config):
    """Upload with numerapi when credentials are set; `force` re-uploads an already submitted round."""

    upload: bool = True
    force: bool = False


@asset(code_version=CODE_VERSION, group_name="submission", kinds={"csv"})
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
    metadata = {"submission_file": MetadataValue.path(str(path)), "rows": len(live_predictions)}
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
