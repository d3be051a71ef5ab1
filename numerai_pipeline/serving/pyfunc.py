"""MLflow `pyfunc` packaging of fitted models and of the champion, so that
`mlflow.pyfunc.load_model(uri).predict(frame)` reproduces the pipeline's own predictions exactly.

The logged model is a models-from-code script plus the saved folder (never a pickle), with pinned
requirements, a signature naming its feature columns and an input example, and it ships the
`numerai_pipeline` package (`code_paths`), so it loads where the pipeline is not installed (e.g.
`mlflow models serve`). Frames hold the feature matrix's int8 bins (-1 = missing) or numbers
with NaN for missing, and optionally `era` (models that read the era, and the champion's
per-era ranking, need it when several eras are scored at once).
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Protocol

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.types import ColSpec, Schema

from numerai_pipeline.core.schema import ERA_COL, feature_block
from numerai_pipeline.models.base import TournamentModel
from numerai_pipeline.models.saved import load_model

ARTIFACT = "predictor"
MODEL_CODE = Path(__file__).parent / "mlflow_code" / "predictor.py"
PACKAGE = Path(__file__).parents[1]
NEURAL_KINDS = ("mtm", "mlp", "rnn")


class Predictor(Protocol):
    feature_names: list[str]

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray: ...


class ModelPredictor:
    """One fitted model over frames: its raw predictions (higher = better expected target)."""

    def __init__(self, model: TournamentModel) -> None:
        self.model = model
        self.feature_names = list(model.feature_names)

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        eras = frame[ERA_COL].astype(str).to_numpy() if ERA_COL in frame else None
        return self.model.predict(feature_block(frame, self.feature_names), eras)


def load_predictor(folder: Path, device: str | None = None) -> Predictor:
    """The predictor saved in `folder`: the champion (`champion.json`) or one fitted model."""
    from numerai_pipeline.ensemble.champion import Champion

    folder = Path(folder)
    if (folder / "champion.json").exists():
        return Champion.load(folder, device)
    return ModelPredictor(load_model(folder, device))


class PredictorPyfunc(mlflow.pyfunc.PythonModel):
    """Predicts from a frame of feature columns (and optionally `era`)."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.predictor = load_predictor(Path(context.artifacts[ARTIFACT]))

    def predict(
        self, context: mlflow.pyfunc.PythonModelContext, model_input: pd.DataFrame, params=None
    ) -> np.ndarray:
        return self.predictor.predict_frame(model_input)


def _kinds(folder: Path) -> set[str]:
    """The model kinds saved under `folder` (one model, or the champion's members)."""
    return {json.loads(p.read_text())["kind"] for p in Path(folder).rglob("model.json")}


def _requirements(kinds: set[str]) -> list[str]:
    """Pinned requirements: what the saved kinds need plus what the shipped package imports."""
    packages = ["mlflow", "numpy", "pandas", "pyarrow", "scipy", "numerai-tools"]
    if kinds & set(NEURAL_KINDS):
        packages.append("torch")
    if "xgboost" in kinds:
        packages.append("xgboost-cpu")
    return [f"{p}=={version(p).split('+')[0]}" for p in packages]


def log_predictor(
    folder: Path, feature_names: list[str], name: str = "model", **kwargs
) -> ModelInfo:
    """Log the predictor saved in `folder` as an MLflow pyfunc model in the active run (kwargs
    go to `log_model`, e.g. `registered_model_name`)."""
    example = pd.DataFrame(np.full((1, len(feature_names)), 2, np.int8), columns=feature_names)
    example[ERA_COL] = "X"  # Numerai's label of a live era
    columns = [ColSpec("double", f) for f in feature_names]
    signature = ModelSignature(
        inputs=Schema([*columns, ColSpec("string", ERA_COL, required=False)]),
        outputs=Schema([ColSpec("double")]),
    )
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=str(MODEL_CODE),
        artifacts={ARTIFACT: str(folder)},
        signature=signature,
        input_example=example,
        pip_requirements=_requirements(_kinds(folder)),
        code_paths=[str(PACKAGE)],
        **kwargs,
    )
