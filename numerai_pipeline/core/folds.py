"""Walk-forward cross-validation over eras with an embargo between training and scored eras, and the
embargoed inner holdout that fits use to pick their schedule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from numerai_pipeline.core.eras import era_numbers, sorted_eras
from numerai_pipeline.core.schema import DatasetError
from numerai_pipeline.core.targets import EMBARGO_20D

HOLDOUT_FRACTION = 0.15
"""Share of a fit's latest eras held out to pick its schedule (epochs, penalty, screen)."""
MIN_TRAIN_FRACTION = 0.4
"""Share of the labeled eras before the first scored one: the first fold's training data."""
MIN_TRAIN_ERAS = 4


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


def _first_test(numbers: np.ndarray, embargo: int) -> int:
    """Index of the first scored era: after `MIN_TRAIN_FRACTION` of the eras and late enough for
    `MIN_TRAIN_ERAS` training eras behind the embargo."""
    first = int(len(numbers) * MIN_TRAIN_FRACTION)
    while first < len(numbers) and np.sum(numbers < numbers[first] - embargo) < MIN_TRAIN_ERAS:
        first += 1
    return first


def max_folds(n_eras: int, embargo: int, every_nth: int = 1) -> int:
    """The most walk-forward folds `n_eras` consecutive labeled eras (every `every_nth` era) allow."""
    numbers = np.arange(n_eras) * every_nth
    return n_eras - _first_test(numbers, embargo)


def min_eras_for_folds(n_folds: int, embargo: int, every_nth: int = 1) -> int:
    """The fewest consecutive labeled eras (every `every_nth` era) that `n_folds` folds need."""
    n = n_folds
    while max_folds(n, embargo, every_nth) < n_folds:
        n += 1
    return n


def era_cv_splits(
    eras: Sequence[str], n_folds: int, embargo: int = EMBARGO_20D, every_nth: int = 1
) -> list[EraFold]:
    """Walk-forward folds: the eras after the first `MIN_TRAIN_FRACTION` are cut into `n_folds`
    consecutive test blocks; each fold trains on the eras that end more than `embargo` eras
    (counted in era numbers, so subsampled eras keep the real gap) before its test block, so
    no fit sees an era whose targets overlap the eras it is scored on."""
    ordered = sorted_eras(eras)
    numbers = era_numbers(ordered)
    n = len(ordered)
    first_test = _first_test(numbers, embargo)
    if n_folds < 1 or n - first_test < n_folds:
        possible = n - first_test
        advice = (
            f"set NUMERAI_CV_FOLDS to at most {possible}, or add labeled eras"
            if possible > 0
            else "add labeled eras (or keep more of them: a smaller NUMERAI_EVERY_NTH_ERA)"
        )
        kept = "" if every_nth == 1 else f" when keeping every {every_nth}th era"
        needed = min_eras_for_folds(max(n_folds, 1), embargo, every_nth)
        raise DatasetError(
            f"{n} labeled eras are too few for {n_folds} CV fold(s) with an embargo of {embargo} "
            f"eras: {n_folds} fold(s) need at least {needed} labeled eras{kept}, of which "
            f"{MIN_TRAIN_ERAS} to train on behind the embargo; {advice}"
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
