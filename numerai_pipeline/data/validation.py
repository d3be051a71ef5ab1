"""Checks that a frame or a dataset file follows Numerai's layout; messages say what to do."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from numerai_pipeline.core.eras import sorted_eras
from numerai_pipeline.core.schema import (
    DATA_TYPE_COL,
    ERA_COL,
    FEATURE_PREFIX,
    ID_COL,
    MISSING_FEATURE,
    TARGET_COL,
    DatasetError,
    feature_columns,
    target_columns,
)
from numerai_pipeline.data.eras import era_labels
from numerai_pipeline.data.loading import (
    continuous_values,
    corrupt_file_error,
    feature_codes,
    has_continuous_features,
    open_parquet,
)

CHECK_NAMES = ("schema", "feature_values", "unique_ids", "eras", "target_nan_policy")
"""Checks `check_dataset_file` reports for a readable file (an unreadable one: `readable`)."""


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one dataset check (maps onto a Dagster AssetCheckResult)."""

    name: str
    passed: bool
    message: str
    metadata: dict[str, int | float | str] = field(default_factory=dict)


def validate_numerai_frame(df: pd.DataFrame, *, name: str, require_target: bool) -> None:
    """Raise DatasetError unless `df` is a usable Numerai frame (see the checks below)."""
    if ERA_COL not in df.columns:
        raise DatasetError(
            f"{name}: no {ERA_COL!r} column; every Numerai frame needs it "
            "(read files with read_numerai_parquet, which always includes it)"
        )
    if require_target and TARGET_COL not in df.columns:
        raise DatasetError(
            f"{name}: no {TARGET_COL!r} column, which training and scoring need; "
            "read the train/validation file with its target columns"
        )
    features = feature_columns(df.columns)
    if not features:
        raise DatasetError(
            f"{name}: no feature columns (named {FEATURE_PREFIX}* or feature<n>); "
            "check the column selection / feature set"
        )
    wrong = [c for c in features if df[c].dtype != np.int8]
    if wrong:
        raise DatasetError(
            f"{name}: {len(wrong)} feature columns are not int8 (e.g. {wrong[0]!r} is "
            f"{df[wrong[0]].dtype}); load files through read_numerai_parquet, which converts "
            "features to int8 bins 0..4"
        )
    for column in features:
        values = df[column].to_numpy()
        if len(values) and (values.min() < MISSING_FEATURE or values.max() > 4):
            example = values[(values < MISSING_FEATURE) | (values > 4)][0]
            raise DatasetError(
                f"{name}: feature {column!r} has values outside 0..4 (and {MISSING_FEATURE} for "
                f"missing), e.g. {example}; features must be Numerai's per-era bins: re-read the "
                "source file with read_numerai_parquet or re-bin the feature"
            )
    ids = pd.Index(df[ID_COL]) if ID_COL in df.columns else df.index
    duplicated = ids.duplicated()
    if duplicated.any():
        raise DatasetError(
            f"{name}: {int(duplicated.sum())} duplicate ids (e.g. {ids[duplicated][0]!r}); each "
            "row needs a unique id: drop duplicated rows (overlapping reads concatenated?) or "
            "re-download the file"
        )
    eras = df[ERA_COL]
    empty = eras.isna() | eras.eq("")
    if empty.any():
        raise DatasetError(
            f"{name}: {int(empty.sum())} rows have an empty era label (null or ''); every row "
            f"needs its era: fix or drop those rows"
        )
    if require_target:
        labeled = df[TARGET_COL].notna().groupby(eras.to_numpy(), sort=False).any()
        unlabeled = list(labeled.index[~labeled.to_numpy()])
        if unlabeled:
            raise DatasetError(
                f"{name}: {len(unlabeled)} eras have rows but no non-NaN {TARGET_COL!r} (e.g. "
                f"{', '.join(map(str, unlabeled[:3]))}); drop unresolved rows first "
                f"(frame[frame.{TARGET_COL}.notna()]) or select only labeled eras"
            )


CONTINUOUS_NOTE = (
    "continuous values in [0, 1] (Numerai's pre-2019 format): binned per era into five "
    "equal-count bins when read, as Numerai bins its features"
)

REMEDIES = {
    "synthetic": "delete the file; the synthetic dataset is regenerated on the next run",
    "numerai": "delete the file and run again to download it from Numerai",
    "local": "fix the file or export it again from where it came from",
}
"""What to do about a bad file, by where the files came from (`DatasetFiles.source`)."""


