"""Download and weekly submission through the real numerapi client against a loopback server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance

from numerai_pipeline.cli import run_pipeline
from numerai_pipeline.definitions import build_definitions
from numerai_pipeline.resources.numerai import numerai_resource_from_env
from numerai_pipeline.storage.home import PipelineHome
from numerai_pipeline_tests.assets.test_pipeline import tiny_resources
from numerai_pipeline_tests.fake_numerai_server import running_fake_numerai, write_tiny_dataset

ROUND = 1000
FORCE = {"ops": {"submission": {"config": {"force": True}}}}


@pytest.fixture(scope="module")
def tournament(tmp_path_factory, mlflow_template_db):
    """A fake Numerai serving tiny synthetic files; the pipeline configured from env vars."""
    served = tmp_path_factory.mktemp("served")
    write_tiny_dataset(served)
    home = PipelineHome(tmp_path_factory.mktemp("tournament") / "home")
    home.root.mkdir()
    shutil.copyfile(mlflow_template_db, home.mlflow_db)
    with (
        running_fake_numerai(served, models={"my_model": "model-1"}, current_round=ROUND) as fake,
        pytest.MonkeyPatch.context() as env,
    ):
        env.setenv("NUMERAI_PIPELINE_HOME", str(home.root))
        env.setenv("DAGSTER_HOME", str(home.dagster))
        env.setenv("NUMERAI_PUBLIC_ID", fake.public_id)
        env.setenv("NUMERAI_SECRET_KEY", fake.secret_key)
        env.setenv("NUMERAI_API_URL", fake.url)
        env.setenv("NUMERAI_MODEL_NAME", "my_model")
        numerai = numerai_resource_from_env(
            backoff_seconds=0.01, max_retries=1, timeout_seconds=5.0
        )
        resources = tiny_resources(home, numerai=numerai, source="numerai")
        outcome = run_pipeline("WARNING", resources)
        yield fake, home, resources, outcome, served


def submit_again(resources, run_config=None):
    """The round's submission again (its live data and predictions are reused)."""
    job = build_definitions(resources).resolve_job_def("submit")
    return job.execute_in_process(
        run_config,
        instance=DagsterInstance.get(),
        partition_key=str(ROUND),
        asset_selection=[AssetKey("submission")],
        raise_on_error=False,
    )


def submission_metadata(result) -> dict:
    event = next(
        e for e in result.get_asset_materialization_events() if e.asset_key.path == ["submission"]
    )
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_download_then_submission_received_for_every_live_id(tournament):
    fake, home, _, outcome, served = tournament
    folder = home.data / "numerai" / "v5.0"
    for name in ("train.parquet", "validation.parquet", "features.json", "meta_model.parquet"):
        assert (folder / name).read_bytes() == (served / "v5.0" / name).read_bytes()
    assert (folder / f"live_{ROUND}.parquet").exists()
    assert Path(outcome["submission"]).parent.name == f"round_{ROUND}"  # the API's current round
    assert Path(outcome["submission"]) == home.submissions / f"round_{ROUND}" / "predictions.csv"
    assert len(fake.uploads) == 1 and fake.uploads[0].model_id == "model-1"
    uploaded = pd.read_csv(pd.io.common.BytesIO(fake.uploads[0].data))
    live_ids = pd.read_parquet(served / "v5.0" / "live.parquet").index
    assert list(uploaded.columns) == ["id", "prediction"]
    assert sorted(uploaded["id"]) == sorted(live_ids)


def test_same_round_is_not_uploaded_twice(tournament):
    fake, _, resources, _, _ = tournament
    result = submit_again(resources)
    assert result.success
    metadata = submission_metadata(result)
    assert metadata["uploaded"] == "False" and metadata["reason"].startswith("already submitted")
    assert len(fake.uploads) == 1


@pytest.mark.parametrize(
    "fault, message",
    [
        ("round_open", "round 1000 is closed"),
        ("fail_next_n_with_500", "failed after 2 attempts: HTTP 500"),
        ("auth_error", "check NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY"),
    ],
)
def test_failures_are_clear_and_keep_the_predictions_file(tournament, fault, message):
    fake, home, resources, outcome, _ = tournament
    before = Path(outcome["submission"]).read_bytes()
    setattr(fake.faults, fault, {"round_open": False, "fail_next_n_with_500": 50}.get(fault, True))
    try:
        result = submit_again(resources, FORCE)
    finally:
        fake.faults.round_open, fake.faults.fail_next_n_with_500 = True, 0
        fake.faults.auth_error = False
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error.to_string()
    assert message in error
    assert Path(outcome["submission"]).read_bytes() == before
    assert len(fake.uploads) == 1


def test_force_uploads_the_same_round_again(tournament):
    fake, _, resources, _, _ = tournament
    result = submit_again(resources, FORCE)
    assert result.success and submission_metadata(result)["uploaded"] == "True"
    assert len(fake.uploads) == 2


def test_secret_never_reaches_dagster_mlflow_or_any_file(tournament):
    fake, home, _, _, _ = tournament
    secret = fake.secret_key.encode()
    instance = DagsterInstance.get()
    for run in instance.get_runs():
        for record in instance.all_logs(run.run_id):
            assert fake.secret_key not in str(record)
        assert fake.secret_key not in str(run.run_config)
    for path in home.root.rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path
