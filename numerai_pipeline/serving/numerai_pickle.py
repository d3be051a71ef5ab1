"""The champion as Numerai's hosted model upload: a cloudpickled `predict(live_features,
live_benchmark_models)` that Numerai runs every round in its numerai-predict image (1 CPU, 4 GB,
10 minutes, no network).

The pickle holds this package's code by value, so the image needs none of it: only the packages
it has anyway (numpy, pandas, pyarrow, scipy, numerai-tools, and torch or xgboost for the
members). The code it calls uses only what numerai-tools has offered since 0.4 (the image pins
`numerai-tools<0.5`). Cloudpickled code loads only in the Python minor version it was made with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cloudpickle
import pandas as pd
import pyarrow as pa

import numerai_pipeline
from numerai_pipeline.core.schema import DATA_TYPE_COL, ID_COL
from numerai_pipeline.ensemble.champion import Champion
from numerai_pipeline.features.engineering import live_feature_table
from numerai_pipeline.models.training import NeuralModel
from numerai_pipeline.storage.atomic import atomic_path

PICKLE_NAME = "model_upload.pkl"
PREDICT_BATCH_ROWS = 512
"""Rows a neural member predicts at once in Numerai's 4 GB: the `gpu` preset's batches are sized
for a GPU's memory (a live era at once exceeds 4 GB)."""

Predict = Callable[..., pd.DataFrame]


def make_predict(champion: Champion, features: list[str], groups: dict[str, list[str]]) -> Predict:
    """Numerai's `predict`: the champion's submitted values for the live rows Numerai hands it,
    through the same conversion as the pipeline's own live features (`live_feature_table`)."""

    def predict(
        live_features: pd.DataFrame, live_benchmark_models: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Values in (0, 1), one per live row, indexed by id. `live_benchmark_models` is what
        Numerai passes; the champion reads features only."""
        frame = live_features.rename_axis(ID_COL)
        if ID_COL in frame.columns:
            frame = frame.set_index(ID_COL)
        table = pa.Table.from_pandas(frame, preserve_index=True)
        rows = live_feature_table(features, groups, table).to_pandas()
        values = champion.predict_frame(rows.drop(columns=[DATA_TYPE_COL], errors="ignore"))
        return pd.DataFrame({"prediction": values}, index=rows.index.rename(ID_COL))

    return predict


def export_model_pickle(
    champion_folder: Path, features: list[str], groups: dict[str, list[str]], dest: Path
) -> Path:
    """Write the champion saved in `champion_folder` (loaded on the CPU, its networks predicting
    `PREDICT_BATCH_ROWS` rows at a time) as a model-upload pickle to `dest`, atomically."""
    champion = Champion.load(champion_folder, "cpu")
    for model in champion.models.values():
        if isinstance(model, NeuralModel):
            model.train_config = replace(model.train_config, predict_batch_rows=PREDICT_BATCH_ROWS)
    predict = make_predict(champion, features, groups)
    cloudpickle.register_pickle_by_value(numerai_pipeline)
    try:
        payload = cloudpickle.dumps(predict)
    finally:
        cloudpickle.unregister_pickle_by_value(numerai_pipeline)
    with atomic_path(dest) as tmp:
        tmp.write_bytes(payload)
    return Path(dest)