@dataclass
class _Tally:
    """Running counts over the record batches of one file."""

    continuous: bool = False
    """The features are continuous values in [0, 1] (pre-2019 releases), binned when read."""
    rows: int = 0
    bad_values: int = 0
    bad_example: str = ""
    missing_values: int = 0
    id_hashes: list[np.ndarray] = field(default_factory=list)
    era_rows: Counter = field(default_factory=Counter)
    labeled_era_rows: Counter = field(default_factory=Counter)
    train_nan: int = 0
    labeled_rows: int = 0
    validation_rows: Counter = field(default_factory=Counter)
    validation_nan: Counter = field(default_factory=Counter)
    targets_out_of_range: int = 0
    target_example: str = ""

    def add(self, batch: pa.RecordBatch, features: list[str]) -> None:
        names = batch.schema.names
        self.rows += batch.num_rows
        for column in features:
            raw = batch.column(column)
            if self.continuous:
                values, bad = continuous_values(raw)
                missing = np.isnan(values)
            else:
                codes, bad = feature_codes(raw)
                missing = codes == MISSING_FEATURE
            if bad.any():
                if not self.bad_example:
                    value = raw.take(pa.array(np.flatnonzero(bad)[:1]))[0].as_py()
                    self.bad_example = f"{column!r} has {value!r}"
                self.bad_values += int(bad.sum())
            self.missing_values += int((missing & ~bad).sum())
        if ID_COL in names:
            ids = batch.column(ID_COL).to_numpy(zero_copy_only=False)
            self.id_hashes.append(pd.util.hash_array(ids.astype(object)))
        self._add_targets(batch)
        if ERA_COL in names:
            self._add_eras(batch)

    def _add_targets(self, batch: pa.RecordBatch) -> None:
        """Count target values outside [0, 1] (NaN is allowed: unresolved)."""
        for name in target_columns(batch.schema.names):
            try:
                values = pc.cast(batch.column(name), pa.float64()).to_numpy(zero_copy_only=False)
            except pa.ArrowInvalid:
                continue  # not numeric: the loader names the column
            outside = (values < 0) | (values > 1)
            if outside.any() and not self.target_example:
                self.target_example = f"{name!r} has {values[outside][0]:g}"
            self.targets_out_of_range += int(outside.sum())

    def _add_eras(self, batch: pa.RecordBatch) -> None:
        names = batch.schema.names
        eras = era_labels(batch.column(ERA_COL))
        counts = pc.value_counts(eras)
        values, sizes = counts.field("values").to_pylist(), counts.field("counts").to_pylist()
        self.era_rows.update(dict(zip(values, sizes, strict=True)))
        if TARGET_COL not in names:
            return
        nan = np.isnan(
            pc.cast(batch.column(TARGET_COL), pa.float64()).to_numpy(zero_copy_only=False)
        )
        self.labeled_rows += int((~nan).sum())
        if DATA_TYPE_COL in names:
            kinds = batch.column(DATA_TYPE_COL).to_numpy(zero_copy_only=False).astype(str)
        else:
            kinds = np.full(batch.num_rows, "train")
        self.train_nan += int((nan & (kinds == "train")).sum())
        in_validation = kinds == "validation"
        era_values = np.asarray(eras.to_numpy(zero_copy_only=False), dtype=object)
        self.labeled_era_rows.update(Counter(era_values[~nan]))
        self.validation_rows.update(Counter(era_values[in_validation]))
        self.validation_nan.update(Counter(era_values[in_validation & nan]))


def _duplicate_ids(pf: pq.ParquetFile, hashes: np.ndarray, batch_rows: int) -> tuple[int, str]:
    """Count ids that really repeat (second pass over ids with a colliding hash)."""
    ordered = np.sort(hashes)
    suspects = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if not len(suspects):
        return 0, ""
    seen: Counter = Counter()
    for batch in pf.iter_batches(batch_size=batch_rows, columns=[ID_COL]):
        ids = batch.column(ID_COL).to_numpy(zero_copy_only=False).astype(object)
        seen.update(ids[np.isin(pd.util.hash_array(ids), suspects)])
    repeats = {k: v for k, v in seen.items() if v > 1}
    return sum(v - 1 for v in repeats.values()), str(next(iter(repeats), ""))


