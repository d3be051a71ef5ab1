"""Era bookkeeping: which eras exist, how many rows they hold, which are labeled, subsampling."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from numerai_pipeline.data.schema import DATA_TYPE_COL, ERA_COL, TARGET_COL, DatasetError


def in_eras(eras: np.ndarray, wanted: Sequence[str] | np.ndarray) -> np.ndarray:
    """Boolean mask of the rows whose era label is in `wanted`, by hashing: `np.isin` sorts
    object arrays (0.3 s per call on 300k rows, 50x this)."""
    return pd.Index(eras).isin(list(wanted))


def era_sort_key(era: str) -> tuple[int, str]:
    """Order eras numerically ("0002" < "0010"); non-numeric labels such as "X" sort last."""
    return (int(era), era) if str(era).isdigit() else (10**9, str(era))


def era_labels(eras: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Era labels as Numerai writes them today, whatever the file stored: integers and numeric
    strings zero-padded to 4 digits (7, "7" -> "0007"), the older "era7" too; others ("X") kept."""
    if isinstance(eras, pa.ChunkedArray):
        eras = eras.combine_chunks()
    if pa.types.is_dictionary(eras.type):
        eras = eras.dictionary_decode()
    if pa.types.is_integer(eras.type):
        return pc.utf8_lpad(pc.cast(eras, pa.string()), 4, "0")
    labels = pc.cast(eras, pa.string())
    number = pc.replace_substring_regex(labels, pattern=r"^era(\d+)$", replacement=r"\1")
    numeric = pc.match_substring_regex(number, pattern=r"^\d+$")
    return pc.if_else(numeric, pc.utf8_lpad(number, 4, "0"), labels)


def stored_era_values(era_type: pa.DataType, eras: Sequence[str]) -> list:
    """The values a file storing eras as `era_type` may hold for the labels `eras` (the inverse
    of `era_labels`, to filter on): integer eras "0007" -> 7; string "0007" -> "0007", "7",
    "era7"."""
    if pa.types.is_dictionary(era_type):
        era_type = era_type.value_type
    numbers = [int(e) for e in eras if str(e).isdigit()]
    if pa.types.is_integer(era_type):
        return numbers
    return [str(e) for e in eras] + [f"{prefix}{n}" for n in numbers for prefix in ("", "era")]


def sorted_eras(eras: Sequence[str]) -> list[str]:
    """Unique eras in chronological order."""
    return sorted({str(e) for e in eras}, key=era_sort_key)


def in_era_order(eras: np.ndarray) -> bool:
    """Whether each era's rows are one run and the runs are in chronological order (compares
    neighbours, then sorts the runs' labels only)."""
    if not len(eras):
        return True
    runs = eras[np.r_[True, eras[1:] != eras[:-1]]]
    return list(runs) == sorted_eras(runs)


def era_numbers(ordered: Sequence[str]) -> np.ndarray:
    """Era numbers of chronologically ordered eras ("0007" -> 7), or their positions when some
    label is not numeric: distances between eras in weeks."""
    if all(str(e).isdigit() for e in ordered):
        return np.array([int(e) for e in ordered], dtype=np.int64)
    return np.arange(len(ordered), dtype=np.int64)


def _era_counts(path: Path, default_type: str) -> pd.DataFrame:
    """Rows and labeled rows per (era, data_type), reading only era/data_type/target."""
    schema_names = set(pq.read_schema(path).names)
    columns = [c for c in (ERA_COL, DATA_TYPE_COL, TARGET_COL) if c in schema_names]
    table = pq.read_table(path, columns=columns)
    era = era_labels(table[ERA_COL]).to_numpy(zero_copy_only=False)
    dtype = (
        table[DATA_TYPE_COL].to_numpy(zero_copy_only=False)
        if DATA_TYPE_COL in schema_names
        else np.full(len(era), default_type, dtype=object)
    )
    labeled = (
        table[TARGET_COL].is_valid().to_numpy(zero_copy_only=False)
        & ~np.isnan(table[TARGET_COL].to_numpy(zero_copy_only=False).astype("float32"))
        if TARGET_COL in schema_names
        else np.zeros(len(era), dtype=bool)
    )
    frame = pd.DataFrame({ERA_COL: era, DATA_TYPE_COL: dtype, "labeled": labeled})
    return (
        frame.groupby([ERA_COL, DATA_TYPE_COL], sort=False)
        .agg(n_rows=("labeled", "size"), n_labeled=("labeled", "sum"))
        .reset_index()
    )


def build_era_index(train: Path, validation: Path, live: Path) -> pd.DataFrame:
    """One row per (era, data_type): `n_rows`, `n_labeled`, in chronological order."""
    parts = [
        _era_counts(path, kind)
        for path, kind in ((train, "train"), (validation, "validation"), (live, "live"))
    ]
    index = pd.concat(parts, ignore_index=True)
    index["n_labeled"] = index["n_labeled"].astype("int64")
    order = sorted(range(len(index)), key=lambda i: era_sort_key(index.loc[i, ERA_COL]))
    index = index.loc[order].reset_index(drop=True)
    labeled = index[index[DATA_TYPE_COL] != "live"]
    if labeled["n_labeled"].sum() == 0:
        raise DatasetError(
            "no labeled rows in train/validation: every main `target` is NaN; "
            "check that the files are Numerai training data and not live data"
        )
    return index


def labeled_eras(era_index: pd.DataFrame, min_rows: int = 2) -> list[str]:
    """Eras of train/validation data with at least `min_rows` labeled rows, chronological."""
    rows = era_index[(era_index[DATA_TYPE_COL] != "live") & (era_index["n_labeled"] >= min_rows)]
    return sorted_eras(rows[ERA_COL].tolist())


def unresolved_eras(era_index: pd.DataFrame) -> list[str]:
    """Train/validation eras after the last labeled one whose main targets have not resolved (no
    labeled row): unlabeled rows, usable for features-only pretraining."""
    labeled = labeled_eras(era_index)
    rows = era_index[(era_index[DATA_TYPE_COL] != "live") & (era_index["n_labeled"] == 0)]
    last = era_sort_key(labeled[-1]) if labeled else None
    return [e for e in sorted_eras(rows[ERA_COL]) if last is None or era_sort_key(e) > last]


def subsample_eras(eras: Sequence[str], every_nth: int = 1) -> list[str]:
    """Every `every_nth` era counting back from the latest, so the most recent era is always kept.

    Numerai's targets overlap neighbouring eras; keeping every 4th era cuts memory and
    near-duplicate rows at little cost (Numerai's example scripts do the same).
    """
    if every_nth < 1:
        raise ValueError(f"every_nth must be >= 1, got {every_nth}")
    ordered = sorted_eras(eras)
    return ordered[::-1][::every_nth][::-1]
