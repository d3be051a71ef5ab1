"""Facts about Numerai's targets: how many weekly eras one value spans and the embargo it needs."""

from __future__ import annotations

EMBARGO_20D = 8
EMBARGO_60D = 16
TARGET_ERAS_20D = 4
"""Weekly eras a 20-day target spans: scores of eras fewer than 4 apart share target days, and a
target of era e has resolved by era e + 4."""
TARGET_ERAS_60D = 12


def is_60_day(target_name: str) -> bool:
    """Whether a target column is a 60-day target (`target_<name>_60`)."""
    return target_name.endswith("_60")


def embargo_for_target(target_name: str) -> int:
    """Eras to leave out between training and scoring: 16 for 60-day targets, else 8 (20-day)."""
    return EMBARGO_60D if is_60_day(target_name) else EMBARGO_20D


def target_span_eras(target_name: str) -> int:
    """Weekly eras one target value spans: 12 for 60-day targets, else 4 (20-day)."""
    return TARGET_ERAS_60D if is_60_day(target_name) else TARGET_ERAS_20D
