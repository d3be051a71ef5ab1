"""A plain MLP on ordinal feature values + missing flags, with the era-batched Pearson loss: the
cheap neural baseline the MTM has to beat."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.models.training import NeuralModel, Phase, TrainConfig


@dataclass
class MLPConfig:
    """The network and its one training phase."""

    hidden: tuple[int, ...] = (256, 64)
    dropout: float = 0.1
    epochs: int = 8
    lr: float = 1e-3

    @classmethod
    def tiny(cls) -> MLPConfig:
        """For tests: one small layer, two epochs."""
        return cls(hidden=(16,), epochs=2)


def ordinal_inputs(features: torch.Tensor) -> torch.Tensor:
    """int8 bins -> [(value - 2) / 2 (0 when missing), missing flag] as float, (n, 2F); no
    temporary wider than float32."""
    missing = features < 0
    values = ((features.float() - 2) / 2).masked_fill_(missing, 0)
    return torch.cat([values, missing.float()], 1)


def feed_forward(width: int, hidden: tuple[int, ...], dropout: float) -> nn.Sequential:
    """Linear + GELU + dropout layers from `width` inputs through each `hidden` size."""
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [nn.Linear(width, size), nn.GELU(), nn.Dropout(dropout)]
        width = size
    return nn.Sequential(*layers)


class MLPNet(nn.Module):
    def __init__(self, n_features: int, n_targets: int, config: MLPConfig) -> None:
        super().__init__()
        self.trunk = feed_forward(2 * n_features, config.hidden, config.dropout)
        self.head = nn.Linear(config.hidden[-1] if config.hidden else 2 * n_features, n_targets)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(n, F) int8 bins -> (n, T) predictions of every target (main first)."""
        return self.head(self.trunk(ordinal_inputs(features)))


class MLPModel(NeuralModel):
    """The MLP as a tournament model: one selecting phase of whole-era batches, main + auxiliary
    outputs (`NeuralModel` trains it)."""

    kind = "mlp"

    def __init__(
        self,
        config: MLPConfig | None = None,
        train: TrainConfig | None = None,
        checkpoint_dir: Path | None = None,
        device: str | None = None,
        name: str = "mlp",
    ) -> None:
        super().__init__(train or TrainConfig(patience=2), name, checkpoint_dir, device)
        self.config = config or MLPConfig()

    @classmethod
    def create(cls, configs: dict, train: TrainConfig, name: str, device: str | None) -> MLPModel:
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in configs["mlp"].items()}
        return cls(MLPConfig(**values), train, device=device, name=name)

    def build(self, train: TrainingData) -> nn.Module:
        return MLPNet(len(train.feature_names), len(train.target_names), self.config)

    def phases(self) -> list[Phase]:
        return [Phase("train", self.config.epochs, self.config.lr, selects=True)]

    def outputs(self, features: torch.Tensor, eras: np.ndarray) -> torch.Tensor:
        return self.net(features)

    def restore(self, spec: dict[str, Any]) -> nn.Module:
        return MLPNet(len(self.feature_names), len(self.target_names), self.config)

    def configs(self) -> dict[str, Any]:
        return {"mlp": asdict(self.config)}
