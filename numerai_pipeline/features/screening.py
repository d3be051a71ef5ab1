"""Screening features for a U-shaped (non-monotone) relation to the target, on training eras only:
the per-era Pearson correlation of |bin - 2| with the target, and its t-statistic across eras."""

from __future__ import annotations

import warnings

import numpy as np

from numerai_pipeline.data.schema import ordinal_values


def u_shape_tstats(features: np.ndarray, target: np.ndarray, eras: np.ndarray) -> np.ndarray:
    """Per feature, mean / standard error over eras of the per-era Pearson correlation of
    |bin - 2| (missing = 0, as the middle bin) with `target`, from int8 `features` (n, F). Rows
    with a NaN target are left out; an era where a feature (or the target) is constant says
    nothing about it and is left out of that feature's statistic (0 with fewer than 2 eras).
    Converts one era at a time to float."""
    labels, codes = np.unique(eras, return_inverse=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(labels) + 1))
    corr = np.full((len(labels), features.shape[1]), np.nan)
    for e in range(len(labels)):
        rows = order[bounds[e] : bounds[e + 1]]
        rows = rows[~np.isnan(target[rows])]
        if len(rows) < 3:
            continue
        x = np.abs(ordinal_values(features[rows]))
        x -= x.mean(axis=0)
        y = target[rows].astype(np.float64)
        y -= y.mean()
        scale = np.sqrt((x * x).sum(axis=0) * (y @ y))
        corr[e] = np.divide(y @ x, scale, out=np.full(len(scale), np.nan), where=scale > 0)
    counts = (~np.isnan(corr)).sum(axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        t = np.nanmean(corr, axis=0) / (np.nanstd(corr, axis=0, ddof=1) / np.sqrt(counts))
    return np.where((counts >= 2) & np.isfinite(t), t, 0.0)


def u_shaped_features(
    features: np.ndarray,
    target: np.ndarray,
    eras: np.ndarray,
    feature_names: list[str],
    min_t: float,
) -> list[str]:
    """The features whose |bin - 2| correlates with `target` across eras with |t| >= `min_t`
    (`u_shape_tstats`), strongest first."""
    t = np.abs(u_shape_tstats(features, target, eras))
    chosen = np.flatnonzero(t >= min_t)
    return [feature_names[j] for j in chosen[np.argsort(-t[chosen], kind="stable")]]
