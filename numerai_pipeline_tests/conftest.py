"""Shared fixtures: a home folder per test and one migrated MLflow sqlite DB per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
# Tiny data: OpenMP threads (torch, xgboost) should sleep rather than spin between the many
# short parallel regions, or they starve each other on 2 cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from numerai_pipeline.storage.home import PipelineHome  # noqa: E402


@pytest.fixture(scope="session")
def mlflow_template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow sqlite DB with migrations applied once (creating one costs ~7 s)."""
    import mlflow

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The version folder of a tiny synthetic dataset (treat as read-only; copy to modify)."""
    from numerai_pipeline.data.synthetic import write_synthetic_dataset

    return write_synthetic_dataset(tmp_path_factory.mktemp("synthetic"), "v5.0", "tiny", seed=0)


@pytest.fixture
def pipeline_home(tmp_path: Path, mlflow_template_db: Path, monkeypatch) -> PipelineHome:
    """A fresh home folder with its own copy of the migrated MLflow DB."""
    home = PipelineHome(tmp_path / "home")
    home.root.mkdir(parents=True)
    shutil.copyfile(mlflow_template_db, home.mlflow_db)
    monkeypatch.setenv("NUMERAI_PIPELINE_HOME", str(home.root))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", home.mlflow_tracking_uri)
    return home
