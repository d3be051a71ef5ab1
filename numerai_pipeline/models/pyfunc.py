"""MLflow `pyfunc` packaging of the pipeline's models, so `mlflow.pyfunc.load_model(uri)
.predict(frame)` reproduces `model.predict` exactly: the neural models (MTM, MLP) as state dict +
config, XGBoost as its booster + feature names with the pipeline's missing-value convention.

torch is imported where it is used: the XGBoost steps that log models do not load it."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.types import ColSpec, Schema

from numerai_pipeline.data.schema import MISSING_FEATURE
from numerai_pipeline.storage.atomic import atomic_path

if TYPE_CHECKING:
    from numerai_pipeline.models.mlp import MLPModel
    from numerai_pipeline.models.mtm_training import MTMModel
    from numerai_pipeline.models.xgb import XGBoostModel

    NeuralModel = MTMModel | MLPModel

ARTIFACT = "model"
FEATURES = "features"
MODEL_CODE = Path(__file__).parent / "mlflow_code"
"""Models-from-code scripts: the logged model is a script naming its class, never a pickle."""
PACKAGE = Path(__file__).parents[1]
"""Shipped with every logged model (`code_paths`), so it loads where the pipeline is not
installed, e.g. `mlflow models serve`."""


def save_neural_model(model: NeuralModel, path: Path) -> Path:
    """Write a fitted model's payload (config, names, state dict) to `path` atomically."""
    import torch

    with atomic_path(Path(path)) as tmp:
        torch.save(model.to_payload(), tmp)
    return Path(path)


def load_neural_model(path: Path, device: str | None = None) -> NeuralModel:
    """Rebuild a model written by `save_neural_model`."""
    import torch

    from numerai_pipeline.models.mlp import MLPModel
    from numerai_pipeline.models.mtm_training import MTMModel

    payload = torch.load(path, map_location="cpu", weights_only=True)
    kinds: dict[str, type[MTMModel] | type[MLPModel]] = {"mtm": MTMModel, "mlp": MLPModel}
    return kinds[payload["kind"]].from_payload(payload, device=device)


class NeuralPyfunc(mlflow.pyfunc.PythonModel):
    """Predicts the main target from a frame holding the model's feature columns (int8 bins,
    -1 = missing)."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.model = load_neural_model(Path(context.artifacts[ARTIFACT]))

    def predict(
        self, context: mlflow.pyfunc.PythonModelContext, model_input: pd.DataFrame, params=None
    ) -> np.ndarray:
        features = model_input[self.model.feature_names].to_numpy(dtype=np.int8)
        return self.model.predict(features)


class XGBoostPyfunc(mlflow.pyfunc.PythonModel):
    """Predicts with the booster from a frame holding its feature columns, as int8 bins with
    -1 = missing (the feature matrix) or as floats with NaN = missing: the same predictions."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        import xgboost as xgb

        self.booster = xgb.Booster(model_file=context.artifacts[ARTIFACT])
        self.feature_names = json.loads(Path(context.artifacts[FEATURES]).read_text())

    def predict(
        self, context: mlflow.pyfunc.PythonModelContext, model_input: pd.DataFrame, params=None
    ) -> np.ndarray:
        values = model_input[self.feature_names].to_numpy(dtype=np.float32)
        values[np.isnan(values)] = MISSING_FEATURE
        return self.booster.inplace_predict(values, missing=MISSING_FEATURE)


def feature_signature(feature_names: list[str], kind: str) -> ModelSignature:
    """A pyfunc's input, the named feature columns of MLflow type `kind`; its output, one float
    prediction per row."""
    return ModelSignature(
        inputs=Schema([ColSpec(kind, name) for name in feature_names]),
        outputs=Schema([ColSpec("float")]),
    )


def _middle_bins(feature_names: list[str]) -> pd.DataFrame:
    """One row of middle bins: the input example MLflow shows and checks the model on."""
    return pd.DataFrame(np.full((1, len(feature_names)), 2, np.int8), columns=feature_names)


def _requirements(*packages: str) -> list[str]:
    """Pinned requirements: `packages` plus what the shipped package imports on load."""
    from importlib.metadata import version

    common = ("mlflow", "numpy", "pandas", "pyarrow", "numerai-tools")
    return [f"{p}=={version(p).split('+')[0]}" for p in (*packages, *common)]


def log_neural_model(model: NeuralModel, name: str, **kwargs) -> ModelInfo:
    """Log `model` as an MLflow pyfunc model with its signature (feature columns as integer bins)
    and an input example in the active run (kwargs go to `log_model`, e.g.
    `registered_model_name`)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = save_neural_model(model, Path(tmp) / "model.pt")
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(MODEL_CODE / "neural_model.py"),
            artifacts={ARTIFACT: str(path)},
            signature=feature_signature(model.feature_names, "integer"),
            input_example=_middle_bins(model.feature_names),
            pip_requirements=_requirements("torch"),
            code_paths=[str(PACKAGE)],
            **kwargs,
        )


def log_xgboost_model(model: XGBoostModel, name: str = "model", **kwargs) -> ModelInfo:
    """Log a fitted XGBoost model as an MLflow pyfunc model in the active run. Unlike MLflow's
    xgboost flavor, which takes -1 for a bin, it reads -1 and NaN as missing, as the model was
    trained."""
    if model.booster is None:
        raise RuntimeError("log_xgboost_model called before fit")
    with tempfile.TemporaryDirectory() as tmp:
        booster, features = Path(tmp) / "booster.ubj", Path(tmp) / "features.json"
        model.booster.save_model(booster)
        features.write_text(json.dumps(model.feature_names))
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(MODEL_CODE / "xgboost_model.py"),
            artifacts={ARTIFACT: str(booster), FEATURES: str(features)},
            signature=feature_signature(model.feature_names, "double"),
            input_example=_middle_bins(model.feature_names),
            pip_requirements=_requirements("xgboost-cpu"),
            code_paths=[str(PACKAGE)],
            **kwargs,
        )
