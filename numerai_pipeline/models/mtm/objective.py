"""The masked-modelling objective: reconstruct what the mask hid. Hidden feature bins by
cross-entropy (per feature of a hidden group), hidden targets by 1 - per-era Pearson of their
expected value (scale-free, so a target at CORR ~0.05 is not drowned by the reconstruction).
Tokens that are missing (NaN targets, missing features) are in no loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from numerai_pipeline.models.losses import targets_pearson_loss
from numerai_pipeline.models.mtm.masks import FEATURES, TARGETS
from numerai_pipeline.models.mtm.tokenizers import BINS

TARGET_WEIGHT = 3.0
"""Weight of the hidden targets' loss against the feature reconstruction."""


def expected_value(logits: torch.Tensor) -> torch.Tensor:
    """Expected target value in [0, 1] under the softmax over bins (last axis)."""
    values = torch.linspace(0, 1, BINS, device=logits.device, dtype=torch.float32)
    return logits.float().softmax(-1) @ values


def feature_loss(logits: torch.Tensor, states: torch.Tensor, counted: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the `counted` group members' bins (`states` - 1)."""
    ce = F.cross_entropy(
        logits.float().flatten(0, 2), (states - 1).clamp(min=0).flatten(), reduction="none"
    )
    return (ce * counted.flatten()).sum() / counted.sum().clamp(min=1)


def masked_loss(
    outputs: dict[str, torch.Tensor],
    targets: torch.Tensor | None,
    mask: dict[str, torch.Tensor],
    era_ids: torch.Tensor,
    real: torch.Tensor,
) -> torch.Tensor:
    """The reconstruction loss of one batch: `outputs` of the network under `mask`, `targets`
    (n, T) with NaN = missing (None: rows without targets), `era_ids` per row, `real` (G, m) the
    group slots that hold a feature."""
    losses = []
    if FEATURES in outputs:
        states = outputs["states"]
        counted = ~mask[FEATURES][..., None] & (states > 0) & real.bool()
        losses.append(feature_loss(outputs[FEATURES], states, counted))
    if targets is not None:
        hidden = torch.where(mask[TARGETS], float("nan"), targets)
        if not torch.isnan(hidden).all():
            scores = expected_value(outputs[TARGETS])
            losses.append(TARGET_WEIGHT * targets_pearson_loss(scores, hidden, era_ids))
    return torch.stack(losses).sum() if losses else outputs[TARGETS].sum() * 0
