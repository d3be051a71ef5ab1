"""Fixtures of the deployment tests: a real PostgreSQL server on loopback, and docker/'s compose
files rendered by the Compose binary itself, without a Docker engine."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from numerai_pipeline_tests.deploy.helpers import (
    COMPOSE_FILE,
    DOCKER_DIR,
    PostgresServer,
    compose,
    free_port,
    postgres_bin_dir,
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """initdb into a temporary folder and start the server on a free loopback port (its socket
    in the same folder), then set it up as the compose file's postgres image would: database
    `dagster`, then docker/postgres-init/*.sql run in it. Stopped and deleted at the end of the
    session. As root, the server runs as the `postgres` user (PostgreSQL refuses root)."""
    bin_dir = postgres_bin_dir()
    run_as: dict[str, Any] = {}
    root = Path(tempfile.mkdtemp(prefix="numerai-pg-"))
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root needs the `postgres` user (Debian's postgresql package)")
        os.chown(root, account.pw_uid, account.pw_gid)
        run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    server = PostgresServer(bin_dir=bin_dir, port=free_port())
    data = root / "data"

    def pg_run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, cwd=root, **run_as)

    pg_run(str(bin_dir / "initdb"), "-D", str(data), "-U", server.user, "-A", "trust", "--no-sync")
    options = f"-h {server.host} -p {server.port} -k {root} -F"
    pg_ctl = str(bin_dir / "pg_ctl")
    pg_run(pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-o", options, "start")
    try:
        server.psql("postgres", "-c", "CREATE DATABASE dagster")
        for script in sorted((DOCKER_DIR / "postgres-init").glob("*.sql")):
            server.psql("dagster", "-f", str(script))
        yield server
    finally:
        pg_run(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def compose_config() -> Callable[..., dict[str, Any]]:
    """The compose model as Compose renders it (`config --format json`), per tuple of files
    (default: docker-compose.yml alone)."""
    cache: dict[tuple[Path, ...], dict[str, Any]] = {}

    def render(*files: Path) -> dict[str, Any]:
        files = files or (COMPOSE_FILE,)
        if files not in cache:
            result = compose("config", "--format", "json", files=files)
            assert result.returncode == 0, result.stderr
            cache[files] = json.loads(result.stdout)
        return cache[files]

    return render
