"""The interface every tournament model implements, so CV, reports and live predictions treat them alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from numerai_pipeline.core.training_data import TrainingData

Progress = Callable[[str], None]


def no_progress(message: str) -> None:
    """Default progress sink: drop the message."""


Schedule = dict[str, float]
"""What a fit chose on its inner holdout and a final fit repeats: epochs per selecting phase of a
network, the ridge's screening bar and penalty; empty for XGBoost's fixed trees."""


class TournamentModel(Protocol):
    """A model that is fit on training eras and predicts any rows (higher = better expected
    target). `fit` picks its `schedule` on an embargoed holdout of the latest training eras, or
    trains the `schedule` given on all of them (a final fit with the schedule CV chose)."""

    name: str
    kind: str
    schedule: Schedule

    def fit(
        self,
        data: TrainingData,
        progress: Progress = no_progress,
        schedule: Schedule | None = None,
    ) -> None: ...

    def predict(self, features: np.ndarray, eras: np.ndarray | None = None) -> np.ndarray: ...

    def params(self) -> dict[str, float | int | str]: ...

    def save(self, folder: Path) -> None: ...
