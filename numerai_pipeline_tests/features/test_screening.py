"""Screening for U-shaped features: planted U-shapes found, monotone and noise features not, on
the eras and rows given."""

from __future__ import annotations

import numpy as np

from numerai_pipeline.features.screening import (
    fit_input_screen,
    per_era_feature_corr,
    screened_features,
    tstats_over_eras,
)


def u_shape_tstats(features, target, eras, target_span: int = 1) -> np.ndarray:
    labels, corr = per_era_feature_corr(features, target, eras, deviation=True)
    return tstats_over_eras(corr, labels, target_span)


def u_shaped_features(features, target, eras, names, min_t: float, target_span: int = 1):
    return screened_features(features, target, eras, names, True, min_t, target_span)


def planted(n_eras: int = 40, rows: int = 200, seed: int = 0):
    """Feature 0 U-shaped, feature 1 strongly U-shaped, feature 2 linear, 3..9 noise."""
    rng = np.random.default_rng(seed)
    n = n_eras * rows
    features = rng.integers(0, 5, (n, 10)).astype(np.int8)
    u = np.abs(features[:, :2].astype(float) - 2)
    target = 0.3 * u[:, 0] + 0.6 * u[:, 1] + 0.8 * (features[:, 2] - 2) + rng.normal(0, 2, n)
    eras = np.repeat([f"{e:04d}" for e in range(1, n_eras + 1)], rows).astype(object)
    return features, target.astype(np.float32), eras, [f"f{j}" for j in range(10)]


def test_planted_u_shapes_are_found_strongest_first() -> None:
    features, target, eras, names = planted()
    t = u_shape_tstats(features, target, eras)
    assert t[1] > t[0] > 4
    assert np.abs(t[2:]).max() < 3  # a linear effect has no U-shape
    assert u_shaped_features(features, target, eras, names, min_t=3.0) == ["f1", "f0"]
    assert u_shaped_features(features, -target, eras, names, min_t=3.0) == ["f1", "f0"]
    assert u_shaped_features(features, target, eras, names, min_t=100.0) == []


def test_rows_order_does_not_matter_and_nan_targets_are_left_out() -> None:
    features, target, eras, _ = planted()
    t = u_shape_tstats(features, target, eras)
    order = np.random.default_rng(1).permutation(len(eras))
    shuffled = u_shape_tstats(features[order], target[order], eras[order])
    np.testing.assert_allclose(shuffled, t, rtol=1e-5)
    noisy = np.concatenate([features, np.full((50, 10), 4, np.int8)])
    nan_target = np.concatenate([target, np.full(50, np.nan, np.float32)])
    more_eras = np.concatenate([eras, eras[:50]])
    np.testing.assert_allclose(u_shape_tstats(noisy, nan_target, more_eras), t, rtol=1e-5)


def test_eras_where_a_feature_is_constant_are_left_out_of_its_statistic() -> None:
    features, target, eras, _ = planted()
    first = eras < "0011"
    constant = features.copy()
    constant[first, 1] = 2  # e.g. missing for whole eras, stored as the middle bin
    constant[:, 5] = -1
    t = u_shape_tstats(constant, target, eras)
    later = u_shape_tstats(features[~first], target[~first], eras[~first])
    assert np.isclose(t[1], later[1])
    assert t[5] == 0.0
    assert u_shape_tstats(features[:200], target[:200], eras[:200]).tolist() == [0.0] * 10


def test_missing_reads_as_the_middle_bin() -> None:
    features, target, eras, _ = planted()
    holes = features.copy()
    holes[::7, 1] = -1
    middle = holes.copy()
    middle[::7, 1] = 2
    np.testing.assert_allclose(
        u_shape_tstats(holes, target, eras), u_shape_tstats(middle, target, eras), rtol=1e-6
    )


def persistent_stocks(n_eras: int = 160, stocks: int = 200, n_features: int = 100, seed: int = 0):
    """No feature relates to the target, but every stock keeps its features from era to era and
    the target sums 4 weekly shocks (overlapping 20-day windows), as on real data."""
    rng = np.random.default_rng(seed)
    features = np.tile(rng.integers(0, 5, (stocks, n_features)).astype(np.int8), (n_eras, 1))
    shocks = rng.standard_normal((n_eras + 3, stocks))
    target = np.stack([shocks[e : e + 4].sum(axis=0) for e in range(n_eras)]).reshape(-1)
    eras = np.repeat([f"{e:04d}" for e in range(1, n_eras + 1)], stocks)
    return features, target.astype(np.float32), eras


def test_overlapping_targets_do_not_inflate_the_statistic() -> None:
    features, target, eras = persistent_stocks()
    naive = np.abs(u_shape_tstats(features, target, eras, target_span=1))
    spanned = np.abs(u_shape_tstats(features, target, eras, target_span=4))
    assert (naive >= 2).mean() > 0.2  # ~5% expected of independent eras
    assert (spanned >= 2).mean() < 0.12
    every_4th = eras.astype(int) % 4 == 0  # eras 4 apart share no target days
    np.testing.assert_allclose(
        u_shape_tstats(features[every_4th], target[every_4th], eras[every_4th], target_span=4),
        u_shape_tstats(features[every_4th], target[every_4th], eras[every_4th], target_span=1),
    )


def test_the_bar_rises_with_the_number_of_features() -> None:
    features, target, eras, names = planted(n_eras=10, rows=200, seed=3)
    t = u_shape_tstats(features, target, eras)
    assert 3.0 <= t[0] < 3.5, t[0]  # passes 3, not the bar for 2,400 features (~3.53)
    assert "f0" in u_shaped_features(features, target, eras, names, min_t=3.0)
    wide = np.concatenate([features, np.full((len(eras), 2390), 2, np.int8)], axis=1)
    wide_names = names + [f"constant_{j}" for j in range(2390)]
    assert "f0" not in u_shaped_features(wide, target, eras, wide_names, min_t=3.0)


def test_the_input_screen_keeps_linear_and_u_shaped_features_apart() -> None:
    features, target, eras, names = planted()
    screen = fit_input_screen(features, target, eras, names)
    assert screen.linear[0] == "f2" and screen.u_shaped == ["f1", "f0"]
    noise = np.random.default_rng(3).standard_normal(len(target)).astype(np.float32)
    quiet = fit_input_screen(features, noise, eras, names)
    assert len(quiet.linear) == 1 and quiet.u_shaped == [], "the strongest feature always stays"
