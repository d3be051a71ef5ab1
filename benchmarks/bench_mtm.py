"""Throughput and memory of the MTM (or the RNN, `--model rnn`) on synthetic data of a given
shape: training-step rows/s and achieved GFLOP/s (analytic FLOP count) against the machine's
measured fp32 matmul GFLOP/s, bf16 MFU and peak GPU memory where CUDA exists, network prediction
rows/s, the activations one training step keeps for its backward pass (per row, and for the
preset's whole-era batch: what decides whether a preset fits on a GPU), and the time and peak RSS
of one short fit against the int8 feature bytes trained on. `--check-cpu-match` (CUDA only)
compares a randomly initialised network's predictions on the GPU (bf16 autocast) with the same
weights' on the CPU, and stops.

The MTM's linear read-out takes every feature (the fitted model's input screen keeps a subset):
the most read-out work a fit can have. The RNN reads an era context summarised from the synthetic
eras.

    python benchmarks/bench_mtm.py [--model mtm|rnn] [--preset cpu_demo|gpu|tiny] [--eras 40]
        [--rows 1500] [--features 120] [--threads 2] [--set d_model=64 --set eras_per_batch=2]
        [--activations-only] [--check-cpu-match]
"""

from __future__ import annotations

import argparse
import ast
import copy
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import torch
from torch import nn

from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.features.era_context import EraContext, era_context_of_rows
from numerai_pipeline.features.grouping import default_n_groups
from numerai_pipeline.models.device import autocast, select_device
from numerai_pipeline.models.losses import supervised_loss
from numerai_pipeline.models.mtm.config import MTMConfig
from numerai_pipeline.models.mtm.masks import FEATURES, TARGETS, MaskKind, make_mask
from numerai_pipeline.models.mtm.model import MTMModel
from numerai_pipeline.models.mtm.network import MTM
from numerai_pipeline.models.mtm.objective import expected_value, masked_loss
from numerai_pipeline.models.mtm.tokenizers import group_index
from numerai_pipeline.models.rnn import RNNConfig, RNNModel, RNNNet
from numerai_pipeline.models.roster import PRESETS, NeuralPreset
from numerai_pipeline.models.training import GRAD_CLIP, NeuralModel, adamw


@dataclass
class Batch:
    """Synthetic rows of whole eras (`era_ids` 0..k-1) and, for the RNN, the eras' context
    sequences (k, steps, inputs)."""

    features: torch.Tensor
    targets: torch.Tensor
    era_ids: torch.Tensor
    sequences: torch.Tensor | None = None

    def to(self, device: torch.device) -> Batch:
        sequences = None if self.sequences is None else self.sequences.to(device)
        moved = (self.features.to(device), self.targets.to(device), self.era_ids.to(device))
        return Batch(*moved, sequences)


Step = Callable[[], tuple[torch.Tensor, float]]
"""One training step's forward pass: its loss and the forward FLOPs per row of its batch."""
Predict = Callable[[nn.Module, Batch], torch.Tensor]
"""A network's main-target predictions of a batch."""


def synthetic_batch(
    rows: int,
    n_eras: int,
    n_features: int,
    n_targets: int,
    device: torch.device,
    sequences: np.ndarray | None = None,
) -> Batch:
    """`rows` random rows (features -1..4, -1 missing; targets in quarter steps) over `n_eras`
    eras of equal size."""
    rng = np.random.default_rng(0)
    features = rng.integers(-1, 5, (rows, n_features)).astype(np.int8)
    targets = (rng.integers(0, 5, (rows, n_targets)) / 4).astype(np.float32)
    batch = Batch(
        torch.from_numpy(features),
        torch.from_numpy(targets),
        torch.arange(rows) * n_eras // rows,
        None if sequences is None else torch.from_numpy(sequences),
    )
    return batch.to(device)


def synthetic_data(n_eras: int, rows: int, n_features: int, n_targets: int) -> TrainingData:
    """Random int8 rows (0..4) of `n_eras` eras with a main and `n_targets - 1` 20-day targets."""
    rng = np.random.default_rng(0)
    n = n_eras * rows
    return TrainingData(
        rng.integers(0, 5, (n, n_features)).astype(np.int8),
        (rng.integers(0, 5, (n, n_targets)) / 4).astype(np.float32),
        np.repeat([f"{e + 1:04d}" for e in range(n_eras)], rows).astype(object),
        [f"feature_{i}" for i in range(n_features)],
        ["target"] + [f"target_{i}_20" for i in range(1, n_targets)],
    )


