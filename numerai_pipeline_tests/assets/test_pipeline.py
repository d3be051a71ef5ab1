"""The whole asset graph on tiny synthetic data, through the same driver as `make run`."""

from __future__ import annotations

import json
import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, FilesystemIOManager, materialize

from numerai_pipeline.cli import run_pipeline
from numerai_pipeline.definitions import defs
from numerai_pipeline.resources.compute import ComputeResource
from numerai_pipeline.resources.data_source import NumeraiDataSource
from numerai_pipeline.resources.home import HomeResource
from numerai_pipeline.resources.mlflow_tracking import MlflowTracking
from numerai_pipeline.resources.numerai import NumeraiResource
from numerai_pipeline.storage.home import PipelineHome


def tiny_resources(home, numerai: NumeraiResource | None = None, **source) -> dict[str, object]:
    return {
        "numerai": numerai or NumeraiResource(),
        "compute": ComputeResource(preset="tiny", torch_threads=1),
        "home": HomeResource(root=str(home.root)),
        "data_source": NumeraiDataSource(
            **{"source": "synthetic", "synthetic_preset": "tiny", **source}
        ),
        "mlflow_tracking": MlflowTracking(
            tracking_uri=home.mlflow_tracking_uri, artifact_root=str(home.mlflow_artifacts)
        ),
        "io_manager": FilesystemIOManager(base_dir=str(home.storage)),
    }


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, mlflow_template_db):
    home = PipelineHome(tmp_path_factory.mktemp("run") / "home")
    home.root.mkdir()
    shutil.copyfile(mlflow_template_db, home.mlflow_db)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NUMERAI_PIPELINE_HOME", str(home.root))
        env.setenv("DAGSTER_HOME", str(home.dagster))
        yield home, run_pipeline("WARNING", tiny_resources(home))


def test_whole_graph_writes_report_and_submission(finished_run):
    home, outcome = finished_run
    report = json.loads((home.reports / "cv_report.json").read_text())
    assert report == outcome["report"]
    models = ("xgboost", "xgboost_shuffled_control", "ridge", "mtm", "mtm_no_pretrain", "mlp")
    for name in models + ("oracle",):
        model = report["models"][name]
        for key in ("corr_mean", "corr_sharpe", "max_drawdown", "mmc_mean", "feature_exposure_max"):
            assert model[key] is not None, (name, key)
        assert len(model["per_era"]) == model["n_eras"] > 10
    oracle = report["models"]["oracle"]
    xgboost_eras = report["models"]["xgboost"]["per_era"].keys()
    assert oracle["corr_mean"] > 0 and oracle["per_era"].keys() == xgboost_eras
    control = report["models"]["xgboost_shuffled_control"]
    assert abs(control["corr_mean"]) < 3 * control["corr_se"]
    assert report["comparisons"] == [["mtm", "mtm_no_pretrain"], ["mtm", "mlp"]]
    assert report["models"]["mtm"]["vs_mtm_no_pretrain"]["corr_diff_vs_reference_se"] > 0
    assert (home.reports / "cv_cumulative_corr.png").exists()
    submission = pd.read_csv(outcome["submission"])
    assert list(submission.columns) == ["id", "prediction"]
    assert submission["prediction"].between(0, 1, inclusive="neither").all()
    assert submission["id"].is_unique
    ledger = home.submissions / "ledger.json"
    assert not ledger.exists()  # no credentials: written, not uploaded


def test_mlflow_has_a_tagged_run_per_fit_and_a_registered_champion(finished_run):
    home, _ = finished_run
    mlflow.set_tracking_uri(home.mlflow_tracking_uri)
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("numerai-pipeline")
    runs = client.search_runs([experiment.experiment_id])
    names = {r.info.run_name for r in runs}
    assert {"xgboost-fold_1", "xgboost-fold_4", "xgboost-final", "cv_report"} <= names
    fold_run = next(r for r in runs if r.info.run_name == "xgboost-fold_2")
    assert fold_run.data.tags["dagster.partition"] == "fold_2"
    assert fold_run.data.tags["dagster.asset_key"] == "cv_predictions"
    assert fold_run.data.tags["dagster.run_id"]
    assert "max_depth" in fold_run.data.params and "corr_mean" in fold_run.data.metrics
    ridge_run = next(r for r in runs if r.info.run_name == "ridge-fold_2")
    assert {"penalty", "screen_bar", "n_screened"} <= ridge_run.data.params.keys()
    champion = client.get_model_version_by_alias("numerai-xgboost", "champion")
    loaded = mlflow.pyfunc.load_model("models:/numerai-xgboost@champion")
    assert str(champion.version) == "1"
    live = pd.read_parquet(home.features / "v5.0" / "live.parquet")
    features = [c for c in live.columns if c.startswith("feature_")]
    predictions = loaded.predict(live[features].astype("float32"))
    assert len(predictions) == len(live) and np.std(predictions) > 0


def test_rematerializing_the_encoder_resumes_from_its_checkpoint(finished_run):
    home, _ = finished_run
    checkpoints = list((home.checkpoints / "mtm" / "fold_1").iterdir())
    names = {p.name for p in checkpoints}
    assert {"encoder-selection.pt", "encoder-refit.pt"} <= names and len(names) >= 4
    result = materialize(
        defs.assets,
        selection=[AssetKey("mtm_encoder")],
        partition_key="fold_1",
        resources=tiny_resources(home),
        instance=DagsterInstance.get(),
    )
    event = result.get_asset_materialization_events()[0].materialization
    assert event.metadata["resumed_from"].value not in ("", "None")
    assert event.metadata["u_shaped_features"].value  # the screened names, or "none"
    kept, _, total = event.metadata["skip_features"].value.split()
    assert 0 < int(kept) <= int(total)
    live = pd.read_parquet(home.features / "v5.0" / "live.parquet", columns=["era"])
    unresolved = pd.read_parquet(home.features / "v5.0" / "unresolved.parquet", columns=["era"])
    assert event.metadata["unlabeled_rows"].value == len(live) + len(unresolved) > len(live)
