import numpy as np
import pytest

from numerai_pipeline.core.folds import HOLDOUT_FRACTION, era_cv_splits, split_holdout
from numerai_pipeline.core.scoring import per_era_corr, standard_error
from numerai_pipeline.core.targets import embargo_for_target
from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.evaluation.oof import fold_predictions
from numerai_pipeline.features.screening import per_era_feature_corr, tstats_over_eras
from numerai_pipeline.models.ridge import RidgeConfig, RidgeModel
from numerai_pipeline_tests.models.test_xgb import planted


def test_ridge_learns_the_linear_part_out_of_fold_and_reports_its_penalty():
    data = planted(n_eras=80)
    fold = era_cv_splits(np.unique(data.eras), n_folds=1, embargo=4)[0]
    model, messages = RidgeModel(), []
    result = fold_predictions(model, data, fold, messages.append)
    oof = result.predictions
    corr = per_era_corr(oof["prediction"].to_numpy(), oof["target"].to_numpy(), oof["era"])
    assert corr.mean() > 3 * standard_error(corr)
    assert result.schedule == model.schedule
    assert model.schedule["penalty"] in model.config.penalties
    assert model.schedule["screen_t"] in model.config.screen_t
    c = model.config
    assert set(model.holdout_scores) == {(b, p) for b in c.screen_t for p in c.penalties}
    assert messages and messages[0].startswith(f"penalty {model.schedule['penalty']:g}")
    assert model.params()["penalty"] == model.schedule["penalty"]
    assert model.params()["n_screened"] == int(model.kept.sum())
    # the linear feature gets the largest weight; |x - 2| has no linear part
    assert np.argmax(np.abs(model.weights)) == 0 and model.weights[0] > 0


def test_penalty_is_picked_on_the_holdout_and_the_final_fit_uses_every_era():
    data = planted(n_eras=40)
    model = RidgeModel(RidgeConfig(penalties=(1e-4, 100.0), screen_t=(0.0,)))
    model.fit(data)
    assert model.holdout_scores[(0.0, 1e-4)] > model.holdout_scores[(0.0, 100.0)]
    assert model.schedule == {"screen_t": 0.0, "penalty": 1e-4}
    inner, _ = split_holdout(data.eras, HOLDOUT_FRACTION, embargo_for_target("target"))
    on_inner = RidgeModel(RidgeConfig(penalties=(1e-4,), screen_t=(0.0,)))
    on_inner.fit(data.select_eras(np.array(inner)))
    on_all = RidgeModel()
    on_all.fit(data, schedule=model.schedule)
    assert not on_all.holdout_scores, "a given schedule is not selected again"
    np.testing.assert_allclose(model.weights, on_all.weights, rtol=1e-4)
    assert not np.allclose(model.weights, on_inner.weights, rtol=1e-3)


def test_chunked_moments_match_one_pass_and_nan_targets_are_left_out():
    data = planted(n_eras=20)
    targets = data.targets.copy()
    targets[::7, 0] = np.nan
    data = TrainingData(data.features, targets, data.eras, data.feature_names, data.target_names)
    schedule = {"screen_t": 0.0, "penalty": 0.1}
    one = RidgeModel()
    one.fit(data, schedule=schedule)
    chunked = RidgeModel(RidgeConfig(chunk_rows=100))
    chunked.fit(data, schedule=schedule)
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


def sparse_signal(n_eras=60, rows=200, n_features=40, seed=0) -> TrainingData:
    """Two of `n_features` features carry a linear signal; the rest are noise."""
    rng = np.random.default_rng(seed)
    eras = np.repeat([f"{i:04d}" for i in range(1, n_eras + 1)], rows)
    x = rng.integers(0, 5, size=(len(eras), n_features)).astype(np.int8)
    signal = (x[:, 0] - 2.0) - 0.7 * (x[:, 1] - 2.0)
    target = signal + rng.normal(scale=6.0, size=len(eras))
    target = np.digitize(target, np.quantile(target, [0.05, 0.25, 0.75, 0.95])) / 4
    names = [f"feature_{i}" for i in range(n_features)]
    ids = np.array([f"n{i}" for i in range(len(eras))], dtype=object)
    return TrainingData(x, target[:, None].astype(np.float32), eras, names, ["target"], ids)


def test_the_screen_keeps_the_signal_features_and_zeroes_the_rest():
    data = sparse_signal()
    model = RidgeModel(RidgeConfig(penalties=(0.01,), screen_t=(3.0,)))
    model.fit(data)
    assert model.schedule["screen_t"] == 3.0 and model.kept.sum() >= 2
    assert model.weights[0] > 0 > model.weights[1]
    assert (model.weights[2:] == 0).sum() >= 36  # at most a couple of noise features pass
    unscreened = RidgeModel(RidgeConfig(penalties=(0.01,), screen_t=(0.0,)))
    unscreened.fit(data)
    assert model.kept.sum() < unscreened.kept.sum() == 40
    np.testing.assert_array_equal(model.kept, model.weights != 0)
    assert (unscreened.weights != 0).all()


def test_the_holdout_picks_the_screen_when_few_features_carry_the_signal():
    """With 2 signal features among 300 and ~10 rows per feature, the holdout prefers a screened
    ridge, which also predicts the later eras better; the screen sees the fitting eras only."""
    data = sparse_signal(n_eras=60, rows=60, n_features=300)
    fold = era_cv_splits(np.unique(data.eras), n_folds=1, embargo=4)[0]
    scores = []
    for bars in ((0.0,), (0.0, 2.0, 3.0, 4.0)):
        model = RidgeModel(RidgeConfig(screen_t=bars))
        oof = fold_predictions(model, data, fold).predictions
        corr = per_era_corr(oof["prediction"].to_numpy(), oof["target"].to_numpy(), oof["era"])
        scores.append(corr.mean())
    assert model.schedule["screen_t"] > 0 and model.kept.sum() < 20
    assert scores[1] > scores[0] + 0.05


def test_the_screen_of_some_eras_reads_only_their_targets():
    data = sparse_signal(n_eras=60, rows=60, n_features=300)
    eras = sorted(set(data.eras.tolist()))
    later = np.isin(data.eras, eras[40:])
    shuffled = data.targets.copy()
    shuffled[later] = np.random.default_rng(1).permutation(shuffled[later])
    other = TrainingData(data.features, shuffled, data.eras, data.feature_names, ["target"])
    screen, other_screen = RidgeModel()._screen(data), RidgeModel()._screen(other)
    np.testing.assert_array_equal(screen(eras[:40], 2.0), other_screen(eras[:40], 2.0))
    assert not np.array_equal(screen(eras, 2.0), other_screen(eras, 2.0))


def test_the_screen_allows_for_the_main_targets_overlap():
    """The t-statistics' standard errors count the eras a target spans: 4 for `target` (20-day),
    12 for a 60-day main target."""
    data = sparse_signal(n_eras=60, rows=60, n_features=300)
    labels, corr = per_era_feature_corr(data.features, data.main_target, data.eras, False)
    for name, span in (("target", 4), ("target_x_60", 12)):
        renamed = TrainingData(data.features, data.targets, data.eras, data.feature_names, [name])
        expected = np.abs(tstats_over_eras(corr, labels, span)) >= 2.0
        np.testing.assert_array_equal(RidgeModel()._screen(renamed)(labels, 2.0), expected)
    assert not np.array_equal(
        np.abs(tstats_over_eras(corr, labels, 4)) >= 2.0,
        np.abs(tstats_over_eras(corr, labels, 12)) >= 2.0,
    )
