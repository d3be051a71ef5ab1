"""MTM throughput and memory: training rows/s, achieved GFLOP/s (analytic FLOP count) against the
machine's measured fp32 matmul GFLOP/s, peak RSS against the int8 feature bytes trained on, bf16
MFU where CUDA exists, and the activations one training step keeps for its backward pass (per
row, and for the preset's whole-era batch: what decides whether a preset fits on a GPU).

    python benchmarks/bench_mtm.py [--preset cpu_demo|gpu] [--eras 40] [--rows 1500]
        [--threads 2] [--set d_model=64 --set n_heads=4] [--activations-only]
"""

from __future__ import annotations

import argparse
import ast
import resource
import time

import numpy as np
import torch

from numerai_pipeline.features.grouping import default_n_groups
from numerai_pipeline.models.base import TrainingData
from numerai_pipeline.models.mtm import (
    FEATURES,
    MTM,
    TARGETS,
    MaskKind,
    MTMConfig,
    expected_value,
    group_index,
    make_mask,
)
from numerai_pipeline.models.mtm_training import MTMModel
from numerai_pipeline.models.neural import adamw, autocast, pearson_loss, select_device


def matmul_gflops(
    m: int, k: int, n: int, device: torch.device, dtype: torch.dtype, trials: int = 3
) -> float:
    """Measured GFLOP/s of (m, k) @ (k, n) matmuls: the best of `trials` 1-second windows (on a
    shared machine a single window read 150-190 GFLOP/s for the same 2048^3 product)."""
    a = torch.randn(m, k, device=device, dtype=dtype)
    b = torch.randn(k, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(trials):
        reps, start = 0, time.perf_counter()
        while time.perf_counter() - start < 1.0:
            a @ b
            reps += 1
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 2 * m * k * n * reps / (time.perf_counter() - start) / 1e9)
    return best


