"""[submission] Per round: the live file, its features, the champion's predictions and the
validated submission, uploaded at most once per model and round."""

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    Config,
    MetadataValue,
    Output,
    asset,
    asset_check,
)

from numerai_pipeline.assets import CODE_VERSION
from numerai_pipeline.assets.partitions import round_partitions
from numerai_pipeline.core.schema import DATA_TYPE_COL, ERA_COL
from numerai_pipeline.data.loading import read_numerai_rows
from numerai_pipeline.data.validation import REMEDIES, check_dataset_file
from numerai_pipeline.features.engineering import (
    FeatureMatrix,
    build_live_features,
    load_live_features,
)
from numerai_pipeline.resources.data_source import NumeraiDataSource
from numerai_pipeline.resources.home import HomeResource
from numerai_pipeline.resources.mlflow_tracking import MlflowTracking
from numerai_pipeline.resources.numerai import NumeraiResource, calendar_for
from numerai_pipeline.submission.predictions import validate_submission, write_submission
from numerai_pipeline.submission.upload import submit_predictions

ROUND_ASSET = {
    "code_version": CODE_VERSION,
    "group_name": "submission",
    "partitions_def": round_partitions,
}


@dataclass(frozen=True)
class LiveFile:
    """A round's live file (and its benchmark models' predictions, where Numerai gives them)."""

    round_num: int
    path: str
    source: str
    benchmark: str | None = None


@asset(**ROUND_ASSET, kinds={"parquet"})
def live_dataset(
    context: AssetExecutionContext,
    home: HomeResource,
    data_source: NumeraiDataSource,
    numerai: NumeraiResource,
) -> Output[LiveFile]:
    """The round's live file: downloaded for the round, a local folder's, or generated."""
    round_num = int(context.partition_key)
    client = numerai.client() if data_source.source == "numerai" else None
    current = data_source.source != "local" or (
        calendar_for(numerai, data_source).current().number == round_num
    )
    files = data_source.fetch_live(home.paths.data, round_num, client, current)
    eras = read_numerai_rows(files.live, columns=[]).labels[ERA_COL]
    benchmark = str(files.benchmark) if files.benchmark else None
    return Output(
        LiveFile(round_num, str(files.live), data_source.source, benchmark),
        metadata={
            "rows": len(eras),
            "eras": ", ".join(eras.unique()),
            "path": str(files.live),
            "benchmark_models": benchmark or "none",
        },
    )


@asset_check(asset=live_dataset, blocking=True)
def live_file_valid(live_dataset: LiveFile) -> AssetCheckResult:
    """The live file's schema, feature values, ids and eras (blocking)."""
    results = check_dataset_file(
        Path(live_dataset.path), require_target=False, remedy=REMEDIES[live_dataset.source]
    )
    failed = [r for r in results if not r.passed]
    return AssetCheckResult(
        passed=not failed,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(r.message for r in failed) or "live file passed all checks",
    )


@asset(**ROUND_ASSET, kinds={"parquet"})
def live_features(
    context: AssetExecutionContext, feature_matrix: FeatureMatrix, live_dataset: LiveFile
) -> Output[str]:
    """The round's live rows as the model features (int8, engineered features included)."""
    dest = Path(feature_matrix.live).parent / f"live_{context.partition_key}.parquet"
    path = build_live_features(feature_matrix, Path(live_dataset.path), dest)
    return Output(str(path), metadata={"path": MetadataValue.path(str(path))})


@asset(**ROUND_ASSET)
def live_predictions(
    context: AssetExecutionContext,
    mlflow_tracking: MlflowTracking,
    feature_matrix: FeatureMatrix,
    live_features: str,
    champion: str,
) -> Output[pd.DataFrame]:
    """The champion's predictions for the round's live rows, in (0, 1), one per live id."""
    live = load_live_features(feature_matrix, Path(live_features))
    model = mlflow_tracking.load_pyfunc(champion)
    rows = live.drop(columns=[DATA_TYPE_COL], errors="ignore").reset_index(drop=True)
    values = np.asarray(model.predict(rows), dtype="float64")
    frame = pd.DataFrame({"id": live.index.to_numpy(), "prediction": values})
    validate_submission(frame, live.index)
    context.log.info(
        f"round {context.partition_key}: {len(frame)} live predictions from {champion}"
    )
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


@asset(**ROUND_ASSET, kinds={"csv"})
def submission(
    context: AssetExecutionContext,
    config: SubmissionConfig,
    home: HomeResource,
    numerai: NumeraiResource,
    mlflow_tracking: MlflowTracking,
    live_predictions: pd.DataFrame,
) -> Output[str]:
    """The validated `id,prediction` CSV for the round, written atomically, then uploaded once."""
    round_num = int(context.partition_key)
    path = write_submission(
        live_predictions, home.paths.submissions / f"round_{round_num}" / "predictions.csv"
    )
    context.log.info(f"submission file: {path}")
    metadata = {"submission_file": MetadataValue.path(str(path)), "rows": len(live_predictions)}
    if config.upload:
        result = submit_predictions(
            numerai.client(),
            path,
            numerai.model_name,
            round_num=round_num,
            ledger_path=home.paths.submissions / "ledger.json",
            force=config.force,
            live_ids=live_predictions["id"].tolist(),
        )
        context.log.info(f"{result.model_name or 'submission'}: {result.reason}")
        record = {k: "" if v is None else str(v) for k, v in asdict(result).items()}
        with mlflow_tracking.start_run(context, "submission", {"round": str(round_num)}):
            mlflow_tracking.log_fit(record, {})
        metadata.update(record)
    return Output(str(path), metadata=metadata)
