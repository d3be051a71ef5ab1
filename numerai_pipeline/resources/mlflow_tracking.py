"""MLflow tracking as a small resource that tags every run with its Dagster run, asset and partition."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, ConfigurableResource

EXPERIMENT = "numerai-pipeline"


class MlflowTracking(ConfigurableResource):
    """sqlite-backed MLflow tracking under the home folder (or any tracking server URI: a
    server stores the artifacts itself)."""

    tracking_uri: str
    artifact_root: str
    experiment_name: str = EXPERIMENT

    def _experiment_id(self) -> str:
        """The experiment's id, created on first use. Steps of a run start in parallel
        processes: when another creates it first, its experiment is the one."""
        import mlflow
        from mlflow.exceptions import MlflowException

        mlflow.set_tracking_uri(self.tracking_uri)
        experiment = mlflow.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            return experiment.experiment_id
        location = None
        if not self.tracking_uri.startswith(("http://", "https://")):  # a server stores them
            location = (Path(self.artifact_root) / self.experiment_name).as_uri()
        try:
            return mlflow.create_experiment(self.experiment_name, artifact_location=location)
        except MlflowException:
            experiment = mlflow.get_experiment_by_name(self.experiment_name)
            if experiment is None:
                raise
            return experiment.experiment_id

    @contextmanager
    def start_run(
        self, context: AssetExecutionContext, run_name: str, tags: dict[str, str] | None = None
    ) -> Iterator[Any]:
        """An MLflow run tagged with the Dagster run id, asset key and partition."""
        import mlflow

        experiment_id = self._experiment_id()
        dagster_tags = {
            "dagster.run_id": context.run.run_id,
            "dagster.asset_key": context.asset_key.to_user_string(),
            "dagster.partition": context.partition_key if context.has_partition_key else "",
        }
        with mlflow.start_run(
            experiment_id=experiment_id, run_name=run_name, tags={**dagster_tags, **(tags or {})}
        ) as run:
            yield run

    def log_fit(
        self,
        params: dict[str, Any],
        metrics: dict[str, float],
        history: list[dict[str, Any]] | tuple = (),
    ) -> None:
        """Log a fit's parameters, its (finite) metrics and, for a neural fit, its per-epoch
        history to the active run: one step per epoch, metrics named `<phase>_<key>`."""
        import math

        import mlflow

        mlflow.log_params(params)
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if math.isfinite(float(v))})
        for step, record in enumerate(history):
            phase = record.get("phase", "train")
            values = {
                f"{phase}_{key}": float(value)
                for key, value in record.items()
                if key not in ("phase", "epoch") and isinstance(value, int | float)
            }
            mlflow.log_metrics(values, step=step)

    def log_artifacts(self, paths: list[Path], texts: dict[str, str] | None = None) -> None:
        """Attach files, and texts as named files, to the active run."""
        import mlflow

        for path in paths:
            mlflow.log_artifact(str(path))
        for name, text in (texts or {}).items():
            mlflow.log_text(text, name)

    def register(
        self, model_uri: str, name: str, alias: str, tags: dict[str, str] | None = None
    ) -> str:
        """Register `model_uri` as a new version of `name` (with `tags`) and point `alias` at it."""
        import mlflow

        version = mlflow.register_model(model_uri, name, tags=tags)
        mlflow.MlflowClient().set_registered_model_alias(name, alias, version.version)
        return str(version.version)

    def download_model(self, model_uri: str, dest: Path) -> Path:
        """The files of the MLflow model at `model_uri`, downloaded into `dest`."""
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dest)))

    def load_pyfunc(self, model_uri: str) -> Any:
        """The MLflow pyfunc model at `model_uri` (e.g. `models:/<name>@champion`)."""
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        return mlflow.pyfunc.load_model(model_uri)
