"""Read Numerai dataset files with pyarrow: only the needed columns and eras, features as int8."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from numerai_pipeline.core.schema import (
    DATA_TYPE_COL,
    ERA_COL,
    ID_COL,
    MISSING_FEATURE,
    TARGET_COL,
    TARGET_PREFIX,
    DatasetError,
    is_feature_column,
)
from numerai_pipeline.data.eras import era_labels, stored_era_values

_BATCH_BYTES = 64 * 2**20
"""Rough size of one scanned record batch; bounds the Arrow memory held while converting."""
_BIN_TOLERANCE = 1e-3
_SCALE_SAMPLE = (1_000, 8)
"""Rows and float feature columns read to tell continuous features from bins stored as floats."""


def read_features_json(path: Path) -> dict:
    """Numerai's features.json: a dict with `feature_sets` and `targets`."""
    try:
        meta = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(
            f"cannot read {path}: {exc}; delete it and download/regenerate the dataset"
        ) from exc
    if not isinstance(meta, dict) or not {"feature_sets", "targets"} <= meta.keys():
        raise DatasetError(
            f"{path} is not Numerai's features.json (needs keys 'feature_sets' and 'targets'); "
            "delete it and download/regenerate the dataset"
        )
    return meta


def corrupt_file_error(path: Path, exc: BaseException) -> DatasetError:
    """The DatasetError for a parquet file that cannot be read."""
    reason = " ".join(str(exc).split())
    return DatasetError(
        f"{path} is not a readable parquet file (corrupt or truncated: {reason}); "
        "delete it and download/regenerate it"
    )


def open_parquet(path: Path) -> pq.ParquetFile:
    """Open a parquet file (reads only the footer); DatasetError if missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path} does not exist; download or generate the dataset first")
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise corrupt_file_error(path, exc) from exc


def _schema(path: Path) -> pa.Schema:
    with open_parquet(path) as pf:
        return pf.schema_arrow


def parquet_columns(path: Path) -> list[str]:
    """Column names in the file's schema (including the `id` index) without reading data."""
    return list(_schema(path).names)


