"""The MLP baseline: it learns the planted signal."""

from __future__ import annotations

import numpy as np
import torch

from numerai_pipeline.core.scoring import per_era_corr
from numerai_pipeline.models.mlp import MLPConfig, MLPModel, ordinal_inputs
from numerai_pipeline_tests.helpers import tiny_data


def test_ordinal_inputs_flag_missing_values() -> None:
    out = ordinal_inputs(torch.tensor([[0, 4, -1]], dtype=torch.int8))
    assert out.tolist() == [[-1.0, 1.0, 0.0, 0.0, 0.0, 1.0]]


def test_mlp_learns_the_signal_and_reports_its_epochs() -> None:
    data = tiny_data(n_eras=40, rows=128)
    model = MLPModel(MLPConfig(hidden=(32,), epochs=6))
    messages: list[str] = []
    model.fit(data, progress=messages.append)
    test = tiny_data(n_eras=4, rows=128, seed=9)
    pred = model.predict(test.features, test.eras)
    assert per_era_corr(pred, test.main_target, test.eras).mean() > 0.2
    assert messages[0].startswith("train epoch 1/6 loss") and "holdout corr" in messages[0]
    assert 1 <= model.schedule["train"] <= 6
    assert np.isfinite(pred).all()
