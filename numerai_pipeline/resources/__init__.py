"""Dagster resources, one per file; `resources_from_env` builds them from environment variables."""

from __future__ import annotations

import os

from numerai_pipeline.resources.compute import ComputeResource
from numerai_pipeline.resources.data_source import NumeraiDataSource
from numerai_pipeline.resources.home import HomeResource
from numerai_pipeline.resources.mlflow_tracking import MlflowTracking
from numerai_pipeline.resources.numerai import numerai_resource_from_env
from numerai_pipeline.storage.home import PipelineHome


def env_int(name: str, default: int) -> int:
    """An integer setting from the environment; a ValueError naming the variable if malformed."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}: fix or unset it") from None


def resources_from_env() -> dict[str, object]:
    """Resources configured from NUMERAI_* environment variables (each is editable in the UI)."""
    home = PipelineHome.from_env()
    return {
        "home": HomeResource(root=str(home.root)),
        "data_source": NumeraiDataSource(
            source=os.environ.get("NUMERAI_DATA_SOURCE", "synthetic"),
            data_dir=os.environ.get("NUMERAI_DATA_DIR", ""),
            version=os.environ.get("NUMERAI_DATA_VERSION", "v5.0"),
            synthetic_preset=os.environ.get("NUMERAI_SYNTHETIC_PRESET", "demo"),
        ),
        "numerai": numerai_resource_from_env(),
        "compute": ComputeResource(
            device=os.environ.get("NUMERAI_DEVICE", "auto"),
            preset=os.environ.get("NUMERAI_MODEL_PRESET", "auto"),
            seed=env_int("NUMERAI_NEURAL_SEED", 0),
        ),
        "mlflow_tracking": MlflowTracking(
            tracking_uri=os.environ.get("MLFLOW_TRACKING_URI", home.mlflow_tracking_uri),
            artifact_root=str(home.mlflow_artifacts),
        ),
    }
