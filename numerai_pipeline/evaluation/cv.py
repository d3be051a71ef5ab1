"""Walk-forward cross-validation over eras with an embargo between training and scored eras."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from numerai_pipeline.data.eras import era_numbers, sorted_eras
from numerai_pipeline.data.schema import DatasetError

EMBARGO_20D = 8
EMBARGO_60D = 16
TARGET_ERAS_20D = 4
"""Weekly eras a 20-day target spans: scores of eras fewer than 4 apart share target days."""
TARGET_ERAS_60D = 12


def embargo_for_target(target_name: str) -> int:
    """Eras to leave out between training and scoring: 16 for 60-day targets, else 8 (20-day)."""
    return EMBARGO_60D if target_name.endswith("_60") else EMBARGO_20D


def target_span_eras(target_name: str) -> int:
    """Weekly eras one target value spans: 12 for 60-day targets, else 4 (20-day)."""
    return TARGET_ERAS_60D if target_name.endswith("_60") else TARGET_ERAS_20D


def split_holdout(
    eras: np.ndarray, fraction: float, embargo: int, min_eras: int = 4
) -> tuple[list[str], list[str]]:
    """(inner training eras, holdout eras): the holdout is the latest `fraction` of the eras and
    the inner training eras end more than `embargo` era numbers before it. Without room for
    `min_eras` on both sides the holdout is empty."""
    ordered = sorted_eras(eras)
    n_hold = max(min_eras, round(len(ordered) * fraction))
    numbers = era_numbers(ordered)
    if fraction <= 0 or n_hold >= len(ordered):
        return ordered, []
    first = numbers[len(ordered) - n_hold]
    inner = [e for e, num in zip(ordered, numbers, strict=True) if num < first - embargo]
    if len(inner) < min_eras:
        return ordered, []
    return inner, ordered[len(ordered) - n_hold :]


@dataclass(frozen=True)
class EraFold:
    """One walk-forward fold: fit on `train_eras`, score on `test_eras`, `embargo` eras between."""

    index: int
    train_eras: tuple[str, ...]
    test_eras: tuple[str, ...]
    embargo: int

    @property
    def name(self) -> str:
        return f"fold_{self.index}"

    def describe(self) -> str:
        return (
            f"{self.name}: train {self.train_eras[0]}-{self.train_eras[-1]} "
            f"({len(self.train_eras)} eras), embargo {self.embargo}, "
            f"test {self.test_eras[0]}-{self.test_eras[-1]} ({len(self.test_eras)} eras)"
        )


def era_cv_splits(
    eras: Sequence[str],
    n_folds: int,
    embargo: int = EMBARGO_20D,
    min_train_fraction: float = 0.4,
    min_train_eras: int = 4,
) -> list[EraFold]:
    """Walk-forward folds: the eras after the first `min_train_fraction` are cut into `n_folds`
    consecutive test blocks; each fold trains on the eras that end more than `embargo` eras
    (counted in era numbers, so subsampled eras keep the real gap) before its test block, so
    no fit sees an era whose targets overlap the eras it is scored on."""
    ordered = sorted_eras(eras)
    numbers = era_numbers(ordered)
    n = len(ordered)
    first_test = int(n * min_train_fraction)
    while first_test < n and np.sum(numbers < numbers[first_test] - embargo) < min_train_eras:
        first_test += 1
    if n_folds < 1 or n - first_test < n_folds:
        raise DatasetError(
            f"{n} labeled eras are too few for {n_folds} CV folds with an embargo of {embargo} "
            f"eras and at least {min_train_eras} training eras; use fewer folds, a smaller "
            "every-Nth-era subsampling or more data"
        )
    folds = []
    for i, block in enumerate(np.array_split(np.arange(first_test, n), n_folds), start=1):
        start = int(block[0])
        train = numbers < numbers[start] - embargo
        folds.append(
            EraFold(
                index=i,
                train_eras=tuple(e for e, keep in zip(ordered, train, strict=True) if keep),
                test_eras=tuple(ordered[start : int(block[-1]) + 1]),
                embargo=embargo,
            )
        )
    return folds


@dataclass(frozen=True)
class EraPlan:
    """Which labeled eras the models use and how CV folds cut them."""

    eras: tuple[str, ...]
    folds: tuple[EraFold, ...]
    every_nth_era: int
    unresolved_eras: tuple[str, ...] = ()
    """Eras after the labeled ones whose targets have not resolved (features only)."""

    def fold(self, name: str) -> EraFold:
        for fold in self.folds:
            if fold.name == name:
                return fold
        raise KeyError(f"no CV fold named {name!r}; folds are {[f.name for f in self.folds]}")
