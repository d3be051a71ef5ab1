"""Fitting the MTM: determinism, holdout selection, the refit, checkpoints and resume."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from numerai_pipeline.evaluation.cv import split_holdout
from numerai_pipeline.features.screening import u_shaped_features
from numerai_pipeline.models.base import TrainingData
from numerai_pipeline.models.mtm import MTMConfig
from numerai_pipeline.models.mtm_training import MTMModel, select_targets
from numerai_pipeline.models.neural import fit_eras
from numerai_pipeline.models.ridge import RidgeConfig, RidgeModel
from numerai_pipeline_tests.features.test_screening import persistent_stocks
from numerai_pipeline_tests.models.test_mtm import tiny_data


class Interrupt(Exception):
    pass


def test_same_seed_gives_identical_predictions() -> None:
    data = tiny_data()
    first, second = MTMModel(MTMConfig.tiny()), MTMModel(MTMConfig.tiny())
    first.fit(data)
    second.fit(data)
    np.testing.assert_array_equal(
        first.predict(data.features, data.eras), second.predict(data.features, data.eras)
    )
    assert first.name == "mtm" and first.device.type in ("cpu", "cuda")
    assert first.params()["n_groups"] == len(first.groups) > 0
    phases = [r["phase"] for r in first.history]
    assert phases[:6] == ["pretrain"] * 2 + ["finetune"] * 2 + ["refit_pretrain"] * 2


def test_no_pretrain_ablation_only_finetunes() -> None:
    model = MTMModel(MTMConfig.tiny(), pretrain=False)
    messages: list[str] = []
    model.fit(tiny_data(), progress=messages.append)
    assert model.name == "mtm_no_pretrain"
    assert {r["phase"] for r in model.history} == {"finetune", "refit_finetune"}
    assert any(m.startswith("finetune epoch 1/2 loss") for m in messages)
    assert any(m.startswith("refit_finetune epoch 1/2 loss") for m in messages)


def test_holdout_is_the_latest_eras_behind_an_embargo() -> None:
    eras = np.array([f"{e:04d}" for e in range(1, 41)])
    inner, holdout = split_holdout(eras, 0.25, embargo=8)
    assert holdout == [f"{e:04d}" for e in range(31, 41)]
    assert inner[-1] == "0022"


def test_fit_eras_thin_the_selection_only_when_a_refit_follows() -> None:
    eras = np.array([f"{e:04d}" for e in range(1, 41)])
    config = replace(MTMConfig.tiny(), holdout_fraction=0.25, embargo=8, selection_era_stride=2)
    inner, holdout = split_holdout(eras, 0.25, embargo=8)
    assert fit_eras(eras, config, refit=False) == (inner[::-1][::2][::-1], holdout)
    assert fit_eras(eras, replace(config, refit=False), refit=False) == (inner, holdout)
    assert fit_eras(eras, config, refit=True) == (sorted(set(eras)), [])


@pytest.mark.parametrize(
    ("stop_after", "expected"),
    [(1, ("pretrain", 1)), (3, ("finetune", 1)), (5, ("refit_pretrain", 1))],
)
def test_checkpoint_resume_matches_an_uninterrupted_fit(
    tmp_path: Path, stop_after: int, expected: tuple[str, int]
) -> None:
    data = tiny_data()
    reference = MTMModel(MTMConfig.tiny())
    reference.fit(data)

    seen: list[str] = []

    def interrupt(message: str) -> None:
        seen.append(message)
        if sum(" epoch " in m for m in seen) == stop_after:
            raise Interrupt

    with pytest.raises(Interrupt):
        MTMModel(MTMConfig.tiny(), checkpoint_dir=tmp_path).fit(data, progress=interrupt)
    phases_started = ["pretrain", "finetune", "refit_pretrain"].index(expected[0]) + 1
    assert len(list(tmp_path.glob("mtm-*.pt"))) == phases_started
    assert not list(tmp_path.glob(".*tmp"))

    resumed = MTMModel(MTMConfig.tiny(), checkpoint_dir=tmp_path)
    resumed.fit(data)
    assert resumed.resumed_from == expected
    for name, value in reference.net.state_dict().items():
        torch.testing.assert_close(resumed.net.state_dict()[name], value, rtol=0, atol=0)
    np.testing.assert_array_equal(
        resumed.predict(data.features, data.eras), reference.predict(data.features, data.eras)
    )


def test_checkpoint_of_other_data_is_not_reused(tmp_path: Path) -> None:
    MTMModel(MTMConfig.tiny(), checkpoint_dir=tmp_path).fit(tiny_data(seed=0))
    per_fit = len(list(tmp_path.glob("mtm-*.pt")))
    other = MTMModel(MTMConfig.tiny(), checkpoint_dir=tmp_path)
    other.fit(tiny_data(seed=1))
    assert other.resumed_from is None and len(list(tmp_path.glob("mtm-*.pt"))) == 2 * per_fit
    again = MTMModel(MTMConfig.tiny(), checkpoint_dir=tmp_path)
    again.fit(tiny_data(seed=1))
    assert again.resumed_from == ("done", 0)


def test_unlabeled_rows_join_pretraining() -> None:
    data = tiny_data()
    unlabeled = tiny_data(n_eras=2, seed=3).features
    model = MTMModel(MTMConfig.tiny())
    model.fit(data, unlabeled_features=unlabeled)
    assert np.isfinite(model.predict(unlabeled)).all()


def test_pretrain_then_finetune_then_refit_equals_fit(tmp_path: Path) -> None:
    """The assets' path (pretraining saved and loaded, the refit's pretraining done apart) is
    the same fit as `fit`."""
    data = tiny_data()
    reference = MTMModel(MTMConfig.tiny())
    reference.fit(data)
    encoder = MTMModel(MTMConfig.tiny())
    encoder.pretrain(data)
    assert encoder.pretrained and [r["phase"] for r in encoder.history] == ["pretrain"] * 2
    refit_encoder = MTMModel(MTMConfig.tiny())
    refit_encoder.all_eras = True
    refit_encoder.pretrain(data)
    restored = MTMModel.from_payload(encoder.to_payload())
    restored.finetune(data)
    assert "holdout_corr" in restored.history[1], "the pretrained head is scored"
    restored.refit(data, pretrained=MTMModel.from_payload(refit_encoder.to_payload()))
    assert restored.selected == reference.selected and restored.history == reference.history
    np.testing.assert_array_equal(restored.predict(data.features), reference.predict(data.features))


def test_refit_trains_the_selected_schedule_on_all_eras() -> None:
    """The holdout picks the schedule on the inner eras; the refit runs that many finetuning
    epochs on every era, holdout and embargo included, and its predictions differ."""
    data = tiny_data()
    n_eras = len(np.unique(data.eras))
    inner, _ = split_holdout(data.eras, MTMConfig.tiny().holdout_fraction, MTMConfig.tiny().embargo)
    selection_only = MTMModel(replace(MTMConfig.tiny(), refit=False))
    selection_only.fit(data)
    model = MTMModel(MTMConfig.tiny())
    model.fit(data)
    epochs = selection_only.selected_epochs
    assert model.selected == f"{selection_only.selected}, refit on {n_eras} eras"
    assert sum(r["phase"] == "refit_finetune" for r in model.history) == epochs
    assert model.history[: len(selection_only.history)] == selection_only.history
    assert len(np.unique(selection_only._split(data)[0].eras)) == len(inner) < n_eras
    assert not np.array_equal(model.predict(data.features), selection_only.predict(data.features))


def test_selection_fit_can_train_on_every_nth_inner_era() -> None:
    data = tiny_data()
    inner, _ = split_holdout(data.eras, MTMConfig.tiny().holdout_fraction, MTMConfig.tiny().embargo)
    model = MTMModel(replace(MTMConfig.tiny(), selection_era_stride=2))
    model._setup(data)
    assert len(np.unique(model._split(data)[0].eras)) == (len(inner) + 1) // 2
    model.all_eras = True
    assert len(np.unique(model._split(data)[0].eras)) == len(np.unique(data.eras))


def test_finetune_alone_trains_from_scratch() -> None:
    data = tiny_data()
    reference = MTMModel(MTMConfig.tiny(), pretrain=False)
    reference.fit(data)
    direct = MTMModel(MTMConfig.tiny(), pretrain=False)
    direct.finetune(data)
    direct.refit(data)
    np.testing.assert_array_equal(direct.predict(data.features), reference.predict(data.features))


def test_target_tokens_drop_copies_of_the_main_target() -> None:
    rng = np.random.default_rng(0)
    targets = rng.random((10, 4)).astype(np.float32)
    targets[:, 1] = targets[:, 0]
    names = ["target", "target_a_20", "target_b_20", "target_b_60"]
    assert select_targets(names, targets, "all") == ["target", "target_b_20", "target_b_60"]
    assert select_targets(names, targets, "20d") == ["target", "target_b_20"]
    assert select_targets(names, targets, "main") == ["target"]


def test_model_saved_before_the_ordinal_tokenizer_and_skip_still_loads() -> None:
    """A payload whose config predates `free_bin_embeddings`, `linear_skip` and
    `u_shape_min_t` was a network with free bin vectors and no skip: it loads as that network
    and predicts the same."""
    data = tiny_data()
    old_config = replace(
        MTMConfig.tiny(), free_bin_embeddings=True, linear_skip=False, u_shape_min_t=None
    )
    old = MTMModel(old_config)
    old.fit(data)
    payload = old.to_payload()
    for field_name in ("free_bin_embeddings", "linear_skip", "u_shape_min_t"):
        del payload["config"][field_name]
    del payload["u_features"]
    restored = MTMModel.from_payload(payload)
    assert restored.net.skip is None and restored.u_features == []
    assert restored.config == old_config
    np.testing.assert_array_equal(restored.predict(data.features), old.predict(data.features))


def test_u_shaped_features_are_screened_on_the_fitted_eras_only() -> None:
    """Feature 4's U-shape is found when it holds on the inner eras, not when only the holdout
    has it (that would leak the selection's own scoring eras into its inputs); the refit,
    which trains on every era, screens them all (at a bar of 2.5: a U-shape that appears half-way
    through reads as persistent to a statistic that allows for overlapping targets, t 2.98).
    `u_shape_min_t=None` screens nothing."""
    data = tiny_data(n_eras=40)
    config = replace(MTMConfig.tiny(), holdout_fraction=0.4, u_shape_min_t=2.5)
    model = MTMModel(config)
    model._setup(data)
    assert "feature_4" in model.u_features
    assert model.net.skip.weight.shape[0] == len(model.groups) * model.net.group_width + len(
        model.u_features
    )
    inner, _ = split_holdout(data.eras, config.holdout_fraction, config.embargo)
    rows = np.isin(data.eras, inner)
    features = data.features.copy()
    features[rows, 4] = np.random.default_rng(1).integers(0, 5, rows.sum())
    only_later = replace(data, features=features)
    model._setup(only_later)
    assert "feature_4" not in model.u_features
    model.all_eras = True
    model._setup(only_later)
    assert "feature_4" in model.u_features
    unscreened = MTMModel(replace(config, u_shape_min_t=None))
    unscreened._setup(data)
    assert unscreened.u_features == []


def test_the_screen_counts_overlapping_target_windows() -> None:
    """Stocks that keep their features under overlapping 20-day targets make noise features look
    U-shaped to a statistic that takes eras as independent; the model's screen does not."""
    features, target, eras = persistent_stocks(n_eras=60, stocks=100, n_features=24)
    data = TrainingData(features, target[:, None], eras, [f"f{j}" for j in range(24)], ["target"])
    model = MTMModel(MTMConfig.tiny())
    model.all_eras = True
    model._setup(data)
    naive = u_shaped_features(features, target, eras, data.feature_names, 3.0, target_span=1)
    spanned = u_shaped_features(features, target, eras, data.feature_names, 3.0, target_span=4)
    assert len(naive) > len(spanned)
    assert model.u_features == spanned


def test_ridge_skip_starts_at_a_ridge_fit_on_the_inner_eras_only() -> None:
    """`skip_init="ridge"` sets the main target's skip weights to a ridge regression on the skip's
    inputs (ordinal values, then |x| of the U-shaped features) over the selection fit's inner
    eras: the holdout's targets do not move it; the refit's ridge sees every era."""
    data = tiny_data(n_eras=40)
    config = replace(MTMConfig.tiny(), skip_init="ridge", skip_screen=False, u_shape_min_t=2.5)
    model = MTMModel(config)
    model._setup(data)
    train, holdout = model._split(data)
    assert model.u_features and holdout is not None
    position = {name: i for i, name in enumerate(data.feature_names)}
    ridge = RidgeModel(
        RidgeConfig(
            screen_t=(0.0,), holdout_fraction=config.holdout_fraction, embargo=config.embargo
        ),
        abs_columns=[position[f] for f in model.u_features],
    )
    ridge.fit(train)
    slots = model.layout.flatten()
    weights = model.net.skip.weight.detach().numpy()
    scale = weights[np.flatnonzero(slots >= 0), 0] / ridge.weights[slots[slots >= 0]]
    np.testing.assert_allclose(scale, scale[0], rtol=1e-4)
    np.testing.assert_allclose(
        weights[len(slots) :, 0], ridge.weights[len(data.feature_names) :] * scale[0], rtol=1e-4
    )
    assert (weights[: len(slots)][slots < 0] == 0).all() and (weights[:, 1:] == 0).all()

    targets = data.targets.copy()
    targets[np.isin(data.eras, np.unique(holdout.eras)), 0] = 0.5
    other = MTMModel(config)
    other._setup(replace(data, targets=targets))
    np.testing.assert_array_equal(other.net.skip.weight.detach().numpy(), weights)
    other.all_eras = True
    other._setup(replace(data, targets=targets))
    refit = other.net.skip.weight.detach().numpy()
    assert refit.shape != weights.shape or not np.allclose(refit, weights)


@pytest.mark.parametrize("skip_init", ["zero", "ridge"])
def test_a_screened_skip_reads_only_the_features_the_ridge_kept(skip_init: str) -> None:
    """`skip_screen`: on 40 features of which 4 carry a linear signal, the skip keeps those (and
    the U-shaped input) and leaves most of the rest out; the left-out weights never move, the
    mask travels with the saved model, and a model saved before the screen loads reading all."""
    data = tiny_data(n_eras=40, rows=96, n_features=40)
    config = replace(MTMConfig.tiny(), skip_screen=True, skip_init=skip_init, u_shape_min_t=2.5)
    model = MTMModel(config)
    model._setup(data)
    slots = model.layout.flatten()
    keep = model.net.skip.keep.numpy()
    kept = {int(f) for f in slots[(keep[: len(slots)] > 0) & (slots >= 0)]}
    assert {0, 1, 2, 3} <= kept and len(kept) < 12
    assert model.skip_features() == [data.feature_names[f] for f in sorted(kept)]
    assert model.params()["n_skip_features"] == len(kept)
    assert (keep[len(slots) :] == 1).all() and model.u_features
    model.pretrain(data)
    weights = model.net.skip.weight.detach().numpy()
    assert (weights[keep == 0] == 0).all() and (weights[keep > 0] != 0).any()
    restored = MTMModel.from_payload(model.to_payload())
    torch.testing.assert_close(restored.net.skip.keep, model.net.skip.keep)
    np.testing.assert_array_equal(restored.predict(data.features), model.predict(data.features))
    payload = model.to_payload()
    payload["state_dict"] = {k: v for k, v in payload["state_dict"].items() if k != "skip.keep"}
    del payload["config"]["skip_screen"]
    older = MTMModel.from_payload(payload)
    assert (older.net.skip.keep == 1).all() and not older.config.skip_screen
    unscreened = MTMModel(replace(config, skip_screen=False))
    unscreened._setup(data)
    assert (unscreened.net.skip.keep == 1).all()


@pytest.mark.parametrize("skip_init", ["ridge", "ridge_frozen"])
def test_a_frozen_ridge_skip_does_not_train(skip_init: str) -> None:
    data = tiny_data()
    model = MTMModel(replace(MTMConfig.tiny(), skip_init=skip_init))
    model._setup(data)
    start = model.net.skip.weight.detach().clone()
    model.pretrain(data)
    moved = not torch.equal(start, model.net.skip.weight.detach())
    assert moved == (skip_init == "ridge")
    restored = MTMModel.from_payload(model.to_payload())  # as mtm_heads loads the encoder
    assert restored.net.skip.weight.requires_grad == (skip_init == "ridge")
    with pytest.raises(ValueError, match="skip_init must be"):
        MTMModel(replace(MTMConfig.tiny(), skip_init="lasso"))._setup(data)
