"""[evaluation] Out-of-fold predictions per CV fold and the CV report over all folds."""

import base64
import json

import pandas as pd
from dagster import AssetExecutionContext, Config, MetadataValue, Output, asset

from numerai_pipeline.assets.partitions import cv_fold_partitions
from numerai_pipeline.data.sources import DatasetFiles
from numerai_pipeline.data.synthetic import read_signal
from numerai_pipeline.evaluation.cv import EraPlan
from numerai_pipeline.evaluation.meta_model import read_meta_model
from numerai_pipeline.evaluation.metrics import per_era_corr
from numerai_pipeline.evaluation.oof import fold_predictions, shuffle_targets_within_eras
from numerai_pipeline.evaluation.report import build_cv_report, plot_cumulative_corr, report_table
from numerai_pipeline.features.engineering import FeatureMatrix, load_training_data
from numerai_pipeline.models.base import TrainingData
from numerai_pipeline.models.xgb import XGBoostConfig, XGBoostModel
from numerai_pipeline.resources.home import HomeResource
from numerai_pipeline.resources.mlflow_tracking import MlflowTracking
from numerai_pipeline.storage.atomic import atomic_write_text

CONTROL = "xgboost_shuffled_control"
ORACLE = "oracle"
MTM_COMPARISONS = (("mtm", "mtm_no_pretrain"), ("mtm", "mlp"))
"""Paired per-era differences the report adds: what pretraining buys, and the cheap baseline."""


class CVConfig(Config):
    """Trees per XGBoost fit, and whether to run the shuffled-target null control and the
    screened ridge (the linear reference)."""

    xgboost_trees: int = 300
    shuffled_control: bool = True
    ridge: bool = True


@asset(group_name="evaluation", partitions_def=cv_fold_partitions, kinds={"xgboost"})
def cv_predictions(
    context: AssetExecutionContext,
    config: CVConfig,
    mlflow_tracking: MlflowTracking,
    feature_matrix: FeatureMatrix,
    era_index: EraPlan,
) -> Output[dict[str, pd.DataFrame]]:
    """Out-of-fold predictions of each CPU model for one walk-forward CV fold."""
    from numerai_pipeline.models.pyfunc import log_xgboost_model
    from numerai_pipeline.models.ridge import RidgeModel

    fold = era_index.fold(context.partition_key)
    context.log.info(f"{fold.describe()} ({fold.index}/{len(era_index.folds)})")
    data = load_training_data(feature_matrix, fold.train_eras + fold.test_eras)
    trees = XGBoostConfig(n_estimators=config.xgboost_trees)
    runs: dict[str, tuple[XGBoostModel | RidgeModel, TrainingData]] = {
        "xgboost": (XGBoostModel(trees), data)
    }
    if config.shuffled_control:
        control = shuffle_targets_within_eras(data, seed=fold.index)
        runs[CONTROL] = (XGBoostModel(trees, name=CONTROL), control)
    if config.ridge:
        runs["ridge"] = (RidgeModel(), data)
    out, metadata = {}, {}
    for name, (model, model_data) in runs.items():
        with mlflow_tracking.start_run(context, f"{name}-{fold.name}", {"model": name}) as run:
            oof = fold_predictions(
                model, model_data, fold, lambda m, n=name: context.log.info(f"{n}: {m}")
            )
            corr = per_era_corr(
                oof["prediction"].to_numpy(), oof["target"].to_numpy(), oof["era"].to_numpy()
            )
            mlflow_tracking.log_fit(
                model.params(), {"corr_mean": corr.mean(), "n_train_eras": len(fold.train_eras)}
            )
            if isinstance(model, XGBoostModel):
                log_xgboost_model(model)
        out[name] = oof
        metadata[f"{name}_corr_mean"] = float(corr.mean())
        metadata[f"{name}_mlflow_run"] = run.info.run_id
    return Output(out, metadata=metadata)


@asset(group_name="evaluation", kinds={"json"})
def cv_report(
    context: AssetExecutionContext,
    home: HomeResource,
    mlflow_tracking: MlflowTracking,
    numerai_dataset: DatasetFiles,
    feature_matrix: FeatureMatrix,
    cv_predictions: dict[str, dict[str, pd.DataFrame]],
    mtm_heads: dict[str, dict[str, pd.DataFrame]],
    neural_baselines: dict[str, dict[str, pd.DataFrame]],
) -> Output[dict]:
    """Per-era CORR, Sharpe, drawdown, MMC and feature exposure of every model over all CV folds."""
    oof = {
        model: pd.concat([by_fold[fold][model] for fold in sorted(by_fold)])
        for by_fold in (cv_predictions, mtm_heads, neural_baselines)
        for model in next(iter(by_fold.values()))
    }
    if numerai_dataset.signal is not None:
        reference = oof["xgboost"]
        signal = read_signal(numerai_dataset.signal).reindex(reference.index).to_numpy()
        oof[ORACLE] = reference.assign(prediction=signal)
    scored = sorted({era for frame in oof.values() for era in frame["era"].unique()})
    features = load_training_data(feature_matrix, scored, engineered=False)
    position = pd.Index(features.ids)
    report = build_cv_report(
        oof,
        lambda ids: features.features[position.get_indexer(ids)],
        read_meta_model(numerai_dataset.meta_model),
        notes={
            CONTROL: "targets shuffled within eras: must score within noise of zero",
            ORACLE: "the synthetic data's noise-free planted signal: the achievable limit",
            "mtm": "pretrained per fold on its training eras; the features-only masks also "
            "see the unlabeled rows of live and of the unresolved eras (features only)",
            "mtm_no_pretrain": "the MTM network trained from scratch (ablation)",
            "mlp": "MLP on ordinal features + missing flags, same era-batched loss",
            "ridge": "ridge on ordinal feature values; the screening bar and the penalty picked "
            "on the fold's latest training eras behind the embargo",
        },
        comparisons=MTM_COMPARISONS,
    )
    json_path = atomic_write_text(
        home.paths.reports / "cv_report.json", json.dumps(report, indent=2)
    )
    plot_path = plot_cumulative_corr(report, home.paths.reports / "cv_cumulative_corr.png")
    table = report_table(report)
    with mlflow_tracking.start_run(context, "cv_report"):
        mlflow_tracking.log_artifacts([json_path, plot_path], {"cv_report.md": table})
    context.log.info("\n" + table)
    return Output(
        report,
        metadata={
            "table": MetadataValue.md(table),
            "report_path": MetadataValue.path(str(json_path)),
            "cumulative_corr": MetadataValue.md(
                "![cumulative CORR](data:image/png;base64,"
                + base64.b64encode(plot_path.read_bytes()).decode()
                + ")"
            ),
            **{f"{m}_corr_mean": v["corr_mean"] for m, v in report["models"].items()},
        },
    )
