"""Per-era Numerai CORR (numerai-tools) and the standard error of a mean over eras whose targets
overlap: what every fit uses to pick its schedule and what every report summarises."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from numerai_tools.scoring import numerai_corr

from numerai_pipeline.core.eras import era_numbers, sorted_eras


def per_era_table(
    predictions: pd.DataFrame,
    present: np.ndarray,
    eras: np.ndarray,
    score: Callable[[pd.DataFrame, np.ndarray], pd.Series],
    min_rows: int = 1,
) -> pd.DataFrame:
    """`score(columns, rows)` of the `present` rows of each era with at least `min_rows` of them
    (eras x prediction columns, eras sorted); `rows` are positions among the present rows."""
    frame = predictions.reset_index(drop=True)[present].reset_index(drop=True)
    labels = np.asarray(eras)[present]
    groups = pd.Series(np.arange(len(labels))).groupby(labels, sort=True)
    scores = {
        era: score(frame.iloc[rows], rows.to_numpy())
        for era, rows in groups
        if len(rows) >= min_rows
    }
    ordered = {era: scores[era] for era in sorted_eras(scores)}
    return pd.DataFrame.from_dict(ordered, orient="index", columns=frame.columns, dtype="float64")


def per_era_corr_table(
    predictions: pd.DataFrame, targets: np.ndarray, eras: np.ndarray
) -> pd.DataFrame:
    """Numerai CORR (`numerai_corr`) of every prediction column with targets in each era (eras x
    columns, eras in chronological order): one numerai-tools call per era scores all the columns.
    NaN in an era where a column or the target is constant (no correlation defined; means skip
    it)."""
    present = ~np.isnan(np.asarray(targets, "float64"))
    target = pd.Series(np.asarray(targets)[present], name="target")

    def score(columns: pd.DataFrame, rows: np.ndarray) -> pd.Series:
        with np.errstate(invalid="ignore", divide="ignore"):  # constant in an era: NaN
            return numerai_corr(columns, target.iloc[rows])

    return per_era_table(predictions, present, eras, score)


def per_era_corr(predictions: np.ndarray, targets: np.ndarray, eras: np.ndarray) -> pd.Series:
    """Numerai CORR (`numerai_corr`) of predictions with targets in each era, indexed by era."""
    table = per_era_corr_table(pd.DataFrame({"prediction": predictions}), targets, eras)
    return table["prediction"].rename("corr")


def mean_corr(predictions: np.ndarray, targets: np.ndarray, eras: np.ndarray) -> float:
    """Mean per-era Numerai CORR of predictions with the main target."""
    return float(per_era_corr(predictions, targets, eras).mean())


def overlapping_standard_errors(
    scores: np.ndarray, numbers: np.ndarray, target_span: int = 1
) -> np.ndarray:
    """Standard error of the mean over eras of each column of `scores` (eras x columns, NaN =
    no score; eras at ascending era `numbers`). Scores of eras fewer than `target_span` apart
    share target days (a 20-day target spans 4 weekly eras), so their covariances join the
    variance (Hansen-Hodrick); never below the independent-eras value, to which `target_span`
    1 reduces. NaN for columns with fewer than 2 scores."""
    scores = np.asarray(scores, dtype="float64").reshape(len(numbers), -1)
    present = ~np.isnan(scores)
    n = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.where(present, scores, 0.0).sum(axis=0) / n, 0.0)
        centred = np.where(present, scores - mean, 0.0)
        squares = (centred * centred).sum(axis=0)
        cross = np.zeros(scores.shape[1])
        for lag in range(1, min(target_span, len(numbers))):
            near = (numbers[lag:] - numbers[:-lag]) < target_span
            cross += (centred[lag:][near] * centred[:-lag][near]).sum(axis=0)
        pairs = n * (n - 1.0)
        variance = np.maximum(squares, squares + 2 * cross) / pairs
        return np.where(n > 1, np.sqrt(variance), np.nan)


def standard_error(scores: pd.Series, target_span: int = 1) -> float:
    """Standard error of the mean of per-era scores (indexed by era), counting the covariance
    of eras fewer than `target_span` apart (`overlapping_standard_errors`)."""
    by_era = pd.Series(scores.to_numpy(), index=scores.index.astype(str))
    ordered = sorted_eras(by_era.index)
    values = by_era.reindex(ordered).to_numpy()
    return float(overlapping_standard_errors(values, era_numbers(ordered), target_span)[0])
