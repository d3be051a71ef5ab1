"""The rows a model is fit on or scored on: int8 features, float32 targets, era labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numerai_pipeline.core.eras import in_eras


@dataclass
class TrainingData:
    """Rows of some eras: int8 features, float32 targets (NaN = unresolved), era labels.

    `features` is (n, F) int8 in 0..4 (-1 = missing), `targets` is (n, T) float32 with the main
    target in column 0, `eras` is (n,) of era labels sorted ascending (rows of an era contiguous),
    `ids` the row ids when known.
    """

    features: np.ndarray
    targets: np.ndarray
    eras: np.ndarray
    feature_names: list[str]
    target_names: list[str]
    ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.features.dtype != np.int8:
            raise TypeError(f"features must be int8, got {self.features.dtype}")
        n = len(self.features)
        if (
            len(self.targets) != n
            or len(self.eras) != n
            or (self.ids is not None and len(self.ids) != n)
        ):
            raise ValueError("features, targets and eras must have the same number of rows")

    @property
    def main_target(self) -> np.ndarray:
        return self.targets[:, 0]

    def select_eras(self, eras: np.ndarray) -> TrainingData:
        """The rows whose era is in `eras` (features stay int8): views when those rows are one
        run (a fold's training eras, a holdout tail: rows are in era order), so a fold does not
        hold a second copy of the features; a copy otherwise (every other era, say). Treat the
        result as read-only."""
        rows = np.flatnonzero(in_eras(self.eras, eras))
        if len(rows) == len(self.eras):
            return self
        if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
            rows = slice(rows[0], rows[-1] + 1)
        return TrainingData(
            self.features[rows],
            self.targets[rows],
            self.eras[rows],
            self.feature_names,
            self.target_names,
            None if self.ids is None else self.ids[rows],
        )
