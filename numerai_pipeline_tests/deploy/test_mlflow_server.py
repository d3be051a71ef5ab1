"""The MLflow server as docker-compose.yml starts it: the service's own command line and
environment, moved to loopback (a free port, the test PostgreSQL's `mlflow` database, which
docker/postgres-init created as it would in the postgres container, and a temporary artifacts
folder). A run logged through it comes back with its artifact, stored in that folder."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from numerai_pipeline_tests.deploy.helpers import PostgresServer, free_port, venv_tool

STARTUP_TIMEOUT_S = 120


def status(url: str, host_header: str | None = None) -> int:
    """The HTTP status of a GET (with another Host header if given)."""
    request = urllib.request.Request(url, headers={"Host": host_header} if host_header else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def mlflow_server(
    compose_config: Callable[..., dict[str, Any]],
    postgres_server: PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Path]]:
    """The compose service's command, started in its own process group; yields its URL and its
    artifacts folder, and kills the group at the end."""
    service = compose_config()["services"]["mlflow"]
    root = tmp_path_factory.mktemp("mlflow-server")
    artifacts = root / "mlartifacts"
    port = free_port()
    command = [venv_tool(service["command"][0]), *service["command"][1:]]
    loopback = {
        "--host": "127.0.0.1",
        "--port": str(port),
        "--artifacts-destination": str(artifacts),
    }
    for option, value in loopback.items():
        command[command.index(option) + 1] = value
    backend = service["environment"]["MLFLOW_BACKEND_STORE_URI"]
    local = backend.replace("@postgresql:5432/", f"@{postgres_server.host}:{postgres_server.port}/")
    assert local != backend and local.endswith("/mlflow")
    env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": local, "MLFLOW_DISABLE_TELEMETRY": "true"}
    log = root / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"mlflow server exited:\n{log.read_text()[-4000:]}")
            try:
                if status(f"{url}/health") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not healthy in time:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        yield url, artifacts
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_a_run_and_its_artifact_round_trip(mlflow_server: tuple[str, Path], tmp_path: Path) -> None:
    """Through the client alone, so that no active experiment or run outlives the test."""
    from mlflow import MlflowClient

    url, artifacts = mlflow_server
    client = MlflowClient(tracking_uri=url)
    report = tmp_path / "report.md"
    report.write_text("| model | CORR |\n| xgboost | 0.0273 |\n")
    run = client.create_run(client.create_experiment("deploy-test"), run_name="xgboost-fold_1")
    run_id = run.info.run_id
    client.log_param(run_id, "trees", 300)
    client.log_metric(run_id, "corr_mean", 0.0273)
    client.log_artifact(run_id, str(report))
    client.set_terminated(run_id)

    stored = client.get_run(run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.params == {"trees": "300"}
    assert stored.data.metrics == {"corr_mean": 0.0273}
    assert stored.info.artifact_uri.startswith("mlflow-artifacts:")
    downloaded = client.download_artifacts(run_id, "report.md", str(tmp_path / "back"))
    assert Path(downloaded).read_text() == report.read_text()
    assert [p.read_text() for p in artifacts.rglob("report.md")] == [report.read_text()]


def test_it_answers_the_containers_but_not_other_hosts(mlflow_server: tuple[str, Path]) -> None:
    """Containers reach the server as mlflow:5000 (MLFLOW_TRACKING_URI); MLflow's guard against
    DNS rebinding must let that name through and still refuse others."""
    url, _ = mlflow_server
    search = f"{url}/api/2.0/mlflow/experiments/search?max_results=1"
    assert status(search, host_header="mlflow:5000") == 200
    assert status(search, host_header="attacker.example") == 403
