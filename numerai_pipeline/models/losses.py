"""The losses every network trains with: 1 - per-era Pearson correlation with the target, for the
main target and (weighted down) the auxiliary ones; NaN targets are left out with zero gradient."""

from __future__ import annotations

import torch

AUX_WEIGHT = 0.1
"""Weight of the auxiliary targets' loss against the main target's."""


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


def targets_pearson_loss(
    preds: torch.Tensor, targets: torch.Tensor, era_ids: torch.Tensor
) -> torch.Tensor:
    """1 - mean Pearson over every (era, target) pair of (n, T) predictions and targets (NaN: not
    scored): each target counts alike whatever its scale."""
    n_targets = targets.shape[1]
    ids = era_ids[:, None] * n_targets + torch.arange(n_targets, device=targets.device)
    return pearson_loss(preds.flatten(), targets.flatten(), ids.flatten())


def supervised_loss(
    preds: torch.Tensor, targets: torch.Tensor, era_ids: torch.Tensor
) -> torch.Tensor:
    """The per-era Pearson loss of the main target (column 0) plus `AUX_WEIGHT` x that of the
    auxiliary targets."""
    loss = pearson_loss(preds[:, 0], targets[:, 0], era_ids)
    if preds.shape[1] > 1:
        loss = loss + AUX_WEIGHT * targets_pearson_loss(preds[:, 1:], targets[:, 1:], era_ids)
    return loss
