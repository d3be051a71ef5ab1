"""The MLP baseline: it learns the planted signal, is deterministic, and refits on all eras."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from numerai_pipeline.evaluation.metrics import per_era_corr
from numerai_pipeline.models.mlp import MLPConfig, MLPModel, ordinal_inputs
from numerai_pipeline_tests.models.test_mtm import tiny_data


def test_ordinal_inputs_flag_missing_values() -> None:
    out = ordinal_inputs(torch.tensor([[0, 4, -1]], dtype=torch.int8))
    assert out.tolist() == [[-1.0, 1.0, 0.0, 0.0, 0.0, 1.0]]


def test_mlp_learns_signal_and_is_deterministic() -> None:
    data = tiny_data(n_eras=30, rows=128)
    config = MLPConfig(hidden=(32,), epochs=6, holdout_fraction=0.2, embargo=2)
    first, second = MLPModel(config), MLPModel(config)
    messages: list[str] = []
    first.fit(data, progress=messages.append)
    second.fit(data)
    test = tiny_data(n_eras=4, rows=128, seed=9)
    pred = first.predict(test.features, test.eras)
    np.testing.assert_array_equal(pred, second.predict(test.features, test.eras))
    assert per_era_corr(pred, test.main_target, test.eras).mean() > 0.2
    assert messages[0].startswith("train epoch 1/6 loss") and "holdout corr" in messages[0]
    assert 1 <= first.params()["selected_epoch"] <= 6


def test_mlp_refit_trains_the_selected_epochs_on_all_eras() -> None:
    """The holdout picks the epoch; the refit trains a fresh network that many epochs on every
    era (holdout and embargo included), which changes its predictions."""
    data = tiny_data(n_eras=30, rows=128)
    config = MLPConfig(hidden=(32,), epochs=4, holdout_fraction=0.2, embargo=2, refit=False)
    selection_only, refit = MLPModel(config), MLPModel(replace(config, refit=True))
    selection_only.fit(data)
    messages: list[str] = []
    refit.fit(data, progress=messages.append)
    epochs = selection_only.selected_epoch
    assert refit.selected_epoch == epochs
    assert refit.history[: len(selection_only.history)] == selection_only.history
    assert [r["epoch"] for r in refit.history if r["phase"] == "refit"] == list(
        range(1, epochs + 1)
    )
    assert f"refit: {epochs} of {config.epochs} epochs on 30 eras" in messages
    test = tiny_data(n_eras=4, rows=128, seed=9)
    assert not np.array_equal(
        refit.predict(test.features, test.eras), selection_only.predict(test.features, test.eras)
    )
