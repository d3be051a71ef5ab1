"""Feature grouping: a partition of the features, 16-64 groups, fit only on the rows given."""

from __future__ import annotations

import numpy as np

from numerai_pipeline.features.grouping import default_n_groups, fit_feature_groups


def correlated_features(n_rows: int, n_factors: int, per_factor: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n_rows, n_factors))
    raw = np.repeat(factors, per_factor, axis=1) + 0.5 * rng.normal(
        size=(n_rows, n_factors * per_factor)
    )
    return np.digitize(raw, [-0.84, -0.25, 0.25, 0.84]).astype(np.int8)


def test_groups_partition_features_and_recover_factors() -> None:
    features = correlated_features(2000, 16, 8, seed=0)
    names = [f"feature_{i}" for i in range(features.shape[1])]
    groups = fit_feature_groups(features, names)
    assert len(groups) == 16
    members = [f for g in groups.values() for f in g]
    assert sorted(members) == sorted(names)
    factor_sets = {frozenset(names[i * 8 : i * 8 + 8]) for i in range(16)}
    assert {frozenset(g) for g in groups.values()} == factor_sets


def test_group_count_is_clipped_and_respects_few_features() -> None:
    assert default_n_groups(120) == 16 and default_n_groups(2376) == 64
    assert default_n_groups(10) == 10
    features = correlated_features(300, 2, 5, seed=1)
    groups = fit_feature_groups(features, [f"f{i}" for i in range(10)])
    assert len(groups) == 10 and all(len(g) == 1 for g in groups.values())


def test_seed_groups_are_used_and_only_given_rows_matter() -> None:
    features = correlated_features(1500, 20, 6, seed=2)
    names = [f"feature_{i}" for i in range(features.shape[1])]
    seeds = {"strength": names[:6], "wisdom": names[6:12]}
    groups = fit_feature_groups(features[:1000], names, seed_groups=seeds)
    assert 16 <= len(groups) <= 64
    assert set(names[:6]) in [set(g) for g in groups.values()]
    scrambled = features.copy()
    scrambled[1000:] = np.random.default_rng(0).integers(0, 5, scrambled[1000:].shape)
    assert fit_feature_groups(scrambled[:1000], names, seed_groups=seeds) == groups
    assert max(len(g) for g in groups.values()) <= np.ceil(1.25 * len(names) / len(groups))
