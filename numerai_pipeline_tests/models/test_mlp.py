"""The MLP baseline: it learns the planted signal and is deterministic."""

from __future__ import annotations

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
    assert messages[0].startswith("epoch 1/6 loss") and "holdout corr" in messages[0]
    assert 1 <= first.params()["selected_epoch"] <= 6
