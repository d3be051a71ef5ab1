"""Training bits shared by the neural models: device, seeding, era batches, per-era Pearson loss,
an inner holdout behind an embargo, AdamW with warmup + cosine."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

import numpy as np
import torch
from torch import nn

from numerai_pipeline.data.eras import sorted_eras, subsample_eras
from numerai_pipeline.evaluation.cv import split_holdout
from numerai_pipeline.evaluation.metrics import per_era_corr


def select_device(prefer: str | None = None) -> torch.device:
    """`prefer` if given, else `cuda` when available, else CPU."""
    if prefer:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device) -> AbstractContextManager:
    """bf16 autocast on CUDA; full fp32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def to_device(array: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A numpy batch as a tensor on `device` (pinned and non-blocking for CUDA), cast there."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if device.type == "cuda":
        tensor = tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(dtype)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA) RNGs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_seed(seed: int, *parts: int) -> int:
    """A seed for one epoch of one phase, so a resumed run draws exactly what it would have."""
    return int(np.random.SeedSequence([seed, *parts]).generate_state(1)[0])


def era_offsets(eras: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique eras (in row order) and their row offsets, length n_eras + 1 (rows must be sorted)."""
    change = np.flatnonzero(eras[1:] != eras[:-1]) + 1
    starts = np.concatenate([[0], change, [len(eras)]])
    return eras[starts[:-1]], starts


def era_batches(
    offsets: np.ndarray, eras_per_batch: int, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Shuffled batches of whole eras: (row indices, per-row era id 0..k-1 within the batch)."""
    order = rng.permutation(len(offsets) - 1)
    for i in range(0, len(order), eras_per_batch):
        chosen = np.sort(order[i : i + eras_per_batch])
        rows = [np.arange(offsets[e], offsets[e + 1]) for e in chosen]
        ids = [np.full(len(r), j) for j, r in enumerate(rows)]
        yield np.concatenate(rows), np.concatenate(ids)


def per_era_pearson(
    pred: torch.Tensor, target: torch.Tensor, era_ids: torch.Tensor
) -> torch.Tensor:
    """Pearson correlation of `pred` and `target` in each era; NaN targets are left out (and get
    zero gradient); eras with fewer than 2 labeled rows are dropped."""
    valid = ~torch.isnan(target)
    w = valid.to(pred.dtype)
    t = torch.where(valid, target, torch.zeros_like(target))
    k = int(era_ids.max()) + 1

    def era_sum(values: torch.Tensor) -> torch.Tensor:
        return torch.zeros(k, dtype=values.dtype, device=values.device).index_add(
            0, era_ids, values
        )

    count = era_sum(w)
    denom = count.clamp(min=1)
    # index_select, not `[era_ids]`: on CPU the backward of advanced indexing adds with atomics
    # once a batch passes ~32k values, and same-seed fits on 5,000-row eras drifted apart
    dp = (pred - (era_sum(pred * w) / denom).index_select(0, era_ids)) * w
    dt = (t - (era_sum(t * w) / denom).index_select(0, era_ids)) * w
    corr = era_sum(dp * dt) / torch.sqrt(era_sum(dp * dp) * era_sum(dt * dt) + 1e-12)
    return corr[count >= 2]


def pearson_loss(pred: torch.Tensor, target: torch.Tensor, era_ids: torch.Tensor) -> torch.Tensor:
    """1 - mean per-era Pearson (0 when no era has labels, so it adds nothing)."""
    corr = per_era_pearson(pred.float(), target.float(), era_ids)
    return 1 - corr.mean() if len(corr) else pred.sum() * 0


class EraSchedule(Protocol):
    """The config fields that decide which eras a neural fit trains and selects on."""

    holdout_fraction: float
    embargo: int
    era_stride: int
    refit: bool
    selection_era_stride: int


def fit_eras(eras: np.ndarray, config: EraSchedule, refit: bool) -> tuple[list[str], list[str]]:
    """(training eras, holdout eras) of a neural fit. The selection fit: the inner eras of
    `split_holdout` every `era_stride`-th (x `selection_era_stride` when a refit follows); the
    refit (`refit`): every `era_stride`-th of all eras, no holdout."""
    if refit:
        return subsample_eras(sorted_eras(eras), config.era_stride), []
    inner, holdout = split_holdout(eras, config.holdout_fraction, config.embargo)
    stride = config.era_stride * (config.selection_era_stride if config.refit and holdout else 1)
    return subsample_eras(inner, stride), holdout


def mean_corr(predictions: np.ndarray, targets: np.ndarray, eras: np.ndarray) -> float:
    """Mean per-era Numerai CORR (numerai-tools) of predictions with the main target."""
    return float(per_era_corr(predictions, targets, eras).mean())


def adamw(
    module: nn.Module, lr: float, weight_decay: float, device: torch.device
) -> torch.optim.AdamW:
    """AdamW that decays matrices and embeddings (dim >= 2) but not biases and norm gains."""
    params = [p for p in module.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), fused=device.type in ("cuda", "cpu"))


def warmup_cosine(step: int, total: int, warmup: int, base_lr: float) -> float:
    """Linear warmup for `warmup` steps, then cosine decay to 10% of `base_lr` at `total`."""
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base_lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the module's state dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
