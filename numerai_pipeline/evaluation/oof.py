"""Out-of-fold predictions: fit a model on a fold's training eras, predict its test eras."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median_low

import numpy as np
import pandas as pd

from numerai_pipeline.core.folds import EraFold
from numerai_pipeline.core.schema import ERA_COL, TARGET_COL
from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.models.base import Progress, Schedule, TournamentModel, no_progress


@dataclass(frozen=True)
class FoldPredictions:
    """One model's out-of-fold predictions for one fold (`era`, `target` (main), `prediction`
    by id) and the schedule its fit chose on its inner holdout."""

    predictions: pd.DataFrame
    schedule: Schedule


def shuffle_targets_within_eras(data: TrainingData, seed: int = 0) -> TrainingData:
    """A null control: the same rows with all targets permuted inside each era.

    Any model scoring clearly above zero on this data is being fed information by the pipeline
    (leakage) rather than learning from features.
    """
    rng = np.random.default_rng(seed)
    targets = data.targets.copy()
    for era in np.unique(data.eras):
        rows = np.flatnonzero(data.eras == era)
        targets[rows] = targets[rng.permutation(rows)]
    return TrainingData(
        data.features, targets, data.eras, data.feature_names, data.target_names, data.ids
    )


def split_fold(data: TrainingData, fold: EraFold) -> tuple[TrainingData, TrainingData]:
    """The fold's training rows and its test rows (the embargoed eras between are in neither)."""
    train = data.select_eras(np.asarray(fold.train_eras, dtype=object))
    test = data.select_eras(np.asarray(fold.test_eras, dtype=object))
    if len(train.features) == 0 or len(test.features) == 0:
        raise ValueError(f"{fold.name} has no training or no test rows in the data given")
    return train, test


def oof_frame(test: TrainingData, predictions: np.ndarray) -> pd.DataFrame:
    """Out-of-fold predictions indexed by id with `era`, `target` (main) and `prediction`."""
    return pd.DataFrame(
        {ERA_COL: test.eras, TARGET_COL: test.main_target, "prediction": predictions},
        index=pd.Index(test.ids, name="id"),
    )


def fold_predictions(
    model: TournamentModel,
    data: TrainingData,
    fold: EraFold,
    progress: Progress = no_progress,
    shuffled: bool = False,
) -> FoldPredictions:
    """Fit `model` on the fold's training eras only and predict its test eras (`shuffled`: both
    with targets shuffled within eras, the null control)."""
    if shuffled:
        data = shuffle_targets_within_eras(data, seed=fold.index)
    train, test = split_fold(data, fold)
    model.fit(train, progress)
    predictions = oof_frame(test, model.predict(test.features, test.eras))
    return FoldPredictions(predictions, dict(model.schedule))


def consensus_schedule(schedules: list[Schedule]) -> Schedule:
    """The schedule a final fit repeats: per entry, the lower median over the folds' choices
    (always one of the values a fold chose)."""
    keys = {key for schedule in schedules for key in schedule}
    return {key: median_low([s[key] for s in schedules if key in s]) for key in sorted(keys)}


def stack_folds(by_fold: dict[str, FoldPredictions]) -> pd.DataFrame:
    """One model's out-of-fold predictions of every fold, in fold order."""
    order = sorted(by_fold, key=lambda name: int(name.rsplit("_", 1)[-1]))
    return pd.concat([by_fold[name].predictions for name in order])
