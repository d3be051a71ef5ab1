"""A plain MLP on ordinal feature values + missing flags, with the MTM's era-batched Pearson loss:
the cheap neural baseline the MTM has to beat."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from numerai_pipeline.models.base import ProgressFn, TrainingData, no_progress
from numerai_pipeline.models.neural import (
    adamw,
    autocast,
    epoch_seed,
    era_batches,
    era_offsets,
    fit_eras,
    mean_corr,
    pearson_loss,
    seed_everything,
    select_device,
    set_lr,
    snapshot,
    to_device,
    warmup_cosine,
)


@dataclass
class MLPConfig:
    hidden: tuple[int, ...] = (256, 64)
    dropout: float = 0.1
    epochs: int = 8
    eras_per_batch: int = 4
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    grad_clip: float = 1.0
    aux_weight: float = 0.1
    """Weight of the auxiliary targets' mean (1 - per-era Pearson)."""
    patience: int = 2
    era_stride: int = 1
    holdout_fraction: float = 0.15
    embargo: int = 8
    refit: bool = True
    """Once the holdout has picked the epoch, train again on all eras for that many epochs."""
    selection_era_stride: int = 1
    """With `refit`, the selection fit trains on every Nth inner era: it only picks the epoch."""
    seed: int = 0
    predict_batch_rows: int = 8192
    """Rows per prediction chunk: 8192 x 2,400 features is ~160 MB of float inputs (on 117k rows x
    2,022 features, peak RSS of a fit: 2.1 GB, against 4.0 GB with 65536 rows)."""


def ordinal_inputs(features: torch.Tensor) -> torch.Tensor:
    """int8 bins -> [(value - 2) / 2 (0 when missing), missing flag] as float, (n, 2F); no
    temporary wider than float32."""
    missing = features < 0
    values = ((features.float() - 2) / 2).masked_fill_(missing, 0)
    return torch.cat([values, missing.float()], 1)


