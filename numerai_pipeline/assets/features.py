"""[features] The int8 feature matrix and the era-context table."""

import numpy as np
from dagster import Config, MetadataValue, Output, asset

from numerai_pipeline.assets import CODE_VERSION
from numerai_pipeline.core.folds import EraPlan
from numerai_pipeline.data.sources import DatasetFiles
from numerai_pipeline.features.engineering import FeatureMatrix, build_feature_matrix
from numerai_pipeline.features.era_context import EraContext, era_context_of
from numerai_pipeline.resources.home import HomeResource


class FeatureConfig(Config):
    """Feature set from features.json ("all", "small", "medium", a group) and engineered features."""

    feature_set: str = "all"
    engineer: bool = True


@asset(code_version=CODE_VERSION, group_name="features", kinds={"parquet"})
def feature_matrix(
    home: HomeResource, numerai_dataset: DatasetFiles, era_index: EraPlan, config: FeatureConfig
) -> Output[FeatureMatrix]:
    """int8 features and targets of the used labeled eras, live and unresolved eras, as parquet."""
    dest = home.paths.features / numerai_dataset.version
    matrix = build_feature_matrix(
        numerai_dataset,
        dest,
        eras=era_index.eras,
        feature_set=config.feature_set,
        engineer=config.engineer,
        unresolved_eras=era_index.unresolved_eras,
    )
    return Output(
        matrix,
        metadata={
            "features": len(matrix.features),
            "engineered_features": len(matrix.engineered),
            "targets": len(matrix.targets),
            "main_target": matrix.main_target,
            "neutralizers": len(matrix.neutralizers),
            "labeled_path": MetadataValue.path(str(matrix.labeled)),
            "live_path": MetadataValue.path(str(matrix.live)),
            "unresolved_path": MetadataValue.path(str(matrix.unresolved or "none")),
            "engineered": MetadataValue.md(
                "\n".join(f"- `{c}`" for c in matrix.engineered) or "none"
            ),
        },
    )


@asset(code_version=CODE_VERSION, group_name="features")
def era_context(feature_matrix: FeatureMatrix) -> Output[EraContext]:
    """Per era, feature co-movement and feature-target correlations: what the RNN reads."""
    context = era_context_of(feature_matrix)
    unresolved = int(np.isnan(context.correlations).all(axis=1).sum())
    return Output(
        context,
        metadata={
            "eras": len(context.eras),
            "summary_inputs": context.summaries.shape[1],
            "correlation_inputs": context.correlations.shape[1],
            "eras_without_targets": unresolved,
            "target_span_eras": context.span,
        },
    )
