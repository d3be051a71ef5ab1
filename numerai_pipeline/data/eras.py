"""Era bookkeeping of dataset files: era labels as stored, which eras exist, how many rows they
hold, which are labeled."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from numerai_pipeline.core.eras import era_sort_key, sorted_eras
from numerai_pipeline.core.schema import DATA_TYPE_COL, ERA_COL, TARGET_COL, DatasetError


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


MIN_ERA_ROWS = 10
"""Labeled rows an era needs to be trained and scored on: a per-era correlation of fewer rows is
noise (Numerai's eras hold thousands). Smaller eras are left out, and the dataset's notes say so."""


def labeled_eras(era_index: pd.DataFrame, min_rows: int = MIN_ERA_ROWS) -> list[str]:
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
