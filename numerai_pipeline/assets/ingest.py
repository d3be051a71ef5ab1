"""[ingest] The raw dataset files for a data version, and blocking checks on them."""

import warnings
from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    BetaWarning,
    DataVersion,
    Output,
    asset,
    multi_asset_check,
)

from numerai_pipeline.assets import CODE_VERSION
from numerai_pipeline.core.schema import DatasetError
from numerai_pipeline.data.consistency import check_consistency, dataset_notes
from numerai_pipeline.data.loading import has_continuous_features
from numerai_pipeline.data.sources import DatasetFiles
from numerai_pipeline.data.validation import (
    CONTINUOUS_NOTE,
    REMEDIES,
    CheckResult,
    scan_dataset_file,
)
from numerai_pipeline.resources.data_source import NumeraiDataSource
from numerai_pipeline.resources.home import HomeResource
from numerai_pipeline.resources.numerai import NumeraiResource

CHECKED_FILES = {"train": True, "validation": True, "live": False}


@asset(code_version=CODE_VERSION, group_name="ingest", kinds={"parquet"})
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
    scale = "bins 0..4"
    if _continuous(files):
        scale = CONTINUOUS_NOTE
        context.log.warning(f"{files.version}: the features are {CONTINUOUS_NOTE}")
    sizes = {
        f"{path.name}_bytes": path.stat().st_size
        for path in (files.train, files.validation, files.live)
    }
    with warnings.catch_warnings():  # data versions on outputs are a beta API, used on purpose
        warnings.simplefilter("ignore", BetaWarning)
        return Output(
            files,
            data_version=DataVersion(files.fingerprint()),
            metadata={
                "source": data_source.source,
                "feature_scale": scale,
                **files.to_metadata(),
                **sizes,
            },
        )


def _continuous(files: DatasetFiles) -> bool:
    """Whether the train file's features are continuous (an unreadable file: no; the blocking
    checks report it)."""
    try:
        return has_continuous_features(files.train)
    except DatasetError:
        return False


@multi_asset_check(
    specs=[
        *(
            AssetCheckSpec(f"{name}_file_valid", asset=numerai_dataset, blocking=True)
            for name in CHECKED_FILES
        ),
        AssetCheckSpec("files_consistent", asset=numerai_dataset, blocking=True),
        AssetCheckSpec("dataset_notes", asset=numerai_dataset),
    ],
    ins={"files": numerai_dataset.key},
)
def dataset_checks(files: DatasetFiles) -> Iterator[AssetCheckResult]:
    """Each file's schema, values, ids, eras and targets, then the files against each other (blocking)."""
    remedy = REMEDIES[files.source]
    scans = {
        name: scan_dataset_file(getattr(files, name), require_target=required, remedy=remedy)
        for name, required in CHECKED_FILES.items()
    }
    for name, scan in scans.items():
        yield _result(f"{name}_file_valid", scan.results, f"{name} file passed all checks")
    yield _result("files_consistent", [check_consistency(files, scans, remedy)], "")
    notes = dataset_notes(scans)
    yield AssetCheckResult(
        check_name="dataset_notes",
        asset_key=numerai_dataset.key,
        passed=notes.passed,
        severity=AssetCheckSeverity.WARN,
        description=notes.message,
    )


def _result(check_name: str, results: list[CheckResult], ok: str) -> AssetCheckResult:
    """A blocking check's result: failed (ERROR) when any of `results` failed."""
    failed = [r for r in results if not r.passed]
    return AssetCheckResult(
        check_name=check_name,
        asset_key=numerai_dataset.key,
        passed=not failed,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(r.message for r in failed) or ok or results[0].message,
        metadata={r.name: ("ok: " if r.passed else "FAILED: ") + r.message for r in results},
    )
