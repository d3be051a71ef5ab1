import numpy as np
import pandas as pd
import pytest

from numerai_pipeline.evaluation.metrics import (
    max_drawdown,
    per_era_corr,
    per_era_corr_table,
    per_era_max_feature_exposure,
    per_era_mmc,
    per_era_mmc_table,
    sharpe,
    standard_error,
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


def test_mmc_is_zero_for_the_meta_model_itself_and_positive_for_the_residual_signal():
    eras, target, rng = era_data(rows=2000)
    meta = target + rng.normal(scale=2.0, size=len(target))
    assert abs(per_era_mmc(meta, meta, target, eras).mean()) < 1e-6
    assert per_era_mmc(target, meta, target, eras).mean() > 0.05


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


def test_tables_score_every_column_as_it_scores_alone():
    eras, target, rng = era_data()
    target[::11] = np.nan
    columns = pd.DataFrame(
        {"a": target + rng.normal(size=len(target)), "b": rng.normal(size=len(target))}
    )
    meta = columns["a"].to_numpy() + rng.normal(size=len(target))
    meta[::7] = np.nan
    corr = per_era_corr_table(columns, target, eras)
    mmc = per_era_mmc_table(columns, meta, target, eras)
    assert list(corr.columns) == ["a", "b"] and list(corr.index) == sorted(set(eras))
    for name in columns:
        alone = per_era_corr(columns[name].to_numpy(), target, eras)
        np.testing.assert_allclose(corr[name].to_numpy(), alone.to_numpy(), atol=1e-12)
        alone = per_era_mmc(columns[name].to_numpy(), meta, target, eras)
        np.testing.assert_allclose(mmc[name].to_numpy(), alone.to_numpy(), atol=1e-12)
    assert corr["a"].mean() > 0.1 > abs(corr["b"].mean())
