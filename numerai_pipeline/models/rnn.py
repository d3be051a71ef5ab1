"""The RNN alternative: a row model that also reads the era it predicts in context.

A GRU reads the sequence of the latest `context_eras` steps of the era-context table up to the
era (`features.era_context`: feature co-movement and the correlations of each feature with the
target in eras whose targets had resolved) into a context vector. The context modulates the row
trunk's last hidden layer (FiLM: scale and shift) and sets a per-feature linear weight on the
row's ordinal values for the main target, so the model can follow which features work in the
current regime, which a model of the rows alone averages over. `use_context=False` is the same
row model without the context (`rnn_no_context`, the ablation).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.features.era_context import EraContext
from numerai_pipeline.models.device import to_device
from numerai_pipeline.models.mlp import feed_forward, ordinal_inputs
from numerai_pipeline.models.training import NeuralModel, Phase, TrainConfig


@dataclass
class RNNConfig:
    """The row trunk, the era context and the one training phase."""

    hidden: tuple[int, ...] = (256, 64)
    dropout: float = 0.1
    context_eras: int = 8
    """Steps (eras) of the sequence the GRU reads, the era itself last."""
    context_size: int = 16
    use_context: bool = True
    epochs: int = 8
    lr: float = 1e-3

    @classmethod
    def tiny(cls) -> RNNConfig:
        """For tests: one small layer, a short sequence, two epochs."""
        return cls(hidden=(16,), context_eras=4, context_size=4, epochs=2)


class RNNNet(nn.Module):
    """Row trunk (ordinal values + missing flags) -> head, modulated by the era context."""

    def __init__(
        self,
        n_features: int,
        n_targets: int,
        config: RNNConfig,
        input_mean: np.ndarray,
        input_std: np.ndarray,
    ) -> None:
        super().__init__()
        width, c = config.hidden[-1], config.context_size
        self.n_features, self.use_context = n_features, config.use_context
        self.trunk = feed_forward(2 * n_features, config.hidden, config.dropout)
        self.head = nn.Linear(width, n_targets)
        if not config.use_context:
            return
        self.register_buffer("input_mean", torch.from_numpy(input_mean))
        self.register_buffer("input_std", torch.from_numpy(input_std))
        self.context_in = nn.Linear(len(input_mean), c)
        self.gru = nn.GRU(c, c, batch_first=True)
        self.film = nn.Linear(c, 2 * width)
        self.feature_weights = nn.Linear(c, n_features)
        for layer in (self.film, self.feature_weights):  # start as the row model alone
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def context(self, sequences: torch.Tensor) -> torch.Tensor:
        """(k, steps, inputs) -> (k, context_size): the GRU's last state."""
        x = (sequences - self.input_mean) / self.input_std
        return self.gru(torch.tanh(self.context_in(x)))[1][-1]

    def forward(
        self, features: torch.Tensor, era_ids: torch.Tensor, sequences: torch.Tensor | None
    ) -> torch.Tensor:
        """(n, F) int8 rows of k eras (`era_ids` 0..k-1), their eras' sequences (k, steps,
        inputs) -> (n, T) predictions of every target (main first)."""
        x = ordinal_inputs(features)
        hidden = self.trunk(x)
        if not self.use_context:
            return self.head(hidden)
        h = self.context(sequences)
        scale, shift = self.film(h).index_select(0, era_ids).chunk(2, -1)
        out = self.head(hidden * (1 + scale) + shift)
        weights = self.feature_weights(h).index_select(0, era_ids)
        main = out[:, 0] + (x[:, : self.n_features] * weights).sum(1)
        return torch.cat([main[:, None], out[:, 1:]], 1)


