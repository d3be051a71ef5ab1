"""The roster: every model the pipeline cross-validates, how each is built from the compute preset,
what the report says of it, which paired comparisons it adds, and which may join the ensemble.
Assets, the report and the ensemble read it; none of them lists models of its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from numerai_pipeline.features.era_context import EraContext
from numerai_pipeline.models.base import TournamentModel
from numerai_pipeline.models.mtm.config import MTMConfig
from numerai_pipeline.models.xgb import XGBoostConfig

if TYPE_CHECKING:  # torch modules: loaded when a preset is built, not with the definitions
    from numerai_pipeline.models.mlp import MLPConfig
    from numerai_pipeline.models.rnn import RNNConfig
    from numerai_pipeline.models.training import TrainConfig

PRESETS = ("cpu_demo", "gpu", "tiny")


@dataclass(frozen=True)
class NeuralPreset:
    """The networks' configs for one compute setting: the MTM's, and the row models' (MLP, RNN),
    each with how it is trained."""

    mtm: MTMConfig
    mtm_train: TrainConfig
    mlp: MLPConfig
    rnn: RNNConfig
    row_train: TrainConfig

    @classmethod
    def named(cls, name: str, seed: int = 0) -> NeuralPreset:
        """`cpu_demo` (2 CPU cores, the demo data within `make run`'s time: the selection fits
        train on every 2nd inner era), `gpu` (one GPU, full Numerai data) or `tiny` (tests)."""
        from numerai_pipeline.models.mlp import MLPConfig
        from numerai_pipeline.models.rnn import RNNConfig
        from numerai_pipeline.models.training import TrainConfig

        if name not in PRESETS:
            raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
        if name == "cpu_demo":
            mtm_train = TrainConfig(eras_per_batch=1, selection_era_stride=2)
            row_train = TrainConfig(patience=2, selection_era_stride=2)
            preset = cls(MTMConfig.cpu_demo(), mtm_train, MLPConfig(), RNNConfig(), row_train)
        elif name == "gpu":
            mtm_train = TrainConfig(predict_batch_rows=65536)
            row_train = TrainConfig(patience=2, predict_batch_rows=65536)
            preset = cls(MTMConfig.gpu(), mtm_train, MLPConfig(), RNNConfig(), row_train)
        else:
            tiny_train = TrainConfig(eras_per_batch=2, patience=2)
            preset = cls(
                MTMConfig.tiny(), tiny_train, MLPConfig.tiny(), RNNConfig.tiny(), tiny_train
            )
        return preset.seeded(seed)

    def seeded(self, seed: int) -> NeuralPreset:
        return replace(
            self,
            mtm_train=replace(self.mtm_train, seed=seed),
            row_train=replace(self.row_train, seed=seed),
        )


@dataclass
class ModelInputs:
    """What building a model may need besides its configs."""

    preset: NeuralPreset
    device: str = "cpu"
    xgboost_trees: int = 300
    checkpoint_dir: Path | None = None
    seed_groups: dict[str, list[str]] = field(default_factory=dict)
    unlabeled: np.ndarray | None = None
    """Rows without targets (live, unresolved eras) for the MTM's pretraining."""
    era_context: EraContext | None = None


@dataclass(frozen=True)
class ModelSpec:
    """One model of the roster."""

    name: str
    description: str
    """One sentence: the Dagster asset's description and the report's note."""
    make: Callable[[ModelInputs], TournamentModel]
    neural: bool = False
    """Trained on the compute device, in the `gpu` pool (a GPU pod under Kubernetes)."""
    candidate: bool = True
    """May join the ensemble and be the champion (ablations and the null control do not)."""
    comparisons: tuple[str, ...] = ()
    """The report adds the paired per-era difference of this model to each of these."""
    shuffled_targets: bool = False
    """Trained and scored on targets shuffled within eras: a null control."""
    needs: tuple[str, ...] = ()
    """Inputs beyond the fold's rows: "unlabeled" rows, the "era_context" table."""