def mtm_network(config: MTMConfig, n_features: int, n_targets: int) -> MTM:
    """An MTM over `default_n_groups` strided feature groups, every feature in the read-out."""
    n_groups = default_n_groups(n_features)
    layout = group_index([list(range(g, n_features, n_groups)) for g in range(n_groups)])
    return MTM(config, layout, n_targets, n_features, list(range(n_features)), [])


def rnn_network(config: RNNConfig, context: EraContext, n_features: int, n_targets: int) -> RNNNet:
    """An RNN whose context inputs are scaled by the statistics of every era of `context`."""
    inputs = context.sequences(list(context.eras), config.context_eras)
    flat = inputs.reshape(-1, inputs.shape[-1])
    std = np.maximum(flat.std(0), 1e-6).astype(np.float32)
    return RNNNet(n_features, n_targets, config, flat.mean(0), std)


def mtm_loss(
    net: MTM, kind: MaskKind | None, batch: Batch, feature_keep: float | None = None
) -> tuple[torch.Tensor, float]:
    """The trainer's loss of one batch: `masked_loss` under a mask of `kind` (FEATURES_ONLY: rows
    without targets), or None: finetuning, the supervised loss of the PREDICT head with every
    group visible."""
    if kind is None:
        scores = expected_value(net.predict_logits(batch.features))
        return supervised_loss(scores, batch.targets, batch.era_ids), net.flops_per_row()
    n = len(batch.features)
    mask = make_mask(kind, n, net.n_groups, net.n_targets, feature_keep)
    mask = {m: v.to(batch.features.device) for m, v in mask.items()}
    targets = None if kind is MaskKind.FEATURES_ONLY else batch.targets
    outputs = net(batch.features, targets, mask)
    real = net.tokenizers[FEATURES].real
    loss = masked_loss(outputs, targets, mask, batch.era_ids, real)
    visible = int(mask[FEATURES][0].sum() + mask[TARGETS][0].sum())
    hidden = not bool(mask[FEATURES][0].all())
    return loss, net.flops_per_row(visible, hidden_features=hidden)


def rnn_flops_per_row(net: RNNNet) -> float:
    """Forward FLOPs of one row: the trunk's and head's matmuls and, with the context, FiLM and
    the per-feature weights; the context itself (a GRU per era, not per row) is left out."""
    layers = [m for m in [*net.trunk, net.head] if isinstance(m, nn.Linear)]
    flops = sum(2 * m.weight.numel() for m in layers)
    return flops + (2 * (net.head.in_features + net.n_features) if net.use_context else 0)


def rnn_loss(net: RNNNet, batch: Batch) -> tuple[torch.Tensor, float]:
    """The trainer's loss of one batch: main + auxiliary per-era Pearson."""
    out = net(batch.features, batch.era_ids, batch.sequences)
    return supervised_loss(out, batch.targets, batch.era_ids), rnn_flops_per_row(net)


def mtm_predict(net: nn.Module, batch: Batch) -> torch.Tensor:
    return expected_value(net.predict_logits(batch.features)[:, 0])


def rnn_predict(net: nn.Module, batch: Batch) -> torch.Tensor:
    return net(batch.features, batch.era_ids, batch.sequences)[:, 0]


def matmul_gflops(
    m: int, k: int, n: int, device: torch.device, dtype: torch.dtype, trials: int = 3
) -> float:
    """Measured GFLOP/s of (m, k) @ (k, n) matmuls: the best of `trials` 1-second windows (a
    single window varies a lot on a shared machine)."""
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
    net: nn.Module, step: Step, rows: int, steps: int, device: torch.device
) -> tuple[float, float]:
    """(rows/s, FLOPs per row) of `steps` training steps as the trainer takes them (autocast,
    AdamW, gradient clipping) after two warm-up steps; a training step is ~3x its forward."""
    optimizer = adamw(net, 1e-4, device)
    net.train()
    flops, elapsed = [], 0.0
    for i in range(steps + 2):
        start = time.perf_counter()
        with autocast(device):
            loss, row_flops = step()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), GRAD_CLIP)
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 2:
            elapsed += time.perf_counter() - start
            flops.append(row_flops)
    return steps * rows / elapsed, 3 * float(np.mean(flops))


