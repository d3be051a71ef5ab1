"""The whole asset graph on tiny synthetic data, through the same driver as `make run`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, FilesystemIOManager

from numerai_pipeline.definitions import build_definitions
from numerai_pipeline.models.roster import CANDIDATES, ROSTER
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


TINY_ENV = {
    "NUMERAI_DATA_SOURCE": "synthetic",
    "NUMERAI_SYNTHETIC_PRESET": "tiny",
    "NUMERAI_MODEL_PRESET": "tiny",
}
CLI = [sys.executable, "-m", "numerai_pipeline.cli", "run"]


def new_home(root: Path, mlflow_template_db: Path) -> PipelineHome:
    home = PipelineHome(root / "home")
    home.root.mkdir(parents=True)
    shutil.copyfile(mlflow_template_db, home.mlflow_db)
    return home


def cli_env(home: PipelineHome) -> dict[str, str]:
    """The environment of a run in `home` (MLflow's tracking URI too: `mlflow.set_tracking_uri`
    exports it, so it may point at another test's database)."""
    return {
        **os.environ,
        **TINY_ENV,
        "NUMERAI_PIPELINE_HOME": str(home.root),
        "MLFLOW_TRACKING_URI": home.mlflow_tracking_uri,
    }


def cv_table(stdout: str) -> str:
    """The CV table `numerai-pipeline run` prints."""
    return stdout.split("CV metrics", 1)[1].split("submission file:", 1)[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, mlflow_template_db):
    """`numerai-pipeline run` in a process of its own, as `make run` runs it, on tiny data."""
    home = new_home(tmp_path_factory.mktemp("run"), mlflow_template_db)
    done = subprocess.run(
        [*CLI, "--log-level", "WARNING"], env=cli_env(home), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    submission = done.stdout.rsplit("submission file: ", 1)[1].strip()
    report = json.loads((home.reports / "cv_report.json").read_text())
    with pytest.MonkeyPatch.context() as env:
        for name, value in cli_env(home).items():
            env.setenv(name, value)
        env.setenv("DAGSTER_HOME", str(home.dagster))
        yield home, {"report": report, "submission": submission, "stdout": done.stdout}


def test_whole_graph_writes_report_and_submission(finished_run):
    home, outcome = finished_run
    report = outcome["report"]
    models = [spec.name for spec in ROSTER]
    for name in [*models, "ensemble", "equal_blend", "oracle"]:
        model = report["models"][name]
        for key in ("corr_mean", "corr_sharpe", "max_drawdown", "mmc_mean", "bmc_mean"):
            assert model[key] is not None, (name, key)
        assert model["feature_exposure_max"] is not None
        assert len(model["per_era"]) == model["n_eras"] > 5
    assert report["benchmark_column"] == "v5_lgbm_cyrusd20"
    benchmark = report["models"]["benchmark"]  # on the validation eras its file covers
    assert benchmark["n_eras"] == report["models"]["xgboost"]["bmc_eras"]
    assert benchmark["n_eras"] < report["models"]["xgboost"]["n_eras"]
    oracle = report["models"]["oracle"]
    xgboost_eras = report["models"]["xgboost"]["per_era"].keys()
    assert oracle["corr_mean"] > 0 and oracle["per_era"].keys() == xgboost_eras
    ensemble_eras = set(report["models"]["ensemble"]["per_era"])
    assert ensemble_eras < set(xgboost_eras), "fold 1 has no prior folds: not scored"
    control = report["models"]["xgboost_shuffled_control"]
    assert abs(control["corr_mean"]) < 3 * control["corr_se"]
    pairs = [tuple(p) for p in report["comparisons"]]
    assert {("mtm", "mtm_no_pretrain"), ("mtm", "mlp"), ("rnn", "rnn_no_context")} <= set(pairs)
    assert {name for name, _ in pairs} >= {"ensemble", "equal_blend"}
    assert report["champion"]["reason"] and report["ensemble"]["folds"]
    for figure in ("cv_cumulative_corr", "champion_per_era", "model_correlations"):
        assert (home.reports / f"{figure}.png").exists()
    submission = pd.read_csv(outcome["submission"])
    assert Path(outcome["submission"]).parent.name.startswith("round_")
    assert list(submission.columns) == ["id", "prediction"]
    assert submission["prediction"].between(0, 1, inclusive="neither").all()
    assert submission["id"].is_unique
    ledger = home.submissions / "ledger.json"
    assert not ledger.exists()  # no credentials: written, not uploaded


def test_mlflow_has_a_tagged_run_per_fit_and_registered_models(finished_run):
    home, _ = finished_run
    mlflow.set_tracking_uri(home.mlflow_tracking_uri)
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("numerai-pipeline")
    runs = client.search_runs([experiment.experiment_id])
    names = {r.info.run_name for r in runs}
    expected = {f"{spec.name}-fold_{k}" for spec in ROSTER for k in (1, 4)}
    assert expected | {f"{name}-final" for name in CANDIDATES} | {"cv_report", "champion"} <= names
    fold_run = next(r for r in runs if r.info.run_name == "xgboost-fold_2")
    assert fold_run.data.tags["dagster.partition"] == "fold_2"
    assert fold_run.data.tags["dagster.asset_key"] == "cv/xgboost"
    assert fold_run.data.tags["dagster.run_id"]
    assert "max_depth" in fold_run.data.params and "corr_mean" in fold_run.data.metrics
    ridge_run = next(r for r in runs if r.info.run_name == "ridge-fold_2")
    assert {"penalty", "screen_t", "n_screened"} <= ridge_run.data.params.keys()
    rnn_run = next(r for r in runs if r.info.run_name == "rnn-fold_2")
    assert (
        "train_holdout_corr" in rnn_run.data.metrics and "refit_train_loss" in rnn_run.data.metrics
    )
    for name in CANDIDATES:
        assert client.get_registered_model(f"numerai-{name}").latest_versions
    champion = client.get_model_version_by_alias("numerai-champion", "champion")
    members = {k: v for k, v in champion.tags.items() if k.startswith("member.")}
    assert members and all(v.startswith("numerai-") for v in members.values())


LOAD_CHAMPION = """
import sys
import mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
live = pd.read_parquet(sys.argv[2]).drop(columns=["data_type"], errors="ignore")
values = mlflow.pyfunc.load_model("models:/numerai-champion@champion").predict(live.reset_index(drop=True))
pd.DataFrame({"id": live.index, "prediction": values}).to_csv(sys.argv[3], index=False)
"""


def test_the_champion_reproduces_the_submission_in_a_fresh_process(finished_run, tmp_path):
    home, outcome = finished_run
    round_dir = Path(outcome["submission"]).parent.name  # round_<number>
    live = home.features / "v5.0" / f"live_{round_dir.removeprefix('round_')}.parquet"
    out = tmp_path / "again.csv"
    done = subprocess.run(
        [sys.executable, "-c", LOAD_CHAMPION, home.mlflow_tracking_uri, str(live), str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    submitted = pd.read_csv(outcome["submission"])
    again = pd.read_csv(out)
    assert again["id"].tolist() == submitted["id"].tolist()
    assert (again["prediction"].to_numpy() == submitted["prediction"].to_numpy()).all()


NUMERAI_PREDICT = """
import sys
sys.modules["numerai_pipeline"] = None  # as in Numerai's image: the pickle must not need it
import cloudpickle, pandas as pd
with open(sys.argv[1], "rb") as f:
    predict = cloudpickle.load(f)
live = pd.read_parquet(sys.argv[2])
out = predict(live, pd.read_parquet(sys.argv[3]))
assert isinstance(out, pd.DataFrame) and list(out.columns) == ["prediction"]
out.to_csv(sys.argv[4])
"""


def test_the_model_upload_pickle_reproduces_the_submission_without_the_package(
    finished_run, tmp_path
):
    home, outcome = finished_run
    round_num = Path(outcome["submission"]).parent.name.removeprefix("round_")
    raw = home.data / "synthetic-tiny-0" / "v5.0"
    live, benchmark = (
        raw / f"live_{round_num}.parquet",
        raw / f"live_benchmark_models_{round_num}.parquet",
    )
    out = tmp_path / "predicted.csv"
    pickle = home.models / "model_upload.pkl"
    done = subprocess.run(
        [sys.executable, "-c", NUMERAI_PREDICT, str(pickle), str(live), str(benchmark), str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    predicted = pd.read_csv(out, index_col="id")["prediction"]
    submitted = pd.read_csv(outcome["submission"], index_col="id")["prediction"]
    assert predicted.index.tolist() == submitted.index.tolist()
    assert (predicted.to_numpy() == submitted.to_numpy()).all()


def test_rematerializing_the_encoder_resumes_from_its_checkpoint(finished_run):
    home, _ = finished_run
    assert list((home.checkpoints / "mtm" / "fold_1").glob("mtm-refit-*.pt"))
    job = build_definitions().resolve_job_def("cross_validate")
    result = job.execute_in_process(
        instance=DagsterInstance.get(),
        partition_key="fold_1",
        asset_selection=[AssetKey(["cv", "mtm_encoder"])],
    )
    event = result.get_asset_materialization_events()[0].materialization
    assert event.metadata["resumed_from"].value not in ("", "None")
    assert event.metadata["u_shaped_features"].value  # the screened names, or "none"
    kept, _, total = event.metadata["linear_readout_features"].value.split()
    assert 0 < int(kept) <= int(total)
    live = pd.read_parquet(home.features / "v5.0" / "live.parquet", columns=["era"])
    unresolved = pd.read_parquet(home.features / "v5.0" / "unresolved.parquet", columns=["era"])
    assert event.metadata["unlabeled_rows"].value == len(live) + len(unresolved) > len(live)


def test_a_run_killed_in_a_gpu_step_is_recovered_by_the_next(
    finished_run, tmp_path, mlflow_template_db
):
    """SIGKILL while the MTM pretrains on fold 2 (the run holds the gpu pool's slot and stays
    STARTED); the next run in the home reaps it, reuses fold 1, resumes from the checkpoints and
    prints the table of a run never interrupted."""
    home = new_home(tmp_path, mlflow_template_db)
    killed = subprocess.Popen(
        CLI,
        env=cli_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    for line in killed.stdout:
        if "mtm pretraining fold_2: pretrain epoch 1/" in line:
            os.killpg(killed.pid, signal.SIGKILL)
            break
    assert killed.wait(timeout=60) == -signal.SIGKILL
    done = subprocess.run(CLI, env=cli_env(home), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "was killed earlier: marked failed and its pool slot freed" in done.stdout
    assert "cross_validate fold_1: reused" in done.stdout
    assert "mtm: resuming the selection fit at pretrain, epoch 1" in done.stderr
    assert cv_table(done.stdout) == cv_table(finished_run[1]["stdout"])
