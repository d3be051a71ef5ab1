"""Fitted models on disk: one folder per model, `model.json` naming its kind, the rest the model's
own files. Written atomically; read back by `load_model`, whatever the kind."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from numerai_pipeline.models.base import TournamentModel
from numerai_pipeline.storage.atomic import atomic_dir

MODEL_CLASSES = {
    "xgboost": "numerai_pipeline.models.xgb:XGBoostModel",
    "ridge": "numerai_pipeline.models.ridge:RidgeModel",
    "mtm": "numerai_pipeline.models.mtm.model:MTMModel",
    "mlp": "numerai_pipeline.models.mlp:MLPModel",
    "rnn": "numerai_pipeline.models.rnn:RNNModel",
}
"""Imported when a model of the kind is read: reading XGBoost does not load torch."""
FORMAT_VERSION = 1


def save_model(model: TournamentModel, folder: Path) -> Path:
    """Write a fitted model into `folder` (replacing what is there) and return it."""
    with atomic_dir(folder) as tmp:
        meta = {"format": FORMAT_VERSION, "kind": model.kind, "name": model.name}
        (tmp / "model.json").write_text(json.dumps(meta))
        model.save(tmp)
    return Path(folder)


def load_model(folder: Path, device: str | None = None) -> TournamentModel:
    """The fitted model `save_model` wrote into `folder`."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "model.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{folder} holds no saved model ({exc}); fit the model again") from exc
    if meta.get("format") != FORMAT_VERSION or meta.get("kind") not in MODEL_CLASSES:
        raise ValueError(
            f"{folder} holds a model of format {meta.get('format')!r} and kind "
            f"{meta.get('kind')!r}, which this version cannot read; fit the model again"
        )
    module, name = MODEL_CLASSES[meta["kind"]].split(":")
    return getattr(importlib.import_module(module), name).load(folder, device)
