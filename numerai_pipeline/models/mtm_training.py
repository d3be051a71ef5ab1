"""Fitting the MTM: masked pretraining, era-batched finetuning selected on an embargoed inner
holdout, a refit on all training eras with the selected schedule, per-epoch checkpoints with
resume (per phase), prediction."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from numerai_pipeline.evaluation.cv import target_span_eras
from numerai_pipeline.features.grouping import fit_feature_groups
from numerai_pipeline.features.screening import u_shaped_features
from numerai_pipeline.models.base import ProgressFn, TrainingData, no_progress
from numerai_pipeline.models.mtm import (
    ERA_IDS,
    FEATURES,
    MTM,
    TARGETS,
    MaskKind,
    MTMConfig,
    expected_value,
    group_index,
    make_mask,
    target_loss,
)
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
from numerai_pipeline.models.ridge import RidgeConfig, RidgeModel
from numerai_pipeline.storage.atomic import atomic_path

PRETRAIN, FINETUNE, REFIT = "pretrain", "finetune", "refit_"
EpochFn = Callable[[torch.optim.Optimizer, np.random.Generator, tuple[int, int, float]], float]


@dataclass
class _Progress:
    """Where a phase stands; saved in each of its checkpoints."""

    epoch: int = 0
    done: bool = False
    best_score: float = -math.inf
    best_label: str = ""
    best_epoch: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0
    history: list[dict] = field(default_factory=list)
    optimizer: dict | None = None


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


class MTMModel:
    """The MTM as a tournament model: `pretrain` (masked modelling) then `finetune` (era-batched
    Pearson loss on the PREDICT mask); `fit` runs both, or only the finetuning for the ablation
    `pretrain=False` (`mtm_no_pretrain`). `predict` reads the main target head.

    Both phases train on the inner eras of `split_holdout` (the latest eras, behind an embargo,
    are held out); finetuning keeps the weights, pretrained head included, that score best there.
    With `config.refit`, `refit` then fits again on all the eras with that schedule.
    `seed_groups` (features.json groups) seed the feature grouping; with `checkpoint_dir` every
    epoch is checkpointed and a phase run again on the same config, data and starting weights
    resumes from its last checkpoint.
    """

    def __init__(
        self,
        config: MTMConfig | None = None,
        pretrain: bool = True,
        checkpoint_dir: Path | None = None,
        seed_groups: dict[str, list[str]] | None = None,
        device: str | None = None,
    ) -> None:
        self.config = config or MTMConfig.cpu_demo()
        self.pretrain_enabled = pretrain
        self.name = "mtm" if pretrain else "mtm_no_pretrain"
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.seed_groups = seed_groups
        self.device = select_device(device)
        self.net: MTM | None = None
        self.feature_names: list[str] = []
        self.target_names: list[str] = []
        self.groups: dict[str, list[str]] = {}
        self.u_features: list[str] = []
        """Features whose |ordinal value| the linear skip also reads (screened on the inner eras)."""
        self.pretrained = False
        self.all_eras = False
        """Train on all of the data's eras, no holdout: the refit."""
        self.selected = ""
        self.selected_epochs = 0
        self.holdout_eras = 0
        self.history: list[dict] = []
        self.resumed_from: tuple[str, int] | None = None

    def _build(
        self,
        groups: dict[str, list[str]],
        feature_names: list[str],
        targets: list[str],
        u_features: list[str],
    ) -> None:
        position = {name: i for i, name in enumerate(feature_names)}
        layout = group_index([[position[f] for f in members] for members in groups.values()])
        self.groups, self.feature_names, self.target_names = groups, feature_names, targets
        self.u_features = u_features
        u_columns = [position[f] for f in u_features]
        net = MTM(self.config, layout, len(targets), len(feature_names), u_columns)
        if net.skip is not None:
            net.skip.weight.requires_grad_(self.config.skip_init != "ridge_frozen")
        self.net = net.to(self.device)
        self.layout = layout

    def _split(self, data: TrainingData) -> tuple[TrainingData, TrainingData | None]:
        """(training rows, holdout rows or None) of `fit_eras` (the refit's once `all_eras`), with
        the target columns of the model's target tokens."""
        c = self.config
        columns = [data.target_names.index(t) for t in self.target_names]
        targets = data.targets[:, columns]
        data = TrainingData(
            data.features, targets, data.eras, data.feature_names, self.target_names
        )
        train_eras, holdout_eras = fit_eras(data.eras, c, refit=self.all_eras)
        train = data.select_eras(np.array(train_eras))
        return train, data.select_eras(np.array(holdout_eras)) if holdout_eras else None

    def _setup(self, data: TrainingData) -> None:
        """Seed, choose target tokens, fit feature groups and screen U-shaped features on the
        inner eras, build the network."""
        c = self.config
        seed_everything(c.seed)
        self.target_names = select_targets(data.target_names, data.targets, c.target_tokens)
        train, _ = self._split(data)
        groups = fit_feature_groups(
            train.features, data.feature_names, c.n_groups, self.seed_groups, seed=c.seed
        )
        u_features = []
        if c.linear_skip and c.u_shape_min_t is not None:
            u_features = u_shaped_features(
                train.features,
                train.main_target,
                train.eras,
                data.feature_names,
                c.u_shape_min_t,
                target_span_eras(self.target_names[0]),
            )
        self._build(groups, data.feature_names, self.target_names, u_features)
        if c.linear_skip and (c.skip_init != "zero" or c.skip_screen):
            self._init_skip(train)
        self.history, self.pretrained, self.selected = [], False, ""

    def _init_skip(self, train: TrainingData) -> None:
        """Fit a ridge regression of the main target on the skip's inputs over `train`, screened
        with `skip_screen`: the skip reads only the inputs it kept and, unless `skip_init` is
        "zero", starts at its weights, scaled from target units to logit tilt."""
        c = self.config
        if c.skip_init not in ("zero", "ridge", "ridge_frozen"):
            raise ValueError(
                f"skip_init must be 'zero', 'ridge' or 'ridge_frozen', got {c.skip_init!r}"
            )
        n_features, n_u = len(self.feature_names), len(self.u_features)
        position = {name: i for i, name in enumerate(self.feature_names)}
        ridge = RidgeModel(
            RidgeConfig(
                screen_t=RidgeConfig.screen_t if c.skip_screen else (0.0,),
                holdout_fraction=c.holdout_fraction,
                embargo=c.embargo,
            ),
            abs_columns=[position[f] for f in self.u_features],
        )
        ridge.fit(train)
        slots = self.layout.flatten()
        members = np.flatnonzero(slots >= 0)
        rows = np.concatenate([members, len(slots) + np.arange(n_u)])
        inputs = np.concatenate([slots[members], n_features + np.arange(n_u)])
        keep = np.ones(len(self.net.skip.keep), np.float32)  # padding slots read 0 anyway
        keep[rows] = ridge.kept[inputs]
        weights = np.zeros(tuple(self.net.skip.weight.shape), np.float32)
        if c.skip_init != "zero":
            # A tilt s moves the expected target by ~s x 2 var(target) around its bins.
            scale = 1.0 / (2.0 * max(float(np.nanvar(train.main_target)), 1e-6))
            weights[rows, 0] = ridge.weights[inputs] * scale
        with torch.no_grad():
            self.net.skip.weight.copy_(torch.from_numpy(weights))
            self.net.skip.keep.copy_(torch.from_numpy(keep))

    def fit(
        self,
        data: TrainingData,
        progress: ProgressFn = no_progress,
        unlabeled_features: np.ndarray | None = None,
    ) -> None:
        """`pretrain` (unless the ablation) then `finetune` on `data`'s eras, then `refit` with
        `config.refit`."""
        if self.pretrain_enabled:
            self.pretrain(data, progress, unlabeled_features)
        else:
            self._setup(data)
        self.finetune(data, progress)
        if self.config.refit:
            self.refit(data, progress, unlabeled_features)

    def refit(
        self,
        data: TrainingData,
        progress: ProgressFn = no_progress,
        unlabeled_features: np.ndarray | None = None,
        pretrained: MTMModel | None = None,
    ) -> None:
        """Fit again on all of `data`'s eras, embargo and holdout included, with the schedule the
        holdout picked: the same pretraining (or `pretrained`, done on all eras already), then the
        selected number of finetuning epochs (none when the pretrained head won) on the same
        learning-rate schedule. Does nothing when `finetune` held nothing out."""
        if not self.holdout_eras:
            return
        selection, epochs, earlier = self.selected, self.selected_epochs, self.history
        self.all_eras = True
        if pretrained is not None:
            self._build(
                pretrained.groups,
                pretrained.feature_names,
                pretrained.target_names,
                pretrained.u_features,
            )
            self.net.load_state_dict(pretrained.net.state_dict())
            self.history, self.pretrained = list(pretrained.history), True
        elif self.pretrain_enabled:
            self.pretrain(data, progress, unlabeled_features)
        else:
            self._setup(data)
        if epochs:
            self.finetune(data, progress, stop_after=epochs)
        self.history = earlier + self.history
        n_eras = len(np.unique(self._split(data)[0].eras))
        self.selected = f"{selection}, refit on {n_eras} eras"
        progress(f"{self.name}: refit with {selection} on {n_eras} eras")

    def pretrain(
        self,
        data: TrainingData,
        progress: ProgressFn = no_progress,
        unlabeled_features: np.ndarray | None = None,
    ) -> None:
        """Masked modelling on `data`'s inner eras (PREDICT/RANDOM masks); `unlabeled_features`
        (int8 rows without targets, e.g. live) join through FEATURES_ONLY masks. Feature groups
        are fit on `data` only."""
        self._setup(data)
        train, _ = self._split(data)
        c = self.config
        n_unlabeled = 0 if unlabeled_features is None else len(unlabeled_features)
        n_eras = len(np.unique(train.eras))
        steps = math.ceil(n_eras / c.eras_per_batch) + math.ceil(n_unlabeled / c.batch_rows)

        def epoch(optimizer, rng, schedule) -> float:
            return self._pretrain_epoch(train, unlabeled_features, optimizer, rng, schedule)

        phase = self._phase(PRETRAIN)
        path = self._checkpoint_path(phase, data, unlabeled_features)
        self._run_phase(phase, c.pretrain_epochs, c.lr, steps, epoch, None, path, progress)
        self.pretrained = True

    def finetune(
        self, data: TrainingData, progress: ProgressFn = no_progress, stop_after: int | None = None
    ) -> None:
        """Era-batched finetuning of the PREDICT head on `data`'s inner eras; the holdout picks the
        best of the pretrained weights (when pretrained) and each finetuning epoch. Builds the
        network first when nothing was pretrained. `stop_after` ends the phase after that many
        epochs of its learning-rate schedule (the refit)."""
        c = self.config
        if self.net is None:
            self._setup(data)
        train, holdout = self._split(data)
        epochs, lr = (
            (c.finetune_epochs, c.finetune_lr)
            if self.pretrained
            else (c.scratch_epochs, c.scratch_lr)
        )
        steps = math.ceil(len(np.unique(train.eras)) / c.eras_per_batch)

        def epoch(optimizer, rng, schedule) -> float:
            return self._finetune_epoch(train, optimizer, rng, schedule)

        phase = self._phase(FINETUNE)
        path = self._checkpoint_path(phase, data, None)
        state = self._run_phase(
            phase, epochs, lr, steps, epoch, holdout, path, progress, stop_after
        )
        if state.best_state is not None:
            self.net.load_state_dict(state.best_state)
        self.selected = state.best_label or f"{FINETUNE} {state.epoch}"
        self.selected_epochs = state.best_epoch if state.best_label else state.epoch
        self.holdout_eras = 0 if holdout is None else len(np.unique(holdout.eras))
        if holdout is not None:
            progress(f"{self.name}: selected {self.selected} on {self.holdout_eras} holdout eras")

    def _phase(self, phase: str) -> str:
        """A phase's name (in checkpoints, history and MLflow metrics): `refit_` in the refit."""
        return REFIT + phase if self.all_eras else phase

    def _run_phase(
        self,
        phase: str,
        epochs: int,
        lr: float,
        steps: int,
        run_epoch: EpochFn,
        holdout: TrainingData | None,
        path: Path | None,
        progress: ProgressFn,
        stop_after: int | None = None,
    ) -> _Progress:
        """Epochs of one phase with a checkpoint after each (`stop_after` of `epochs` at most);
        resumes from `path`. With a holdout, scores the starting weights (if pretrained) and
        every epoch, keeping the best."""
        c = self.config
        index = 0 if phase.endswith(PRETRAIN) else 1
        last = epochs if stop_after is None else min(epochs, stop_after)
        state = self._load_checkpoint(path, phase)
        if state.epoch == 0 and not state.done:
            state.history = list(self.history)
            if holdout is not None and self.pretrained:
                score = self._select(state, holdout, f"{PRETRAIN} head")
                progress(f"pretrained head holdout corr {score:.4f}")
                if state.history:
                    state.history[-1] = {**state.history[-1], "holdout_corr": score}
        optimizer = adamw(self.net, lr, c.weight_decay, self.device)
        if state.optimizer is not None:
            optimizer.load_state_dict(state.optimizer)
            state.optimizer = None
        while not state.done:
            torch.manual_seed(epoch_seed(c.seed, index, state.epoch))
            rng = np.random.default_rng(epoch_seed(c.seed, index, state.epoch))
            loss = run_epoch(optimizer, rng, (state.epoch * steps, epochs * steps, lr))
            state.epoch += 1
            record = {"phase": phase, "epoch": state.epoch, "loss": loss}
            if holdout is not None:
                record["holdout_corr"] = self._select(state, holdout, f"{phase} {state.epoch}")
            state.history.append(record)
            state.done = state.epoch >= last or state.bad_epochs > c.patience
            self._save_checkpoint(path, state, optimizer)
            score = record.get("holdout_corr")
            progress(
                f"{phase} epoch {state.epoch}/{epochs} loss {loss:.4f}"
                + ("" if score is None else f" holdout corr {score:.4f}")
            )
        self.history = state.history
        return state

    def _step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, lr: float) -> float:
        set_lr(optimizer, lr)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.config.grad_clip)
        optimizer.step()
        return float(loss.detach())

    def _pretrain_epoch(
        self,
        train: TrainingData,
        unlabeled: np.ndarray | None,
        optimizer: torch.optim.Optimizer,
        rng: np.random.Generator,
        schedule: tuple[int, int, float],
    ) -> float:
        """Masked modelling over shuffled batches: whole eras of labeled rows under PREDICT or
        RANDOM masks (per-era target losses), chunks of unlabeled rows under FEATURES_ONLY."""
        c, net = self.config, self.net
        step, total, lr = schedule
        warmup = max(1, int(c.warmup_fraction * total))
        _, offsets = era_offsets(train.eras)
        batches: list[tuple[np.ndarray, np.ndarray | None]] = list(
            era_batches(offsets, c.eras_per_batch, rng)
        )
        if unlabeled is not None:
            order = rng.permutation(len(unlabeled))
            batches += [
                (np.sort(order[i : i + c.batch_rows]), None)
                for i in range(0, len(order), c.batch_rows)
            ]
        net.train()
        losses = []
        for i in rng.permutation(len(batches)):
            rows, era_ids = batches[i]
            if era_ids is None:
                batch = {FEATURES: to_device(unlabeled[rows], self.device, torch.int8)}
                kind = MaskKind.FEATURES_ONLY
            else:
                batch = {
                    FEATURES: to_device(train.features[rows], self.device, torch.int8),
                    TARGETS: to_device(train.targets[rows], self.device, torch.float32),
                    ERA_IDS: to_device(era_ids, self.device, torch.long),
                }
                predict = rng.random() < c.predict_probability
                kind = MaskKind.PREDICT if predict else MaskKind.RANDOM
            mask = make_mask(kind, len(rows), net.n_groups, net.n_targets, c)
            mask = {m: v.to(self.device) for m, v in mask.items()}
            with autocast(self.device):
                _, loss = net(batch, mask)
            losses.append(self._step(loss, optimizer, warmup_cosine(step, total, warmup, lr)))
            step += 1
        return float(np.mean(losses))

    def _finetune_epoch(
        self,
        train: TrainingData,
        optimizer: torch.optim.Optimizer,
        rng: np.random.Generator,
        schedule: tuple[int, int, float],
    ) -> float:
        """Whole-era batches, PREDICT mask with every feature visible: 1 - mean per-era Pearson of
        the main head's expected value + `aux_weight` x the auxiliary targets' loss."""
        c, net = self.config, self.net
        step, total, lr = schedule
        warmup = max(1, int(c.warmup_fraction * total))
        _, offsets = era_offsets(train.eras)
        net.train()
        losses = []
        for rows, ids in era_batches(offsets, c.eras_per_batch, rng):
            features = to_device(train.features[rows], self.device, torch.int8)
            targets = to_device(train.targets[rows], self.device, torch.float32)
            era_ids = to_device(ids, self.device, torch.long)
            with autocast(self.device):
                logits = net.predict_logits(features)
            loss = pearson_loss(expected_value(logits[:, 0]), targets[:, 0], era_ids)
            if net.n_targets > 1:
                aux = target_loss(logits[:, 1:], targets[:, 1:], era_ids, c.target_loss)
                loss = loss + c.aux_weight * aux
            losses.append(self._step(loss, optimizer, warmup_cosine(step, total, warmup, lr)))
            step += 1
        return float(np.mean(losses))

    def _select(self, state: _Progress, holdout: TrainingData, label: str) -> float:
        """Score the current weights on the holdout; keep them if best so far."""
        score = mean_corr(
            self.predict(holdout.features, holdout.eras), holdout.main_target, holdout.eras
        )
        if score > state.best_score:
            state.best_score, state.best_label, state.best_epoch = score, label, state.epoch
            state.best_state, state.bad_epochs = snapshot(self.net), 0
        else:
            state.bad_epochs += 1
        return score

    def predict(self, features: np.ndarray, eras: np.ndarray | None = None) -> np.ndarray:
        """Expected main target (the PREDICT head) for int8 feature rows."""
        if self.net is None:
            raise RuntimeError(f"{self.name}.predict called before fit")
        self.net.eval()
        out = []
        with torch.no_grad(), autocast(self.device):
            for start in range(0, len(features), self.config.predict_batch_rows):
                chunk = features[start : start + self.config.predict_batch_rows]
                logits = self.net.predict_logits(to_device(chunk, self.device, torch.int8))
                out.append(expected_value(logits[:, 0]).cpu().numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)

    def skip_features(self) -> list[str]:
        """The features whose ordinal value the linear skip reads (all, unless screened)."""
        if self.net is None or self.net.skip is None:
            return []
        slots = self.layout.flatten()
        keep = self.net.skip.keep[: len(slots)].cpu().numpy() > 0
        return [self.feature_names[i] for i in sorted(set(slots[keep & (slots >= 0)].tolist()))]

    def params(self) -> dict[str, float | int | str]:
        values = {
            k: v if isinstance(v, int | float | str) else str(v)
            for k, v in self.config.to_dict().items()
        }
        values.update(
            pretrain=str(self.pretrain_enabled),
            device=str(self.device),
            n_groups=len(self.groups),
            n_u_shaped_features=len(self.u_features),
            n_skip_features=len(self.skip_features()),
            n_target_tokens=len(self.target_names),
            selected=self.selected,
        )
        if self.net is not None:
            values["n_params"] = sum(p.numel() for p in self.net.parameters())
        return values

    def _checkpoint_path(
        self, phase: str, data: TrainingData, unlabeled: np.ndarray | None
    ) -> Path | None:
        """A file named by the phase and a digest of config, data and starting weights."""
        if self.checkpoint_dir is None:
            return None
        digest = hashlib.blake2b(digest_size=12)
        digest.update(json.dumps([self.name, self.config.to_dict()], sort_keys=True).encode())
        for array in (data.features, data.targets, unlabeled):
            if array is not None:
                digest.update(str(array.shape).encode())
                digest.update(np.ascontiguousarray(array))  # hashed in place, no bytes copy
        digest.update("\0".join(map(str, data.eras)).encode())
        digest.update("\0".join(data.feature_names + data.target_names).encode())
        for value in self.net.state_dict().values():
            digest.update(value.detach().cpu().numpy().tobytes())
        return self.checkpoint_dir / f"{self.name}-{phase}-{digest.hexdigest()}.pt"

    def _save_checkpoint(
        self, path: Path | None, state: _Progress, optimizer: torch.optim.Optimizer
    ) -> None:
        if path is None:
            return
        state.optimizer = None if state.done else optimizer.state_dict()
        with atomic_path(path) as tmp:
            torch.save({"progress": vars(state), "model": self.net.state_dict()}, tmp)
        state.optimizer = None

    def _load_checkpoint(self, path: Path | None, phase: str) -> _Progress:
        if path is None or not path.exists():
            return _Progress()
        payload = torch.load(path, map_location=self.device, weights_only=True)
        state = _Progress(**payload["progress"])
        self.net.load_state_dict(payload["model"])
        later = self._phase(FINETUNE) if phase.endswith(PRETRAIN) else "done"
        self.resumed_from = (later, 0) if state.done else (phase, state.epoch)
        return state

    def to_payload(self) -> dict:
        """Everything `from_payload` needs to rebuild the model, pretrained or fitted."""
        return {
            "kind": "mtm",
            "pretrain": self.pretrain_enabled,
            "pretrained": self.pretrained,
            "all_eras": self.all_eras,
            "config": self.config.to_dict(),
            "feature_names": self.feature_names,
            "target_names": self.target_names,
            "groups": self.groups,
            "u_features": self.u_features,
            "selected": self.selected,
            "history": self.history,
            "state_dict": {k: v.cpu() for k, v in self.net.state_dict().items()},
        }

    @classmethod
    def from_payload(cls, payload: dict, device: str | None = None) -> MTMModel:
        model = cls(MTMConfig.from_dict(payload["config"]), payload["pretrain"], device=device)
        model._build(
            payload["groups"],
            payload["feature_names"],
            payload["target_names"],
            payload.get("u_features", []),
        )
        state = payload["state_dict"]
        if model.net.skip is not None and "skip.keep" not in state:  # saved before the screen
            state = {**state, "skip.keep": model.net.skip.keep}
        model.net.load_state_dict(state)
        model.pretrained = payload["pretrained"]
        model.all_eras = payload.get("all_eras", False)
        model.selected = payload["selected"]
        model.history = payload["history"]
        return model
