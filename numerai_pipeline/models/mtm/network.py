"""The MTM network: an MAE-style encoder over the visible tokens, a decoder over all of them that
re-inserts a learned mask token per modality, per-modality heads, and a linear read-out of the
visible features into the target heads.

Every mask of a batch keeps the same number of tokens per row, so the encoder input is one
`gather` of the visible tokens (no padding, no attention mask).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from numerai_pipeline.models.mtm.config import MTMConfig
from numerai_pipeline.models.mtm.masks import FEATURES, MODALITIES, TARGETS, predict_mask
from numerai_pipeline.models.mtm.tokenizers import BINS, GroupTokenizer, TargetTokenizer

MLP_RATIO = 4


class SelfAttention(nn.Module):
    def __init__(self, config: MTMConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.scale = (config.d_model // config.n_heads) ** -0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, d = x.shape
        qkv = self.qkv(x).view(n, length, 3, self.n_heads, d // self.n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        if x.is_cuda:
            y = F.scaled_dot_product_attention(q, k, v)
        else:  # for a few short tokens the explicit product beats the fused CPU kernels
            y = ((q * self.scale) @ k.transpose(-1, -2)).softmax(-1) @ v
        return self.proj(y.transpose(1, 2).reshape(n, length, d))


class MLP(nn.Module):
    def __init__(self, config: MTMConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.d_model, MLP_RATIO * config.d_model)
        self.proj = nn.Linear(MLP_RATIO * config.d_model, config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(F.relu(self.fc(x))))


class Block(nn.Module):
    """Pre-LN bidirectional transformer block."""

    def __init__(self, config: MTMConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(config.d_model)
        self.attn = SelfAttention(config)
        self.ln2 = nn.LayerNorm(config.d_model)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GroupedLinear(nn.Module):
    """A separate linear map per token position: (n, P, d) -> (n, P, out)."""

    def __init__(self, positions: int, d_in: int, d_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(positions, d_in, d_out))
        self.bias = nn.Parameter(torch.zeros(positions, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias[:, None], x.transpose(0, 1), self.weight).transpose(0, 1)


class LinearReadout(nn.Module):
    """Linear path from visible features into the target heads: the ordinal values x of the
    `linear` slots and |x| of the `u_shaped` slots (group member positions of the (G, m) token
    layout), each read only while its group is visible, tilt each target's bin logits by
    (w_target . inputs) x (-1, -.5, 0, .5, 1). Linear terms carry much of a Numerai target's
    signal and at CORR ~0.03 the attention path learns them worse than a linear map does."""

    def __init__(self, linear: list[int], u_shaped: list[int], width: int, n_targets: int) -> None:
        super().__init__()
        slots = torch.tensor(linear + u_shaped, dtype=torch.long)
        self.register_buffer("slots", slots, persistent=False)
        self.register_buffer("groups", slots // width, persistent=False)
        self.register_buffer("absolute", torch.arange(len(slots)) >= len(linear), persistent=False)
        self.weight = nn.Parameter(torch.zeros(len(slots), n_targets))
        self.register_buffer("tilt", torch.linspace(-1, 1, BINS), persistent=False)

    def forward(self, ordinal: torch.Tensor, visible_groups: torch.Tensor) -> torch.Tensor:
        """(n, G, m) ordinal values, (n, G) visible groups -> (n, T, 5) logit offsets."""
        x = ordinal.flatten(1)[:, self.slots]
        x = torch.where(self.absolute, x.abs(), x) * visible_groups[:, self.groups]
        return (x @ self.weight)[..., None] * self.tilt


class MTM(nn.Module):
    """Encoder over visible tokens, decoder over all tokens, per-modality reconstruction heads.

    `groups` is the (G, m) feature-index table of `group_index` over `n_features` columns;
    `n_targets` counts the target tokens (main target first); `linear` and `u_shaped` are the
    feature columns the linear read-out takes as x and |x| (each visible with its group).
    """

    def __init__(
        self,
        config: MTMConfig,
        groups: np.ndarray,
        n_targets: int,
        n_features: int,
        linear: Sequence[int] = (),
        u_shaped: Sequence[int] = (),
    ) -> None:
        super().__init__()
        linear, u_shaped = list(linear), list(u_shaped)
        slot_of = {int(c): slot for slot, c in enumerate(groups.flat) if c >= 0}
        if not set(linear + u_shaped) <= set(slot_of):
            raise ValueError("every read-out feature column must belong to a feature group")
        self.config = config
        d = config.d_model
        self.n_groups, self.group_width = groups.shape
        self.n_targets = n_targets
        self.tokenizers = nn.ModuleDict(
            {
                FEATURES: GroupTokenizer(groups, n_features, d),
                TARGETS: TargetTokenizer(n_targets, d),
            }
        )
        self.encoder = nn.Sequential(*(Block(config) for _ in range(config.n_encoder_layers)))
        self.encoder_norm = nn.LayerNorm(d)
        self.mask_tokens = nn.ParameterDict({m: nn.Parameter(torch.empty(d)) for m in MODALITIES})
        self.decoder_pos = nn.Parameter(torch.empty(self.n_groups + n_targets, d))
        self.decoder = nn.Sequential(*(Block(config) for _ in range(config.n_decoder_layers)))
        self.decoder_norm = nn.LayerNorm(d)
        self.heads = nn.ModuleDict(
            {
                FEATURES: GroupedLinear(self.n_groups, d, self.group_width * BINS),
                TARGETS: GroupedLinear(n_targets, d, BINS),
            }
        )
        self.readout = LinearReadout(
            [slot_of[c] for c in linear],
            [slot_of[c] for c in u_shaped],
            self.group_width,
            n_targets,
        )
        self._init_weights(config.n_encoder_layers + config.n_decoder_layers)

    def _init_weights(self, depth: int) -> None:
        for name, p in self.named_parameters():
            if name.startswith("readout."):
                continue  # the read-out starts at zero
            if name.endswith("proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * depth))
            elif p.dim() >= 2 or name.startswith("mask_tokens"):
                nn.init.normal_(p, std=0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(
        self, features: torch.Tensor, targets: torch.Tensor | None, mask: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """`features` (n, F) int8, `targets` (n, T) float with NaN = missing (None: all missing),
        `mask` the visible tokens per modality (the same count in every row). Returns the feature
        states (n, G, m: 0 missing, 1..5 bins) and the logits of the target tokens (n, T, 5) and,
        when some feature group is hidden, of the feature bins (n, G, m, 5)."""
        n, d = features.shape[0], self.config.d_model
        tokenizer = self.tokenizers[FEATURES]
        states = tokenizer.states(features)
        tokens = tokenizer(states)
        if mask[TARGETS].any():
            if targets is None:
                targets = torch.full((n, self.n_targets), float("nan"), device=features.device)
            tokens = torch.cat([tokens, self.tokenizers[TARGETS](targets)], 1)
        visible = torch.cat([mask[FEATURES], mask[TARGETS]], 1)[:, : tokens.shape[1]]
        index = visible.nonzero()[:, 1].view(n, -1, 1).expand(-1, -1, d)
        x = self.encoder_norm(self.encoder(tokens.gather(1, index)))

        hidden_tokens = torch.cat(
            [self.mask_tokens[FEATURES].expand(n, self.n_groups, d)]
            + [self.mask_tokens[TARGETS].expand(n, self.n_targets, d)],
            1,
        ).to(x.dtype)
        x = hidden_tokens.scatter(1, index, x) + self.decoder_pos.to(x.dtype)
        x = self.decoder_norm(self.decoder(x))
        features_out, targets_out = x.split([self.n_groups, self.n_targets], 1)

        ordinal = tokenizer.ordinal_values(states)
        outputs = {
            "states": states,
            TARGETS: self.heads[TARGETS](targets_out) + self.readout(ordinal, mask[FEATURES]),
        }
        if not mask[FEATURES].all():
            logits = self.heads[FEATURES](features_out)
            outputs[FEATURES] = logits.view(n, self.n_groups, self.group_width, BINS)
        return outputs

    def predict_logits(self, features: torch.Tensor) -> torch.Tensor:
        """Target logits (n, T, 5) under the inference mask (every feature group visible)."""
        mask = predict_mask(len(features), self.n_groups, self.n_targets, features.device)
        return self(features, None, mask)[TARGETS]

    def flops_per_row(
        self, visible_tokens: int | None = None, hidden_features: bool = False
    ) -> float:
        """Forward FLOPs (2 x multiply-adds) of one row with `visible_tokens` in the encoder
        (default: every feature group, as at inference), counting the feature head only when
        `hidden_features`; a training step is ~3x this. Gathers and sums of embeddings are not
        FLOPs of a matmul and are left out."""
        d = self.config.d_model
        length = self.n_groups + self.n_targets
        enc = self.n_groups if visible_tokens is None else visible_tokens

        def block(tokens: int) -> float:
            dense = tokens * (4 * d * d + 2 * MLP_RATIO * d * d)
            return 2 * (dense + 2 * tokens * tokens * d)

        heads = self.n_targets * d * BINS + self.readout.weight.numel()
        if hidden_features:
            heads += self.n_groups * d * self.group_width * BINS
        c = self.config
        return 2 * heads + c.n_encoder_layers * block(enc) + c.n_decoder_layers * block(length)
