import numpy as np
import pandas as pd
import pytest

from numerai_pipeline.submission.predictions import (
    SubmissionError,
    rank_per_era,
    submission_frame,
    validate_submission,
    write_submission,
)


def test_rank_per_era_maps_into_open_unit_interval_per_era():
    preds = np.array([5.0, 1.0, 3.0, 10.0, 10.0, -1.0])
    eras = np.array(["a", "a", "a", "b", "b", "b"])
    ranks = rank_per_era(preds, eras)
    assert ranks.tolist() == pytest.approx([5 / 6, 1 / 6, 0.5, 2 / 3, 2 / 3, 1 / 6])
    assert ((ranks > 0) & (ranks < 1)).all()


def test_valid_submission_passes_and_is_written_atomically(tmp_path):
    ids = pd.Index([f"n{i}" for i in range(50)])
    frame = submission_frame(ids, np.arange(50.0), np.array(["X"] * 50))
    validate_submission(frame, ids)
    path = write_submission(frame, tmp_path / "r1" / "predictions.csv")
    written = pd.read_csv(path)
    assert list(written.columns) == ["id", "prediction"]
    assert len(written) == 50
    assert [p.name for p in path.parent.iterdir()] == ["predictions.csv"]


def test_missing_live_ids_are_rejected():
    ids = pd.Index([f"n{i}" for i in range(50)])
    frame = submission_frame(ids[:40], np.arange(40.0), np.array(["X"] * 40))
    with pytest.raises(SubmissionError, match="10 live ids have no prediction"):
        validate_submission(frame, ids)


def test_constant_predictions_are_rejected():
    ids = pd.Index([f"n{i}" for i in range(50)])
    frame = submission_frame(ids, np.ones(50), np.array(["X"] * 50))
    with pytest.raises(SubmissionError, match="standard deviation"):
        validate_submission(frame, ids)


def test_nan_predictions_are_rejected():
    with pytest.raises(SubmissionError, match="NaN"):
        submission_frame(pd.Index(["a", "b"]), np.array([0.1, np.nan]), np.array(["X", "X"]))
