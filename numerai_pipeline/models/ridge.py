"""Ridge regression on the features' ordinal values: the linear reference model.

Closed form, numpy only: the Gram matrix is accumulated over row chunks (no float copy of all the
features), the penalty is picked on an embargoed holdout of the latest training eras, then the
weights are solved again on all the training eras with it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from numerai_pipeline.data.schema import ordinal_values
from numerai_pipeline.evaluation.cv import split_holdout
from numerai_pipeline.evaluation.metrics import per_era_corr
from numerai_pipeline.models.base import ProgressFn, TrainingData, no_progress


@dataclass
class RidgeConfig:
    """Candidate penalties (x rows, on ordinal values in [-1, 1]) and the holdout that picks one."""

    penalties: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
    holdout_fraction: float = 0.15
    embargo: int = 8
    chunk_rows: int = 16384
    """Rows converted to float32 at a time (16k x 2,400 features = 157 MB)."""


class RidgeModel:
    """Ridge on ordinal feature values against the main target centred per era."""

    def __init__(
        self,
        config: RidgeConfig | None = None,
        name: str = "ridge",
        abs_columns: list[int] | None = None,
    ) -> None:
        self.config = config or RidgeConfig()
        self.name = name
        self.abs_columns = list(abs_columns or [])
        """Feature columns whose |ordinal value| is an extra input (after the ordinal values)."""
        self.weights: np.ndarray | None = None
        self.penalty = float("nan")
        self.holdout_scores: dict[float, float] = {}

    def _moments(self, data: TrainingData, eras: list[str]) -> tuple[np.ndarray, np.ndarray, int]:
        """X'X, X'y and the row count over `eras`' rows with a main target (y centred per era)."""
        rows = np.flatnonzero(np.isin(data.eras, eras) & ~np.isnan(data.main_target))
        y = data.main_target[rows].astype(np.float64)
        labels = data.eras[rows]
        _, era_ids = np.unique(labels, return_inverse=True)
        y -= (np.bincount(era_ids, y) / np.bincount(era_ids))[era_ids]
        n_inputs = data.features.shape[1] + len(self.abs_columns)
        gram, moment = np.zeros((n_inputs, n_inputs)), np.zeros(n_inputs)
        for start in range(0, len(rows), self.config.chunk_rows):
            part = slice(start, start + self.config.chunk_rows)
            x = self._inputs(data.features[rows[part]])
            gram += (x.T @ x).astype(np.float64)
            moment += x.T @ y[part].astype(np.float32)
        return gram, moment, len(rows)

    @staticmethod
    def _solve(gram: np.ndarray, moment: np.ndarray, n_rows: int, penalty: float) -> np.ndarray:
        ridge = gram + penalty * max(n_rows, 1) * np.eye(len(gram))
        return np.linalg.solve(ridge, moment).astype(np.float32)

    def fit(self, data: TrainingData, progress: ProgressFn = no_progress) -> None:
        """Pick the penalty with the best mean per-era CORR on the holdout (fit on the inner eras,
        behind the embargo), then solve on all of `data`'s eras with it."""
        c = self.config
        all_eras = sorted(set(data.eras.tolist()))
        inner, holdout = split_holdout(data.eras, c.holdout_fraction, c.embargo)
        self.penalty, self.holdout_scores = c.penalties[0], {}
        if not holdout or len(c.penalties) == 1:
            self.weights = self._solve(*self._moments(data, all_eras), self.penalty)
            return
        gram, moment, n_rows = self._moments(data, inner)
        rows = np.flatnonzero(np.isin(data.eras, holdout))
        weights = [self._solve(gram, moment, n_rows, penalty) for penalty in c.penalties]
        scored = self._linear(data.features, rows, np.stack(weights, 1))
        for j, penalty in enumerate(c.penalties):
            corr = per_era_corr(scored[:, j], data.main_target[rows], data.eras[rows])
            self.holdout_scores[penalty] = float(corr.mean())
        self.penalty = max(self.holdout_scores, key=self.holdout_scores.get)
        score = self.holdout_scores[self.penalty]
        progress(f"penalty {self.penalty:g} (holdout CORR {score:.4f})")
        more_gram, more_moment, more_rows = self._moments(data, sorted(set(all_eras) - set(inner)))
        self.weights = self._solve(
            gram + more_gram, moment + more_moment, n_rows + more_rows, self.penalty
        )

    def _linear(self, features: np.ndarray, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """`features[rows]` x `weights`, converting `chunk_rows` rows to float32 at a time."""
        step = self.config.chunk_rows
        out = np.empty((len(rows),) + weights.shape[1:], np.float32)
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            out[start : start + len(chunk)] = self._inputs(features[chunk]) @ weights
        return out

    def _inputs(self, features: np.ndarray) -> np.ndarray:
        """float32 ordinal values of int8 rows, then |ordinal value| of `abs_columns`."""
        x = ordinal_values(features)
        return np.hstack([x, np.abs(x[:, self.abs_columns])]) if self.abs_columns else x

    def predict(self, features: np.ndarray, eras: np.ndarray | None = None) -> np.ndarray:
        """Linear predictions for int8 feature rows (higher = better expected target)."""
        if self.weights is None:
            raise RuntimeError(f"{self.name}.predict called before fit")
        return self._linear(features, np.arange(len(features)), self.weights)

    def params(self) -> dict[str, float | int | str]:
        values = {k: str(v) for k, v in asdict(self.config).items()}
        return {**values, "penalty": self.penalty}
