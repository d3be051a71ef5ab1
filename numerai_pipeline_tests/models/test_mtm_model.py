"""The MTM as a tournament model: its tokens and inputs are fit on the fit's own eras."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.features.screening import LINEAR_MIN_T, U_SHAPE_MIN_T, screened_features
from numerai_pipeline.models.mtm.config import MTMConfig
from numerai_pipeline.models.mtm.model import MTMModel, select_targets
from numerai_pipeline.models.training import TrainConfig
from numerai_pipeline_tests.features.test_screening import persistent_stocks
from numerai_pipeline_tests.helpers import tiny_data


def built(data: TrainingData, **kwargs) -> MTMModel:
    model = MTMModel(MTMConfig.tiny(), TrainConfig(eras_per_batch=2), **kwargs)
    model.feature_names, model.target_names = data.feature_names, data.target_names
    model.net = model.build(data)
    return model


def test_target_tokens_drop_copies_of_the_main_target() -> None:
    rng = np.random.default_rng(0)
    targets = rng.random((10, 4)).astype(np.float32)
    targets[:, 1] = targets[:, 0]
    names = ["target", "target_a_20", "target_b_20", "target_b_60"]
    assert select_targets(names, targets, "all") == ["target", "target_b_20", "target_b_60"]
    assert select_targets(names, targets, "20d") == ["target", "target_b_20"]
    assert select_targets(names, targets, "main") == ["target"]


def test_unlabeled_rows_join_pretraining_only() -> None:
    data = tiny_data()
    unlabeled = tiny_data(n_eras=2, seed=3).features
    model = MTMModel(MTMConfig.tiny(), TrainConfig(eras_per_batch=2), unlabeled=unlabeled)
    model.fit(data)
    plain = MTMModel(MTMConfig.tiny(), TrainConfig(eras_per_batch=2))
    plain.fit(data)
    assert not np.array_equal(model.predict(data.features), plain.predict(data.features))
    assert MTMModel(MTMConfig.tiny(), pretrain=False, unlabeled=unlabeled).unlabeled is None


def test_the_input_screen_reads_the_rows_it_is_given_only() -> None:
    """Feature 4's U-shape and features 0..3's linear effects are screened in when the training
    eras show them; with feature 4 redrawn in the training rows it is not U-shaped."""
    data = tiny_data(n_eras=40)
    model = built(data)
    assert "feature_4" in model.screen.u_shaped
    assert {"feature_0", "feature_1", "feature_2", "feature_3"} <= set(model.screen.linear)
    assert model.net.readout.weight.shape[0] == len(model.screen.linear) + len(
        model.screen.u_shaped
    )
    features = data.features.copy()
    features[:, 4] = np.random.default_rng(1).integers(0, 5, len(features))
    assert "feature_4" not in built(replace(data, features=features)).screen.u_shaped


def test_the_screen_counts_overlapping_target_windows() -> None:
    """Stocks that keep their features under overlapping 20-day targets make noise features look
    related to a statistic that takes eras as independent; the model's screen is not fooled."""
    features, target, eras = persistent_stocks(n_eras=60, stocks=100, n_features=24)
    data = TrainingData(features, target[:, None], eras, [f"f{j}" for j in range(24)], ["target"])
    model = built(data)
    for deviation, chosen in ((False, model.screen.linear), (True, model.screen.u_shaped)):
        min_t = LINEAR_MIN_T if not deviation else U_SHAPE_MIN_T
        args = (features, target, eras, data.feature_names, deviation, min_t)
        naive, spanned = screened_features(*args, 1), screened_features(*args, 4)
        assert chosen == (spanned or chosen[:1]) and len(naive) > len(spanned)
