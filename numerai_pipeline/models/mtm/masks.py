"""Mask factories: which tokens of each modality a batch shows the encoder. The mask is the task:
PREDICT with every feature group visible is the tournament prediction."""

from __future__ import annotations

from enum import StrEnum

import torch

FEATURES = "features"
TARGETS = "targets"
MODALITIES = (FEATURES, TARGETS)
PREDICT_FEATURE_KEEP = (0.5, 1.0)
"""Range of the share of feature groups a PREDICT mask keeps in pretraining."""
RANDOM_KEEP = (0.3, 0.9)
"""Range of the share of tokens RANDOM and FEATURES_ONLY masks keep."""


class MaskKind(StrEnum):
    """Named mask patterns; `make_mask` draws each."""

    PREDICT = "predict"
    """All targets hidden, feature groups kept with a ratio from `PREDICT_FEATURE_KEEP`."""
    RANDOM = "random"
    """Feature groups and targets hidden independently, keep ratios from `RANDOM_KEEP`."""
    FEATURES_ONLY = "features_only"
    """Rows without targets: feature groups kept with a ratio from `RANDOM_KEEP`, targets hidden."""


def _keep(n: int, width: int, low: float, high: float, least: int) -> torch.Tensor:
    """(n, width) bool with the same number of True per row: a keep ratio drawn in [low, high]
    once for the batch, at least `least` kept."""
    ratio = low + (high - low) * float(torch.rand(1))
    count = min(width, max(least, round(ratio * width)))
    chosen = torch.rand(n, width).argsort(1)[:, :count]
    return torch.zeros(n, width, dtype=torch.bool).scatter_(1, chosen, True)


def make_mask(
    kind: MaskKind, n_rows: int, n_groups: int, n_targets: int, feature_keep: float | None = None
) -> dict[str, torch.Tensor]:
    """Visible tokens (True) per modality for `kind`, the same count in every row (drawn from
    torch's global generator); `feature_keep` fixes the feature ratio (1.0 = every group)."""
    if kind is MaskKind.RANDOM:
        low, high = RANDOM_KEEP
        return {
            FEATURES: _keep(n_rows, n_groups, low, high, least=1),
            TARGETS: _keep(n_rows, n_targets, low, high, least=0),
        }
    low, high = PREDICT_FEATURE_KEEP if kind is MaskKind.PREDICT else RANDOM_KEEP
    if feature_keep is not None:
        low = high = feature_keep
    return {
        FEATURES: _keep(n_rows, n_groups, low, high, least=1),
        TARGETS: torch.zeros(n_rows, n_targets, dtype=torch.bool),
    }


def predict_mask(n_rows: int, n_groups: int, n_targets: int, device: torch.device) -> dict:
    """The inference mask: every feature group visible, every target hidden."""
    return {
        FEATURES: torch.ones(n_rows, n_groups, dtype=torch.bool, device=device),
        TARGETS: torch.zeros(n_rows, n_targets, dtype=torch.bool, device=device),
    }
