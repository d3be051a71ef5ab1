"""The GPU-tagged neural assets: tags and pool, device choice, checkpoints under the home folder."""

from __future__ import annotations

import json

import pytest

from numerai_pipeline.assets.neural import mtm_encoder, mtm_heads, neural_baselines
from numerai_pipeline.definitions import defs
from numerai_pipeline.resources.compute import ComputeResource


@pytest.mark.parametrize("asset", [mtm_encoder, mtm_heads, neural_baselines])
def test_gpu_assets_run_in_the_gpu_pool_and_request_a_gpu_on_k8s(asset):
    assert asset.op.pool == "gpu"
    k8s = json.loads(asset.op.tags["dagster-k8s/config"])
    assert k8s["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert asset.partitions_def.get_partition_keys()[0] == "fold_1"


def test_cv_job_runs_every_fold_asset():
    job = defs.resolve_job_def("cross_validate")
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert {"cv_predictions", "mtm_encoder", "mtm_heads", "neural_baselines"} <= keys


def test_compute_picks_cpu_here_and_the_preset_follows_the_device():
    compute = ComputeResource()
    assert compute.torch_device() == "cpu"
    assert compute.mtm_config("cpu") == type(compute.mtm_config("cpu")).cpu_demo()
    assert compute.mtm_config("cuda:0") == type(compute.mtm_config("cpu")).gpu()
    for device in ("cpu", "cuda:0"):  # the MLP selects on the same inner eras as the MTM
        mtm_stride = compute.mtm_config(device).selection_era_stride
        assert compute.mlp_config(device).selection_era_stride == mtm_stride
    assert compute.mlp_config("cpu").selection_era_stride == 2
    with pytest.raises(ValueError, match="unknown compute preset"):
        ComputeResource(preset="huge").mtm_config("cpu")


def test_compute_seed_seeds_every_neural_model():
    compute = ComputeResource(seed=7)
    assert compute.mtm_config("cpu").seed == 7
    assert compute.mtm_config("cpu").d_model == ComputeResource().mtm_config("cpu").d_model
    assert compute.mlp_config("cpu").seed == 7
    assert ComputeResource(seed=7, preset="tiny").mlp_config("cpu").seed == 7
    assert ComputeResource().mtm_config("cpu").seed == 0
