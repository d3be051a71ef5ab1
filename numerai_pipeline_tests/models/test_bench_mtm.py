"""`benchmarks/bench_mtm.py`'s activation count: what decides whether a preset fits on a GPU."""

from __future__ import annotations

import importlib.util
import sys
from functools import partial
from pathlib import Path
from types import ModuleType

import torch

from numerai_pipeline.models.mtm.config import MTMConfig
from numerai_pipeline.models.mtm.masks import MaskKind
from numerai_pipeline.models.mtm.network import MTM
from numerai_pipeline.models.mtm.tokenizers import group_index

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_mtm.py"


def load_bench() -> ModuleType:
    """The benchmark script as a module (registered first: its dataclasses look it up)."""
    spec = importlib.util.spec_from_file_location("bench_mtm", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_activation_bytes_grow_with_rows_and_depth_and_leave_out_parameters():
    bench = load_bench()
    layout = group_index([list(range(g, 24, 4)) for g in range(4)])
    cpu = torch.device("cpu")

    def count(config: MTMConfig, kind: MaskKind | None, rows: int) -> int:
        net = MTM(config, layout, 3, 24, list(range(24)), [])
        batch = bench.synthetic_batch(rows, 2, 24, 3, cpu)
        step = partial(bench.mtm_loss, net, kind, batch, feature_keep=1.0)
        return bench.saved_activation_bytes(net, step)

    config = MTMConfig.tiny()
    for kind in (MaskKind.PREDICT, None):
        small, large = count(config, kind, 8), count(config, kind, 16)
        assert 1.9 < large / small < 2.1  # activations are per row: parameters are not counted
    deeper = MTMConfig.tiny()
    deeper.n_encoder_layers = 3
    assert count(deeper, None, 64) > 1.5 * count(config, None, 64)
