"""Kubernetes placement, rendered offline with dagster-k8s's own job-building code (no cluster):
the code location of docker/k8s/values.yaml, then the executor config of docker/k8s/executor.yaml,
then each step's `dagster-k8s/config` op tag, merged as the k8s_job_executor merges them. The
Helm chart's templating itself is not run here (no chart or helm binary offline)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from dagster import Definitions, JobDefinition, validate_run_config
from dagster._core.execution.api import create_execution_plan
from dagster._core.execution.plan.step import ExecutionStep
from dagster_k8s import k8s_job_executor
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import (
    DagsterK8sJobConfig,
    UserDefinedDagsterK8sConfig,
    construct_dagster_k8s_job,
    get_k8s_job_name,
    get_user_defined_k8s_config,
)
from kubernetes.client import V1PodSpec

from numerai_pipeline_tests.deploy.helpers import DOCKER_DIR

K8S_DIR = DOCKER_DIR / "k8s"
GPU = "nvidia.com/gpu"


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((K8S_DIR / name).read_text())


def code_location_context() -> K8sContainerContext:
    """What values.yaml's user deployment (includeConfigInLaunchedRuns) and run launcher give
    every run and step pod."""
    values = load("values.yaml")
    deployment = values["dagster-user-deployments"]["deployments"][0]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    return K8sContainerContext(
        env=deployment["env"],
        env_secrets=[secret["name"] for secret in deployment["envSecrets"]],
        volumes=deployment["volumes"],
        volume_mounts=deployment["volumeMounts"],
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(
            {
                "container_config": launcher["containerConfig"],
                "pod_spec_config": launcher["podSpecConfig"],
            }
        ),
    )


def executor_context(config: dict[str, Any]) -> K8sContainerContext:
    """The container context k8s_job_executor builds from its (validated) config."""
    return K8sContainerContext(
        image_pull_policy=config.get("image_pull_policy"),
        image_pull_secrets=config.get("image_pull_secrets"),
        service_account_name=config.get("service_account_name"),
        env_config_maps=config.get("env_config_maps"),
        env_secrets=config.get("env_secrets"),
        env_vars=config.get("env_vars"),
        volume_mounts=config.get("volume_mounts"),
        volumes=config.get("volumes"),
        labels=config.get("labels"),
        namespace=config.get("job_namespace"),
        resources=config.get("resources"),
        scheduler_name=config.get("scheduler_name"),
        security_context=config.get("security_context"),
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(config.get("step_k8s_config", {})),
    )


def pod(context: K8sContainerContext, component: str, name: str) -> V1PodSpec:
    job_config = DagsterK8sJobConfig(
        job_image="ghcr.io/your-org/numerai-pipeline:cuda",
        dagster_home="/opt/dagster/dagster_home",
        instance_config_map="dagster-instance",
    )
    job = construct_dagster_k8s_job(
        job_config=job_config,
        args=["dagster", "api", component],
        job_name=name,
        pod_name=name,
        component=component,
        user_defined_k8s_config=context.run_k8s_config,
    )
    return job.spec.template.spec


@pytest.fixture(scope="module")
def k8s_defs() -> Definitions:
    """The project's definitions with the k8s_job_executor, as the code hook in
    docker/README.md sets it."""
    from numerai_pipeline.definitions import defs

    return Definitions.merge(defs, Definitions(executor=k8s_job_executor))


@pytest.fixture(scope="module")
def cv_job(k8s_defs: Definitions) -> JobDefinition:
    return k8s_defs.resolve_job_def("cross_validate")


def test_executor_config_is_valid_for_every_job(k8s_defs: Definitions) -> None:
    jobs = [job for job in k8s_defs.resolve_all_job_defs() if not job.name.startswith("__")]
    assert jobs
    for job in jobs:
        validated = validate_run_config(job, load("executor.yaml"))
        assert validated["execution"][k8s_job_executor.name]["max_concurrent"] > 1, job.name


@pytest.fixture(scope="module")
def step_pods(cv_job: JobDefinition) -> dict[str, tuple[ExecutionStep, V1PodSpec]]:
    """Each step of a `cross_validate` run and the pod the executor would create for it."""
    run_config = load("executor.yaml")
    validated = validate_run_config(cv_job, run_config)
    executor = validated["execution"][k8s_job_executor.name]  # with the schema's defaults
    plan = create_execution_plan(cv_job, run_config, tags={"dagster/partition": "fold_1"})
    base = code_location_context().merge(executor_context(executor))
    pods = {}
    for step in plan.get_all_steps_in_topo_order():
        per_op = executor["per_step_k8s_config"].get(step.op_name, {})
        context = base.merge(
            K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(step.tags))
        ).merge(K8sContainerContext(run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(per_op)))
        name = f"dagster-step-{get_k8s_job_name('run', step.key)}"
        pods[step.key] = (step, pod(context, "execute_step", name))
    return pods


def gpus(spec: V1PodSpec) -> tuple[str | None, str | None]:
    resources = spec.containers[0].resources
    return (resources.requests or {}).get(GPU), (resources.limits or {}).get(GPU)


def test_only_the_gpu_step_requests_a_gpu(
    step_pods: dict[str, tuple[ExecutionStep, V1PodSpec]],
) -> None:
    executor = load("executor.yaml")["execution"]["config"]
    wanted = executor["step_k8s_config"]["container_config"]["resources"]["requests"]
    _, mtm = step_pods["cv__mtm"]
    _, xgboost = step_pods["cv__xgboost"]
    assert gpus(mtm) == ("1", "1")
    assert gpus(xgboost) == (None, None)
    tolerated = {(t.key, t.effect) for t in mtm.tolerations or []}
    assert (GPU, "NoSchedule") in tolerated  # GPU nodes are usually tainted
    assert not any(t.key == GPU for t in xgboost.tolerations or [])
    for spec in (mtm, xgboost):
        requests = spec.containers[0].resources.requests
        assert {key: requests[key] for key in wanted} == wanted


def test_gpu_pods_are_exactly_the_gpu_pool(
    step_pods: dict[str, tuple[ExecutionStep, V1PodSpec]],
) -> None:
    on_gpu = {key for key, (_, spec) in step_pods.items() if gpus(spec) != (None, None)}
    in_pool = {key for key, (step, _) in step_pods.items() if step.pool == "gpu"}
    assert on_gpu == in_pool
    assert 0 < len(on_gpu) < len(step_pods)


def test_every_step_pod_shares_the_home_volume(
    step_pods: dict[str, tuple[ExecutionStep, V1PodSpec]],
) -> None:
    """Steps hand assets over through files in NUMERAI_PIPELINE_HOME: each pod mounts the same
    ReadWriteMany claim there."""
    for _, spec in step_pods.values():
        container = spec.containers[0]
        home = next(e.value for e in container.env if e.name == "NUMERAI_PIPELINE_HOME")
        mount = next(m.name for m in container.volume_mounts if m.mount_path == home)
        claim = next(v.persistent_volume_claim for v in spec.volumes if v.name == mount)
        assert claim.claim_name == "numerai-home"


def test_run_pods_run_as_the_images_user() -> None:
    uid, gid = re.findall(r"^USER (\d+):(\d+)$", (DOCKER_DIR / "Dockerfile").read_text(), re.M)[0]
    spec = pod(code_location_context(), "execute_run", "dagster-run-x")
    assert spec.security_context.run_as_non_root
    assert (spec.security_context.run_as_user, spec.security_context.fs_group) == (
        int(uid),
        int(gid),
    )


def test_the_executor_config_file_switches_every_job_to_a_pod_per_step(monkeypatch, tmp_path):
    from numerai_pipeline.definitions import build_definitions
    from numerai_pipeline.resources import SettingsError

    monkeypatch.setenv("NUMERAI_K8S_EXECUTOR_CONFIG", str(K8S_DIR / "executor.yaml"))
    defs = build_definitions()
    for job in defs.resolve_all_job_defs():
        assert job.executor_def.name == k8s_job_executor.name, job.name
    assert "NUMERAI_K8S_EXECUTOR_CONFIG" in str(load("values.yaml"))  # what the chart sets
    monkeypatch.delenv("NUMERAI_K8S_EXECUTOR_CONFIG")
    assert build_definitions().resolve_job_def("cross_validate").executor_def.name != "k8s"
    broken = tmp_path / "executor.yaml"
    broken.write_text("max_concurrent: 8\n")
    monkeypatch.setenv("NUMERAI_K8S_EXECUTOR_CONFIG", str(broken))
    with pytest.raises(SettingsError, match="not a readable executor config"):
        build_definitions()
