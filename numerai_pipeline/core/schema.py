"""Column conventions of Numerai's dataset files and the error every bad input raises."""

from __future__ import annotations

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

FEATURE_DTYPE = "int8"
TARGET_DTYPE = "float32"
FEATURE_VALUES = (0, 1, 2, 3, 4)
MISSING_FEATURE = -1
"""int8 sentinel for a feature value that is NaN in the source file (Numerai itself stores 2)."""


def ordinal_values(features: np.ndarray) -> np.ndarray:
    """int8 bins 0..4 as float32 values (bin - 2) / 2 in [-1, 1]; missing = 0, the middle bin."""
    values = (features.astype(np.float32) - 2) * 0.5
    values[features == MISSING_FEATURE] = 0
    return values


SUPPORTED_VERSIONS = ("v4.3", "v5.0", "v5.1", "v5.2")
DATA_TYPES = ("train", "validation", "live")


class DatasetError(ValueError):
    """A dataset file or frame is unusable; the message says what is wrong and what to do."""


def feature_columns(columns: Iterable[str]) -> list[str]:
    """Feature column names in file order."""
    return [c for c in columns if c.startswith(FEATURE_PREFIX)]


def target_columns(columns: Iterable[str]) -> list[str]:
    """Target column names (main `target` first, then auxiliary targets in file order)."""
    cols = [c for c in columns if c == TARGET_COL or c.startswith(TARGET_PREFIX + "_")]
    return sorted(cols, key=lambda c: c != TARGET_COL)


def validate_version(version: str) -> str:
    """Return `version` if the pipeline knows it, else raise a DatasetError naming the choices."""
    if version not in SUPPORTED_VERSIONS:
        raise DatasetError(
            f"unknown Numerai data version {version!r}; set NUMERAI_DATA_VERSION to one of "
            f"{', '.join(SUPPORTED_VERSIONS)}"
        )
    return version


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