def feature_codes(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Feature values as int8 bins 0..4 (MISSING_FEATURE for NaN/null) and a mask of bad values.

    Integers are taken as bins (-1 as missing). Floats are Numerai's legacy scale
    {0, .25, .5, .75, 1} (become round(x * 4)) unless a value exceeds 1: then they are int bins
    stored as floats, as pandas writes an int8 column that picked up NaN. Any other type is all
    bad. Bad entries are set to MISSING_FEATURE.
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_integer(array.type):
        values = pc.fill_null(array, MISSING_FEATURE).to_numpy()
        bad = (values < MISSING_FEATURE) | (values > 4)
    elif pa.types.is_floating(array.type):
        raw = array.to_numpy(zero_copy_only=False)
        nan = np.isnan(raw)
        scaled = raw if np.nanmax(raw, initial=0.0) > 1 else raw * 4
        values = np.rint(scaled)
        bad = ~nan & ((np.abs(scaled - values) > _BIN_TOLERANCE) | (values < 0) | (values > 4))
        values[nan] = MISSING_FEATURE
    else:  # not numeric: every value is bad
        bad = np.ones(len(array), dtype=bool)
        values = np.full(len(array), MISSING_FEATURE)
    codes = values.astype(np.int8)
    codes[bad] = MISSING_FEATURE
    return codes, bad


Source = Path | pa.Table
"""A Numerai parquet file, or rows already in memory (e.g. the live frame Numerai hands a
model-upload `predict`) as an arrow table with an `id` column."""


def has_continuous_features(source: Source, features: Sequence[str] | None = None) -> bool:
    """Whether the features (`features`, default all) are continuous values in [0, 1], as in
    Numerai's pre-2019 releases, rather than the five bins: read from a sample of the first rows
    of a few float feature columns (bins stored as floats sit on the 0.25 grid; continuous
    values almost never do)."""
    schema = source.schema if isinstance(source, pa.Table) else _schema(source)
    names = [f for f in schema.names if is_feature_column(f)] if features is None else features
    floats = [f for f in names if pa.types.is_floating(schema.field(f).type)]
    rows, columns = _SCALE_SAMPLE
    if not floats:
        return False
    if isinstance(source, pa.Table):
        batch = source.select(floats[:columns]).slice(0, rows)
    else:
        with open_parquet(source) as pf:
            if pf.metadata.num_rows == 0:
                return False
            try:
                batch = next(pf.iter_batches(batch_size=rows, columns=floats[:columns]))
            except (pa.ArrowException, OSError) as exc:
                raise corrupt_file_error(source, exc) from exc
    values = np.concatenate([c.to_numpy(zero_copy_only=False) for c in batch.columns])
    values = values[np.isfinite(values)]
    if not len(values):
        return False
    off_grid = np.abs(values * 4 - np.rint(values * 4)) > _BIN_TOLERANCE
    return bool((off_grid & (values >= 0) & (values <= 1)).mean() > 0.5)


def continuous_values(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Continuous feature values as float32 (NaN for null) and a mask of bad values (outside
    [0, 1], or not numeric), which are set to NaN."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not (pa.types.is_floating(array.type) or pa.types.is_integer(array.type)):
        return np.full(len(array), np.nan, np.float32), np.ones(len(array), dtype=bool)
    values = pc.cast(array, pa.float32()).to_numpy(zero_copy_only=False).copy()
    with np.errstate(invalid="ignore"):
        bad = (values < 0) | (values > 1)
    values[bad] = np.nan
    return values, bad


def era_quintiles(values: np.ndarray, eras: np.ndarray) -> np.ndarray:
    """int8 bins 0..4 of `values` (one column, or rows x columns) within each era: equal-count
    bins of the rank (ties in row order), as Numerai bins its features; NaN -> MISSING_FEATURE."""
    ranks = pd.DataFrame(values).groupby(np.asarray(eras)).rank(method="first", pct=True)
    bins = np.clip(np.ceil(ranks.to_numpy() * 5) - 1, 0, 4)
    codes = np.where(np.isnan(bins), MISSING_FEATURE, bins).astype(np.int8)
    return codes.reshape(np.shape(values))


def shared_labels(array: pa.Array, is_era: bool) -> np.ndarray:
    """A label column (era as `era_labels` writes it, or data_type) as an object array whose rows
    share one str per distinct stored value: a str per row costs ~50 bytes, 130 MB for 2.5M
    rows. Labels are converted on the distinct values only."""
    encoded = array if pa.types.is_dictionary(array.type) else array.dictionary_encode()
    distinct = encoded.dictionary
    distinct = era_labels(distinct) if is_era else pc.cast(distinct, pa.string())
    labels = np.array(distinct.to_pylist() + [None], dtype=object)
    return labels[pc.fill_null(encoded.indices, len(labels) - 1).to_numpy()]


def _is_target(name: str) -> bool:
    return name == TARGET_COL or name.startswith(TARGET_PREFIX + "_")


def _bad_value_error(
    path: Path, column: str, raw: pa.Array, bad: np.ndarray, continuous: bool
) -> DatasetError:
    example = raw.take(pa.array(np.flatnonzero(bad)[:1]))[0].as_py()
    expected = (
        "the file's features are continuous, so values in [0, 1] or NaN"
        if continuous
        else "integers 0..4, or floats in {0, .25, .5, .75, 1}, or NaN"
    )
    return DatasetError(
        f"{path}: column {column!r} has {int(bad.sum())} values that are not feature values "
        f"(e.g. {example!r}; expected {expected}); the file is not in Numerai's format: delete "
        "it and download/regenerate it"
    )


@dataclass
class NumeraiRows:
    """Rows of a Numerai file, indexed by `id`: `labels` (`era`/`data_type` as str), `features`
    as one int8 block (rows x `feature_names`: bins 0..4, MISSING_FEATURE for NaN), `values`
    (the targets as float32, then any other requested column)."""

    labels: pd.DataFrame
    features: np.ndarray
    feature_names: list[str]
    values: pd.DataFrame

    @property
    def frame(self) -> pd.DataFrame:
        """Everything but the features: `labels`, then `values`."""
        return pd.concat([self.labels, self.values], axis=1, copy=False)

    def to_frame(self) -> pd.DataFrame:
        """One frame: `labels`, the features, `values`; views of the arrays, not copies (a
        column-major block lets arrow take the feature columns without a copy as well)."""
        block = pd.DataFrame(
            self.features, index=self.labels.index, columns=self.feature_names, copy=False
        )
        return pd.concat([self.labels, block, self.values], axis=1, copy=False)


def read_numerai_parquet(
    path: Source,
    columns: Sequence[str] | None = None,
    eras: Sequence[str] | None = None,
    data_types: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a Numerai parquet file: requested columns (all when None) plus `era`/`data_type`,
    as one frame indexed by `id` (`read_numerai_rows`, features int8, targets float32)."""
    return read_numerai_rows(path, columns, eras, data_types, row_major=False).to_frame()


def read_numerai_rows(
    path: Source,
    columns: Sequence[str] | None = None,
    eras: Sequence[str] | None = None,
    data_types: Sequence[str] | None = None,
    row_major: bool = True,
) -> NumeraiRows:
    """Read a Numerai parquet file: requested columns (all when None) plus `era`/`data_type`.

    Eras and data types are filtered with pyarrow (row groups outside them are skipped). The
    features are converted batch by batch straight into their int8 block, so reading holds one
    int8 copy of them plus a batch (no float frame, no second copy): row-major for models,
    which slice rows, or column-major for frames.
    """
    scan = _RowScan(path, columns, eras, data_types)
    return next(scan.chunks([scan.count_rows()], row_major))


def read_numerai_era_chunks(
    path: Path,
    columns: Sequence[str] | None = None,
    eras: Sequence[str] | None = None,
    max_rows: int = 131_072,
    row_major: bool = False,
) -> Iterator[NumeraiRows]:
    """`read_numerai_rows` in chunks of whole eras, each of at most `max_rows` rows unless one
    era alone is larger, from one scan of the file: a stage that works era by era holds a
    chunk, not the file. A file whose eras are not each one run of rows (Numerai's are) is
    read as one chunk."""
    scan = _RowScan(Path(path), columns, eras, None)
    yield from scan.chunks(era_chunk_sizes(scan.era_codes(), max_rows), row_major)


def era_chunk_sizes(era_codes: np.ndarray, max_rows: int) -> list[int]:
    """Row counts of consecutive chunks of whole eras, each at most `max_rows` unless one era is
    larger, for rows whose era codes (one int per distinct era) run in one block per era; one
    chunk of every row otherwise."""
    if not len(era_codes):
        return []
    starts = np.flatnonzero(np.r_[True, era_codes[1:] != era_codes[:-1]])
    if len(np.unique(era_codes[starts])) < len(starts):
        return [len(era_codes)]
    runs = np.diff(np.r_[starts, len(era_codes)])
    sizes = [int(runs[0])]
    for run in runs[1:].tolist():
        if sizes[-1] + run > max_rows:
            sizes.append(run)
        else:
            sizes[-1] += run
    return sizes


class _RowScan:
    """One filtered scan of a Numerai parquet file (or in-memory rows), converted into
    `NumeraiRows` chunks."""

    def __init__(
        self,
        source: Source,
        columns: Sequence[str] | None,
        eras: Sequence[str] | None,
        data_types: Sequence[str] | None,
    ) -> None:
        in_memory = isinstance(source, pa.Table)
        schema = source.schema if in_memory else _schema(Path(source))
        path = "the given rows" if in_memory else Path(source)
        names = schema.names
        if ID_COL not in names:
            raise DatasetError(
                f"{path} has no {ID_COL!r} column or index; Numerai files are indexed by id: "
                "delete it and download/regenerate it"
            )
        wanted = list(dict.fromkeys(names if columns is None else columns))
        missing = [c for c in wanted if c not in names]
        if missing:
            raise DatasetError(
                f"{len(missing)} requested columns are not in {path}: {', '.join(missing[:5])}"
                f"{' ...' if len(missing) > 5 else ''}; check the feature set/targets against "
                "the file's data version (or regenerate the file)"
            )
        self.path, self.schema = path, schema
        self.leading = [c for c in (ERA_COL, DATA_TYPE_COL) if c in names]
        rest = [c for c in wanted if c not in (ID_COL, *self.leading)]
        self.features = [c for c in rest if is_feature_column(c)]
        self.continuous = bool(self.features) and has_continuous_features(source, self.features)
        """Continuous features (pre-2019 releases) are binned per era of each chunk, which
        holds whole eras."""
        self.targets = [c for c in rest if _is_target(c)]
        self.others = [c for c in rest if c not in self.features and c not in self.targets]
        self.filter = None
        for column, values in ((ERA_COL, eras), (DATA_TYPE_COL, data_types)):
            if values is None:
                continue
            if column not in names:
                raise DatasetError(
                    f"{path} has no {column!r} column to filter on; drop that filter"
                )
            if column == ERA_COL:
                values = stored_era_values(schema.field(ERA_COL).type, values)
            clause = pc.field(column).isin(list(values))
            self.filter = clause if self.filter is None else self.filter & clause
        self.columns = [ID_COL, *self.leading, *self.features, *self.targets, *self.others]
        try:
            self.dataset = ds.dataset(source) if in_memory else ds.dataset(path, format="parquet")
        except (pa.ArrowException, OSError) as exc:
            raise corrupt_file_error(path, exc) from exc

    def count_rows(self) -> int:
        try:
            return self.dataset.count_rows(filter=self.filter)
        except (pa.ArrowException, OSError) as exc:
            raise corrupt_file_error(self.path, exc) from exc

    def era_codes(self) -> np.ndarray:
        """One int per distinct era, per row of the scan (a read of the era column alone)."""
        if ERA_COL not in self.leading:
            return np.zeros(self.count_rows(), dtype=np.int32)
        try:
            eras = self.dataset.to_table(columns=[ERA_COL], filter=self.filter).column(ERA_COL)
        except (pa.ArrowException, OSError) as exc:
            raise corrupt_file_error(self.path, exc) from exc
        labels = era_labels(eras).dictionary_encode()
        return labels.indices.to_numpy(zero_copy_only=False)

    def _batches(self, use_threads: bool) -> Iterator[pa.RecordBatch]:
        batch_rows = int(np.clip(_BATCH_BYTES // (len(self.columns) * 4), 1_024, 131_072))
        on_disk = isinstance(self.dataset, ds.FileSystemDataset)
        scanner = self.dataset.scanner(
            columns=self.columns,
            filter=self.filter,
            batch_size=batch_rows,
            batch_readahead=1,
            fragment_readahead=1,
            use_threads=use_threads,
            **(
                {"fragment_scan_options": ds.ParquetFragmentScanOptions(pre_buffer=False)}
                if on_disk
                else {}
            ),
        )
        try:
            yield from scanner.to_batches()
        except (pa.ArrowException, OSError) as exc:
            raise corrupt_file_error(self.path, exc) from exc

    def chunks(self, sizes: list[int], row_major: bool) -> Iterator[NumeraiRows]:
        """One `NumeraiRows` per entry of `sizes` (consecutive row counts of the scan), each
        converted batch by batch: a chunk holds its arrays plus one decoded batch."""
        # a threaded scan decodes ahead while the caller works on a chunk: building the large
        # preset's feature matrix peaked at 1.9 GB over the baseline with it, 1.1 GB without
        batches = self._batches(use_threads=len(sizes) == 1)
        pending: pa.RecordBatch | None = None
        for size in sizes:
            shape = (size, len(self.features))
            feats = np.empty(shape, np.int8) if row_major else np.empty(shape[::-1], np.int8).T
            raw = np.empty(shape, np.float32) if self.continuous else feats
            targs = np.empty((len(self.targets), size), dtype=np.float32)
            kept: dict[str, list[pa.Array]] = {c: [] for c in [ID_COL, *self.leading, *self.others]}
            start = 0
            while start < size:
                pending = next(batches) if pending is None else pending
                take = min(size - start, pending.num_rows)
                part = pending.slice(0, take)
                pending = pending.slice(take) if take < pending.num_rows else None
                try:
                    self._fill(part, raw, targs, start)
                except (pa.ArrowException, OSError) as exc:
                    raise corrupt_file_error(self.path, exc) from exc
                for name, parts in kept.items():
                    parts.append(part.column(name))
                start += take
            pa.default_memory_pool().release_unused()  # decoded batches' pages, ~0.4x features
            if self.continuous:
                feats[:] = era_quintiles(raw, self._chunk_eras(kept))
                del raw
            yield self._rows(kept, feats, targs)

    def _chunk_eras(self, kept: dict[str, list[pa.Array]]) -> np.ndarray:
        """The era label of each row of a chunk (one era for a file without eras)."""
        if ERA_COL not in kept:
            return np.zeros(sum(len(a) for a in kept[ID_COL]), dtype=np.int32)
        eras = pa.chunked_array(kept[ERA_COL], type=self.schema.field(ERA_COL).type)
        return era_labels(eras).to_numpy(zero_copy_only=False)

    def _fill(
        self, batch: pa.RecordBatch, feats: np.ndarray, targs: np.ndarray, start: int
    ) -> None:
        """Convert `batch` into rows `start`... of the features (int8 bins, or float32 values of
        continuous features) and float32 targets."""
        stop = start + batch.num_rows
        convert = continuous_values if self.continuous else feature_codes
        block = np.empty((len(self.features), batch.num_rows), dtype=feats.dtype)
        for i, name in enumerate(self.features):
            raw = batch.column(name)
            block[i], bad = convert(raw)
            if bad.any():
                raise _bad_value_error(self.path, name, raw, bad, self.continuous)
        feats[start:stop] = block.T
        for i, name in enumerate(self.targets):
            try:
                values = pc.cast(batch.column(name), pa.float32())
            except pa.ArrowInvalid as exc:
                raise DatasetError(
                    f"{self.path}: target column {name!r} is not numeric ({exc}); targets are "
                    "floats in [0, 1] or NaN: fix or regenerate the file"
                ) from exc
            targs[i, start:stop] = values.to_numpy(zero_copy_only=False)

    def _rows(
        self, kept: dict[str, list[pa.Array]], feats: np.ndarray, targs: np.ndarray
    ) -> NumeraiRows:
        """The converted arrays and the kept label columns of one chunk as `NumeraiRows`."""

        def combined(name: str) -> pa.Array:
            return pa.chunked_array(kept[name], type=self.schema.field(name).type).combine_chunks()

        # ids are unique: arrow's default deduplication would only add a hash table (~120
        # bytes per row, more than the strings themselves)
        ids = combined(ID_COL).cast(pa.string()).to_pandas(deduplicate_objects=False)
        index = pd.Index(ids, name=ID_COL)
        labels = pd.DataFrame(
            {c: shared_labels(combined(c), is_era=c == ERA_COL) for c in self.leading}, index=index
        )
        values = pd.concat(
            [
                pd.DataFrame(targs.T, index=index, columns=self.targets, copy=False),
                pd.DataFrame(
                    {c: combined(c).to_numpy(zero_copy_only=False) for c in self.others}, index
                ),
            ],
            axis=1,
            copy=False,
        )
        return NumeraiRows(labels, feats, self.features, values)
