"""A real `dagster dev` (webserver, daemon, code server) on loopback, driven through its GraphQL
API as the UI drives it: the whole graph, stage by stage as `numerai-pipeline run` runs it, its CV
folds as a partition backfill; and a backfill from the CLI (`dagster job backfill`), which the
same daemon runs. Tiny data, two CV folds; the GraphQL runs execute in process (run config), as
one may choose in the launchpad, which keeps the test short."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from numerai_pipeline_tests.assets.test_pipeline import cli_env, new_home

ROOT = Path(__file__).parents[1]
DAGSTER = Path(sys.executable).with_name("dagster")
ROUND = "1000"
TERMINAL = {"COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED", "COMPLETED"}

LOCATION = """{ repositoriesOrError { ... on RepositoryConnection {
  nodes { name location { name } } } } }"""
LOADED = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
ADD_PARTITION = """mutation($repo: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $repo, partitionsDefName: $name, partitionKey: $key) {
    __typename ... on PythonError { message } } }"""
RUN = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""
RUN_STATUS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""
LAUNCH = """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
  __typename ... on LaunchBackfillSuccess { backfillId }
  ... on PythonError { message } ... on PartitionKeysNotFoundError { message }
  ... on InvalidSubsetError { message } } }"""
BACKFILL = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  ... on PartitionBackfill { status runs(limit: 100) { runId status } error { message } } } }"""
MATERIALIZATIONS = """query($path: [String!]!) { assetOrError(assetKey: {path: $path}) {
  ... on Asset { assetMaterializations(limit: 100) { partition runId metadataEntries {
    label ... on MarkdownMetadataEntry { mdStr } ... on PathMetadataEntry { path } } } } } }"""


class Dev:
    """A running `dagster dev` and the home folder its runs write to."""

    def __init__(self, url: str, home, log: Path) -> None:
        self.url, self.home, self.log = url, home, log

    def query(self, text: str, **variables: Any) -> dict:
        answer = requests.post(
            f"{self.url}/graphql", json={"query": text, "variables": variables}, timeout=60
        )
        answer.raise_for_status()
        body = answer.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def repository(self) -> dict[str, str]:
        [node] = self.query(LOCATION)["repositoriesOrError"]["nodes"]
        return {"repositoryName": node["name"], "repositoryLocationName": node["location"]["name"]}

    def run(self, job: str, partition: str | None = None, timeout: float = 600) -> str:
        """Launch a run of `job` (of `partition`) in process; wait until it ends; its status."""
        tags = [{"key": "dagster/partition", "value": partition}] if partition else []
        params = {
            "selector": {**self.repository(), "jobName": job},
            "runConfigData": IN_PROCESS,
            "executionMetadata": {"tags": tags},
        }
        launched = self.query(RUN, p=params)["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.query(RUN_STATUS, id=launched["run"]["runId"])["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                return status
            time.sleep(2)
        pytest.fail(f"{job} still {status} after {timeout} s; see {self.log}")

    def backfill(self, params: dict, timeout: float = 900) -> dict:
        """Launch a backfill and wait until it ends; its final state."""
        launched = self.query(LAUNCH, p=params)["launchPartitionBackfill"]
        assert "backfillId" in launched, launched
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.query(BACKFILL, id=launched["backfillId"])["partitionBackfillOrError"]
            if state["status"] in TERMINAL:
                return state
            time.sleep(3)
        pytest.fail(f"backfill still {state['status']} after {timeout} s; see {self.log}")

    def materializations(self, *path: str) -> list[dict]:
        return self.query(MATERIALIZATIONS, path=list(path))["assetOrError"][
            "assetMaterializations"
        ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dev(tmp_path_factory, mlflow_template_db) -> Iterator[Dev]:
    """`dagster dev` over the project's workspace and instance config, in a process group of its
    own (killed at the end)."""
    home = new_home(tmp_path_factory.mktemp("dev"), mlflow_template_db)
    home.dagster.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "dagster.yaml", home.dagster / "dagster.yaml")
    env = cli_env(home) | {"DAGSTER_HOME": str(home.dagster), "NUMERAI_CV_FOLDS": "2"}
    port = _free_port()
    log = home.root / "dagster_dev.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [DAGSTER, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Dev(f"http://127.0.0.1:{port}", home, log)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                entries = server.query(LOADED)["workspaceOrError"]["locationEntries"]
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    loaded = entries[0]["locationOrLoadError"]
                    assert loaded["__typename"] == "RepositoryLocation", loaded
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, f"not up after 180 s: {log.read_text()[-3000:]}"
            time.sleep(1)
        yield server
    finally:
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(process.pid, sig)
                process.wait(wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue


def test_the_whole_graph_with_its_folds_as_a_partition_backfill(dev: Dev) -> None:
    assert dev.run("prepare_data") == "SUCCESS", dev.log
    selector: dict[str, Any] = {"partitionSetName": "cross_validate_partition_set"}
    selector["repositorySelector"] = dev.repository()
    params = {"selector": selector, "partitionNames": ["fold_1", "fold_2"]}
    state = dev.backfill(params | {"runConfigData": IN_PROCESS})
    assert state["status"] in ("COMPLETED_SUCCESS", "COMPLETED"), (state, dev.log)
    assert len(state["runs"]) == 2 and all(r["status"] == "SUCCESS" for r in state["runs"])
    folds = {m["partition"] for m in dev.materializations("cv", "xgboost")}
    assert folds == {"fold_1", "fold_2"}
    assert dev.run("select_and_train") == "SUCCESS", dev.log
    answer = dev.query(ADD_PARTITION, repo=dev.repository(), name="rounds", key=ROUND)
    assert answer["addDynamicPartition"]["__typename"] == "AddDynamicPartitionSuccess", answer
    assert dev.run("submit", partition=ROUND) == "SUCCESS", dev.log

    [report] = dev.materializations("cv_report")
    markdown = next(e["mdStr"] for e in report["metadataEntries"] if e["label"] == "report")
    assert "**Champion**" in markdown and "| ensemble" in markdown
    [submitted] = dev.materializations("submission")
    assert submitted["partition"] == ROUND
    path = next(e["path"] for e in submitted["metadataEntries"] if e["label"] == "submission_file")
    assert Path(path) == dev.home.submissions / f"round_{ROUND}" / "predictions.csv"
    assert Path(path).is_file() and len(dev.materializations("model_upload")) == 1


def test_a_backfill_from_the_cli_is_run_by_the_daemon(dev: Dev, monkeypatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(dev.home.dagster))
    before = len(dev.materializations("cv", "ridge"))
    done = subprocess.run(
        [DAGSTER, "job", "backfill", "-w", "workspace.yaml", "-j", "cross_validate"]
        + ["--partitions", "fold_2", "--noprompt"],
        cwd=ROOT,
        env=os.environ | {"DAGSTER_HOME": str(dev.home.dagster)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    instance = DagsterInstance.get()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        runs = instance.get_runs(RunsFilter(tags={"dagster/partition": "fold_2"}), limit=1)
        if runs and runs[0].is_finished:
            break
        time.sleep(3)
    assert runs and runs[0].status == DagsterRunStatus.SUCCESS, runs
    assert runs[0].tags.get("dagster/backfill")
    after = dev.materializations("cv", "ridge")
    assert len(after) == before + 1 and after[0]["partition"] == "fold_2"
