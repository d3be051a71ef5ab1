"""The one trainer of the neural models (MTM, MLP, RNN).

A fit trains phases (the MTM's masked pretraining, then supervised epochs) over shuffled batches of
whole eras with AdamW, a linear warmup and a cosine decay. The selecting phase is scored after
every epoch on an inner holdout (the latest eras, behind the main target's embargo), which picks
the epoch, or the weights the phase started from, and stops early. Then the network is fit again
on all the eras with that schedule (`TrainConfig.refit`): the holdout is the most recent data,
which a drifting target rewards. Every epoch is checkpointed with the optimizer and the selection's
state, so a killed fit resumes where it stopped and ends where an uninterrupted one would.

A network joins by subclassing `NeuralModel` and giving the hooks: `build` (inputs fitted on the
training eras, and the module), `phases`, `plan` and `loss` (what an epoch's batches are and what a
batch costs) and `predict_chunk`.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from numerai_pipeline.core.eras import era_offsets, subsample_eras
from numerai_pipeline.core.folds import HOLDOUT_FRACTION, split_holdout
from numerai_pipeline.core.scoring import mean_corr
from numerai_pipeline.core.targets import embargo_for_target
from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.models.base import Progress, Schedule, no_progress
from numerai_pipeline.models.device import autocast, select_device, to_device
from numerai_pipeline.models.losses import supervised_loss
from numerai_pipeline.storage.atomic import atomic_path

WEIGHT_DECAY = 0.01
WARMUP_FRACTION = 0.1
GRAD_CLIP = 1.0
FORMAT_VERSION = 1
"""Version of the saved payload; a payload of another version is refused, not reinterpreted."""
SELECTION, REFIT = "selection", "refit"


@dataclass
class TrainConfig:
    """How a network is trained, whatever the network."""

    eras_per_batch: int = 4
    """Whole eras per batch: the per-era Pearson loss needs an era's rows together."""
    patience: int = 1
    """Epochs without a better holdout score before the selecting phase stops."""
    refit: bool = True
    """After the holdout picked the schedule, fit again on every era with it."""
    selection_era_stride: int = 1
    """With `refit`, the selection fit trains on every Nth inner era: it only picks a schedule."""
    seed: int = 0
    predict_batch_rows: int = 8192


@dataclass(frozen=True)
class Phase:
    """A run of epochs with its own learning rate; a selecting phase is scored on the holdout."""

    name: str
    epochs: int
    lr: float
    selects: bool = False


@dataclass
class _FitState:
    """Where a fit stands: saved in each of its checkpoints."""

    phase: int = 0
    epoch: int = 0
    best_score: float = -math.inf
    best_epoch: int = 0
    best_weights: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0
    schedule: Schedule = field(default_factory=dict)
    """Epochs per selecting phase the holdout chose (0: the weights the phase started from)."""
    history: list[dict] = field(default_factory=list)
    optimizer: dict | None = None

    def next_phase(self) -> None:
        self.phase, self.epoch, self.best_score, self.best_epoch = self.phase + 1, 0, -math.inf, 0
        self.best_weights, self.bad_epochs, self.optimizer = None, 0, None


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA) RNGs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_seed(seed: int, *parts: int) -> int:
    """A seed for one epoch of one phase, so a resumed fit draws exactly what it would have."""
    return int(np.random.SeedSequence([seed, *parts]).generate_state(1)[0])


