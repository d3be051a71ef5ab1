"""Feature groups for the MTM's tokens: balanced correlation clustering of the features on the rows
given (training eras only), seeded by the groups of features.json."""

from __future__ import annotations

import math

import numpy as np

MIN_GROUPS = 16
MAX_GROUPS = 64


def default_n_groups(n_features: int) -> int:
    """About 8 features per group, clipped to 16..64 tokens (fewer with fewer features)."""
    return min(n_features, max(MIN_GROUPS, min(MAX_GROUPS, round(n_features / 8))))


def _correlation_profiles(features: np.ndarray) -> np.ndarray:
    """Each feature's vector of |correlation| with every feature, unit-normalised."""
    x = features.astype(np.float32)
    x[x < 0] = 2.0
    x -= x.mean(axis=0)
    std = x.std(axis=0)
    x /= np.where(std > 0, std, 1.0)
    profiles = np.abs(x.T @ x) / len(x)
    norms = np.linalg.norm(profiles, axis=1, keepdims=True)
    return profiles / np.where(norms > 0, norms, 1.0)


def _initial_centroids(
    profiles: np.ndarray, seeds: list[list[int]], n_groups: int, capacity: int
) -> np.ndarray:
    """Centroids from the seed groups (split to fit `capacity`), topped up by farthest points."""
    chunks = []
    for members in sorted(seeds, key=len, reverse=True):
        parts = math.ceil(len(members) / capacity)
        chunks.extend(np.array_split(np.array(members), parts))
    centroids = [profiles[c].mean(axis=0) for c in chunks[:n_groups]]
    if not centroids:
        centroids.append(profiles.mean(axis=0))
    while len(centroids) < n_groups:
        nearest = (profiles @ np.stack(centroids).T).max(axis=1)
        centroids.append(profiles[int(np.argmin(nearest))])
    return np.stack(centroids)


def _balanced_assign(similarity: np.ndarray, capacity: int) -> np.ndarray:
    """Greedy assignment of features to groups by similarity, at most `capacity` per group and
    no group left empty."""
    n_features, n_groups = similarity.shape
    order = np.argsort(-similarity, axis=None, kind="stable")
    assignment = np.full(n_features, -1)
    sizes = np.zeros(n_groups, dtype=int)
    unassigned, empty = n_features, n_groups
    for flat in order:
        f, g = divmod(int(flat), n_groups)
        if assignment[f] >= 0 or sizes[g] >= capacity or (sizes[g] > 0 and unassigned <= empty):
            continue
        assignment[f] = g
        empty -= sizes[g] == 0
        sizes[g] += 1
        unassigned -= 1
        if unassigned == 0:
            break
    return assignment


def fit_feature_groups(
    features: np.ndarray,
    feature_names: list[str],
    n_groups: int | None = None,
    seed_groups: dict[str, list[str]] | None = None,
    max_rows: int = 50_000,
    seed: int = 0,
    n_iter: int = 10,
) -> dict[str, list[str]]:
    """Cluster the columns of `features` (int8 rows of training eras only) into `n_groups` groups
    of similar size (at most 1.25x the mean), by the similarity of their correlation profiles.

    Seed groups (e.g. features.json's `feature_sets` groups) set the initial centroids. Returns
    group name -> member features; every feature is in exactly one group.
    """
    n_features = features.shape[1]
    if n_features != len(feature_names):
        raise ValueError(f"{n_features} feature columns but {len(feature_names)} names")
    n_groups = min(n_features, n_groups or default_n_groups(n_features))
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(features), min(len(features), max_rows), replace=False))
    profiles = _correlation_profiles(features[rows])
    capacity = max(1, math.ceil(1.25 * n_features / n_groups))
    position = {name: i for i, name in enumerate(feature_names)}
    seeds = [
        [position[f] for f in members if f in position] for members in (seed_groups or {}).values()
    ]
    centroids = _initial_centroids(profiles, [s for s in seeds if s], n_groups, capacity)
    assignment = np.full(n_features, -1)
    for _ in range(n_iter):
        updated = _balanced_assign(profiles @ centroids.T, capacity)
        if np.array_equal(updated, assignment):
            break
        assignment = updated
        centroids = np.stack([profiles[assignment == g].mean(axis=0) for g in range(n_groups)])
    return {
        f"group_{g:02d}": [feature_names[i] for i in np.flatnonzero(assignment == g)]
        for g in range(n_groups)
    }