@dataclass
class FileScan:
    """A file's check results and what the checks across files need of it."""

    path: Path
    results: list[CheckResult]
    tally: _Tally = field(default_factory=_Tally)

    @property
    def readable(self) -> bool:
        return not any(r.name == "readable" for r in self.results)

    @property
    def id_hashes(self) -> np.ndarray:
        return (
            np.concatenate(self.tally.id_hashes) if self.tally.id_hashes else np.zeros(0, np.uint64)
        )


def scan_dataset_file(
    path: Path,
    *,
    require_target: bool,
    remedy: str = REMEDIES["numerai"],
    batch_rows: int = 200_000,
) -> FileScan:
    """Stream a dataset file by record batches and check it (see CHECK_NAMES).

    A file that cannot be read gives a single failed `readable` result instead.
    """
    path = Path(path)
    try:
        pf = open_parquet(path)
    except DatasetError as exc:
        return FileScan(path, [CheckResult("readable", False, str(exc), {"path": str(path)})])
    with pf:
        names = pf.schema_arrow.names
        features = feature_columns(names)
        wanted = [c for c in (ID_COL, ERA_COL, DATA_TYPE_COL) if c in names]
        wanted += target_columns(names)
        try:
            tally = _Tally(continuous=bool(features) and has_continuous_features(path, features))
            for batch in pf.iter_batches(batch_size=batch_rows, columns=wanted + features):
                tally.add(batch, features)
            hashes = np.concatenate(tally.id_hashes) if tally.id_hashes else np.array([])
            n_duplicates, duplicate = _duplicate_ids(pf, hashes, batch_rows)
        except (pa.ArrowException, OSError) as exc:
            message = str(corrupt_file_error(path, exc))
            return FileScan(path, [CheckResult("readable", False, message, {"path": str(path)})])
        except DatasetError as exc:
            return FileScan(path, [CheckResult("readable", False, str(exc), {"path": str(path)})])
    results = [
        _schema_result(path, names, features, require_target, pf.metadata.num_rows, remedy),
        _feature_result(path, tally, len(features), remedy),
        _ids_result(path, names, n_duplicates, duplicate, remedy),
        _eras_result(path, names, tally, remedy),
        _target_result(path, names, tally, require_target, remedy),
    ]
    return FileScan(path, results, tally)


def check_dataset_file(
    path: Path,
    *,
    require_target: bool,
    remedy: str = REMEDIES["numerai"],
    batch_rows: int = 200_000,
) -> list[CheckResult]:
    """The results of `scan_dataset_file`."""
    return scan_dataset_file(
        path, require_target=require_target, remedy=remedy, batch_rows=batch_rows
    ).results


def _schema_result(
    path: Path,
    names: list[str],
    features: list[str],
    require_target: bool,
    n_rows: int,
    remedy: str,
) -> CheckResult:
    needed = [ID_COL, ERA_COL] + ([TARGET_COL] if require_target else [])
    missing = [c for c in needed if c not in names] + ([] if features else ["feature_*"])
    metadata = {
        "rows": n_rows,
        "features": len(features),
        "targets": len(target_columns(names)),
    }
    if missing:
        message = (
            f"{path} lacks columns {', '.join(missing)}; it is not a Numerai {path.stem} file: "
            f"{remedy}"
        )
        return CheckResult("schema", False, message, metadata)
    if n_rows == 0:
        message = f"{path} has no rows: {remedy}"
        return CheckResult("schema", False, message, metadata)
    message = f"{n_rows} rows, {len(features)} features, {metadata['targets']} targets"
    return CheckResult("schema", True, message, metadata)


def _feature_result(path: Path, tally: _Tally, n_features: int, remedy: str) -> CheckResult:
    metadata: dict[str, int | float | str] = {
        "bad_values": tally.bad_values,
        "missing_values": tally.missing_values,
        "feature_scale": CONTINUOUS_NOTE if tally.continuous else "bins 0..4",
    }
    if tally.bad_values:
        expected = (
            "continuous features: values in [0, 1]"
            if tally.continuous
            else "integers 0..4, floats in {0, .25, .5, .75, 1}"
        )
        what = "outside [0, 1]" if tally.continuous else "not bins 0..4"
        message = (
            f"{path}: {tally.bad_values} feature values are {what} (e.g. "
            f"{tally.bad_example}; expected {expected} or NaN): {remedy}"
        )
        return CheckResult("feature_values", False, message, metadata)
    kind = "continuous in [0, 1] (binned per era when read)" if tally.continuous else "all bins"
    message = f"{n_features} features, {kind}; {tally.missing_values} missing (-1 or NaN) values"
    return CheckResult("feature_values", True, message, metadata)


