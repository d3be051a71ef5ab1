"""[submission] Ranked live predictions and the validated submission file."""

from datetime import UTC, datetime

import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, Output, asset

from numerai_pipeline.data.schema import ERA_COL
from numerai_pipeline.features.engineering import FeatureMatrix, load_live_features
from numerai_pipeline.models.xgb import XGBoostModel
from numerai_pipeline.resources.home import HomeResource
from numerai_pipeline.submission.predictions import (
    submission_frame,
    validate_submission,
    write_submission,
)


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


@asset(group_name="submission", kinds={"csv"})
def submission(
    context: AssetExecutionContext, home: HomeResource, live_predictions: pd.DataFrame
) -> Output[str]:
    """The validated `id,prediction` CSV for this round, written atomically under the home folder."""
    label = datetime.now(UTC).strftime("%Y-%m-%d")
    path = write_submission(live_predictions, home.paths.submissions / label / "predictions.csv")
    context.log.info(f"submission file: {path}")
    return Output(
        str(path), metadata={"path": MetadataValue.path(str(path)), "rows": len(live_predictions)}
    )
