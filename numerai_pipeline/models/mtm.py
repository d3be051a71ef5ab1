"""Masked Trajectory Model (Wu et al. 2023) over a Numerai row: feature-group and target tokens.

A row is a sequence of tokens of two modalities: one token per feature group and one per target.
An MAE-style encoder sees only the visible tokens; the decoder re-inserts a learned mask token per
modality and per-modality heads reconstruct every feature bin and target bin; a linear skip from
the visible features' ordinal values (and |value| of screened U-shaped features) feeds the target
heads. The mask selects the task: PREDICT
(targets hidden) is the tournament prediction.

Every mask of a batch keeps the same number of tokens per row, so the encoder input is one
`gather` of the visible tokens (no padding, no attention mask).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from enum import StrEnum

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from numerai_pipeline.models.neural import pearson_loss

FEATURES = "features"
TARGETS = "targets"
MODALITIES = (FEATURES, TARGETS)
ERA_IDS = "era_ids"
"""Batch key of the per-row era id (0..k-1 within the batch) that per-era Pearson losses need."""
VALUE_STATES = 6
"""Feature states: missing (-1) and the bins 0..4."""
BINS = 5
"""Target bins {0, .25, .5, .75, 1}; 7-bin auxiliary targets are rounded to the nearest."""
ORDINAL = (0.0, -1.0, -0.5, 0.0, 0.5, 1.0)
"""The ordinal value of each feature state (missing = 0, the middle bin)."""


class MaskKind(StrEnum):
    """Named mask patterns; each visible-token pattern is drawn by `make_mask`."""

    PREDICT = "predict"
    """All targets hidden, feature groups kept with a ratio from `predict_feature_keep`."""
    RANDOM = "random"
    """Feature groups and targets hidden independently, keep ratios from `random_keep`."""
    FEATURES_ONLY = "features_only"
    """Rows without targets: feature groups kept with a ratio from `random_keep`, targets hidden."""


@dataclass
class MTMConfig:
    """Architecture, mask ratios and training schedule of the MTM (and its presets)."""

    d_model: int = 64
    n_heads: int = 4
    n_encoder_layers: int = 2
    n_decoder_layers: int = 1
    mlp_ratio: int = 4
    dropout: float = 0.1
    n_groups: int | None = None
    """Feature-group tokens; None = `features.grouping.default_n_groups` (16..64)."""
    free_bin_embeddings: bool = False
    """Learn a free vector per feature and bin (0..4) on top of the ordinal term (the missing
    state always has one). Off: a feature's bins lie on a line, `bin x w_feature`. The free
    vectors act like a one-hot model, which on noisy targets overfits: on the demo data they
    cost ~0.05 of r(oracle) (a ridge on one-hot bins reaches 0.43, on ordinal values 0.55)."""
    linear_skip: bool = True
    """A linear path from the visible features' ordinal values into every target head
    (`OrdinalSkip`): linear terms carry much of a Numerai target's signal (most of the demo
    data's: a ridge on ordinal values beats XGBoost there), and at CORR ~0.03 the transformer
    path alone learns them worse than a linear fit does."""
    u_shape_min_t: float | None = 3.0
    """The skip also reads |ordinal value| of the features whose |bin - 2| correlates with the
    main target across the training eras with |t| >= this (`features.screening`; None: none):
    the U-shaped terms trees find and a linear token cannot express. Screened, because all of
    them at once overfit (on the demo data r(oracle) fell from 0.554 to 0.534)."""
    skip_init: str = "zero"
    """How the skip starts: "zero"; "ridge", at a ridge regression of the main target on the
    skip's inputs over the fit's training eras (penalty picked on their latest eras behind the
    embargo), then trained; "ridge_frozen", held there while the transformer learns the rest."""
    skip_screen: bool = True
    """The skip reads only the features a ridge keeps (`models.ridge`: |t| of a feature's per-era
    correlation with the main target over the fit's training eras at or above a bar that their
    latest eras, behind the embargo, pick; 0 keeps them all) and the U-shaped inputs. When few of
    many features carry the signal a skip over all of them spreads weight over noise: with 40
    signal features among 2,000 (~45 training rows per feature) the screen took the MTM's CORR
    from 0.064 to 0.085 (XGBoost 0.087); on the demo data r(oracle) 0.595 -> 0.599."""
    target_tokens: str = "20d"
    """Target tokens: "all", "20d" (main + 20-day auxiliary targets) or "main"; auxiliary
    columns identical to the main target are dropped."""
    target_loss: str = "pearson"
    """Loss of a hidden target: "pearson" (1 - per-era Pearson of the expected value, per target:
    scale-free, so a target with CORR ~0.05 is not drowned by the feature reconstruction), "mse"
    of the expected value, or "ce" over the 5 bins."""
    target_weight: float = 3.0
    """Weight of the hidden-target loss against the feature reconstruction in pretraining."""
    predict_feature_keep: tuple[float, float] = (0.5, 1.0)
    random_keep: tuple[float, float] = (0.3, 0.9)
    predict_probability: float = 0.75
    """Share of pretraining steps drawing PREDICT (the rest RANDOM). `cpu_demo` draws PREDICT
    only: on the synthetic data RANDOM masks, which show auxiliary targets whose noise overlaps
    the main target's, turned pretraining from a gain into a loss against the same network
    trained from scratch."""
    pretrain_epochs: int = 4
    finetune_epochs: int = 3
    scratch_epochs: int = 6
    """Finetuning epochs of the same network without pretraining (the ablation); the presets
    give it about the compute of `mtm`'s pretraining + finetuning."""
    batch_rows: int = 1024
    """Rows per pretraining batch of unlabeled rows (labeled rows come in whole-era batches)."""
    eras_per_batch: int = 4
    lr: float = 2e-3
    finetune_lr: float = 2e-4
    scratch_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    grad_clip: float = 1.0
    aux_weight: float = 0.1
    patience: int = 1
    era_stride: int = 1
    """Train on every `era_stride`-th era (neighbouring eras share most of their target window)."""
    holdout_fraction: float = 0.15
    embargo: int = 8
    refit: bool = True
    """Once the inner holdout has picked the schedule (the pretrained head or k finetuning
    epochs), fit again on all the training eras, embargo and holdout included, with that
    schedule. The holdout is the most recent data: on drifting targets a model that never
    trains on it loses more than the second fit costs."""
    selection_era_stride: int = 1
    """With `refit`, the selection fit trains on every Nth inner era: it only picks a schedule."""
    seed: int = 0
    predict_batch_rows: int = 8192

    @classmethod
    def cpu_demo(cls) -> MTMConfig:
        """Sized for 2 CPU cores and the demo data (~75 s per fit, selection + refit, on ~150
        training eras). One pretraining epoch and two finetuning epochs: with the U-shaped skip
        inputs the head needs the second supervised epoch (4 folds, seeds 0 / 1: r(oracle) 0.594
        / 0.577 against 0.582 / 0.576 with two pretraining epochs and one finetuning epoch)."""
        return cls(
            d_model=16,
            n_heads=2,
            n_encoder_layers=2,
            n_decoder_layers=1,
            dropout=0.0,
            predict_probability=1.0,
            pretrain_epochs=1,
            finetune_epochs=2,
            scratch_epochs=3,
            batch_rows=1024,
            eras_per_batch=1,
            lr=5e-3,
            finetune_lr=2e-3,
            scratch_lr=2e-3,
            era_stride=1,
            selection_era_stride=2,
        )

    @classmethod
    def gpu(cls) -> MTMConfig:
        """One GPU, full Numerai data (the sizes of the design note)."""
        return cls(
            d_model=128,
            n_heads=4,
            n_encoder_layers=4,
            n_decoder_layers=2,
            pretrain_epochs=8,
            finetune_epochs=4,
            scratch_epochs=12,
            batch_rows=4096,
            lr=1e-3,
            era_stride=1,
            predict_batch_rows=65536,
        )

    @classmethod
    def tiny(cls) -> MTMConfig:
        """For tests."""
        return cls(
            d_model=16,
            n_heads=2,
            n_encoder_layers=1,
            n_decoder_layers=1,
            dropout=0.0,
            target_tokens="all",
            pretrain_epochs=2,
            finetune_epochs=2,
            scratch_epochs=2,
            batch_rows=128,
            eras_per_batch=2,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> MTMConfig:
        """The config of a saved model; fields it predates take the behaviour it was saved with
        (`SAVED_BEFORE`), so older saved and registered models still load."""
        names = {f.name for f in fields(cls)}
        kept = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in names}
        return cls(**(SAVED_BEFORE | kept))


