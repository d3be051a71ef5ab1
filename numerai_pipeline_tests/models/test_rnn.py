"""The RNN and its era context: only what was known before an era reaches its prediction."""

from __future__ import annotations

import numpy as np
import pytest

from numerai_pipeline.core.targets import target_span_eras
from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.features.era_context import (
    build_era_context,
    era_context_of_rows,
    summary_groups,
)
from numerai_pipeline.models.rnn import RNNConfig, RNNModel
from numerai_pipeline.models.training import TrainConfig
from numerai_pipeline_tests.helpers import tiny_context, tiny_data

SPAN = 4
ERA = "0020"


def perturbed(
    data: TrainingData, features_after: str | None, targets_from: str | None
) -> TrainingData:
    """A copy with the features of eras after `features_after` and the targets of eras from
    `targets_from` on redrawn."""
    rng = np.random.default_rng(7)
    features, targets = data.features.copy(), data.targets.copy()
    if features_after:
        later = data.eras > features_after
        features[later] = rng.integers(0, 5, features[later].shape)
    if targets_from:
        recent = data.eras >= targets_from
        targets[recent] = rng.integers(0, 5, targets[recent].shape) / 4
    return TrainingData(
        features, targets, data.eras, data.feature_names, data.target_names, data.ids
    )


def fit_and_predict_era(data: TrainingData, context_data: TrainingData) -> np.ndarray:
    """Fit an RNN on the eras before `ERA` and predict `ERA`, with the context of `context_data`."""
    model = RNNModel(
        tiny_context(context_data, SPAN), RNNConfig.tiny(), TrainConfig(eras_per_batch=2)
    )
    train = data.select_eras(np.array([e for e in np.unique(data.eras) if e < "0012"]))
    model.fit(train)
    rows = data.eras == ERA
    return model.predict(data.features[rows], data.eras[rows])


def test_the_context_of_an_era_uses_only_what_was_known_before_it() -> None:
    """Redrawing the features of later eras, or the targets of eras fewer than a target span
    before it, changes neither the era's context nor its predictions; redrawing older targets,
    which had resolved, does."""
    data = tiny_data(n_eras=24)
    reference = tiny_context(data, SPAN).sequences([ERA], 6)
    unresolved = f"{int(ERA) - SPAN + 1:04d}"
    hidden = perturbed(data, features_after=ERA, targets_from=unresolved)
    np.testing.assert_array_equal(tiny_context(hidden, SPAN).sequences([ERA], 6), reference)
    resolved = perturbed(data, features_after=None, targets_from=f"{int(ERA) - SPAN:04d}")
    assert not np.array_equal(tiny_context(resolved, SPAN).sequences([ERA], 6), reference)

    predictions = fit_and_predict_era(data, data)
    np.testing.assert_array_equal(fit_and_predict_era(data, hidden), predictions)
    assert not np.array_equal(fit_and_predict_era(data, resolved), predictions)


def test_a_sequence_ends_with_its_era_and_is_zero_padded_before_the_first() -> None:
    data = tiny_data(n_eras=6)
    context = tiny_context(data, SPAN)
    first, last = context.sequences(["0001", "0006"], 4)
    assert not first[:3].any() and first[3].any()
    np.testing.assert_array_equal(last[-1], context.step_inputs()[-1])
    inputs = context.step_inputs()
    assert not inputs[:SPAN, -1].any() and inputs[SPAN:, -1].all(), "resolved flag lags a span"


def test_new_eras_are_summarised_from_the_rows_predicted() -> None:
    """A live era the table lacks ("X") counts as the week after its last era, summarised from
    the live rows, with no correlations; the fitted model predicts it and keeps its own table."""
    data = tiny_data(n_eras=12)
    model = RNNModel(tiny_context(data), RNNConfig.tiny(), TrainConfig(eras_per_batch=2))
    model.fit(data)
    live = tiny_data(n_eras=1, seed=5)
    live_eras = np.full(len(live.features), "X", dtype=object)
    predictions = model.predict(live.features, live_eras)
    assert np.isfinite(predictions).all() and predictions.std() > 0
    assert model.context.eras[-1] == "0012", "predicting leaves the fitted table as it was"
    extended = model.context.extended(live.features, live_eras)
    assert extended.eras[-1] == "X" and extended.numbers[-1] == 13
    assert np.isnan(extended.correlations[-1]).all()
    with pytest.raises(ValueError, match="era labels"):
        model.predict(live.features)


def test_without_context_the_rnn_is_its_row_model_and_needs_no_table() -> None:
    data = tiny_data(n_eras=12)
    model = RNNModel(None, RNNConfig(hidden=(8,), epochs=1, use_context=False))
    model.fit(data)
    assert model.name == "rnn_no_context" and np.isfinite(model.predict(data.features)).all()
    with pytest.raises(ValueError, match="era-context table"):
        RNNModel(None, RNNConfig.tiny()).fit(data)


def test_context_chunks_must_hold_whole_eras() -> None:
    data = tiny_data(n_eras=4)
    groups = summary_groups(data.feature_names, {})
    half = len(data.eras) // 2 + 3
    chunks = [
        (data.features[:half], data.main_target[:half], data.eras[:half]),
        (data.features[half:], data.main_target[half:], data.eras[half:]),
    ]
    with pytest.raises(ValueError, match="whole eras"):
        build_era_context(chunks, groups, SPAN)


def test_context_of_rows_in_memory_is_the_whole_table_of_their_eras() -> None:
    data = tiny_data(n_eras=12)
    groups = {"first": data.feature_names[:3], "rest": data.feature_names[3:]}
    table = era_context_of_rows(data, groups)
    whole = build_era_context(
        [(data.features, data.main_target, data.eras)],
        summary_groups(data.feature_names, groups),
        target_span_eras(data.target_names[0]),
    )
    assert table.eras == whole.eras and table.span == whole.span
    assert len(table.groups) == 2
    np.testing.assert_array_equal(table.summaries, whole.summaries)
    np.testing.assert_array_equal(table.correlations, whole.correlations)