class MLPNet(nn.Module):
    def __init__(self, n_features: int, n_targets: int, config: MLPConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = 2 * n_features
        for size in config.hidden:
            layers += [nn.Linear(width, size), nn.GELU(), nn.Dropout(config.dropout)]
            width = size
        layers.append(nn.Linear(width, n_targets))
        self.layers = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(ordinal_inputs(features))


class MLPModel:
    """MLP tournament model: per-era Pearson loss on whole-era batches, main + auxiliary outputs,
    early stopping on an inner holdout of the latest training eras behind an embargo, then (with
    `config.refit`) the selected epochs again on all the training eras."""

    def __init__(self, config: MLPConfig | None = None, device: str | None = None) -> None:
        self.config = config or MLPConfig()
        self.name = "mlp"
        self.device = select_device(device)
        self.net: MLPNet | None = None
        self.feature_names: list[str] = []
        self.target_names: list[str] = []
        self.selected_epoch = 0
        self.history: list[dict] = []

    def _build(self, feature_names: list[str], target_names: list[str]) -> None:
        self.feature_names, self.target_names = feature_names, target_names
        self.net = MLPNet(len(feature_names), len(target_names), self.config).to(self.device)

    def fit(self, data: TrainingData, progress: ProgressFn = no_progress) -> None:
        """Train on the inner eras, the holdout picking the epoch; with `config.refit`, train
        again on all of `data`'s eras for that many epochs of the same schedule."""
        c = self.config
        train_eras, holdout_eras = fit_eras(data.eras, c, refit=False)
        holdout = data.select_eras(np.array(holdout_eras)) if holdout_eras else None
        self.feature_names, self.target_names = data.feature_names, data.target_names
        self.history = []
        self._train(data.select_eras(np.array(train_eras)), holdout, c.epochs, progress)
        if c.refit and holdout_eras:
            everything = data.select_eras(np.array(fit_eras(data.eras, c, refit=True)[0]))
            n_eras = len(np.unique(everything.eras))
            progress(f"refit: {self.selected_epoch} of {c.epochs} epochs on {n_eras} eras")
            self._train(everything, None, self.selected_epoch, progress, phase="refit")

    def _train(
        self,
        train: TrainingData,
        holdout: TrainingData | None,
        stop_after: int,
        progress: ProgressFn,
        phase: str = "train",
    ) -> None:
        """A network from the seed trained for up to `stop_after` epochs of the `config.epochs`
        schedule; with a holdout, early stopping and the best epoch's weights (`selected_epoch`)."""
        c = self.config
        seed_everything(c.seed)
        self._build(self.feature_names, self.target_names)
        optimizer = adamw(self.net, c.lr, c.weight_decay, self.device)
        _, offsets = era_offsets(train.eras)
        steps = -(-(len(offsets) - 1) // c.eras_per_batch)
        total, warmup = c.epochs * steps, max(1, int(c.warmup_fraction * c.epochs * steps))
        best, best_state, bad = -np.inf, None, 0
        for epoch in range(stop_after):
            torch.manual_seed(epoch_seed(c.seed, epoch))
            rng = np.random.default_rng(epoch_seed(c.seed, epoch))
            self.net.train()
            losses = []
            for i, (rows, ids) in enumerate(era_batches(offsets, c.eras_per_batch, rng)):
                targets = to_device(train.targets[rows], self.device, torch.float32)
                era_ids = to_device(ids, self.device, torch.long)
                with autocast(self.device):
                    out = self.net(to_device(train.features[rows], self.device, torch.int8))
                loss = pearson_loss(out[:, 0], targets[:, 0], era_ids)
                if out.shape[1] > 1:
                    aux = [
                        pearson_loss(out[:, j], targets[:, j], era_ids)
                        for j in range(1, out.shape[1])
                    ]
                    loss = loss + c.aux_weight * torch.stack(aux).mean()
                set_lr(optimizer, warmup_cosine(epoch * steps + i, total, warmup, c.lr))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), c.grad_clip)
                optimizer.step()
                losses.append(float(loss.detach()))
            record = {"phase": phase, "epoch": epoch + 1, "loss": float(np.mean(losses))}
            if holdout is not None:
                score = mean_corr(
                    self.predict(holdout.features, holdout.eras), holdout.main_target, holdout.eras
                )
                record["holdout_corr"] = score
                if score > best:
                    best, best_state, bad, self.selected_epoch = (
                        score,
                        snapshot(self.net),
                        0,
                        epoch + 1,
                    )
                else:
                    bad += 1
            self.history.append(record)
            progress(
                f"{phase} epoch {epoch + 1}/{c.epochs} loss {record['loss']:.4f}"
                + (f" holdout corr {record['holdout_corr']:.4f}" if holdout is not None else "")
            )
            if bad > c.patience:
                break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        else:
            self.selected_epoch = epoch + 1

    def predict(self, features: np.ndarray, eras: np.ndarray | None = None) -> np.ndarray:
        """The main-target output for int8 feature rows."""
        if self.net is None:
            raise RuntimeError("mlp.predict called before fit")
        self.net.eval()
        out = []
        with torch.no_grad(), autocast(self.device):
            for start in range(0, len(features), self.config.predict_batch_rows):
                chunk = to_device(
                    features[start : start + self.config.predict_batch_rows],
                    self.device,
                    torch.int8,
                )
                out.append(self.net(chunk)[:, 0].float().cpu().numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)

    def params(self) -> dict[str, float | int | str]:
        values = {
            k: v if isinstance(v, int | float | str) else str(v)
            for k, v in asdict(self.config).items()
        }
        values.update(device=str(self.device), selected_epoch=self.selected_epoch)
        return values

    def to_payload(self) -> dict:
        """Everything `from_payload` needs to rebuild the fitted model (torch.save-able)."""
        return {
            "kind": "mlp",
            "config": asdict(self.config),
            "feature_names": self.feature_names,
            "target_names": self.target_names,
            "state_dict": {k: v.cpu() for k, v in self.net.state_dict().items()},
        }

    @classmethod
    def from_payload(cls, payload: dict, device: str | None = None) -> MLPModel:
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in payload["config"].items()}
        model = cls(MLPConfig(**values), device=device)
        model._build(payload["feature_names"], payload["target_names"])
        model.net.load_state_dict(payload["state_dict"])
        return model
