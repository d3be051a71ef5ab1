"""docker/'s files checked with the tools that read them (Compose's own parser, hadolint), and
the settings they pass around agree with what the pipeline reads."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from numerai_pipeline_tests.deploy.helpers import (
    COMPOSE_ENV,
    COMPOSE_FILE,
    DOCKER_DIR,
    GPU_COMPOSE_FILE,
    compose,
    venv_tool,
)

PACKAGE_DIR = DOCKER_DIR.parent / "numerai_pipeline"


@pytest.mark.parametrize(
    "files", [(COMPOSE_FILE,), (COMPOSE_FILE, GPU_COMPOSE_FILE)], ids=["cpu", "gpu-override"]
)
def test_compose_files_are_valid(files: tuple[Path, ...]) -> None:
    result = compose("config", "-q", files=files)
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_a_postgres_password() -> None:
    result = compose("config", "-q", env={"DOCKER_GID": "999"})
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD" in result.stderr


def test_credentials_come_only_from_the_environment() -> None:
    """Each place a credential is used takes the value from the environment Compose runs in."""
    env = {**COMPOSE_ENV, "POSTGRES_PASSWORD": "pw-from-env", "NUMERAI_SECRET_KEY": "key-from-env"}
    result = compose("config", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert services["postgresql"]["environment"]["POSTGRES_PASSWORD"] == "pw-from-env"
    assert ":pw-from-env@" in services["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"]
    for name in ("user-code", "webserver", "daemon"):
        environment = services[name]["environment"]
        assert environment["DAGSTER_POSTGRES_PASSWORD"] == "pw-from-env"
        assert environment["NUMERAI_SECRET_KEY"] == "key-from-env"


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [venv_tool("hadolint"), str(DOCKER_DIR / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_images_install_the_dagster_integrations_tested_here() -> None:
    pins = re.findall(
        r"ARG DAGSTER_INTEGRATIONS_VERSION=(\S+)", (DOCKER_DIR / "Dockerfile").read_text()
    )
    assert len(pins) == 2  # the cuda and the cpu target
    assert set(pins) == {importlib.metadata.version("dagster-postgres")}


CLUSTER_ONLY = {"NUMERAI_K8S_EXECUTOR_CONFIG"}
"""Settings of the Helm deployment only (k8s/values.yaml sets them); compose runs go without."""


def test_run_containers_receive_every_setting_the_pipeline_reads(
    compose_config: Callable[..., dict[str, Any]],
) -> None:
    """The launcher forwards exactly the code server's settings, each has a value in the daemon
    (the launcher refuses to launch a run when one is unset), and every variable the package
    reads is among them."""
    launcher = yaml.safe_load((DOCKER_DIR / "dagster.yaml").read_text())["run_launcher"]
    forwarded = set(launcher["config"]["env_vars"])
    services = compose_config()["services"]
    code_env = services["user-code"]["environment"]
    assert forwarded == {name for name in code_env if not name.startswith("DAGSTER_CONTAINER_")}
    daemon_env = services["daemon"]["environment"]
    assert {name: daemon_env.get(name) for name in forwarded} == {n: code_env[n] for n in forwarded}
    read = {
        name
        for path in PACKAGE_DIR.rglob("*.py")
        for name in re.findall(r"\"((?:NUMERAI|MLFLOW)_[A-Z0-9_]+)\"", path.read_text())
    }
    read -= CLUSTER_ONLY
    assert read and read <= forwarded, f"not forwarded to run containers: {read - forwarded}"


def test_compose_defaults_are_the_pipelines_defaults(
    compose_config: Callable[..., dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settings left unset reach the code server as empty strings: the pipeline must read them
    as its defaults."""
    for name, value in compose_config()["services"]["user-code"]["environment"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NUMERAI_PIPELINE_HOME", str(tmp_path))
    from numerai_pipeline.resources import resources_from_env

    resources = resources_from_env()
    source = resources["data_source"]
    assert (source.source, source.version, source.synthetic_preset) == ("synthetic", "v5.0", "demo")
    assert resources["compute"].device == "auto"
    assert resources["numerai"].secret_key == ""
    assert resources["mlflow_tracking"].tracking_uri == "http://mlflow:5000"
