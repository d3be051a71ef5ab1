import warnings

import numpy as np
import pandas as pd
import pytest

from numerai_pipeline.core.scoring import (
    overlapping_standard_errors,
    per_era_corr,
    per_era_corr_table,
    standard_error,
)
from numerai_pipeline.evaluation.metrics import (
    max_drawdown,
    per_era_contribution,
    per_era_contribution_table,
    per_era_max_feature_exposure,
    sharpe,
)


def era_data(n_eras=6, rows=200, seed=0):
    rng = np.random.default_rng(seed)
    eras = np.repeat([f"{i:04d}" for i in range(n_eras)], rows)
    target = rng.choice([0, 0.25, 0.5, 0.75, 1.0], size=n_eras * rows)
    return eras, target, rng


def test_per_era_corr_is_one_for_the_target_and_minus_one_for_its_negation():
    eras, target, _ = era_data()
    assert per_era_corr(target, target, eras).min() > 0.9
    assert per_era_corr(-target, target, eras).max() < -0.9
    assert list(per_era_corr(target, target, eras).index) == sorted(set(eras))


def test_per_era_corr_ignores_nan_targets():
    eras, target, rng = era_data()
    preds = rng.normal(size=len(target))
    noisy = target.copy()
    noisy[::3] = np.nan
    scores = per_era_corr(preds, noisy, eras)
    assert scores.notna().all()


def test_per_era_corr_is_nan_without_warnings_where_predictions_are_constant():
    eras, target, rng = era_data()
    preds = rng.random(len(target))
    preds[eras == "0002"] = 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = per_era_corr(preds, target, eras)
    assert np.isnan(scores["0002"]) and scores.drop("0002").notna().all()


def test_mmc_is_zero_for_the_meta_model_itself_and_positive_for_the_residual_signal():
    eras, target, rng = era_data(rows=2000)
    meta = target + rng.normal(scale=2.0, size=len(target))
    assert abs(per_era_contribution(meta, meta, target, eras).mean()) < 1e-6
    assert per_era_contribution(target, meta, target, eras).mean() > 0.05


def test_feature_exposure_finds_the_copied_feature():
    eras, target, rng = era_data()
    features = rng.integers(0, 5, size=(len(target), 5)).astype(np.int8)
    exposure = per_era_max_feature_exposure(features[:, 3].astype(float), features, eras)
    assert np.allclose(exposure, 1.0)
    low = per_era_max_feature_exposure(rng.normal(size=len(target)), features, eras)
    assert low.max() < 0.3


def test_summaries():
    scores = pd.Series([0.02, -0.01, 0.03, -0.04, 0.01])
    assert sharpe(scores) == pytest.approx(scores.mean() / scores.std(ddof=0))
    assert max_drawdown(scores) == pytest.approx(0.04)  # cumulative peaks at 0.04, falls to 0.00
    assert max_drawdown(pd.Series([0.01, 0.02])) == 0.0
    assert standard_error(scores) == pytest.approx(scores.std(ddof=1) / np.sqrt(5))


def overlapping_scores(n_eras: int, replicates: int, seed: int = 0) -> np.ndarray:
    """(eras, replicates) per-era scores that each sum 4 weekly shocks, as overlapping 20-day
    targets make them."""
    shocks = np.random.default_rng(seed).standard_normal((n_eras + 3, replicates))
    return sum(shocks[k : k + n_eras] for k in range(4))


def test_overlapping_standard_error_matches_the_spread_of_the_mean():
    scores = overlapping_scores(200, 2000)
    numbers = np.arange(1, 201)
    spread = scores.mean(axis=0).std()
    spanned = overlapping_standard_errors(scores, numbers, target_span=4)
    naive = overlapping_standard_errors(scores, numbers, target_span=1)
    assert np.mean(spanned) == pytest.approx(spread, rel=0.1)
    assert np.mean(naive) < 0.6 * spread  # eras taken as independent: ~half the true error
    np.testing.assert_allclose(naive, scores.std(axis=0, ddof=1) / np.sqrt(200))
    every_4th = overlapping_standard_errors(scores[::4], numbers[::4], target_span=4)
    np.testing.assert_allclose(every_4th, scores[::4].std(axis=0, ddof=1) / np.sqrt(50))


def test_overlapping_standard_error_never_falls_below_independent_eras_and_skips_nan():
    alternating = pd.Series([1.0, -1.0] * 10, index=[f"{e:04d}" for e in range(1, 21)])
    assert standard_error(alternating, target_span=4) == pytest.approx(standard_error(alternating))
    scores = overlapping_scores(60, 1)[:, 0]
    holes = scores.copy()
    holes[::5] = np.nan
    by_era = pd.Series(holes, index=[f"{e:04d}" for e in range(1, 61)]).dropna()
    assert standard_error(by_era.sample(frac=1, random_state=0), 4) == pytest.approx(
        float(overlapping_standard_errors(holes, np.arange(1, 61), 4)[0])
    )
    assert np.isnan(overlapping_standard_errors(np.array([[0.1, np.nan]]), np.array([1]), 4)).all()


def test_tables_score_every_column_as_it_scores_alone():
    eras, target, rng = era_data()
    target[::11] = np.nan
    columns = pd.DataFrame(
        {"a": target + rng.normal(size=len(target)), "b": rng.normal(size=len(target))}
    )
    meta = columns["a"].to_numpy() + rng.normal(size=len(target))
    meta[::7] = np.nan
    corr = per_era_corr_table(columns, target, eras)
    mmc = per_era_contribution_table(columns, meta, target, eras)
    assert list(corr.columns) == ["a", "b"] and list(corr.index) == sorted(set(eras))
    for name in columns:
        alone = per_era_corr(columns[name].to_numpy(), target, eras)
        np.testing.assert_allclose(corr[name].to_numpy(), alone.to_numpy(), atol=1e-12)
        alone = per_era_contribution(columns[name].to_numpy(), meta, target, eras)
        np.testing.assert_allclose(mmc[name].to_numpy(), alone.to_numpy(), atol=1e-12)
    assert corr["a"].mean() > 0.1 > abs(corr["b"].mean())