def predict_throughput(
    net: nn.Module, predict: Predict, batch: Batch, steps: int, device: torch.device
) -> float:
    """Rows/s of the network's predictions of `batch` (eval mode, no grad, autocast), after a
    warm-up pass."""
    net.eval()
    elapsed = 0.0
    with torch.no_grad(), autocast(device):
        for i in range(steps + 1):
            start = time.perf_counter()
            predict(net, batch)
            if device.type == "cuda":
                torch.cuda.synchronize()
            elapsed += (time.perf_counter() - start) if i else 0.0
    return steps * len(batch.features) / elapsed


def saved_activation_bytes(net: nn.Module, step: Step) -> int:
    """Bytes of the tensors one training step saves for its backward pass (each storage counted
    once; parameters excluded): the activation memory, linear in the rows of the batch. Under
    CUDA autocast they are the bf16/fp32 mix the GPU holds."""
    params = {p.untyped_storage().data_ptr() for p in net.parameters()}
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    device = next(net.parameters()).device
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast(device):
        loss, _ = step()
    del loss
    return sum(storages.values())


def cpu_match(net: nn.Module, predict: Predict, batch: Batch, device: torch.device) -> None:
    """Print how far the network's predictions on `device` (bf16 autocast, as `predict` runs)
    are from the same weights' fp32 predictions on the CPU. Weights the init leaves at zero
    (read-out, FiLM) are drawn too, so every path is compared."""
    if device.type != "cuda":
        print(f"--check-cpu-match needs CUDA (device is {device}): nothing compared")
        return
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() >= 2 and not p.any():
                nn.init.normal_(p, std=0.02)
        net.eval()
        with autocast(device):
            on_device = predict(net, batch).float().cpu()
        cpu = torch.device("cpu")
        on_cpu = predict(copy.deepcopy(net).to(cpu), batch.to(cpu)).float()
    diff = float((on_device - on_cpu).abs().max())
    corr = float(torch.corrcoef(torch.stack([on_device, on_cpu]))[0, 1])
    print(
        f"{device} vs cpu predictions of {len(on_cpu)} rows: max abs difference {diff:.2e} "
        f"(cpu predictions' std {float(on_cpu.std()):.2e}), correlation {corr:.6f}"
    )


Probe = Callable[[int], list[tuple[str, Step]]]
"""The training steps whose activations are counted, on a batch of that many rows."""


@dataclass
class Bench:
    """One network under test: the training steps to time (label, batch rows, step), the steps
    whose activations are counted, its prediction and a batch of the preset's whole-era shape,
    and the model (with `fit_label` saying how it is cut short) whose fit is timed."""

    description: str
    net: nn.Module
    steps: list[tuple[str, int, Step]]
    probe: Probe
    predict: Predict
    batch: Batch
    fit_model: NeuralModel
    fit_label: str
    matmul_shape: tuple[int, int, int]
    """A matmul shaped like the network's widest layer over the batch: the fp32 peak it gets."""


def override(items: list[str], *configs: object) -> None:
    """Apply `field=value` items to the first of `configs` with that field."""
    for item in items:
        key, value = item.split("=", 1)
        owner = next((c for c in configs if hasattr(c, key)), None)
        if owner is None:
            names = ", ".join(type(c).__name__ for c in configs)
            raise SystemExit(f"--set {key}: not a field of {names}")
        setattr(owner, key, ast.literal_eval(value))


