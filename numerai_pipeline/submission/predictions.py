"""Live predictions as Numerai wants them: ranked into (0, 1) per era, validated, written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from numerai_tools.submissions import validate_submission_numerai

from numerai_pipeline.storage.atomic import atomic_path


class SubmissionError(ValueError):
    """The predictions cannot be submitted; the message says why and what to do."""


def rank_per_era(predictions: np.ndarray, eras: np.ndarray) -> np.ndarray:
    """Average-tie ranks within each era mapped to (0, 1) as (rank - 0.5) / n."""
    series = pd.Series(np.asarray(predictions, dtype="float64"))
    grouped = series.groupby(np.asarray(eras))
    ranks = grouped.rank(method="average")
    counts = grouped.transform("size")
    return ((ranks - 0.5) / counts).to_numpy()


def submission_frame(ids: pd.Index, predictions: np.ndarray, eras: np.ndarray) -> pd.DataFrame:
    """`id,prediction` frame with predictions ranked per era."""
    if np.isnan(predictions).any():
        raise SubmissionError(
            f"{int(np.isnan(predictions).sum())} live predictions are NaN; "
            "check the live features and the model"
        )
    return pd.DataFrame({"id": np.asarray(ids), "prediction": rank_per_era(predictions, eras)})


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
