"""The one home folder under which the pipeline writes everything."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "NUMERAI_PIPELINE_HOME"
DEFAULT_HOME = ".numerai_home"


@dataclass(frozen=True)
class PipelineHome:
    """Paths inside the home folder (`NUMERAI_PIPELINE_HOME`, default `./.numerai_home`)."""

    root: Path

    @classmethod
    def from_env(cls) -> PipelineHome:
        return cls(Path(os.environ.get(HOME_ENV, DEFAULT_HOME)).resolve())

    @property
    def dagster(self) -> Path:
        return self.root / "dagster"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def submissions(self) -> Path:
        return self.root / "submissions"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def mlflow_db(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.root / "mlartifacts"

    @property
    def mlflow_tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_db}"
