"""Era arithmetic on Numerai's labels ("0001", ...): order, distances in weeks, selection."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def in_eras(eras: np.ndarray, wanted: Sequence[str] | np.ndarray) -> np.ndarray:
    """Boolean mask of the rows whose era label is in `wanted`, by hashing: `np.isin` sorts
    object arrays (0.3 s per call on 300k rows, 50x this)."""
    return pd.Index(eras).isin(list(wanted))


def era_sort_key(era: str) -> tuple[int, str]:
    """Order eras numerically ("0002" < "0010"); non-numeric labels such as live's "X" sort last."""
    return (int(era), era) if str(era).isdigit() else (10**9, str(era))


def sorted_eras(eras: Sequence[str]) -> list[str]:
    """Unique eras in chronological order."""
    return sorted({str(e) for e in eras}, key=era_sort_key)


def in_era_order(eras: np.ndarray) -> bool:
    """Whether each era's rows are one run and the runs are in chronological order (compares
    neighbours, then sorts the runs' labels only)."""
    if not len(eras):
        return True
    runs = eras[np.r_[True, eras[1:] != eras[:-1]]]
    return list(runs) == sorted_eras(runs)


def era_offsets(eras: np.ndarray) -> np.ndarray:
    """Row offsets of each era's run of rows, length n_eras + 1 (rows must be in era order)."""
    change = np.flatnonzero(eras[1:] != eras[:-1]) + 1
    return np.concatenate([[0], change, [len(eras)]]).astype(np.int64)


def era_runs(eras: np.ndarray) -> list[slice]:
    """The run of rows of each era (rows in era order)."""
    offsets = era_offsets(eras)
    return [slice(int(a), int(b)) for a, b in zip(offsets[:-1], offsets[1:], strict=True)]


def era_numbers(ordered: Sequence[str]) -> np.ndarray:
    """Era numbers of chronologically ordered eras ("0007" -> 7), or their positions when some
    label is not numeric: distances between eras in weeks."""
    if all(str(e).isdigit() for e in ordered):
        return np.array([int(e) for e in ordered], dtype=np.int64)
    return np.arange(len(ordered), dtype=np.int64)


def subsample_eras(eras: Sequence[str], every_nth: int = 1) -> list[str]:
    """Every `every_nth` era counting back from the latest, so the most recent era is always kept.

    Numerai's targets overlap neighbouring eras; keeping every 4th era cuts memory and
    near-duplicate rows at little cost (Numerai's example scripts do the same).
    """
    if every_nth < 1:
        raise ValueError(f"every_nth must be >= 1, got {every_nth}")
    ordered = sorted_eras(eras)
    return ordered[::-1][::every_nth][::-1]
