"""[evaluation] The nested ensemble selection and the CV report over every model and fold."""

import base64

import pandas as pd
from dagster import AssetExecutionContext, AssetIn, MetadataValue, Output, asset

from numerai_pipeline.assets import CODE_VERSION
from numerai_pipeline.core.folds import EraPlan
from numerai_pipeline.core.scoring import mean_corr
from numerai_pipeline.data.reference_models import read_benchmark, read_meta_model
from numerai_pipeline.data.sources import DatasetFiles
from numerai_pipeline.data.synthetic import read_signal
from numerai_pipeline.ensemble.selection import (
    ENSEMBLE,
    EQUAL_BLEND,
    EnsembleSelection,
    ensemble_summary,
    nested_selection,
)
from numerai_pipeline.evaluation.oof import stack_folds
from numerai_pipeline.evaluation.report import (
    BENCHMARK,
    build_cv_report,
    ensemble_verdict,
    report_markdown,
    write_report_files,
)
from numerai_pipeline.features.engineering import FeatureMatrix, load_training_data
from numerai_pipeline.models.roster import CANDIDATES, REFERENCE, ROSTER, comparisons
from numerai_pipeline.resources.home import HomeResource
from numerai_pipeline.resources.mlflow_tracking import MlflowTracking

ORACLE = "oracle"
COLUMNS = ("prediction", "target", "era")


def rows_features(feature_matrix: FeatureMatrix, eras: list[str], features: list[str]):
    """A lookup of the int8 `features` of labeled rows of `eras` by id."""
    data = load_training_data(feature_matrix, eras, features)
    position = pd.Index(data.ids)
    return lambda ids: data.features[position.get_indexer(ids)]


@asset(
    code_version=CODE_VERSION,
    group_name="evaluation",
    ins={name: AssetIn(key=["cv", name]) for name in CANDIDATES},
)
def ensemble(
    context: AssetExecutionContext, feature_matrix: FeatureMatrix, era_index: EraPlan, **cv
) -> Output[EnsembleSelection]:
    """Blend weights and neutralization chosen per fold from earlier folds only, and the champion."""
    oof = {name: stack_folds(cv[name]) for name in CANDIDATES}
    scored = sorted(set(oof[CANDIDATES[0]]["era"]))
    features_for = rows_features(feature_matrix, scored, feature_matrix.neutralizers)
    selection = nested_selection(oof, list(era_index.folds), features_for)
    lines = [
        f"- **{c.fold}**: {c.blend.describe() if c.blend else 'no prior folds (not scored)'}"
        for c in selection.folds
    ]
    context.log.info(
        f"champion: {selection.champion.blend.describe()} ({selection.champion.reason})"
    )
    return Output(
        selection,
        metadata={
            "per_fold": MetadataValue.md("\n".join(lines)),
            "final_blend": selection.final.describe(),
            "champion": selection.champion.blend.describe(),
            "champion_rule": selection.champion.reason,
        },
    )


@asset(
    code_version=CODE_VERSION,
    group_name="evaluation",
    ins={
        **{spec.name: AssetIn(key=["cv", spec.name]) for spec in ROSTER},
        "ensemble": AssetIn(),
    },
    kinds={"json"},
)
def cv_report(
    context: AssetExecutionContext,
    home: HomeResource,
    mlflow_tracking: MlflowTracking,
    numerai_dataset: DatasetFiles,
    feature_matrix: FeatureMatrix,
    ensemble: EnsembleSelection,
    **cv,
) -> Output[dict]:
    """Per-era CORR, Sharpe, drawdown, MMC, BMC and feature exposure of every model and blend."""
    oof = {spec.name: stack_folds(cv[spec.name]) for spec in ROSTER}
    oof.update(ensemble.predictions)
    if numerai_dataset.signal is not None:
        reference = oof[REFERENCE]
        signal = read_signal(numerai_dataset.signal).reindex(reference.index).to_numpy()
        oof[ORACLE] = reference.assign(prediction=signal)
    scored = sorted({era for frame in oof.values() for era in frame["era"].unique()})
    best = max(CANDIDATES, key=lambda m: mean_corr(*(oof[m][c].to_numpy() for c in COLUMNS)))
    benchmark = read_benchmark(
        numerai_dataset.validation_benchmark, numerai_dataset.version, feature_matrix.main_target
    )
    report = build_cv_report(
        oof,
        rows_features(feature_matrix, scored, feature_matrix.features),
        read_meta_model(numerai_dataset.meta_model),
        notes={
            **{spec.name: spec.description for spec in ROSTER},
            ENSEMBLE: "nested selection: each fold's blend and neutralization chosen from the "
            "folds before it, behind the embargo (fold 1: no prior folds, not scored)",
            EQUAL_BLEND: "equal weights over the candidates' gaussianized predictions",
            ORACLE: "the synthetic data's noise-free planted signal: the achievable limit",
            BENCHMARK: f"Numerai's benchmark model {getattr(benchmark, 'name', '')} on the eras "
            "its file covers (BMC is measured against it)",
        },
        comparisons=[*comparisons(), (ENSEMBLE, best), (EQUAL_BLEND, best)],
        benchmark=benchmark,
    )
    summary = ensemble_summary(ensemble)
    summary["verdict"] = ensemble_verdict(report, ENSEMBLE, best, ensemble.members)
    report["ensemble"], report["champion"] = summary, summary["champion"]
    report["main_target"] = feature_matrix.main_target
    paths = write_report_files(report, home.paths.reports)
    markdown = report_markdown(report)
    with mlflow_tracking.start_run(context, "cv_report"):
        mlflow_tracking.log_artifacts(list(paths.values()), {"cv_report.md": markdown})
    context.log.info("\n" + markdown)
    figures = {name: png_markdown(path) for name, path in paths.items() if path.suffix == ".png"}
    return Output(
        report,
        metadata={
            "report": MetadataValue.md(markdown),
            **{name: MetadataValue.md(figure) for name, figure in figures.items()},
            "report_path": MetadataValue.path(str(paths["json"])),
            **{f"{m}_corr_mean": v["corr_mean"] for m, v in report["models"].items()},
        },
    )


def png_markdown(path) -> str:
    """A PNG as a markdown image with a data URI: it renders in the asset's metadata panel."""
    return f"![{path.stem}](data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()})"