def mtm_bench(preset: NeuralPreset, args: argparse.Namespace, device: torch.device) -> Bench:
    """The MTM: pretraining steps under RANDOM and PREDICT masks (whole eras) and FEATURES_ONLY
    masks (a chunk of unlabeled rows), and the finetuning step; a fit of one epoch per phase.
    Activations: PREDICT with every group visible (the most encoder tokens) and finetuning."""
    config, train = preset.mtm, preset.mtm_train
    net = mtm_network(config, args.features, args.targets).to(device)
    k = train.eras_per_batch
    rows, unlabeled_rows = k * args.rows, config.unlabeled_batch_rows
    batch = synthetic_batch(rows, k, args.features, args.targets, device)
    unlabeled = synthetic_batch(unlabeled_rows, 1, args.features, args.targets, device)
    steps = [
        ("pretrain random", rows, partial(mtm_loss, net, MaskKind.RANDOM, batch)),
        ("pretrain predict", rows, partial(mtm_loss, net, MaskKind.PREDICT, batch)),
        (
            "pretrain unlabeled",
            unlabeled_rows,
            partial(mtm_loss, net, MaskKind.FEATURES_ONLY, unlabeled),
        ),
        ("finetune", rows, partial(mtm_loss, net, None, batch)),
    ]

    def probe(n: int) -> list[tuple[str, Step]]:
        small = synthetic_batch(n, k, args.features, args.targets, device)
        predict = partial(mtm_loss, net, MaskKind.PREDICT, small, feature_keep=1.0)
        return [("pretrain predict", predict), ("finetune", partial(mtm_loss, net, None, small))]

    fit_config = replace(config, pretrain_epochs=1, finetune_epochs=1)
    fit_train = replace(train, refit=False, selection_era_stride=1)
    model = MTMModel(fit_config, fit_train, device=str(device))
    description = (
        f"d={config.d_model}, {config.n_encoder_layers}+{config.n_decoder_layers} layers, "
        f"{net.n_groups} groups + {net.n_targets} targets"
    )
    tokens = rows * (net.n_groups + net.n_targets)
    shape = (tokens, config.d_model, 4 * config.d_model)
    fit_label = "1 pretrain + 1 finetune epoch"
    return Bench(description, net, steps, probe, mtm_predict, batch, model, fit_label, shape)


def rnn_bench(
    preset: NeuralPreset, args: argparse.Namespace, data: TrainingData, device: torch.device
) -> Bench:
    """The RNN: its one supervised step over whole eras with their context sequences (the
    latest eras of the data's context table); a fit of one epoch."""
    config, train = preset.rnn, preset.row_train
    context = era_context_of_rows(data, {})
    net = rnn_network(config, context, args.features, args.targets).to(device)
    k = min(train.eras_per_batch, args.eras)
    sequences = context.sequences(list(context.eras[-k:]), config.context_eras)

    def make_batch(n: int) -> Batch:
        return synthetic_batch(n, k, args.features, args.targets, device, sequences)

    batch = make_batch(k * args.rows)
    steps = [("train", len(batch.features), partial(rnn_loss, net, batch))]

    def probe(n: int) -> list[tuple[str, Step]]:
        return [("train", partial(rnn_loss, net, make_batch(n)))]

    fit_train = replace(train, refit=False, selection_era_stride=1)
    model = RNNModel(context, replace(config, epochs=1), fit_train, device=str(device))
    description = (
        f"hidden {config.hidden}, context {config.context_size} over {config.context_eras} eras"
        + ("" if config.use_context else " (unused)")
    )
    shape = (len(batch.features), 2 * args.features, config.hidden[0])
    return Bench(description, net, steps, probe, rnn_predict, batch, model, "1 epoch", shape)


def print_activations(bench: Bench, eras_per_batch: int, rows: int) -> None:
    """Activation bytes per row of the probed steps, and for a batch of `eras_per_batch` x
    `rows` rows."""
    batch_rows = eras_per_batch * rows
    probe_rows = min(batch_rows, 2048)
    for label, step in bench.probe(probe_rows):
        per_row = saved_activation_bytes(bench.net, step) / probe_rows
        print(
            f"{label:18s}: activations {per_row / 2**10:.1f} KiB/row -> "
            f"{per_row * batch_rows / 2**30:.2f} GiB for a batch of {eras_per_batch} x {rows} rows"
        )


def gpu_memory(device: torch.device) -> str:
    """The peak GPU memory allocated since the last reset, as a clause ("" off CUDA)."""
    if device.type != "cuda":
        return ""
    return f"; peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB"


