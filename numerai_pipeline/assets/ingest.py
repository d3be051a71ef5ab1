"""[ingest] The raw dataset files for a data version, and blocking checks on them."""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Output,
    asset,
    multi_asset_check,
)

from numerai_pipeline.data.sources import DatasetFiles
from numerai_pipeline.data.validation import check_dataset_file
from numerai_pipeline.resources.data_source import NumeraiDataSource
from numerai_pipeline.resources.home import HomeResource
from numerai_pipeline.resources.numerai import NumeraiResource

CHECKED_FILES = {"train": True, "validation": True, "live": False}


@asset(group_name="ingest", kinds={"parquet"})
def numerai_dataset(
    context: AssetExecutionContext,
    home: HomeResource,
    data_source: NumeraiDataSource,
    numerai: NumeraiResource,
) -> Output[DatasetFiles]:
    """Raw Numerai files (train, validation, live, features.json) for the configured data version."""
    client = numerai.client() if data_source.source == "numerai" else None
    files = data_source.fetch(home.paths.data, client)
    context.log.info(f"dataset {files.version} from {data_source.source} at {files.root}")
    sizes = {
        f"{path.name}_bytes": path.stat().st_size
        for path in (files.train, files.validation, files.live)
    }
    return Output(files, metadata={"source": data_source.source, **files.to_metadata(), **sizes})


@multi_asset_check(
    specs=[
        AssetCheckSpec(f"{name}_file_valid", asset=numerai_dataset, blocking=True)
        for name in CHECKED_FILES
    ],
    ins={"files": numerai_dataset.key},
)
def dataset_checks(files: DatasetFiles) -> Iterator[AssetCheckResult]:
    """Schema, feature values, unique ids, eras and target NaN policy of each file (blocking)."""
    for name, require_target in CHECKED_FILES.items():
        results = check_dataset_file(getattr(files, name), require_target=require_target)
        failed = [r for r in results if not r.passed]
        yield AssetCheckResult(
            check_name=f"{name}_file_valid",
            asset_key=numerai_dataset.key,
            passed=not failed,
            severity=AssetCheckSeverity.ERROR,
            description="; ".join(r.message for r in failed) or f"{name} file passed all checks",
            metadata={
                f"{r.name}": ("ok: " if r.passed else "FAILED: ") + r.message for r in results
            },
        )
