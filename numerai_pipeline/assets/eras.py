"""[eras] Era index and the walk-forward CV plan with its embargo."""

from dagster import Config, MetadataValue, Output, asset

from numerai_pipeline.assets import CODE_VERSION
from numerai_pipeline.assets.partitions import CV_FOLDS
from numerai_pipeline.core.eras import subsample_eras
from numerai_pipeline.core.folds import EraPlan, era_cv_splits
from numerai_pipeline.core.schema import TARGET_COL
from numerai_pipeline.core.targets import embargo_for_target
from numerai_pipeline.data.eras import build_era_index, labeled_eras, unresolved_eras
from numerai_pipeline.data.sources import DatasetFiles
from numerai_pipeline.resources import env_int


class EraConfig(Config):
    """Keep every Nth labeled era (1 = all; Numerai's examples use 4 on full data)."""

    every_nth_era: int = env_int("NUMERAI_EVERY_NTH_ERA", 1, minimum=1)


@asset(code_version=CODE_VERSION, group_name="eras")
def era_index(numerai_dataset: DatasetFiles, config: EraConfig) -> Output[EraPlan]:
    """Eras with row counts per split, the eras used for training and the CV folds with embargo."""
    index = build_era_index(numerai_dataset.train, numerai_dataset.validation, numerai_dataset.live)
    eras = subsample_eras(labeled_eras(index), config.every_nth_era)
    embargo = embargo_for_target(TARGET_COL)
    folds = era_cv_splits(eras, CV_FOLDS, embargo, config.every_nth_era)
    plan = EraPlan(tuple(eras), tuple(folds), config.every_nth_era, tuple(unresolved_eras(index)))
    counts = index.groupby("data_type")["n_rows"].agg(["count", "sum"])
    return Output(
        plan,
        metadata={
            "eras_used": len(eras),
            "embargo_eras": embargo,
            "unresolved_eras": len(plan.unresolved_eras),
            **{f"{kind}_eras": int(row["count"]) for kind, row in counts.iterrows()},
            **{f"{kind}_rows": int(row["sum"]) for kind, row in counts.iterrows()},
            "folds": MetadataValue.md("\n".join(f"- {f.describe()}" for f in folds)),
        },
    )
