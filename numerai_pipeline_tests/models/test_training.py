"""The one neural trainer, for every network: determinism, holdout selection and refit,
schedules, checkpoints and resume, zero gradient from NaN targets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from numerai_pipeline.core.folds import HOLDOUT_FRACTION, split_holdout
from numerai_pipeline.core.targets import embargo_for_target
from numerai_pipeline.models.losses import supervised_loss
from numerai_pipeline.models.mlp import MLPConfig, MLPModel
from numerai_pipeline.models.mtm.config import MTMConfig
from numerai_pipeline.models.mtm.model import MTMModel
from numerai_pipeline.models.rnn import RNNConfig, RNNModel
from numerai_pipeline.models.training import NeuralModel, TrainConfig
from numerai_pipeline_tests.helpers import tiny_context, tiny_data

TRAIN = TrainConfig(eras_per_batch=2)
DATA = tiny_data()
CONTEXT = tiny_context(DATA)
MAKERS = {
    "mtm": lambda folder=None, train=TRAIN: MTMModel(
        MTMConfig.tiny(), train, checkpoint_dir=folder
    ),
    "mtm_no_pretrain": lambda folder=None, train=TRAIN: MTMModel(
        MTMConfig.tiny(), train, pretrain=False, checkpoint_dir=folder
    ),
    "mlp": lambda folder=None, train=TRAIN: MLPModel(
        MLPConfig.tiny(), train, checkpoint_dir=folder
    ),
    "rnn": lambda folder=None, train=TRAIN: RNNModel(
        CONTEXT, RNNConfig.tiny(), train, checkpoint_dir=folder
    ),
}


class Interrupt(Exception):
    pass


def fitted(name: str, **kwargs) -> NeuralModel:
    model = MAKERS[name](**kwargs)
    model.fit(DATA)
    return model


@pytest.mark.parametrize("name", MAKERS)
def test_same_seed_gives_identical_predictions(name: str) -> None:
    first, second = fitted(name), fitted(name)
    np.testing.assert_array_equal(
        first.predict(DATA.features, DATA.eras), second.predict(DATA.features, DATA.eras)
    )
    assert first.name == name and first.history == second.history


@pytest.mark.parametrize(
    ("name", "stop_after"),
    [("mtm", 1), ("mtm", 3), ("mtm", 5), ("mlp", 1), ("mlp", 3), ("rnn", 2)],
)
def test_resume_after_an_interruption_gives_the_uninterrupted_fit(
    tmp_path: Path, name: str, stop_after: int
) -> None:
    """A fit killed after `stop_after` epochs (of any phase, selection or refit) and run again
    on the same data ends with the weights and predictions of a fit never interrupted."""
    reference = fitted(name)
    seen: list[str] = []

    def interrupt(message: str) -> None:
        seen.append(message)
        if sum(" epoch " in m for m in seen) == stop_after:
            raise Interrupt

    with pytest.raises(Interrupt):
        MAKERS[name](tmp_path).fit(DATA, progress=interrupt)
    assert list(tmp_path.glob(f"{name}-*.pt")) and not list(tmp_path.glob(".*tmp"))
    resumed = MAKERS[name](tmp_path)
    resumed.fit(DATA)
    assert resumed.resumed_from is not None
    for key, value in reference.net.state_dict().items():
        torch.testing.assert_close(resumed.net.state_dict()[key], value, rtol=0, atol=0)
    np.testing.assert_array_equal(
        resumed.predict(DATA.features, DATA.eras), reference.predict(DATA.features, DATA.eras)
    )
    assert resumed.history == reference.history and resumed.schedule == reference.schedule


def test_a_checkpoint_of_other_data_is_not_reused(tmp_path: Path) -> None:
    MAKERS["mlp"](tmp_path).fit(DATA)
    per_fit = len(list(tmp_path.glob("mlp-*.pt")))
    other = MAKERS["mlp"](tmp_path)
    other.fit(tiny_data(seed=1))
    assert other.resumed_from is None and len(list(tmp_path.glob("mlp-*.pt"))) == 2 * per_fit
    again = MAKERS["mlp"](tmp_path)
    again.fit(tiny_data(seed=1))
    assert again.resumed_from == ("refit", "done", 0)


def test_the_holdout_picks_the_schedule_and_the_refit_trains_it_on_every_era() -> None:
    """The selection fit trains on the inner eras and scores the holdout (the latest eras behind
    the embargo) after pretraining and each finetuning epoch; the refit trains the chosen
    number of finetuning epochs on every era, and its predictions differ."""
    selection_only = fitted("mtm", train=replace(TRAIN, refit=False))
    model = fitted("mtm")
    epochs = selection_only.schedule["finetune"]
    assert model.schedule == selection_only.schedule
    phases = [r["phase"] for r in model.history]
    assert phases[:3] == ["pretrain", "pretrain", "finetune"][: len(phases[:3])]
    assert phases.count("refit_finetune") == epochs and phases.count("refit_pretrain") == 2
    assert "holdout_corr" in model.history[1], "the pretrained weights are a candidate"
    assert model.history[: len(selection_only.history)] == selection_only.history
    assert not np.array_equal(model.predict(DATA.features), selection_only.predict(DATA.features))


def test_a_given_schedule_trains_every_era_without_a_holdout() -> None:
    """A final fit: the schedule CV chose, on all eras, no selection."""
    model = MAKERS["mlp"]()
    model.fit(DATA, schedule={"train": 1})
    assert [r["phase"] for r in model.history] == ["refit_train"]
    assert all("holdout_corr" not in r for r in model.history)
    assert model.schedule == {"train": 1}


def test_the_selection_fit_trains_on_every_nth_inner_era() -> None:
    embargo = embargo_for_target(DATA.target_names[0])
    inner, holdout = split_holdout(DATA.eras, HOLDOUT_FRACTION, embargo)
    seen_eras: list[int] = []

    class Counting(MLPModel):
        def build(self, train):
            seen_eras.append(len(np.unique(train.eras)))
            return super().build(train)

    Counting(MLPConfig.tiny(), replace(TRAIN, selection_era_stride=2)).fit(DATA)
    assert holdout and seen_eras == [(len(inner) + 1) // 2, len(np.unique(DATA.eras))]


def test_pretraining_as_its_own_step_then_the_fit_is_the_same_fit(tmp_path: Path) -> None:
    """The assets' path: `mtm_encoder` pretrains (both fits) and stops, `cv/mtm` resumes."""
    reference = fitted("mtm")
    encoder = MAKERS["mtm"](tmp_path)
    encoder.fit(DATA, stop_before="finetune")
    assert [r["phase"] for r in encoder.history] == ["pretrain"] * 2 + ["refit_pretrain"] * 2
    heads = MAKERS["mtm"](tmp_path)
    heads.fit(DATA)
    assert heads.history == reference.history
    np.testing.assert_array_equal(heads.predict(DATA.features), reference.predict(DATA.features))


