"""The MTM as a tournament model: masked pretraining, then supervised finetuning of the PREDICT
head (or, for the `mtm_no_pretrain` ablation, the same network trained from scratch), both
trained by `NeuralModel`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from numerai_pipeline.core.targets import target_span_eras
from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.features.grouping import fit_feature_groups
from numerai_pipeline.features.screening import InputScreen, fit_input_screen
from numerai_pipeline.models.device import to_device
from numerai_pipeline.models.mtm.config import MTMConfig
from numerai_pipeline.models.mtm.masks import FEATURES, MaskKind, make_mask
from numerai_pipeline.models.mtm.network import MTM
from numerai_pipeline.models.mtm.objective import expected_value, masked_loss
from numerai_pipeline.models.mtm.tokenizers import group_index
from numerai_pipeline.models.training import NeuralModel, Phase, TrainConfig

PRETRAIN, FINETUNE = "pretrain", "finetune"


def select_targets(names: list[str], targets: np.ndarray, kind: str) -> list[str]:
    """Target tokens for `kind` ("all", "20d": main + 20-day auxiliaries, "main"); auxiliary
    columns identical to the main target (Numerai's `target` copies one) are dropped."""
    if kind not in ("all", "20d", "main"):
        raise ValueError(f"target_tokens must be 'all', '20d' or 'main', got {kind!r}")
    chosen = [names[0]]
    for j, name in enumerate(names[1:], start=1):
        if kind == "main" or (kind == "20d" and not name.endswith("_20")):
            continue
        if not np.array_equal(targets[:, j], targets[:, 0], equal_nan=True):
            chosen.append(name)
    return chosen


class MTMModel(NeuralModel):
    """Tokens: feature groups (correlation clustering of the training eras, seeded by
    `seed_groups`) and targets; a linear read-out of the features a screen of the training eras
    keeps. Pretraining draws PREDICT/RANDOM masks over whole labeled eras and FEATURES_ONLY masks
    over `unlabeled` rows (live and unresolved eras); finetuning trains the PREDICT head with the
    per-era Pearson loss, and the holdout picks its epoch or the pretrained head."""

    kind = "mtm"

    def __init__(
        self,
        config: MTMConfig | None = None,
        train: TrainConfig | None = None,
        pretrain: bool = True,
        checkpoint_dir: Path | None = None,
        seed_groups: dict[str, list[str]] | None = None,
        unlabeled: np.ndarray | None = None,
        device: str | None = None,
        name: str | None = None,
    ) -> None:
        name = name or ("mtm" if pretrain else "mtm_no_pretrain")
        super().__init__(train or TrainConfig(), name, checkpoint_dir, device)
        self.config = config or MTMConfig.cpu_demo()
        self.pretrain = pretrain
        self.seed_groups = seed_groups or {}
        self.unlabeled = unlabeled if pretrain else None
        """int8 rows without targets, seen in pretraining under FEATURES_ONLY masks."""
        self.groups: dict[str, list[str]] = {}
        self.tokens: list[str] = []
        self.screen = InputScreen([], [])
        self._columns: list[int] = []

    @classmethod
    def create(cls, configs: dict, train: TrainConfig, name: str, device: str | None) -> MTMModel:
        config = MTMConfig(**configs["mtm"])
        return cls(config, train, configs["model"]["pretrain"], device=device, name=name)

    def configs(self) -> dict[str, Any]:
        return {"mtm": asdict(self.config), "model": {"pretrain": self.pretrain}}

    def digest_extras(self) -> list[Any]:
        return [self.seed_groups] + ([] if self.unlabeled is None else [self.unlabeled])

    def build(self, train: TrainingData) -> nn.Module:
        self.tokens = select_targets(train.target_names, train.targets, self.config.target_tokens)
        self.groups = fit_feature_groups(
            train.features,
            train.feature_names,
            seed_groups=self.seed_groups,
            seed=self.train_config.seed,
        )
        span = target_span_eras(train.target_names[0])
        screen = fit_input_screen(
            train.features, train.main_target, train.eras, train.feature_names, span
        )
        return self.restore({"groups": self.groups, "tokens": self.tokens, **asdict(screen)})

    def spec(self) -> dict[str, Any]:
        return {"groups": self.groups, "tokens": self.tokens, **asdict(self.screen)}

    def restore(self, spec: dict[str, Any]) -> nn.Module:
        self.groups, self.tokens = spec["groups"], spec["tokens"]
        self.screen = InputScreen(spec["linear"], spec["u_shaped"])
        self._columns = [self.target_names.index(t) for t in self.tokens]
        position = {name: i for i, name in enumerate(self.feature_names)}
        layout = group_index([[position[f] for f in members] for members in self.groups.values()])
        linear = [position[f] for f in self.screen.linear]
        u_shaped = [position[f] for f in self.screen.u_shaped]
        return MTM(self.config, layout, len(self.tokens), len(self.feature_names), linear, u_shaped)

    def phases(self) -> list[Phase]:
        c = self.config
        if not self.pretrain:
            return [Phase(FINETUNE, c.scratch_epochs, c.scratch_lr, selects=True)]
        return [
            Phase(PRETRAIN, c.pretrain_epochs, c.pretrain_lr),
            Phase(FINETUNE, c.finetune_epochs, c.finetune_lr, selects=True),
        ]

    def plan(self, phase: Phase, train: TrainingData, rng: np.random.Generator) -> list[Any]:
        """Finetuning: whole-era batches. Pretraining: whole-era batches under PREDICT (with
        `predict_probability`) or RANDOM masks, and chunks of the unlabeled rows under
        FEATURES_ONLY, shuffled together."""
        eras = super().plan(phase, train, rng)
        if phase.name != PRETRAIN:
            return eras
        p = self.config.predict_probability
        batches = [
            (MaskKind.PREDICT if rng.random() < p else MaskKind.RANDOM, rows, ids)
            for rows, ids in eras
        ]
        if self.unlabeled is not None:
            order, size = rng.permutation(len(self.unlabeled)), self.config.unlabeled_batch_rows
            chunks = [np.sort(order[i : i + size]) for i in range(0, len(order), size)]
            batches += [(MaskKind.FEATURES_ONLY, rows, None) for rows in chunks]
        return [batches[i] for i in rng.permutation(len(batches))]

    def loss(self, phase: Phase, train: TrainingData, batch: Any) -> torch.Tensor:
        if phase.name == PRETRAIN:
            return self._masked_loss(train, *batch)
        return super().loss(phase, train, batch)

    def outputs(self, features: torch.Tensor, eras: np.ndarray) -> torch.Tensor:
        """The expected value of each target token under the PREDICT mask."""
        return expected_value(self.net.predict_logits(features))

    def output_columns(self) -> list[int]:
        return self._columns

    def _masked_loss(
        self, train: TrainingData, kind: MaskKind, rows: np.ndarray, era_ids: np.ndarray | None
    ) -> torch.Tensor:
        labeled = era_ids is not None
        source = train.features if labeled else self.unlabeled
        features = to_device(source[rows], self.device, torch.int8)
        targets = None
        if labeled:
            targets = to_device(train.targets[rows][:, self._columns], self.device, torch.float32)
        ids = era_ids if labeled else np.zeros(len(rows), np.int64)
        mask = make_mask(kind, len(rows), self.net.n_groups, self.net.n_targets)
        mask = {m: v.to(self.device) for m, v in mask.items()}
        outputs = self.net(features, targets, mask)
        real = self.net.tokenizers[FEATURES].real
        return masked_loss(outputs, targets, mask, to_device(ids, self.device, torch.long), real)
