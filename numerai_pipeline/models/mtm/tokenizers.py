"""Tokenizers: a feature group's token from its members' bins, a target's token from its bin."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

BINS = 5
"""Target bins {0, .25, .5, .75, 1}; 7-bin auxiliary targets are rounded to the nearest."""
ORDINAL = (0.0, -1.0, -0.5, 0.0, 0.5, 1.0)
"""The ordinal value of each feature state: missing (-1) = 0 (the middle bin), bins 0..4."""


def group_index(groups: list[list[int]]) -> np.ndarray:
    """(G, m) feature indices per group, padded with -1 to the largest group's size."""
    width = max(len(g) for g in groups)
    index = np.full((len(groups), width), -1, dtype=np.int64)
    for i, members in enumerate(groups):
        index[i, : len(members)] = members
    return index


def target_bins(targets: torch.Tensor) -> torch.Tensor:
    """Bin index 0..4 of each target value (NaN -> 0; such tokens are never in a loss)."""
    return torch.nan_to_num(targets * (BINS - 1)).round().clamp(0, BINS - 1).long()


class GroupTokenizer(nn.Module):
    """Token of a feature group: the sum over its features of ordinal(state) x w_feature plus a
    learned vector for the missing state, plus a group-id embedding, LayerNorm. A feature's bins
    lie on a line (free per-bin vectors fit like a one-hot model, which overfits noisy targets).
    One batched matmul: each member's (ordinal value, missing flag) times its two vectors."""

    def __init__(self, index: np.ndarray, n_features: int, d_model: int) -> None:
        super().__init__()
        self.register_buffer("columns", torch.from_numpy(np.maximum(index, 0)), persistent=False)
        self.register_buffer("real", torch.from_numpy(index >= 0).long(), persistent=False)
        self.register_buffer("ordinal", torch.tensor(ORDINAL), persistent=False)
        self.vectors = nn.Parameter(torch.empty(n_features, 2, d_model))
        """Per feature: the ordinal direction w_f and the missing-state vector."""
        self.group_emb = nn.Parameter(torch.empty(index.shape[0], d_model))
        self.norm = nn.LayerNorm(d_model)

    def states(self, features: torch.Tensor) -> torch.Tensor:
        """(n, G, m) state of each group member: 0 missing, 1..5 the bins 0..4 (padding slots
        read feature 0; `real` masks them)."""
        return features[:, self.columns].long() + 1

    def ordinal_values(self, states: torch.Tensor) -> torch.Tensor:
        """(n, G, m) ordinal value of each group member (missing and padding = 0)."""
        return self.ordinal[states] * self.real

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        ordinal = self.ordinal_values(states)
        missing = ((states == 0) & self.real.bool()).to(ordinal.dtype)
        codes = torch.stack([ordinal, missing], -1).flatten(2)
        weights = F.embedding(self.columns, self.vectors.flatten(1))
        weights = weights.view(len(self.columns), codes.shape[2], -1)
        summed = torch.bmm(codes.transpose(0, 1), weights.to(codes.dtype)).transpose(0, 1)
        return self.norm(summed + self.group_emb)


class TargetTokenizer(nn.Module):
    """Token of a target: an embedding of its bin or of "missing" (NaN) + a target-id embedding."""

    def __init__(self, n_targets: int, d_model: int) -> None:
        super().__init__()
        self.value_emb = nn.Parameter(torch.empty(n_targets, BINS + 1, d_model))
        self.target_emb = nn.Parameter(torch.empty(n_targets, d_model))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, targets: torch.Tensor) -> torch.Tensor:
        ids = torch.arange(targets.shape[1], device=targets.device)
        states = torch.where(torch.isnan(targets), 0, target_bins(targets) + 1)
        # a flat-table lookup: the backward of advanced indexing (`value_emb[ids, states]`)
        # accumulates in a thread-dependent order on CPU, so same-seed runs drifted apart
        codes = ids * (BINS + 1) + states
        return self.norm(F.embedding(codes, self.value_emb.flatten(0, 1)) + self.target_emb)