def print_throughput(bench: Bench, steps: int, device: torch.device) -> None:
    """fp32 matmul peaks, then rows/s and GFLOP/s of each training step and the network's
    prediction rows/s; on CUDA the bf16 matmul peak and the last step's MFU against it."""
    shapes = {"model-shaped": bench.matmul_shape, "large square": (2048, 2048, 2048)}
    peaks = {name: matmul_gflops(*s, device, torch.float32) for name, s in shapes.items()}
    for name, value in peaks.items():
        print(f"fp32 matmul {name} {shapes[name]}: {value:.1f} GFLOP/s")
    peak = max(peaks.values())
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for label, rows, step in bench.steps:
        rate, flops = step_throughput(bench.net, step, rows, steps, device)
        achieved = rate * flops / 1e9
        print(
            f"{label:18s}: {rate:8.0f} rows/s, {flops / 1e6:.2f} MFLOP/row, "
            f"{achieved:.1f} GFLOP/s = {achieved / peak:.2f} of fp32 matmul peak"
        )
    rate = predict_throughput(bench.net, bench.predict, bench.batch, steps, device)
    print(f"{'predict':18s}: {rate:8.0f} rows/s (the network alone, no grad){gpu_memory(device)}")
    if device.type == "cuda":
        bf16 = matmul_gflops(8192, 8192, 8192, device, torch.bfloat16)
        print(f"bf16 matmul peak {bf16:.0f} GFLOP/s; MFU ({label} step) {achieved / bf16:.3f}")


def print_fit(bench: Bench, data: TrainingData, device: torch.device) -> None:
    """Time a short fit (no refit) and a prediction of every row; peak RSS against the int8
    features."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    bench.fit_model.fit(data)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    bench.fit_model.predict(data.features, data.eras)
    predict_rate = len(data.features) / (time.perf_counter() - start)
    print(
        f"fit ({bench.fit_label}, no refit, {len(data.features)} rows incl. holdout): "
        f"{fit_s:.1f} s; predict {predict_rate:.0f} rows/s{gpu_memory(device)}"
    )
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    int8 = data.features.nbytes
    print(
        f"peak RSS {peak_rss / 2**20:.0f} MiB vs int8 features {int8 / 2**20:.1f} MiB "
        f"(ratio {peak_rss / int8:.1f}; includes the torch runtime)"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="mtm", choices=["mtm", "rnn"])
    parser.add_argument("--preset", default="cpu_demo", choices=PRESETS)
    parser.add_argument("--eras", type=int, default=40)
    parser.add_argument("--rows", type=int, default=1500, help="rows per era")
    parser.add_argument("--features", type=int, default=120)
    parser.add_argument(
        "--targets", type=int, default=8, help="target columns (demo: main + 7 aux 20d)"
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        help="field=value of the model's config (MTMConfig, RNNConfig), else of its TrainConfig",
    )
    parser.add_argument(
        "--activations-only", action="store_true", help="print the activation memory and stop"
    )
    parser.add_argument(
        "--check-cpu-match",
        action="store_true",
        help="compare CUDA and CPU predictions of a randomly initialised network and stop",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # the masks are drawn from torch's global generator
    preset = NeuralPreset.named(args.preset)
    if args.model == "mtm":
        config, train = preset.mtm, preset.mtm_train
    else:
        config, train = preset.rnn, preset.row_train
    override(args.set, config, train)
    device = select_device()
    data = synthetic_data(args.eras, args.rows, args.features, args.targets)
    if args.model == "mtm":
        bench = mtm_bench(preset, args, device)
    else:
        bench = rnn_bench(preset, args, data, device)
    n_params = sum(p.numel() for p in bench.net.parameters())
    print(
        f"device {device}, threads {torch.get_num_threads()}, {args.model} preset {args.preset}: "
        f"{bench.description}, {n_params / 1e3:.0f}k params"
    )
    print_activations(bench, train.eras_per_batch, args.rows)
    if args.activations_only:
        return
    if args.check_cpu_match:
        cpu_match(bench.net, bench.predict, bench.batch, device)
        return
    print_throughput(bench, args.steps, device)
    print_fit(bench, data, device)


if __name__ == "__main__":
    main()
