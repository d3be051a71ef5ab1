"""Screening features by their relation to the target, on training eras only: the per-era Pearson
correlation of a feature's ordinal value (linear) or of |bin - 2| (U-shaped) with the target, and
its t-statistic across eras."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from numerai_pipeline.core.eras import era_numbers, sorted_eras
from numerai_pipeline.core.schema import ordinal_values
from numerai_pipeline.core.scoring import overlapping_standard_errors


def per_era_feature_corr(
    features: np.ndarray, target: np.ndarray, eras: np.ndarray, deviation: bool
) -> tuple[list[str], np.ndarray]:
    """(era labels in order, eras x F matrix) of the per-era Pearson correlation of each feature's
    ordinal value (|bin - 2| if `deviation`; missing = 0, as the middle bin) with `target`, from
    int8 `features` (n, F). Rows with a NaN target are left out; NaN where an era has fewer than 3
    such rows or the feature (or the target) is constant in it. Converts one era at a time to
    float."""
    eras = np.asarray(eras).astype(str)
    labels = sorted_eras(np.unique(eras))
    codes = pd.Categorical(eras, categories=labels).codes
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(labels) + 1))
    corr = np.full((len(labels), features.shape[1]), np.nan)
    for e in range(len(labels)):
        rows = order[bounds[e] : bounds[e + 1]]
        rows = rows[~np.isnan(target[rows])]
        if len(rows) < 3:
            continue
        x = ordinal_values(features[rows])
        if deviation:
            x = np.abs(x)
        x -= x.mean(axis=0)
        y = target[rows].astype(np.float64)
        y -= y.mean()
        scale = np.sqrt((x * x).sum(axis=0) * (y @ y))
        corr[e] = np.divide(y @ x, scale, out=np.full(len(scale), np.nan), where=scale > 0)
    return labels, corr


def tstats_over_eras(corr: np.ndarray, labels: list[str], target_span: int = 1) -> np.ndarray:
    """Per column of `per_era_feature_corr`'s `corr` (rows: eras `labels`), the mean over eras
    divided by its standard error, which counts the covariance of eras fewer than `target_span`
    apart (`overlapping_standard_errors`): on real data a stock's features and overlapping target
    windows persist from era to era, and without it a t of 3 is a t of ~1.5. An era where a
    feature is constant says nothing about it and is left out of its statistic; 0 with fewer
    than 2 eras."""
    counts = (~np.isnan(corr)).sum(axis=0)
    se = overlapping_standard_errors(corr, era_numbers(labels), target_span)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        t = np.nanmean(corr, axis=0) / se
    return np.where((counts >= 2) & np.isfinite(t), t, 0.0)


LINEAR_MIN_T = 2.0
U_SHAPE_MIN_T = 3.0


def screen_bar(n_features: int, min_t: float) -> float:
    """The |t| a feature needs: at least `min_t`, and rising with the feature count so that under
    no relation at all fewer than one feature is expected to pass (3.5 for 2,400 features)."""
    return max(min_t, NormalDist().inv_cdf(1 - 0.5 / max(1, n_features)))


def screened_features(
    features: np.ndarray,
    target: np.ndarray,
    eras: np.ndarray,
    feature_names: list[str],
    deviation: bool,
    min_t: float,
    target_span: int = 1,
) -> list[str]:
    """The features whose ordinal value (|bin - 2| if `deviation`) correlates with `target`
    across eras with |t| >= `screen_bar` (`tstats_over_eras`), strongest first."""
    labels, corr = per_era_feature_corr(features, target, eras, deviation)
    t = np.abs(tstats_over_eras(corr, labels, target_span))
    chosen = np.flatnonzero(t >= screen_bar(len(feature_names), min_t))
    return [feature_names[j] for j in chosen[np.argsort(-t[chosen], kind="stable")]]


@dataclass(frozen=True)
class InputScreen:
    """Which features a model reads linearly (`linear`: their ordinal values) and by their
    distance from the middle bin (`u_shaped`: |bin - 2|, the U-shaped terms trees find and a
    linear map cannot express). Fit on training eras only."""

    linear: list[str]
    u_shaped: list[str]


def fit_input_screen(
    features: np.ndarray,
    target: np.ndarray,
    eras: np.ndarray,
    feature_names: list[str],
    target_span: int = 1,
) -> InputScreen:
    """Screen the features of training eras (`screened_features`): when few of many features
    carry the signal, a linear map over all of them spreads weight over noise, and |x| of all of
    them overfits. The strongest linear feature is always kept."""
    linear = screened_features(
        features, target, eras, feature_names, False, LINEAR_MIN_T, target_span
    )
    if not linear:
        labels, corr = per_era_feature_corr(features, target, eras, deviation=False)
        linear = [
            feature_names[int(np.argmax(np.abs(tstats_over_eras(corr, labels, target_span))))]
        ]
    u_shaped = screened_features(
        features, target, eras, feature_names, True, U_SHAPE_MIN_T, target_span
    )
    return InputScreen(linear, u_shaped)