SAVED_BEFORE = {
    "free_bin_embeddings": True,
    "linear_skip": False,
    "refit": False,
    "u_shape_min_t": None,
    "skip_screen": False,
}
"""Config fields added after models were first saved, with the values those models had."""


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


def expected_value(logits: torch.Tensor) -> torch.Tensor:
    """Expected target value in [0, 1] under the softmax over bins (last axis)."""
    values = torch.linspace(0, 1, BINS, device=logits.device, dtype=torch.float32)
    return logits.float().softmax(-1) @ values


def _keep(
    n: int, width: int, low: float, high: float, gen: torch.Generator | None, least: int
) -> torch.Tensor:
    """(n, width) bool with the same number of True per row: a keep ratio drawn in [low, high]
    once for the batch, at least `least` kept."""
    ratio = low + (high - low) * float(torch.rand(1, generator=gen))
    count = min(width, max(least, round(ratio * width)))
    chosen = torch.rand(n, width, generator=gen).argsort(1)[:, :count]
    return torch.zeros(n, width, dtype=torch.bool).scatter_(1, chosen, True)


def make_mask(
    kind: MaskKind,
    n_rows: int,
    n_groups: int,
    n_targets: int,
    config: MTMConfig,
    feature_keep: float | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """Visible tokens (True) per modality for `kind`, the same count in every row; `feature_keep`
    fixes the feature ratio (1.0 = every feature group visible, the inference mask)."""
    if kind is MaskKind.RANDOM:
        low, high = config.random_keep
        return {
            FEATURES: _keep(n_rows, n_groups, low, high, generator, least=1),
            TARGETS: _keep(n_rows, n_targets, low, high, generator, least=0),
        }
    low, high = config.predict_feature_keep if kind is MaskKind.PREDICT else config.random_keep
    if feature_keep is not None:
        low = high = feature_keep
    return {
        FEATURES: _keep(n_rows, n_groups, low, high, generator, least=1),
        TARGETS: torch.zeros(n_rows, n_targets, dtype=torch.bool),
    }


class GroupTokenizer(nn.Module):
    """Token of a feature group: sum over its features of E[feature, state] + ordinal(state) x
    w_feature, plus a group-id embedding, LayerNorm. E covers the missing state only unless
    `free_bins`. A token is one batched matmul: each member's state encoding (its ordinal value,
    then a one-hot of the states E covers) times its vectors."""

    def __init__(self, index: np.ndarray, n_features: int, d_model: int, free_bins: bool) -> None:
        super().__init__()
        self.register_buffer("columns", torch.from_numpy(np.maximum(index, 0)), persistent=False)
        self.register_buffer("real", torch.from_numpy(index >= 0).long(), persistent=False)
        self.register_buffer("ordinal", torch.tensor(ORDINAL), persistent=False)
        states = VALUE_STATES if free_bins else 1
        self.value_emb = nn.Parameter(torch.empty(n_features, states, d_model))
        self.ordinal_emb = nn.Parameter(torch.empty(n_features, 1, d_model))
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
        covered = torch.arange(self.value_emb.shape[1], device=states.device)
        # a boolean one-hot of the covered states only: F.one_hot of all six is int64 (48 bytes
        # per feature and row: 1 GB for 8,192 rows of 2,500 group slots)
        onehot = (states[..., None] == covered) & self.real[..., None].bool()
        codes = torch.cat([ordinal[..., None], onehot.to(ordinal.dtype)], -1).flatten(2)
        vectors = torch.cat([self.ordinal_emb, self.value_emb], 1).flatten(1)
        weights = F.embedding(self.columns, vectors).view(len(self.columns), codes.shape[2], -1)
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


class OrdinalSkip(nn.Module):
    """Linear path from the visible features' ordinal values x (and |x| of the U-shaped features)
    to the target heads: adds (w_target . x) x (-1, -.5, 0, .5, 1) to each target's bin logits,
    tilting its distribution up or down (one weight per input and target; zero at init)."""

    def __init__(self, n_slots: int, n_targets: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_slots, n_targets))
        self.register_buffer("keep", torch.ones(n_slots))
        """1 for the inputs the skip reads, 0 for those a screen left out (`skip_screen`)."""
        self.register_buffer("tilt", torch.linspace(-1, 1, BINS), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(n, slots) inputs, 0 where hidden -> (n, T, 5) logit offsets."""
        return (x @ (self.weight * self.keep[:, None]))[..., None] * self.tilt


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
        self.fc = nn.Linear(config.d_model, config.mlp_ratio * config.d_model)
        self.proj = nn.Linear(config.mlp_ratio * config.d_model, config.d_model)
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


class MTM(nn.Module):
    """Encoder over visible tokens, decoder over all tokens, per-modality reconstruction heads.

    `groups` is the (G, m) feature-index table of `group_index` over `n_features` columns;
    `n_targets` counts the target tokens (main target first); `u_columns` are the feature columns
    whose |ordinal value| the skip also reads (each visible with its group).
    """

    def __init__(
        self,
        config: MTMConfig,
        groups: np.ndarray,
        n_targets: int,
        n_features: int,
        u_columns: list[int] | None = None,
    ) -> None:
        super().__init__()
        u_columns = u_columns or []
        slot_of = {int(c): slot for slot, c in enumerate(groups.flat) if c >= 0}
        if not set(u_columns) <= set(slot_of):
            raise ValueError("every U-shaped feature column must belong to a feature group")
        u_slots = [slot_of[c] for c in u_columns]
        self.register_buffer("u_slots", torch.tensor(u_slots, dtype=torch.long), False)
        u_groups = [slot // groups.shape[1] for slot in u_slots]
        self.register_buffer("u_groups", torch.tensor(u_groups, dtype=torch.long), False)
        self.config = config
        d = config.d_model
        self.n_groups, self.group_width = groups.shape
        self.n_targets = n_targets
        self.tokenizers = nn.ModuleDict(
            {
                FEATURES: GroupTokenizer(groups, n_features, d, config.free_bin_embeddings),
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
        slots = self.n_groups * self.group_width + len(u_columns)
        self.skip = OrdinalSkip(slots, n_targets) if config.linear_skip else None
        depth = config.n_encoder_layers + config.n_decoder_layers
        for name, p in self.named_parameters():
            if name.startswith("skip."):
                continue
            if name.endswith("proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * depth))
            elif p.dim() >= 2 or name.startswith("mask_tokens"):
                nn.init.normal_(p, std=0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(
        self, batch: dict[str, torch.Tensor], mask: dict[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """`batch`: features (n, F) int, optional targets (n, T) float with NaN = missing (absent
        = all missing). `mask`: visible tokens per modality, the same count in every row (as
        `make_mask` draws them). Returns per-modality logits for the modalities with hidden tokens
        (features (n, G, m, 5), targets (n, T, 5)) and the reconstruction loss over hidden, present
        tokens (features per feature in a group, targets x `target_weight`)."""
        features = batch[FEATURES]
        n, d = features.shape[0], self.config.d_model
        targets = batch.get(TARGETS)
        if targets is None:
            targets = torch.full((n, self.n_targets), float("nan"), device=features.device)
        tokenizer = self.tokenizers[FEATURES]
        states = tokenizer.states(features)
        tokens = tokenizer(states)
        if mask[TARGETS].any():
            tokens = torch.cat([tokens, self.tokenizers[TARGETS](targets)], 1)
        visible = torch.cat([mask[FEATURES], mask[TARGETS]], 1)[:, : tokens.shape[1]]
        index = visible.nonzero()[:, 1].view(n, -1, 1).expand(-1, -1, d)
        x = self.encoder_norm(self.encoder(tokens.gather(1, index)))

        hidden_tokens = torch.cat(
            [self.mask_tokens[m].expand(n, size, d) for m, size in self._sizes()], 1
        ).to(x.dtype)
        x = hidden_tokens.scatter(1, index, x) + self.decoder_pos.to(x.dtype)
        x = self.decoder_norm(self.decoder(x))
        features_out, targets_out = x.split([self.n_groups, self.n_targets], 1)

        outputs: dict[str, torch.Tensor] = {}
        losses = []
        hidden_features = ~mask[FEATURES]
        if hidden_features.any():
            logits = self.heads[FEATURES](features_out).view(n, self.n_groups, -1, BINS)
            outputs[FEATURES] = logits
            losses.append(self._feature_loss(logits, states, hidden_features))
        outputs[TARGETS] = self.heads[TARGETS](targets_out)
        if self.skip is not None:
            outputs[TARGETS] = outputs[TARGETS] + self.skip(self._skip_inputs(states, mask))
        hidden_targets = torch.where(mask[TARGETS], float("nan"), targets)
        if not torch.isnan(hidden_targets).all():
            era_ids = batch.get(ERA_IDS, torch.zeros(n, dtype=torch.long, device=x.device))
            loss = target_loss(outputs[TARGETS], hidden_targets, era_ids, self.config.target_loss)
            losses.append(self.config.target_weight * loss)
        loss = torch.stack(losses).sum() if losses else x.sum() * 0
        return outputs, loss

    def _skip_inputs(self, states: torch.Tensor, mask: dict[str, torch.Tensor]) -> torch.Tensor:
        """(n, slots): the ordinal value of every group member, then |ordinal value| of each
        U-shaped feature, 0 where its group is hidden."""
        tokenizer = self.tokenizers[FEATURES]
        visible = mask[FEATURES]
        ordinal = (tokenizer.ordinal_values(states) * visible[..., None]).flatten(1)
        if not len(self.u_slots):
            return ordinal
        u_states = states.flatten(1)[:, self.u_slots]
        u = tokenizer.ordinal[u_states].abs() * visible[:, self.u_groups]
        return torch.cat([ordinal, u], 1)

    def _sizes(self) -> list[tuple[str, int]]:
        return [(FEATURES, self.n_groups), (TARGETS, self.n_targets)]

    def _feature_loss(
        self, logits: torch.Tensor, states: torch.Tensor, hidden: torch.Tensor
    ) -> torch.Tensor:
        """Cross-entropy of the hidden groups' present members' bins (`states` - 1)."""
        counted = hidden[..., None] & (states > 0) & self.tokenizers[FEATURES].real.bool()
        ce = F.cross_entropy(
            logits.float().flatten(0, 2), (states - 1).clamp(min=0).flatten(), reduction="none"
        )
        return (ce * counted.flatten()).sum() / counted.sum().clamp(min=1)

    def predict_logits(self, features: torch.Tensor) -> torch.Tensor:
        """Target logits (n, T, 5) under the inference PREDICT mask (every feature visible)."""
        n, device = features.shape[0], features.device
        mask = {
            FEATURES: torch.ones(n, self.n_groups, dtype=torch.bool, device=device),
            TARGETS: torch.zeros(n, self.n_targets, dtype=torch.bool, device=device),
        }
        return self({FEATURES: features}, mask)[0][TARGETS]

    def flops_per_row(
        self, visible_tokens: int | None = None, hidden_features: bool = False
    ) -> float:
        """Forward FLOPs (2 x multiply-adds) of one row with `visible_tokens` in the encoder
        (default: every feature group, as at inference), counting the feature head only when
        `hidden_features`; a training step is ~3x this. Gathers and sums of embeddings are not
        FLOPs of a matmul and are left out."""
        c = self.config
        d = c.d_model
        length = self.n_groups + self.n_targets
        enc = self.n_groups if visible_tokens is None else visible_tokens

        def block(tokens: int) -> float:
            dense = tokens * (4 * d * d + 2 * c.mlp_ratio * d * d)
            return 2 * (dense + 2 * tokens * tokens * d)

        heads = self.n_targets * d * BINS
        if self.skip is not None:
            heads += self.skip.weight.shape[0] * self.n_targets
        if hidden_features:
            heads += self.n_groups * d * self.group_width * BINS
        return 2 * heads + c.n_encoder_layers * block(enc) + c.n_decoder_layers * block(length)


def target_loss(
    logits: torch.Tensor, targets: torch.Tensor, era_ids: torch.Tensor, kind: str
) -> torch.Tensor:
    """Loss of (n, T, 5) target logits against (n, T) targets over the non-NaN entries (NaN:
    missing or not to be scored, zero gradient): "pearson" = 1 - mean Pearson of the expected
    value per (era, target) (`era_ids`: per-row era 0..k-1), "mse" of the expected value, or "ce"
    over the 5 bins."""
    if kind == "pearson":
        n_targets = targets.shape[1]
        ids = era_ids[:, None] * n_targets + torch.arange(n_targets, device=targets.device)
        return pearson_loss(expected_value(logits).flatten(), targets.flatten(), ids.flatten())
    valid = ~torch.isnan(targets)
    if kind == "ce":
        loss = F.cross_entropy(
            logits.float().flatten(0, 1), target_bins(targets).flatten(), reduction="none"
        ).view(targets.shape)
    elif kind == "mse":
        loss = (expected_value(logits) - torch.nan_to_num(targets)) ** 2
    else:
        raise ValueError(f"target_loss must be 'pearson', 'ce' or 'mse', got {kind!r}")
    return torch.where(valid, loss, torch.zeros_like(loss)).sum() / valid.sum().clamp(min=1)
