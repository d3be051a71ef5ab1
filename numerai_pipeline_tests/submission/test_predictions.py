import numpy as np
import pandas as pd
import pytest

from numerai_pipeline.submission.predictions import (
    SubmissionError,
    validate_submission,
    write_submission,
)


def frame_of(ids: pd.Index, values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"id": np.asarray(ids), "prediction": values})


def test_valid_submission_passes_and_is_written_atomically(tmp_path):
    ids = pd.Index([f"n{i}" for i in range(50)])
    frame = frame_of(ids, (np.arange(50.0) + 0.5) / 50)
    validate_submission(frame, ids)
    path = write_submission(frame, tmp_path / "r1" / "predictions.csv")
    written = pd.read_csv(path)
    assert list(written.columns) == ["id", "prediction"]
    assert len(written) == 50
    assert [p.name for p in path.parent.iterdir()] == ["predictions.csv"]


def test_missing_live_ids_are_rejected():
    ids = pd.Index([f"n{i}" for i in range(50)])
    frame = frame_of(ids[:40], (np.arange(40.0) + 0.5) / 40)
    with pytest.raises(SubmissionError, match="10 live ids have no prediction"):
        validate_submission(frame, ids)


def test_constant_predictions_are_rejected():
    ids = pd.Index([f"n{i}" for i in range(50)])
    with pytest.raises(SubmissionError, match="standard deviation"):
        validate_submission(frame_of(ids, np.full(50, 0.5)), ids)


def test_nan_predictions_are_rejected():
    ids = pd.Index([f"n{i}" for i in range(50)])
    values = np.r_[np.nan, np.linspace(0.1, 0.9, 49)]
    with pytest.raises(SubmissionError, match="NaN"):
        validate_submission(frame_of(ids, values), ids)
