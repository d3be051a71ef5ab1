"""Live predictions as Numerai wants them: validated, written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from numerai_tools.submissions import validate_submission_numerai

from numerai_pipeline.storage.atomic import atomic_path


class SubmissionError(ValueError):
    """The predictions cannot be submitted; the message says why and what to do."""


def validate_submission(frame: pd.DataFrame, live_ids: pd.Index) -> None:
    """numerai-tools' submission checks (headers, every live id once, values, non-zero std)."""
    if frame["id"].duplicated().any():
        raise SubmissionError("duplicate ids in the submission; each live id must appear once")
    missing = pd.Index(live_ids).difference(frame["id"])
    if len(missing):
        raise SubmissionError(
            f"{len(missing)} live ids have no prediction (e.g. {missing[0]}); "
            "predict every row of live.parquet"
        )
    try:
        _, _, _, invalid = validate_submission_numerai(pd.Series(live_ids), frame)
    except (AssertionError, ValueError) as exc:
        raise SubmissionError(f"submission rejected by numerai-tools: {exc}") from exc
    if invalid:
        raise SubmissionError(
            f"{len(invalid)} submitted ids are not live ids (e.g. {invalid[0]}); "
            "predict the current round's live.parquet"
        )


def write_submission(frame: pd.DataFrame, path: Path) -> Path:
    """Write `id,prediction` CSV atomically (temp file, then rename)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path