def test_no_pretrain_ablation_only_finetunes() -> None:
    model = fitted("mtm_no_pretrain")
    assert {r["phase"] for r in model.history} == {"finetune", "refit_finetune"}


def test_a_payload_of_another_format_is_refused() -> None:
    payload = fitted("mlp").to_payload()
    assert np.array_equal(
        MLPModel.from_payload(payload).predict(DATA.features), fitted("mlp").predict(DATA.features)
    )
    with pytest.raises(ValueError, match="fit the model again"):
        MLPModel.from_payload({**payload, "format": 0})


def test_predicting_before_fitting_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        MAKERS["mlp"]().predict(DATA.features)


@pytest.mark.parametrize("name", ["mtm", "mlp", "rnn"])
def test_nan_aux_targets_give_zero_gradient(name: str) -> None:
    """Through every network: a row whose auxiliary target is NaN sends no gradient through
    that target's output, and every parameter's gradient stays finite."""
    model = MAKERS[name]()
    model.feature_names, model.target_names = DATA.feature_names, DATA.target_names
    model.net = model.build(DATA)
    rows = np.flatnonzero(np.isin(DATA.eras, ["0001", "0002", "0003"]))
    outputs = model.outputs(torch.from_numpy(DATA.features[rows]), DATA.eras[rows])
    outputs.retain_grad()
    targets = torch.from_numpy(DATA.targets[rows][:, model.output_columns()])
    era_ids = torch.from_numpy(np.unique(DATA.eras[rows], return_inverse=True)[1])
    supervised_loss(outputs, targets, era_ids).backward()
    nan = torch.isnan(targets)
    assert nan[:, -1].any() and (outputs.grad[nan] == 0).all()
    assert outputs.grad[~nan].abs().sum() > 0
    for parameter in model.net.parameters():
        assert parameter.grad is None or torch.isfinite(parameter.grad).all()
