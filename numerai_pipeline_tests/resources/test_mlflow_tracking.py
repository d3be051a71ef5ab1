"""The MLflow resource's experiment: created once, even when parallel steps race to create it."""

from __future__ import annotations

import mlflow

from numerai_pipeline.resources.mlflow_tracking import MlflowTracking


def test_a_step_that_loses_the_race_to_create_the_experiment_uses_the_winners(
    pipeline_home, monkeypatch
):
    tracking = MlflowTracking(
        tracking_uri=pipeline_home.mlflow_tracking_uri,
        artifact_root=str(pipeline_home.mlflow_artifacts),
    )
    first = tracking._experiment_id()  # the other process, first
    looked_up = mlflow.get_experiment_by_name
    calls = []

    def not_yet_then_found(name):  # this process looked before the other created it
        calls.append(name)
        return None if len(calls) == 1 else looked_up(name)

    monkeypatch.setattr(mlflow, "get_experiment_by_name", not_yet_then_found)
    assert tracking._experiment_id() == first and len(calls) == 2
    experiment = mlflow.MlflowClient().get_experiment(first)
    assert experiment.artifact_location.startswith("file://")
