"""MLflow `pyfunc` packaging of the neural models (MTM, MLP): the state dict + config as one
artifact, so `mlflow.pyfunc.load_model(uri).predict(frame)` reproduces `model.predict` exactly."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from numerai_pipeline.models.mlp import MLPModel
from numerai_pipeline.models.mtm_training import MTMModel
from numerai_pipeline.storage.atomic import atomic_path

NeuralModel = MTMModel | MLPModel
_KINDS: dict[str, type[MTMModel] | type[MLPModel]] = {"mtm": MTMModel, "mlp": MLPModel}
ARTIFACT = "model"


def save_neural_model(model: NeuralModel, path: Path) -> Path:
    """Write a fitted model's payload (config, names, state dict) to `path` atomically."""
    with atomic_path(Path(path)) as tmp:
        torch.save(model.to_payload(), tmp)
    return Path(path)


def load_neural_model(path: Path, device: str | None = None) -> NeuralModel:
    """Rebuild a model written by `save_neural_model`."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    return _KINDS[payload["kind"]].from_payload(payload, device=device)


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


def neural_signature(model: NeuralModel) -> ModelSignature:
    """The pyfunc's input: the model's feature columns as integer bins (-1 = missing); output: one
    float prediction per row."""
    return ModelSignature(
        inputs=Schema([ColSpec("integer", name) for name in model.feature_names]),
        outputs=Schema([ColSpec("float")]),
    )


def log_neural_model(model: NeuralModel, name: str, **kwargs) -> mlflow.models.model.ModelInfo:
    """Log `model` as an MLflow pyfunc model with its signature and an input example (one row of
    middle bins) in the active run (kwargs go to `log_model`, e.g. `registered_model_name`)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = save_neural_model(model, Path(tmp) / "model.pt")
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=NeuralPyfunc(),
            artifacts={ARTIFACT: str(path)},
            signature=neural_signature(model),
            input_example=pd.DataFrame(
                np.full((1, len(model.feature_names)), 2, np.int8), columns=model.feature_names
            ),
            pip_requirements=[
                f"torch=={torch.__version__.split('+')[0]}",
                f"mlflow=={mlflow.__version__}",
                f"numpy=={np.__version__}",
                f"pandas=={pd.__version__}",
            ],
            **kwargs,
        )
