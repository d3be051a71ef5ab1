"""Column conventions of Numerai's dataset files and the error every bad input raises."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

ID_COL = "id"
ERA_COL = "era"
DATA_TYPE_COL = "data_type"
TARGET_COL = "target"
FEATURE_PREFIX = "feature_"
TARGET_PREFIX = "target"
META_MODEL_COL = "numerai_meta_model"

MISSING_FEATURE = -1
"""int8 sentinel for a feature value that is NaN in the source file (Numerai itself stores 2)."""


def ordinal_values(features: np.ndarray) -> np.ndarray:
    """int8 bins 0..4 as float32 values (bin - 2) / 2 in [-1, 1]; missing = 0, the middle bin."""
    values = (features.astype(np.float32) - 2) * 0.5
    values[features == MISSING_FEATURE] = 0
    return values


KNOWN_VERSIONS = ("v4.3", "v5.0", "v5.1", "v5.2", "v5.3")
"""Versions this release has seen; any other label is accepted too (for messages only)."""
LIVE_FILE = "live.parquet"
LIVE_BENCHMARK_FILE = "live_benchmark_models.parquet"
VALIDATION_BENCHMARK_FILE = "validation_benchmark_models.parquet"


def per_round_name(file_name: str, round_num: int) -> str:
    """A live file's name kept per round: "live.parquet", 1234 -> "live_1234.parquet"."""
    stem, _, suffix = file_name.rpartition(".")
    return f"{stem}_{round_num}.{suffix}"


class DatasetError(ValueError):
    """A dataset file or frame is unusable; the message says what is wrong and what to do."""


def is_feature_column(name: str) -> bool:
    """Whether a column is a feature: `feature_<name>`, or `feature<n>` as in Numerai's pre-2019
    files."""
    return name.startswith(FEATURE_PREFIX) or re.fullmatch(r"feature\d+", name) is not None


def feature_columns(columns: Iterable[str]) -> list[str]:
    """Feature column names in file order."""
    return [c for c in columns if is_feature_column(c)]


def target_columns(columns: Iterable[str]) -> list[str]:
    """Target column names (main `target` first, then auxiliary targets in file order)."""
    cols = [c for c in columns if c == TARGET_COL or c.startswith(TARGET_PREFIX + "_")]
    return sorted(cols, key=lambda c: c != TARGET_COL)


def validate_version(version: str) -> str:
    """Return `version` if it can name a version folder (any label Numerai lists or a local
    folder holds: "v5.3", "legacy"), else raise a DatasetError saying why."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", version or "") or ".." in version:
        raise DatasetError(
            f"data version {version!r} cannot name a folder; set NUMERAI_DATA_VERSION to a "
            f"version label such as {', '.join(KNOWN_VERSIONS[-2:])} (letters, digits, '.', "
            "'_', '-')"
        )
    return version


def benchmark_column(version: str, main_target: str) -> str:
    """The column of Numerai's benchmark models files that BMC is measured against for a version
    and main target, named as Numerai names it: "v5.0", "target_cyrusd_20" -> "v5_lgbm_cyrusd20";
    "v5.3", "target_ender_20" -> "v53_lgbm_ender20"; "v4.3", "target_cyrus_v4_20" ->
    "v43_lgbm_cyrus20" (the target's version suffix is not in the column's name)."""
    major, _, minor = version.partition(".")
    tag = major + ("" if minor in ("", "0") else minor.replace(".", ""))
    name = re.sub(r"_v\d+(?=_)", "", main_target.removeprefix(TARGET_PREFIX + "_"))
    return f"{tag}_lgbm_{name.replace('_', '')}"


def feature_block(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The named feature columns of a frame as an int8 block (n, len(names)): int8 bins as they
    are (-1 = missing), or numbers with NaN for missing (read as -1)."""
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise DatasetError(
            f"the rows lack {len(missing)} feature columns the model reads (e.g. {missing[0]!r}); "
            "pass the same feature set the model was fit on"
        )
    columns = frame[names]
    if all(dtype == np.int8 for dtype in columns.dtypes):
        return columns.to_numpy(dtype=np.int8)
    values = columns.to_numpy(dtype=np.float32)
    values[np.isnan(values)] = MISSING_FEATURE
    return values.astype(np.int8)
