"""The deployed instance, docker/dagster.yaml loaded as the file it is, against a real PostgreSQL.

Runs execute in process here: the Docker run launcher the file configures cannot start containers
without a Docker engine. Its launch is still exercised up to the Docker API, whose calls go to a
recording stand-in: the one part not exercised is Docker itself acting on them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from dagster import DagsterEventType, DagsterInstance, materialize
from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.launcher import LaunchRunContext
from dagster._core.origin import (
    DEFAULT_DAGSTER_ENTRY_POINT,
    JobPythonOrigin,
    RepositoryPythonOrigin,
)
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.utils import make_new_run_id
from dagster_docker import DockerRunLauncher

import docker
from numerai_pipeline_tests.deploy.helpers import (
    COMPOSE_FILE,
    DOCKER_DIR,
    GPU_COMPOSE_FILE,
    PostgresServer,
)


@pytest.fixture
def deployed_instance(
    postgres_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DagsterInstance]:
    """docker/dagster.yaml in a fresh DAGSTER_HOME, its variables pointing at the test server."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DOCKER_DIR / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_POSTGRES_HOST", postgres_server.host)
    monkeypatch.setenv("DAGSTER_POSTGRES_PORT", str(postgres_server.port))
    monkeypatch.setenv("DAGSTER_POSTGRES_USER", postgres_server.user)
    monkeypatch.setenv("DAGSTER_POSTGRES_PASSWORD", "")
    monkeypatch.setenv("DAGSTER_POSTGRES_DB", "dagster")
    with DagsterInstance.get() as instance:
        yield instance


def test_a_materialization_is_stored_in_postgres(
    deployed_instance: DagsterInstance,
    postgres_server: PostgresServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The instance is the deployed one (queue, Docker launcher, monitoring, pools), and a run of
    the project's `numerai_dataset` asset, with the resources the code server builds from its
    environment, is read back from Postgres itself. (The dataset's checks are left out: they are
    the pipeline's own tests' business.)"""
    instance = deployed_instance
    assert isinstance(instance.run_launcher, DockerRunLauncher)
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    assert instance.run_monitoring_enabled
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    monkeypatch.setenv("NUMERAI_PIPELINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NUMERAI_DATA_SOURCE", "synthetic")
    monkeypatch.setenv("NUMERAI_SYNTHETIC_PRESET", "tiny")
    from numerai_pipeline.assets.ingest import numerai_dataset
    from numerai_pipeline.definitions import build_definitions

    resources = build_definitions().resources
    result = materialize([numerai_dataset], resources=resources, instance=instance)
    assert result.success

    with psycopg2.connect(postgres_server.dsn("dagster")) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (result.run_id,))
        assert cursor.fetchall() == [("SUCCESS",)]
        cursor.execute(
            "SELECT dagster_event_type, asset_key FROM event_logs WHERE run_id = %s",
            (result.run_id,),
        )
        events = cursor.fetchall()
    conn.close()
    materialized = (DagsterEventType.ASSET_MATERIALIZATION.value, '["numerai_dataset"]')
    assert materialized in events
    assert (DagsterEventType.RUN_SUCCESS.value, None) in events


def recording_docker_client(calls: dict[str, Any]) -> docker.DockerClient:
    """A Docker client that talks to no engine: container creation is recorded in `calls`."""
    client = docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.44")

    def create_container(**request: Any) -> dict[str, str]:
        calls["create_container"] = request
        return {"Id": "0123456789ab"}

    client.api.create_container = create_container
    client.api.inspect_container = lambda container_id: {"Id": container_id}
    client.api.start = lambda container_id: calls.setdefault("start", container_id)
    return client


@pytest.mark.parametrize(
    "files, gpu",
    [((COMPOSE_FILE,), False), ((COMPOSE_FILE, GPU_COMPOSE_FILE), True)],
    ids=["cpu", "gpu-override"],
)
def test_run_containers_get_the_code_servers_image_settings_and_volumes(
    deployed_instance: DagsterInstance,
    compose_config: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    files: tuple[Path, ...],
    gpu: bool,
) -> None:
    """What the daemon's launcher asks Docker for, given the compose services' environments: the
    code server's image and settings, the shared volumes at the same paths, the compose network,
    and the host's GPUs only with the GPU override."""
    config = compose_config(*files)
    services = config["services"]
    code_env = services["user-code"]["environment"]
    for name, value in services["daemon"]["environment"].items():
        monkeypatch.setenv(name, value)  # the launcher reads the daemon's environment
    context = json.loads(code_env.get("DAGSTER_CONTAINER_CONTEXT", "null"))
    repository = RepositoryPythonOrigin(
        executable_path="python",
        code_pointer=ModuleCodePointer("numerai_pipeline.definitions", "defs", None),
        container_image=code_env["DAGSTER_CONTAINER_IMAGE"],
        entry_point=DEFAULT_DAGSTER_ENTRY_POINT,  # what `dagster api grpc` reports
        container_context=context,
    )
    run = deployed_instance.add_run(
        DagsterRun(
            job_name="cross_validate",
            run_id=make_new_run_id(),
            job_code_origin=JobPythonOrigin("cross_validate", repository),
        )
    )
    calls: dict[str, Any] = {}
    monkeypatch.setattr(docker.client, "from_env", lambda: recording_docker_client(calls))

    deployed_instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))

    request = calls["create_container"]
    assert request["image"] == services["user-code"]["image"]
    assert request["command"][:3] == ["dagster", "api", "execute_run"]
    settings = {k: v for k, v in code_env.items() if not k.startswith("DAGSTER_CONTAINER_")}
    assert {k: request["environment"].get(k) for k in settings} == settings
    host = request["host_config"]
    assert host["NetworkMode"] == config["networks"]["default"]["name"]
    # the home folder as the code server sees it, compute logs where the webserver reads them
    for service, volume in (("user-code", "numerai-home"), ("webserver", "dagster-storage")):
        target = next(m["target"] for m in services[service]["volumes"] if m["source"] == volume)
        assert f"{config['volumes'][volume]['name']}:{target}" in host["Binds"]
    gpus = [
        device
        for device in host.get("DeviceRequests") or []
        if device["Driver"] == "nvidia" and ["gpu"] in device["Capabilities"]
    ]
    assert len(gpus) == (1 if gpu else 0)
    assert calls["start"] == "0123456789ab"
