"""The CV assets: one per roster model and fold; neural ones GPU-tagged; presets per device."""

from __future__ import annotations

import json

import pytest
from dagster import AssetKey

from numerai_pipeline.definitions import defs
from numerai_pipeline.models.roster import CANDIDATES, ROSTER, NeuralPreset
from numerai_pipeline.resources.compute import ComputeResource

GRAPH = defs.resolve_asset_graph()
NEURAL = [spec.name for spec in ROSTER if spec.neural]


@pytest.mark.parametrize(
    "key",
    [["cv", "mtm_encoder"], *(["cv", n] for n in NEURAL), *(["final", n] for n in CANDIDATES)],
)
def test_neural_steps_run_in_the_gpu_pool_and_request_a_gpu_on_k8s(key):
    node = GRAPH.get(AssetKey(key))
    neural = key[1] == "mtm_encoder" or key[1] in NEURAL
    assert (node.pools == {"gpu"}) == neural
    tags = defs.get_assets_def(AssetKey(key)).op.tags
    if neural:
        k8s = json.loads(tags["dagster-k8s/config"])
        assert k8s["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    else:
        assert "dagster-k8s/config" not in tags


def test_the_cv_job_runs_every_roster_model_on_a_fold():
    job = defs.resolve_job_def("cross_validate")
    keys = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert keys == {"cv/mtm_encoder", *(f"cv/{spec.name}" for spec in ROSTER)}
    assert job.partitions_def.get_partition_keys()[0] == "fold_1"
    final = defs.resolve_job_def("select_and_train").asset_layer.executable_asset_keys
    assert {f"final/{name}" for name in CANDIDATES} <= {k.to_user_string() for k in final}


def test_compute_picks_cpu_here_and_the_preset_follows_the_device():
    compute = ComputeResource()
    assert compute.torch_device() == "cpu"
    assert compute.neural_preset("cpu") == NeuralPreset.named("cpu_demo")
    assert compute.neural_preset("cuda:0") == NeuralPreset.named("gpu")
    preset = compute.neural_preset("cpu")
    assert preset.mtm_train.selection_era_stride == preset.row_train.selection_era_stride == 2
    with pytest.raises(ValueError, match="NUMERAI_MODEL_PRESET"):
        ComputeResource(preset="huge").neural_preset("cpu")


def test_compute_seed_seeds_every_neural_model():
    preset = ComputeResource(seed=7).neural_preset("cpu")
    assert preset.mtm_train.seed == preset.row_train.seed == 7
    assert preset.mtm == NeuralPreset.named("cpu_demo").mtm
    assert ComputeResource(seed=7, preset="tiny").neural_preset("cpu").row_train.seed == 7
    assert ComputeResource().neural_preset("cpu").mtm_train.seed == 0
