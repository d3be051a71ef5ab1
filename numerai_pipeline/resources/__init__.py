"""Dagster resources, one per file; `resources_from_env` builds them from environment variables."""

from __future__ import annotations

import os

from numerai_pipeline.data.synthetic import PRESETS
from numerai_pipeline.resources.compute import PRESETS as COMPUTE_PRESETS
from numerai_pipeline.resources.compute import ComputeResource
from numerai_pipeline.resources.data_source import SOURCES, NumeraiDataSource
from numerai_pipeline.resources.home import HomeResource
from numerai_pipeline.resources.mlflow_tracking import MlflowTracking
from numerai_pipeline.resources.numerai import numerai_resource_from_env
from numerai_pipeline.storage.home import PipelineHome


class SettingsError(ValueError):
    """A setting (an environment variable) is unusable; the message names it and what it takes."""


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    """An integer setting from the environment, at least `minimum`; a SettingsError naming the
    variable otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}: fix or unset it") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}: fix or unset it")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """A setting from the environment that must be one of `choices`."""
    value = os.environ.get(name, "").strip() or default
    if value not in choices:
        raise SettingsError(
            f"{name} is {value!r}; it must be one of {', '.join(choices)}: fix or unset it"
        )
    return value


def env_device(name: str = "NUMERAI_DEVICE") -> str:
    """The neural training device: "auto", "cpu", "cuda" or "cuda:N" (CUDA must be there)."""
    value = os.environ.get(name, "").strip() or "auto"
    if value in ("auto", "cpu"):
        return value
    if value == "cuda" or (value.startswith("cuda:") and value[5:].isdigit()):
        import torch

        if not torch.cuda.is_available():
            raise SettingsError(f"{name} is {value!r} but this machine has no CUDA device")
        return value
    raise SettingsError(f"{name} is {value!r}; it must be auto, cpu, cuda or cuda:N")


def resources_from_env() -> dict[str, object]:
    """Resources configured from NUMERAI_* environment variables (each is editable in the UI)."""
    home = PipelineHome.from_env()
    return {
        "home": HomeResource(root=str(home.root)),
        "data_source": NumeraiDataSource(
            source=env_choice("NUMERAI_DATA_SOURCE", "synthetic", SOURCES),
            data_dir=os.environ.get("NUMERAI_DATA_DIR", ""),
            version=os.environ.get("NUMERAI_DATA_VERSION", "").strip() or "v5.0",
            synthetic_preset=env_choice("NUMERAI_SYNTHETIC_PRESET", "demo", tuple(PRESETS)),
        ),
        "numerai": numerai_resource_from_env(
            model_upload=env_choice("NUMERAI_MODEL_UPLOAD", "off", ("off", "on")) == "on"
        ),
        "compute": ComputeResource(
            device=env_device(),
            preset=env_choice("NUMERAI_MODEL_PRESET", "auto", COMPUTE_PRESETS),
            seed=env_int("NUMERAI_NEURAL_SEED", 0, minimum=0),
        ),
        "mlflow_tracking": MlflowTracking(
            tracking_uri=os.environ.get("MLFLOW_TRACKING_URI", home.mlflow_tracking_uri),
            artifact_root=str(home.mlflow_artifacts),
        ),
    }
