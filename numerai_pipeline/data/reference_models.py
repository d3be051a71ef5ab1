"""Numerai's reference predictions: the meta model (meta_model.parquet), which MMC is measured
against, and the benchmark models (`*_benchmark_models.parquet`), which BMC is measured against."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from numerai_pipeline.core.schema import ID_COL, META_MODEL_COL, DatasetError, benchmark_column
from numerai_pipeline.data.loading import parquet_columns


def _read_column(path: Path, column: str) -> pd.Series:
    """One float column of a reference file by id; DatasetError if unreadable."""
    try:
        table = pq.read_table(path, columns=[ID_COL, column])
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise DatasetError(
            f"{path} is not a readable parquet file ({exc}); delete it and download it again"
        ) from exc
    ids = pd.Index(table[ID_COL].to_pandas(), name=ID_COL).astype(str)
    return pd.Series(table[column].to_numpy(), index=ids, name=column, dtype="float64")


def read_meta_model(path: Path | None) -> pd.Series | None:
    """The meta model's prediction per id, or None when the file is absent."""
    if path is None or not Path(path).exists():
        return None
    if META_MODEL_COL not in parquet_columns(path):
        raise DatasetError(f"{path} has no `{META_MODEL_COL}` column; is it meta_model.parquet?")
    return _read_column(path, META_MODEL_COL)


def _version_rank(column: str) -> int:
    """The data version a benchmark column's tag names, comparable: "v5_..." 50, "v52_..." 52,
    "v43_..." 43."""
    digits = re.match(r"v(\d+)_", column)
    return int(digits.group(1).ljust(2, "0")) if digits else -1


def choose_benchmark_column(columns: list[str], version: str, main_target: str) -> str | None:
    """The benchmark column BMC is measured against: the one Numerai names for the version and
    main target ("v5_lgbm_cyrusd20" for v5.0's `target_cyrusd_20`), else the newest version's
    benchmark of the main target, else None."""
    wanted = benchmark_column(version, main_target)
    if wanted in columns:
        return wanted
    suffix = "_lgbm_" + wanted.partition("_lgbm_")[2]
    same_target = [c for c in columns if c.endswith(suffix)]
    return max(same_target, key=_version_rank, default=None)


def read_benchmark(path: Path | None, version: str, main_target: str) -> pd.Series | None:
    """The predictions per id of the benchmark model of `main_target` (`choose_benchmark_column`,
    the Series' name) in a `*_benchmark_models.parquet` file; None when the file is absent or
    has no benchmark of that target."""
    if path is None or not Path(path).exists():
        return None
    column = choose_benchmark_column(parquet_columns(path), version, main_target)
    return None if column is None else _read_column(path, column).rename(column)