def _xgboost(inputs: ModelInputs, name: str = "xgboost") -> TournamentModel:
    from numerai_pipeline.models.xgb import XGBoostModel

    return XGBoostModel(XGBoostConfig(n_estimators=inputs.xgboost_trees), name=name)


def _ridge(inputs: ModelInputs) -> TournamentModel:
    from numerai_pipeline.models.ridge import RidgeModel

    return RidgeModel()


def _mtm(inputs: ModelInputs, pretrain: bool = True) -> TournamentModel:
    from numerai_pipeline.models.mtm.model import MTMModel

    p = inputs.preset
    return MTMModel(
        p.mtm,
        p.mtm_train,
        pretrain=pretrain,
        checkpoint_dir=inputs.checkpoint_dir,
        seed_groups=inputs.seed_groups,
        unlabeled=inputs.unlabeled if pretrain else None,
        device=inputs.device,
    )


def _mlp(inputs: ModelInputs) -> TournamentModel:
    from numerai_pipeline.models.mlp import MLPModel

    p = inputs.preset
    return MLPModel(p.mlp, p.row_train, checkpoint_dir=inputs.checkpoint_dir, device=inputs.device)


def _rnn(inputs: ModelInputs, use_context: bool = True) -> TournamentModel:
    from numerai_pipeline.models.rnn import RNNModel

    p = inputs.preset
    config = replace(p.rnn, use_context=use_context)
    context = inputs.era_context if use_context else None
    return RNNModel(context, config, p.row_train, inputs.checkpoint_dir, inputs.device)


def ablation(name: str, what: str, make: Callable[[ModelInputs], TournamentModel]) -> ModelSpec:
    """A neural model with a part taken out: it is reported (paired with the whole model), never
    a candidate for the ensemble."""
    return ModelSpec(name, f"Ablation. {what}", make, neural=True, candidate=False)


ROSTER: tuple[ModelSpec, ...] = (
    ModelSpec("xgboost", "Gradient-boosted trees on the int8 features: the baseline.", _xgboost),
    ModelSpec(
        "xgboost_shuffled_control",
        "XGBoost trained and scored on targets shuffled within eras: must score within noise "
        "of zero (anything else is leakage).",
        lambda inputs: _xgboost(inputs, "xgboost_shuffled_control"),
        candidate=False,
        shuffled_targets=True,
    ),
    ModelSpec(
        "ridge",
        "Ridge on ordinal feature values; the screening bar and the penalty picked on the "
        "fit's latest eras behind the embargo.",
        _ridge,
    ),
    ModelSpec(
        "mtm",
        "Masked Trajectory Model: pretrained by masked modelling on the fit's eras and the rows "
        "without targets, then its PREDICT head finetuned.",
        _mtm,
        neural=True,
        comparisons=("mtm_no_pretrain", "mlp"),
        needs=("unlabeled",),
    ),
    ablation(
        "mtm_no_pretrain",
        "The MTM network trained from scratch: what pretraining adds.",
        lambda inputs: _mtm(inputs, pretrain=False),
    ),
    ModelSpec(
        "mlp",
        "MLP on ordinal features and missing flags with the era-batched Pearson loss.",
        _mlp,
        neural=True,
    ),
    ModelSpec(
        "rnn",
        "Row MLP modulated by a GRU over the eras before it (feature co-movement and lagged "
        "feature-target correlations): regime information.",
        _rnn,
        neural=True,
        comparisons=("rnn_no_context",),
        needs=("era_context",),
    ),
    ablation(
        "rnn_no_context",
        "The RNN's row model without the era context: what the context adds.",
        lambda inputs: _rnn(inputs, use_context=False),
    ),
)

SPECS = {spec.name: spec for spec in ROSTER}
CANDIDATES = tuple(spec.name for spec in ROSTER if spec.candidate)
REFERENCE = "xgboost"
"""The model every other is compared with in the report."""


def comparisons() -> list[tuple[str, str]]:
    """Every (model, baseline) pair the roster asks the report for."""
    return [(spec.name, other) for spec in ROSTER for other in spec.comparisons]
