import numpy as np
import pytest

from numerai_pipeline.evaluation.cv import era_cv_splits, split_holdout
from numerai_pipeline.evaluation.metrics import per_era_corr, standard_error
from numerai_pipeline.evaluation.oof import fold_predictions
from numerai_pipeline.models.base import TrainingData
from numerai_pipeline.models.ridge import RidgeConfig, RidgeModel
from numerai_pipeline_tests.models.test_xgb import planted


def test_ridge_learns_the_linear_part_out_of_fold_and_reports_its_penalty():
    data = planted(n_eras=80)
    fold = era_cv_splits(np.unique(data.eras), n_folds=1, embargo=4)[0]
    model, messages = RidgeModel(), []
    oof = fold_predictions(model, data, fold, messages.append)
    corr = per_era_corr(oof["prediction"].to_numpy(), oof["target"].to_numpy(), oof["era"])
    assert corr.mean() > 3 * standard_error(corr)
    assert model.penalty in model.config.penalties
    assert set(model.holdout_scores) == set(model.config.penalties)
    assert messages and messages[0].startswith(f"penalty {model.penalty:g}")
    assert model.params()["penalty"] == model.penalty
    # the linear feature gets the largest weight; |x - 2| has no linear part
    assert np.argmax(np.abs(model.weights)) == 0 and model.weights[0] > 0


def test_penalty_is_picked_on_the_holdout_and_the_final_fit_uses_every_era():
    data = planted(n_eras=40)
    model = RidgeModel(RidgeConfig(penalties=(1e-4, 100.0)))
    model.fit(data)
    assert model.holdout_scores[1e-4] > model.holdout_scores[100.0]
    assert model.penalty == 1e-4
    inner, _ = split_holdout(data.eras, model.config.holdout_fraction, model.config.embargo)
    on_inner = RidgeModel(RidgeConfig(penalties=(1e-4,)))
    on_inner.fit(data.select_eras(np.array(inner)))
    on_all = RidgeModel(RidgeConfig(penalties=(1e-4,), holdout_fraction=0.0))
    on_all.fit(data)
    np.testing.assert_allclose(model.weights, on_all.weights, rtol=1e-4)
    assert not np.allclose(model.weights, on_inner.weights, rtol=1e-3)


def test_chunked_moments_match_one_pass_and_nan_targets_are_left_out():
    data = planted(n_eras=20)
    targets = data.targets.copy()
    targets[::7, 0] = np.nan
    data = TrainingData(data.features, targets, data.eras, data.feature_names, data.target_names)
    one = RidgeModel(RidgeConfig(penalties=(0.1,), holdout_fraction=0.0))
    one.fit(data)
    chunked = RidgeModel(RidgeConfig(penalties=(0.1,), holdout_fraction=0.0, chunk_rows=100))
    chunked.fit(data)
    assert np.isfinite(one.weights).all()
    np.testing.assert_allclose(one.weights, chunked.weights, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(
        one.predict(data.features), chunked.predict(data.features), rtol=1e-4, atol=1e-6
    )


def test_target_shifts_per_era_do_not_change_the_weights():
    data = planted(n_eras=20)
    shift = np.unique(data.eras, return_inverse=True)[1].astype(np.float32) * 0.01
    shifted = TrainingData(
        data.features,
        data.targets + shift[:, None],
        data.eras,
        data.feature_names,
        data.target_names,
    )
    a, b = RidgeModel(), RidgeModel()
    a.fit(data)
    b.fit(shifted)
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-3, atol=1e-6)


def test_predict_before_fit_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before fit"):
        RidgeModel().predict(np.zeros((2, 3), np.int8))


def test_abs_columns_add_the_u_shaped_inputs():
    """`planted` adds |x - 2| of feature 1: with it as an |ordinal value| input the ridge weighs it
    (one weight per input, after the ordinal values) and predicts better."""
    data = planted(n_eras=80)
    plain, with_abs = RidgeModel(), RidgeModel(abs_columns=[1])
    plain.fit(data)
    with_abs.fit(data)
    assert len(with_abs.weights) == data.features.shape[1] + 1 and with_abs.weights[-1] > 0
    scores = [
        per_era_corr(m.predict(data.features), data.main_target, data.eras).mean()
        for m in (plain, with_abs)
    ]
    assert scores[1] > scores[0] + 0.05
