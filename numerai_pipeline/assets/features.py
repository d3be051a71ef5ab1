"""[features] The int8 feature matrix: chosen feature set plus engineered group features."""

from dagster import Config, MetadataValue, Output, asset

from numerai_pipeline.data.sources import DatasetFiles
from numerai_pipeline.evaluation.cv import EraPlan
from numerai_pipeline.features.engineering import FeatureMatrix, build_feature_matrix
from numerai_pipeline.resources.home import HomeResource


class FeatureConfig(Config):
    """Feature set from features.json ("all", "small", "medium", a group) and engineered features."""

    feature_set: str = "all"
    engineer: bool = True


@asset(group_name="features", kinds={"parquet"})
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
            "labeled_path": MetadataValue.path(str(matrix.labeled)),
            "live_path": MetadataValue.path(str(matrix.live)),
            "unresolved_path": MetadataValue.path(str(matrix.unresolved or "none")),
            "engineered": MetadataValue.md(
                "\n".join(f"- `{c}`" for c in matrix.engineered) or "none"
            ),
        },
    )