def step_throughput(
    net: MTM,
    config: MTMConfig,
    kind: MaskKind | None,
    n_features: int,
    steps: int,
    device: torch.device,
    rows: int,
) -> tuple[float, float]:
    """(rows/s, FLOPs per row) of training steps with masks of `kind`; None = a finetuning step
    (every feature visible, per-era Pearson loss of the main head)."""
    rng = np.random.default_rng(0)
    features = torch.from_numpy(rng.integers(-1, 5, (rows, n_features)).astype(np.int8))
    targets = torch.from_numpy((rng.integers(0, 5, (rows, net.n_targets)) / 4).astype(np.float32))
    batch = {FEATURES: features.to(device), TARGETS: targets.to(device)}
    era_ids = torch.arange(rows, device=device) * 4 // rows
    optimizer = adamw(net, 1e-4, 0.01, device)
    flops, elapsed = [], 0.0
    for i in range(steps + 2):
        if kind is not None:
            mask = make_mask(kind, rows, net.n_groups, net.n_targets, config)
            mask = {m: v.to(device) for m, v in mask.items()}
        start = time.perf_counter()
        with autocast(device):
            if kind is None:
                logits = net.predict_logits(batch[FEATURES])
                loss = pearson_loss(expected_value(logits[:, 0]), batch[TARGETS][:, 0], era_ids)
            else:
                _, loss = net(batch, mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 2:
            elapsed += time.perf_counter() - start
            if kind is None:
                flops.append(net.flops_per_row())
            else:
                visible = int(mask[FEATURES][0].sum() + mask[TARGETS][0].sum())
                hidden = bool((~mask[FEATURES][0]).any())
                flops.append(net.flops_per_row(visible, hidden_features=hidden))
    return steps * rows / elapsed, 3 * float(np.mean(flops))


def saved_activation_bytes(
    net: MTM,
    config: MTMConfig,
    kind: MaskKind | None,
    n_features: int,
    rows: int,
    device: torch.device,
) -> int:
    """Bytes of the tensors one training step saves for its backward pass (each storage counted
    once; parameters excluded): the activation memory, linear in the rows of the batch. Under
    CUDA autocast they are the bf16/fp32 mix the GPU holds."""
    rng = np.random.default_rng(0)
    features = torch.from_numpy(rng.integers(-1, 5, (rows, n_features)).astype(np.int8))
    targets = torch.from_numpy((rng.integers(0, 5, (rows, net.n_targets)) / 4).astype(np.float32))
    batch = {FEATURES: features.to(device), TARGETS: targets.to(device)}
    era_ids = torch.arange(rows, device=device) * 4 // rows
    params = {p.untyped_storage().data_ptr() for p in net.parameters()}
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast(device):
        if kind is None:
            logits = net.predict_logits(batch[FEATURES])
            loss = pearson_loss(expected_value(logits[:, 0]), batch[TARGETS][:, 0], era_ids)
        else:
            mask = make_mask(kind, rows, net.n_groups, net.n_targets, config, feature_keep=1.0)
            _, loss = net(batch, {m: v.to(device) for m, v in mask.items()})
    del loss
    return sum(storages.values())


def print_activations(
    net: MTM, config: MTMConfig, args: argparse.Namespace, device: torch.device
) -> None:
    """Activation bytes per row of a pretraining (PREDICT, every group visible: the most encoder
    tokens) and a finetuning step, and for the preset's batch of `eras_per_batch` x `--rows`."""
    batch_rows = config.eras_per_batch * args.rows
    probe = min(batch_rows, 2048)
    for label, kind in (("pretrain predict", MaskKind.PREDICT), ("finetune", None)):
        per_row = saved_activation_bytes(net, config, kind, args.features, probe, device) / probe
        print(
            f"{label:17s}: activations {per_row / 2**10:.1f} KiB/row -> "
            f"{per_row * batch_rows / 2**30:.2f} GiB for a batch of {config.eras_per_batch} "
            f"x {args.rows} rows"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="cpu_demo", choices=["cpu_demo", "gpu"])
    parser.add_argument("--eras", type=int, default=40)
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--features", type=int, default=120)
    parser.add_argument(
        "--targets", type=int, default=8, help="target tokens (demo: main + 7 aux 20d)"
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--set", action="append", default=[], help="MTMConfig field=value")
    parser.add_argument(
        "--activations-only", action="store_true", help="print the activation memory and stop"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = getattr(MTMConfig, args.preset)()
    for item in args.set:
        key, value = item.split("=", 1)
        setattr(config, key, ast.literal_eval(value))
    device = select_device()
    n_groups = default_n_groups(args.features)
    layout = group_index([list(range(g, args.features, n_groups)) for g in range(n_groups)])
    net = MTM(config, layout, args.targets, args.features).to(device)
    n_params = sum(p.numel() for p in net.parameters())
    print(
        f"device {device}, threads {torch.get_num_threads()}, preset {args.preset}: "
        f"d={config.d_model}, {config.n_encoder_layers}+{config.n_decoder_layers} layers, "
        f"{n_groups} groups + {args.targets} targets, {n_params / 1e3:.0f}k params"
    )

    print_activations(net, config, args, device)
    if args.activations_only:
        return

    tokens = config.batch_rows * (n_groups + args.targets)
    shapes = {
        "model-shaped (rows*tokens, d) @ (d, 4d)": (tokens, config.d_model, 4 * config.d_model),
        "large square 2048^3": (2048, 2048, 2048),
    }
    peaks = {name: matmul_gflops(*s, device, torch.float32) for name, s in shapes.items()}
    for name, value in peaks.items():
        print(f"fp32 matmul {name}: {value:.1f} GFLOP/s")
    peak = max(peaks.values())

    finetune_rows = config.eras_per_batch * args.rows
    for kind, rows in (
        (MaskKind.RANDOM, config.batch_rows),
        (MaskKind.PREDICT, config.batch_rows),
        (None, finetune_rows),
    ):
        rate, flops = step_throughput(net, config, kind, args.features, args.steps, device, rows)
        achieved = rate * flops / 1e9
        label = "pretrain " + kind.value if kind else "finetune"
        print(
            f"{label:17s}: {rate:8.0f} rows/s, {flops / 1e6:.2f} MFLOP/row, "
            f"{achieved:.1f} GFLOP/s = {achieved / peak:.2f} of fp32 matmul peak"
        )
    if device.type == "cuda":
        bf16 = matmul_gflops(8192, 8192, 8192, device, torch.bfloat16)
        print(f"bf16 matmul peak {bf16:.0f} GFLOP/s; MFU (finetuning step) {achieved / bf16:.3f}")

    rng = np.random.default_rng(0)
    n = args.eras * args.rows
    data = TrainingData(
        rng.integers(0, 5, (n, args.features)).astype(np.int8),
        (rng.integers(0, 5, (n, args.targets)) / 4).astype(np.float32),
        np.repeat([f"{e + 1:04d}" for e in range(args.eras)], args.rows).astype(object),
        [f"feature_{i}" for i in range(args.features)],
        ["target"] + [f"target_{i}_20" for i in range(1, args.targets)],
    )
    config.pretrain_epochs, config.finetune_epochs, config.era_stride = 1, 1, 1
    config.refit, config.selection_era_stride = False, 1
    model = MTMModel(config, device=str(device))
    start = time.perf_counter()
    model.fit(data)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    model.predict(data.features)
    predict_rate = n / (time.perf_counter() - start)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        f"fit (1 pretrain + 1 finetune epoch, no refit, {n} rows incl. holdout): {fit_s:.1f} s; "
        f"predict {predict_rate:.0f} rows/s"
    )
    print(
        f"peak RSS {peak_rss / 2**20:.0f} MiB vs int8 features {data.features.nbytes / 2**20:.1f} "
        f"MiB (ratio {peak_rss / data.features.nbytes:.1f}; includes the torch runtime)"
    )


if __name__ == "__main__":
    main()
