"""Per-era scores beyond CORR and their summaries: contribution to a reference model (MMC against
the meta model, BMC against Numerai's benchmark), feature exposure, Sharpe, drawdown."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numerai_tools.scoring import correlation_contribution

from numerai_pipeline.core.scoring import per_era_table


def per_era_contribution_table(
    predictions: pd.DataFrame, reference: np.ndarray, targets: np.ndarray, eras: np.ndarray
) -> pd.DataFrame:
    """Per era (eras x columns), each prediction column's contribution to a reference model's
    correlation with the target (numerai-tools `correlation_contribution`): MMC with the meta
    model as reference, BMC with the benchmark model. Rows with both reference and target only;
    one call per era scores all the columns."""
    present = ~np.isnan(np.asarray(reference, "float64")) & ~np.isnan(
        np.asarray(targets, "float64")
    )
    ref = pd.Series(np.asarray(reference)[present], name="reference")
    target = pd.Series(np.asarray(targets)[present], name="target")
    return per_era_table(
        predictions,
        present,
        eras,
        lambda columns, rows: correlation_contribution(columns, ref.iloc[rows], target.iloc[rows]),
        min_rows=3,
    )


def per_era_contribution(
    predictions: np.ndarray, reference: np.ndarray, targets: np.ndarray, eras: np.ndarray
) -> pd.Series:
    """Per era, the contribution of predictions to the reference model's correlation with the
    target (MMC or BMC)."""
    frame = pd.DataFrame({"prediction": predictions})
    return per_era_contribution_table(frame, reference, targets, eras)["prediction"]


def per_era_max_feature_exposure(
    predictions: np.ndarray, features: np.ndarray, eras: np.ndarray
) -> pd.Series:
    """Per era, the largest |Pearson correlation| of the predictions with any single feature."""
    out = {}
    for era in np.unique(eras):
        rows = eras == era
        preds = predictions[rows].astype(np.float64)
        preds = preds - preds.mean()
        block = features[rows].astype(np.float32)
        block -= block.mean(axis=0)
        norms = np.sqrt((block**2).sum(axis=0)) * np.sqrt((preds**2).sum())
        varying = norms > 0
        if not varying.any():
            continue
        corrs = (block[:, varying] * preds[:, None]).sum(axis=0) / norms[varying]
        out[era] = float(np.max(np.abs(corrs)))
    return pd.Series(out, name="feature_exposure", dtype="float64")


def sharpe(scores: pd.Series) -> float:
    """Mean over standard deviation (ddof=0) of per-era scores."""
    std = float(np.std(scores))
    return float(np.mean(scores)) / std if std > 0 else float("nan")


def max_drawdown(scores: pd.Series) -> float:
    """Largest drop of the cumulative per-era score from its running peak (a positive number)."""
    cumulative = np.cumsum(np.asarray(scores, dtype="float64"))
    peak = np.maximum.accumulate(np.concatenate([[0.0], cumulative]))[1:]
    return float(np.max(peak - cumulative)) if len(cumulative) else 0.0
