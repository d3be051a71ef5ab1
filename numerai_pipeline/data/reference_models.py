"""Numerai's meta-model predictions (meta_model.parquet), the baseline MMC is measured against."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from numerai_pipeline.core.schema import META_MODEL_COL, DatasetError


def read_meta_model(path: Path | None) -> pd.Series | None:
    """The meta model's prediction per id, or None when the file is absent."""
    if path is None or not Path(path).exists():
        return None
    try:
        frame = pq.read_table(path).to_pandas()
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise DatasetError(
            f"{path} is not a readable parquet file ({exc}); delete it and download it again"
        ) from exc
    if "id" in frame.columns:
        frame = frame.set_index("id")
    if META_MODEL_COL not in frame.columns:
        raise DatasetError(f"{path} has no `{META_MODEL_COL}` column; is it meta_model.parquet?")
    return frame[META_MODEL_COL].astype("float64")