def _ids_result(
    path: Path, names: list[str], n_duplicates: int, example: str, remedy: str
) -> CheckResult:
    if ID_COL not in names:
        message = f"{path} has no {ID_COL!r} index or column: {remedy}"
        return CheckResult("unique_ids", False, message, {})
    metadata = {"duplicate_ids": n_duplicates}
    if n_duplicates:
        message = (
            f"{path}: {n_duplicates} duplicate ids (e.g. {example!r}); each row needs its own "
            f"id (was the file concatenated twice?): {remedy}"
        )
        return CheckResult("unique_ids", False, message, metadata)
    return CheckResult("unique_ids", True, "all ids unique", metadata)


def _eras_result(path: Path, names: list[str], tally: _Tally, remedy: str) -> CheckResult:
    if ERA_COL not in names:
        message = f"{path} has no {ERA_COL!r} column: {remedy}"
        return CheckResult("eras", False, message, {})
    empty = sum(n for era, n in tally.era_rows.items() if not era)
    sizes = [n for era, n in tally.era_rows.items() if era]
    metadata: dict[str, int | float | str] = {
        "eras": len(sizes),
        "empty_labels": empty,
        "min_rows_per_era": min(sizes, default=0),
        "max_rows_per_era": max(sizes, default=0),
    }
    if not tally.rows:
        return CheckResult("eras", False, f"{path} has no rows: {remedy}", metadata)
    labels = sorted_eras([era for era in tally.era_rows if era])
    if labels:
        metadata |= {"first_era": labels[0], "last_era": labels[-1]}
    if empty:
        message = (
            f"{path}: {empty} rows have no era label (null or ''); every row needs its era: "
            f"{remedy}"
        )
        return CheckResult("eras", False, message, metadata)
    message = (
        f"{len(sizes)} eras ({metadata['first_era']}..{metadata['last_era']}), "
        f"{metadata['min_rows_per_era']}-{metadata['max_rows_per_era']} rows per era"
    )
    return CheckResult("eras", True, message, metadata)


def _target_result(
    path: Path, names: list[str], tally: _Tally, require_target: bool, remedy: str
) -> CheckResult:
    if TARGET_COL not in names:
        passed = not require_target
        message = f"no {TARGET_COL!r} column" + ("" if passed else f" in {path}: {remedy}")
        return CheckResult("target_nan_policy", passed, message, {})
    partial = sorted(
        era for era, n in tally.validation_nan.items() if 0 < n < tally.validation_rows[era]
    )
    unresolved = sum(
        1 for era, n in tally.validation_nan.items() if n == tally.validation_rows[era]
    )
    metadata = {
        "labeled_rows": tally.labeled_rows,
        "train_nan_targets": tally.train_nan,
        "partially_labeled_validation_eras": len(partial),
        "unresolved_validation_eras": unresolved,
        "targets_out_of_range": tally.targets_out_of_range,
    }
    problems = []
    if tally.train_nan:
        problems.append(f"{tally.train_nan} train rows have a NaN {TARGET_COL!r}")
    if partial:
        problems.append(
            f"{len(partial)} validation eras have NaN {TARGET_COL!r} in only some rows "
            f"(e.g. {', '.join(partial[:3])})"
        )
    if require_target and not tally.labeled_rows:
        problems.append(f"no row has a non-NaN {TARGET_COL!r}")
    if tally.targets_out_of_range:
        problems.append(
            f"{tally.targets_out_of_range} target values are outside [0, 1] (e.g. "
            f"{tally.target_example}); Numerai's targets are in [0, 1]"
        )
    if problems:
        message = f"{path}: {'; '.join(problems)}: {remedy}"
        return CheckResult("target_nan_policy", False, message, metadata)
    message = (
        f"{tally.labeled_rows} labeled rows; targets in [0, 1]; main target never NaN in train "
        f"rows; {unresolved} unresolved validation eras (allowed)"
    )
    return CheckResult("target_nan_policy", True, message, metadata)