def era_batches(
    offsets: np.ndarray, eras_per_batch: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled batches of whole eras: (row indices, per-row era id 0..k-1 within the batch)."""
    order = rng.permutation(len(offsets) - 1)
    batches = []
    for i in range(0, len(order), eras_per_batch):
        chosen = np.sort(order[i : i + eras_per_batch])
        rows = [np.arange(offsets[e], offsets[e + 1]) for e in chosen]
        ids = [np.full(len(r), j) for j, r in enumerate(rows)]
        batches.append((np.concatenate(rows), np.concatenate(ids)))
    return batches


def adamw(module: nn.Module, lr: float, device: torch.device) -> torch.optim.AdamW:
    """AdamW that decays matrices and embeddings (dim >= 2) but not biases and norm gains."""
    params = [p for p in module.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": WEIGHT_DECAY},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), fused=device.type in ("cuda", "cpu"))


def warmup_cosine(step: int, total: int, base_lr: float) -> float:
    """Linear warmup over `WARMUP_FRACTION` of the steps, then cosine decay to 10% at `total`."""
    warmup = max(1, int(WARMUP_FRACTION * total))
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base_lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _cpu_copy(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


class NeuralModel:
    """A network fit by the trainer (`fit`) and read out by `predict`; subclasses give the hooks.

    `schedule` is what the holdout chose; `fit(data, schedule=...)` trains that schedule on every
    era without a holdout (a final fit with the schedule CV chose). With `checkpoint_dir`, every
    epoch is saved under a name digesting the configs and the data, and a fit run again on the
    same ones resumes from its last checkpoint (`resumed_from` says where).
    """

    kind: ClassVar[str]
    """The payload's model kind (`load_payload` dispatches on it)."""

    def __init__(
        self,
        train: TrainConfig,
        name: str,
        checkpoint_dir: Path | None = None,
        device: str | None = None,
    ) -> None:
        self.train_config = train
        self.name = name
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.device = select_device(device)
        self.net: nn.Module | None = None
        self.feature_names: list[str] = []
        self.target_names: list[str] = []
        self.schedule: Schedule = {}
        self.history: list[dict] = []
        self.resumed_from: tuple[str, str, int] | None = None

    # ---- hooks
    def build(self, train: TrainingData) -> nn.Module:
        """Fit what the network's inputs need on `train` (training eras only) and return it."""
        raise NotImplementedError

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def plan(self, phase: Phase, train: TrainingData, rng: np.random.Generator) -> list[Any]:
        """One epoch's batches (cheap descriptions; `loss` makes the tensors): whole eras."""
        return era_batches(era_offsets(train.eras), self.train_config.eras_per_batch, rng)

    def outputs(self, features: torch.Tensor, eras: np.ndarray) -> torch.Tensor:
        """Predictions (n, T) of the targets `output_columns` names, main first, for rows (int8
        features on the device) of `eras`."""
        raise NotImplementedError

    def output_columns(self) -> list[int]:
        """The columns of the data's targets that `outputs` predicts (default: all)."""
        return list(range(len(self.target_names)))

    def loss(self, phase: Phase, train: TrainingData, batch: Any) -> torch.Tensor:
        """The supervised loss of a batch of whole eras (`supervised_loss` on `outputs`)."""
        rows, era_ids = batch
        features = to_device(train.features[rows], self.device, torch.int8)
        targets = train.targets[rows][:, self.output_columns()]
        predictions = self.outputs(features, train.eras[rows])
        return supervised_loss(
            predictions,
            to_device(targets, self.device, torch.float32),
            to_device(era_ids, self.device, torch.long),
        )

    def predict_chunk(self, features: torch.Tensor, eras: np.ndarray) -> torch.Tensor:
        """Main-target predictions of a chunk of rows."""
        return self.outputs(features, eras)[:, 0]

    def spec(self) -> dict[str, Any]:
        """What rebuilding the fitted network needs besides its weights and configs."""
        return {}

    def restore(self, spec: dict[str, Any]) -> nn.Module:
        """The network `spec` describes (weights are loaded after)."""
        raise NotImplementedError

    def configs(self) -> dict[str, Any]:
        """The network's config(s) as plain dicts (saved, digested, logged)."""
        return {}

    def digest_extras(self) -> list[Any]:
        """Inputs beyond the fit's rows that its result depends on (checkpoint names): arrays,
        or JSON-able values."""
        return []

    @classmethod
    def create(cls, configs: dict, train: TrainConfig, name: str, device: str | None) -> Any:
        """An unfitted model of `configs` (as `configs()` gave them)."""
        raise NotImplementedError

    # ---- the trainer
    def fit(
        self,
        data: TrainingData,
        progress: Progress = no_progress,
        schedule: Schedule | None = None,
        stop_before: str | None = None,
    ) -> None:
        """Pick the schedule on the inner holdout and (with `refit`) fit again on every era with
        it; with `schedule`, only the fit on every era. `stop_before` ends each fit before that
        phase (the MTM's pretraining runs as its own step)."""
        c = self.train_config
        holdout: list[str] = []
        earlier: list[dict] = []
        if schedule is None:
            embargo = embargo_for_target(data.target_names[0])
            inner, holdout = split_holdout(data.eras, HOLDOUT_FRACTION, embargo)
        if schedule is None and not holdout:
            progress(
                f"{self.name}: too few eras for an embargoed inner holdout; training the full "
                "schedule without selection"
            )
        if holdout:
            stride = c.selection_era_stride if c.refit else 1
            train = data.select_eras(np.array(subsample_eras(inner, stride)))
            held = data.select_eras(np.array(holdout))
            schedule = self._fit(SELECTION, train, held, progress, None, stop_before)
            if not c.refit:
                return
            earlier = self.history
        self._fit(REFIT, data, None, progress, schedule, stop_before)
        self.history = earlier + self.history

    def _fit(
        self,
        label: str,
        train: TrainingData,
        holdout: TrainingData | None,
        progress: Progress,
        schedule: Schedule | None,
        stop_before: str | None,
    ) -> Schedule | None:
        """Every phase once on `train`; returns the epochs the holdout chose per selecting phase
        (None when stopped before the end)."""
        seed_everything(self.train_config.seed)
        self.feature_names, self.target_names = list(train.feature_names), list(train.target_names)
        self.net = self.build(train).to(self.device)
        path = self._checkpoint_path(label, train, holdout)
        state = self._load_checkpoint(path, label)
        if path is not None and path.exists():
            _, where, epoch = self.resumed_from
            progress(f"{self.name}: resuming the {label} fit at {where}, epoch {epoch}")
        for index, phase in enumerate(self.phases()):
            if phase.name == stop_before:
                self.history = state.history
                return None
            if index < state.phase:
                continue
            epochs = int(
                phase.epochs if schedule is None else schedule.get(phase.name, phase.epochs)
            )
            self._run_phase(label, index, phase, epochs, train, holdout, state, path, progress)
            state.next_phase()
            self._save_checkpoint(path, state, None)
        self.history = state.history
        self.schedule = dict(state.schedule if holdout is not None else schedule or {})
        if holdout is not None:
            progress(f"{self.name}: selected {self.describe_schedule()} on the holdout")
        return self.schedule

    def _run_phase(
        self,
        label: str,
        index: int,
        phase: Phase,
        epochs: int,
        train: TrainingData,
        holdout: TrainingData | None,
        state: _FitState,
        path: Path | None,
        progress: Progress,
    ) -> None:
        """`epochs` epochs of `phase` (of its full schedule's learning rates), a checkpoint after
        each; a selecting phase with a holdout keeps the best-scoring weights."""
        c, seed_part = self.train_config, (0 if label == SELECTION else 1)
        name = phase.name if label == SELECTION else f"{REFIT}_{phase.name}"
        selecting = phase.selects and holdout is not None
        optimizer = adamw(self.net, phase.lr, self.device)
        if state.optimizer is not None:
            optimizer.load_state_dict(state.optimizer)
        if selecting and state.epoch == 0 and index > 0:
            score = self._score(state, holdout, 0)
            progress(f"{name}: holdout corr {score:.4f} before the first epoch")
            if state.history:  # the previous phase's last record gets the score of its weights
                state.history[-1] = {**state.history[-1], "holdout_corr": score}
        while state.epoch < epochs and not (selecting and state.bad_epochs > c.patience):
            seed = epoch_seed(c.seed, seed_part, index, state.epoch)
            torch.manual_seed(seed)
            loss = self._epoch(phase, train, optimizer, np.random.default_rng(seed), state.epoch)
            state.epoch += 1
            record: dict[str, Any] = {"phase": name, "epoch": state.epoch, "loss": loss}
            if selecting:
                record["holdout_corr"] = self._score(state, holdout, state.epoch)
            state.history.append(record)
            self._save_checkpoint(path, state, optimizer)
            score = record.get("holdout_corr")
            progress(
                f"{name} epoch {state.epoch}/{phase.epochs} loss {loss:.4f}"
                + ("" if score is None else f" holdout corr {score:.4f}")
            )
        if selecting:
            self.net.load_state_dict(state.best_weights)
            state.schedule[phase.name] = state.best_epoch

    def _epoch(
        self,
        phase: Phase,
        train: TrainingData,
        optimizer: torch.optim.Optimizer,
        rng: np.random.Generator,
        epoch: int,
    ) -> float:
        """One epoch over the phase's batches; the mean loss."""
        batches = self.plan(phase, train, rng)
        step, total = epoch * len(batches), phase.epochs * len(batches)
        self.net.train()
        losses = []
        for batch in batches:
            for group in optimizer.param_groups:
                group["lr"] = warmup_cosine(step, total, phase.lr)
            with autocast(self.device):
                loss = self.loss(phase, train, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.net.parameters(), GRAD_CLIP)
            optimizer.step()
            losses.append(float(loss.detach()))
            step += 1
        return float(np.mean(losses))

    def _score(self, state: _FitState, holdout: TrainingData, epoch: int) -> float:
        """Mean per-era CORR of the current weights on the holdout; kept if the best so far."""
        score = mean_corr(
            self.predict(holdout.features, holdout.eras), holdout.main_target, holdout.eras
        )
        if score > state.best_score:
            state.best_score, state.best_epoch, state.bad_epochs = score, epoch, 0
            state.best_weights = _cpu_copy(self.net)
        else:
            state.bad_epochs += 1
        return score

    def describe_schedule(self) -> str:
        """The schedule in words, e.g. "finetune 2" or "pretrain only (finetune 0)"."""
        return ", ".join(f"{phase} {epochs}" for phase, epochs in self.schedule.items()) or "fixed"

    def predict(self, features: np.ndarray, eras: np.ndarray | None = None) -> np.ndarray:
        """Main-target predictions for int8 feature rows, in chunks of `predict_batch_rows`."""
        if self.net is None:
            raise RuntimeError(f"{self.name}.predict called before fit")
        eras = np.full(len(features), "", dtype=object) if eras is None else np.asarray(eras)
        step = self.train_config.predict_batch_rows
        self.net.eval()
        out = []
        with torch.no_grad(), autocast(self.device):
            for start in range(0, len(features), step):
                chunk = to_device(features[start : start + step], self.device, torch.int8)
                out.append(self.predict_chunk(chunk, eras[start : start + step]).float().cpu())
        return torch.cat(out).numpy() if out else np.zeros(0, np.float32)

    def params(self) -> dict[str, float | int | str]:
        """Configs and what the fit chose, flat, for MLflow."""
        values: dict[str, Any] = {
            **{f"train.{k}": v for k, v in asdict(self.train_config).items()},
            **{
                f"{group}.{k}": v
                for group, config in self.configs().items()
                for k, v in config.items()
            },
        }
        values.update(device=str(self.device), schedule=self.describe_schedule())
        if self.net is not None:
            values["n_params"] = sum(p.numel() for p in self.net.parameters())
        return {k: v if isinstance(v, int | float | str) else str(v) for k, v in values.items()}

    # ---- checkpoints and payloads
    def _checkpoint_path(
        self, label: str, train: TrainingData, holdout: TrainingData | None
    ) -> Path | None:
        """A file named by the model, the fit and a digest of configs and data."""
        if self.checkpoint_dir is None:
            return None
        digest = hashlib.blake2b(digest_size=12)
        described = [self.kind, self.name, label, asdict(self.train_config), self.configs()]
        digest.update(json.dumps(described, sort_keys=True, default=str).encode())
        for value in (train.features, train.targets, *self.digest_extras()):
            if isinstance(value, np.ndarray):
                digest.update(str(value.shape).encode())
                digest.update(np.ascontiguousarray(value))  # hashed in place, no bytes copy
            else:
                digest.update(json.dumps(value, sort_keys=True, default=str).encode())
        for labels in (train.eras, [] if holdout is None else holdout.eras):
            digest.update("\0".join(map(str, labels)).encode() + b"\1")
        digest.update("\0".join(train.feature_names + train.target_names).encode())
        return self.checkpoint_dir / f"{self.name}-{label}-{digest.hexdigest()}.pt"

    def _save_checkpoint(
        self, path: Path | None, state: _FitState, optimizer: torch.optim.Optimizer | None
    ) -> None:
        if path is None:
            return
        state.optimizer = None if optimizer is None else optimizer.state_dict()
        with atomic_path(path) as tmp:
            torch.save({"state": vars(state), "weights": self.net.state_dict()}, tmp)
        state.optimizer = None

    def _load_checkpoint(self, path: Path | None, label: str) -> _FitState:
        if path is None or not path.exists():
            return _FitState()
        saved = torch.load(path, map_location=self.device, weights_only=True)
        state = _FitState(**saved["state"])
        self.net.load_state_dict(saved["weights"])
        phases = self.phases()
        where = phases[state.phase].name if state.phase < len(phases) else "done"
        self.resumed_from = (label, where, state.epoch)
        return state

    def to_payload(self) -> dict[str, Any]:
        """The fitted model as plain data (`torch.save`-able; `load_payload` rebuilds it)."""
        if self.net is None:
            raise RuntimeError(f"{self.name} is not fitted")
        return {
            "format": FORMAT_VERSION,
            "kind": self.kind,
            "name": self.name,
            "train": asdict(self.train_config),
            "configs": self.configs(),
            "feature_names": self.feature_names,
            "target_names": self.target_names,
            "spec": self.spec(),
            "schedule": self.schedule,
            "history": self.history,
            "state_dict": {k: v.cpu() for k, v in self.net.state_dict().items()},
        }

    def save(self, folder: Path) -> None:
        """Write the fitted model's payload into `folder` (`load` reads it back)."""
        torch.save(self.to_payload(), Path(folder) / "network.pt")

    @classmethod
    def load(cls, folder: Path, device: str | None = None) -> Any:
        payload = torch.load(Path(folder) / "network.pt", map_location="cpu", weights_only=True)
        return cls.from_payload(payload, device)

    @classmethod
    def from_payload(cls, payload: dict[str, Any], device: str | None = None) -> Any:
        """The fitted model `to_payload` saved; a payload of another format version is refused."""
        if payload.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"saved model format {payload.get('format')!r} is not {FORMAT_VERSION}: it was "
                "saved by another version of numerai-pipeline; fit the model again"
            )
        model = cls.create(
            payload["configs"], TrainConfig(**payload["train"]), payload["name"], device
        )
        model.feature_names, model.target_names = payload["feature_names"], payload["target_names"]
        model.schedule, model.history = payload["schedule"], payload["history"]
        model.net = model.restore(payload["spec"]).to(model.device)
        model.net.load_state_dict(payload["state_dict"])
        return model