class RNNModel(NeuralModel):
    """The RNN as a tournament model: one selecting phase of whole-era batches (`NeuralModel`
    trains it); `context` must hold every era it is fit on, and gets the eras it is asked about
    and lacks from the rows it predicts (`EraContext.extended`); a fitted model carries it."""

    kind = "rnn"

    def __init__(
        self,
        context: EraContext | None,
        config: RNNConfig | None = None,
        train: TrainConfig | None = None,
        checkpoint_dir: Path | None = None,
        device: str | None = None,
        name: str | None = None,
    ) -> None:
        config = config or RNNConfig()
        name = name or ("rnn" if config.use_context else "rnn_no_context")
        super().__init__(train or TrainConfig(patience=2), name, checkpoint_dir, device)
        self.config = config
        self.context = context
        self._scale = (np.zeros(0, np.float32), np.ones(0, np.float32))

    @classmethod
    def create(cls, configs: dict, train: TrainConfig, name: str, device: str | None) -> RNNModel:
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in configs["rnn"].items()}
        return cls(None, RNNConfig(**values), train, device=device, name=name)

    def configs(self) -> dict[str, Any]:
        return {"rnn": asdict(self.config)}

    def digest_extras(self) -> list[Any]:
        if not self.config.use_context:
            return []
        return [self.context.summaries, self.context.correlations, list(self.context.eras)]

    def build(self, train: TrainingData) -> nn.Module:
        if self.config.use_context and self.context is None:
            raise ValueError(f"{self.name} reads the era context: pass the era-context table")
        if self.config.use_context:  # inputs scaled with the training eras' statistics only
            inputs = self.sequences(np.unique(train.eras))
            flat = inputs.reshape(-1, inputs.shape[-1])
            self._scale = (flat.mean(0), np.maximum(flat.std(0), 1e-6).astype(np.float32))
        return self.restore(self.spec())

    def spec(self) -> dict[str, Any]:
        if not self.config.use_context:
            return {}
        c = self.context  # tensors, not numpy arrays: payloads load with weights_only
        return {
            "input_mean": torch.from_numpy(self._scale[0]),
            "input_std": torch.from_numpy(self._scale[1]),
            "context": {
                "eras": list(c.eras),
                "numbers": torch.from_numpy(c.numbers),
                "summaries": torch.from_numpy(c.summaries),
                "correlations": torch.from_numpy(c.correlations),
                "groups": c.groups,
                "span": c.span,
            },
        }

    def restore(self, spec: dict[str, Any]) -> nn.Module:
        if self.config.use_context:
            table = {k: v.numpy() if torch.is_tensor(v) else v for k, v in spec["context"].items()}
            self.context = EraContext(tuple(table.pop("eras")), **table)
            self._scale = (np.asarray(spec["input_mean"]), np.asarray(spec["input_std"]))
        n_features, n_targets = len(self.feature_names), len(self.target_names)
        return RNNNet(n_features, n_targets, self.config, *self._scale)

    def sequences(self, eras: np.ndarray) -> np.ndarray:
        return self.context.sequences([str(e) for e in eras], self.config.context_eras)

    def outputs(self, features: torch.Tensor, eras: np.ndarray) -> torch.Tensor:
        if not self.config.use_context:
            return self.net(features, None, None)
        labels, ids = np.unique(eras, return_inverse=True)
        sequences = to_device(self.sequences(labels), self.device, torch.float32)
        return self.net(features, to_device(ids, self.device, torch.long), sequences)

    def phases(self) -> list[Phase]:
        return [Phase("train", self.config.epochs, self.config.lr, selects=True)]

    def predict(self, features: np.ndarray, eras: np.ndarray | None = None) -> np.ndarray:
        """Main-target predictions; eras the context lacks are summarised from these rows for
        this prediction (the model's own table is left as it was fitted)."""
        if not self.config.use_context:
            return super().predict(features, eras)
        if eras is None:
            raise ValueError(f"{self.name} predicts per era: pass the rows' era labels")
        fitted = self.context
        self.context = fitted.extended(features, np.asarray(eras).astype(str))
        try:
            return super().predict(features, eras)
        finally:
            self.context = fitted
