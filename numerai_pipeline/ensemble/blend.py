"""Blending models' predictions the way Numerai scores them: per era, each member's predictions are
ranked and gaussianized (numerai-tools `rank`, `gaussian`), then weighted; feature neutralization
(numerai-tools `neutralize`) removes a proportion of the blend's linear projection on features.

Neutralization is linear, so each member is neutralized once per era (proportion 1) and any
blend and proportion is a mix: (1 - p) x blend + p x neutralized blend."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numerai_tools.scoring import gaussian, neutralize, rank
from scipy.optimize import minimize

from numerai_pipeline.core.eras import era_runs
from numerai_pipeline.core.schema import ordinal_values

PROPORTIONS = (0.0, 0.25, 0.5, 1.0)
"""Neutralization proportions the selection may pick (0: none)."""


@dataclass(frozen=True)
class Blend:
    """A combination of models: non-negative weights summing to 1 over per-era gaussianized
    predictions, and the proportion neutralized."""

    name: str
    weights: dict[str, float]
    neutralization: float = 0.0

    def describe(self) -> str:
        parts = ", ".join(f"{m} {w:.2f}" for m, w in self.weights.items() if w > 0)
        return f"{self.name} ({parts}; neutralized {self.neutralization:g})"


def gaussianize(predictions: np.ndarray) -> np.ndarray:
    """(n, M) predictions of one era -> their tie-kept ranks, gaussianized, per column."""
    frame = pd.DataFrame(np.asarray(predictions, dtype="float64"))
    return gaussian(rank(frame)).to_numpy()


def neutralized(gaussianized: np.ndarray, features: np.ndarray) -> np.ndarray:
    """(n, M) gaussianized predictions of one era with their projection on its int8 features
    (and a constant) removed in full."""
    frame = pd.DataFrame(gaussianized)
    return neutralize(frame, pd.DataFrame(ordinal_values(features)), proportion=1.0).to_numpy()


@dataclass(frozen=True)
class MemberMatrix:
    """Rows (in era order) of M members: `gaussianized` (n, M) per era and `residual` (n, M), the
    same with the features' projection removed."""

    members: list[str]
    gaussianized: np.ndarray
    residual: np.ndarray
    eras: np.ndarray

    @classmethod
    def build(
        cls, members: list[str], predictions: np.ndarray, eras: np.ndarray, features: np.ndarray
    ) -> MemberMatrix:
        """From raw (n, M) predictions, rows in era order, and the neutralizing features."""
        g = np.empty(predictions.shape, np.float64)
        r = np.empty(predictions.shape, np.float64)
        for run in era_runs(eras):
            g[run] = gaussianize(predictions[run])
            r[run] = neutralized(g[run], features[run])
        return cls(members, g, r, np.asarray(eras))

    def combine(self, blend: Blend, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        """The blend's (unranked) predictions for `rows`."""
        w = np.array([blend.weights.get(m, 0.0) for m in self.members])
        p = blend.neutralization
        return ((1 - p) * self.gaussianized[rows] + p * self.residual[rows]) @ w


def optimize_weights(gaussianized: np.ndarray, target: np.ndarray, eras: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to 1 that maximize the mean over eras of the Pearson
    correlation of the blend of gaussianized predictions with the centred target raised to 1.5
    (numerai_corr's target; a smooth stand-in for CORR, which re-ranks the blend). Rows with a NaN
    target are left out; equal weights where the data cannot tell."""
    m = gaussianized.shape[1]
    stats = []
    for run in era_runs(np.asarray(eras)):
        x, t = gaussianized[run], target[run]
        keep = ~np.isnan(t)
        if keep.sum() < 3:
            continue
        x, t = x[keep] - x[keep].mean(0), t[keep] - t[keep].mean()
        t = np.sign(t) * np.abs(t) ** 1.5
        t = (t - t.mean()) / max(t.std(), 1e-12)
        stats.append((x.T @ t / len(t), x.T @ x / len(t)))
    if not stats or m == 1:
        return np.full(m, 1.0 / m)
    a = np.stack([s[0] for s in stats])
    cov = np.stack([s[1] for s in stats])

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        var = np.maximum(np.einsum("i,eij,j->e", w, cov, w), 1e-12)
        num = a @ w
        corr = num / np.sqrt(var)
        grad = (a / np.sqrt(var)[:, None]) - (num / var**1.5)[:, None] * np.einsum(
            "eij,j->ei", cov, w
        )
        return -corr.mean(), -grad.mean(0)

    result = minimize(
        loss,
        np.full(m, 1.0 / m),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * m,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
    )
    w = np.clip(result.x, 0.0, None) if result.success else np.full(m, 1.0 / m)
    return w / w.sum()
