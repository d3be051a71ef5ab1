"""submit_predictions through the real numerapi client against the fake Numerai server."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from numerai_pipeline.numerai_api import NumeraiApiError, NumeraiAuthError
from numerai_pipeline.submission.predictions import SubmissionError
from numerai_pipeline.submission.upload import RoundClosedError, file_sha256, submit_predictions
from numerai_pipeline_tests.fake_numerai_server import (
    FakeNumerai,
    running_fake_numerai,
    write_tiny_dataset,
)

ROUND = 777


@pytest.fixture
def live_ids(tmp_path: Path) -> list[str]:
    folder = write_tiny_dataset(tmp_path / "served")
    return list(pd.read_parquet(folder / "live.parquet").index)


@pytest.fixture
def fake(tmp_path: Path, live_ids: list[str]) -> Iterator[FakeNumerai]:
    with running_fake_numerai(
        tmp_path / "served", models={"alpha": "id-alpha", "beta": "id-beta"}, current_round=ROUND
    ) as fake:
        yield fake


@pytest.fixture
def predictions(tmp_path: Path, live_ids: list[str]) -> Path:
    path = tmp_path / "predictions.csv"
    ranks = (np.arange(len(live_ids)) + 0.5) / len(live_ids)
    pd.DataFrame({"id": live_ids, "prediction": ranks}).to_csv(path, index=False)
    return path


def submit(fake: FakeNumerai, predictions: Path, tmp_path: Path, model: str = "alpha", **kwargs):
    options = {"round_num": None, "ledger_path": tmp_path / "ledger.json"} | kwargs
    return submit_predictions(
        fake.client(**options.pop("client", {})), predictions, model, **options
    )


def test_upload_reaches_server_with_every_live_id(fake, predictions, tmp_path, live_ids):
    result = submit(fake, predictions, tmp_path, live_ids=live_ids)
    assert result.uploaded and result.reason == "uploaded" and result.round_num == ROUND
    [upload] = fake.uploads
    assert (upload.model_id, upload.filename) == ("id-alpha", "predictions.csv")
    assert result.submission_id == upload.submission_id
    received = pd.read_csv(io.BytesIO(upload.data), dtype={"id": str})
    assert list(received.columns) == ["id", "prediction"]
    assert sorted(received["id"]) == sorted(live_ids)
    assert result.sha256 == file_sha256(predictions)
    ledger = json.loads((tmp_path / "ledger.json").read_text())
    assert ledger["alpha"][str(ROUND)]["submission_id"] == upload.submission_id


def test_same_round_is_not_uploaded_twice_unless_forced(fake, predictions, tmp_path):
    first = submit(fake, predictions, tmp_path)
    again = submit(fake, predictions, tmp_path)
    assert not again.uploaded and again.reason.startswith("already submitted")
    assert again.submission_id == first.submission_id
    assert len(fake.uploads) == 1
    forced = submit(fake, predictions, tmp_path, force=True)
    assert forced.uploaded and len(fake.uploads) == 2
    other_model = submit(fake, predictions, tmp_path, model="beta")
    assert other_model.uploaded and len(fake.uploads) == 3


def test_no_credentials_is_reported_not_raised(fake, predictions, tmp_path):
    client = {"public_id": None, "secret_key": None}
    result = submit(fake, predictions, tmp_path, round_num=ROUND, client=client)
    assert not result.uploaded and result.reason == "not uploaded: no credentials"
    assert result.sha256 == file_sha256(predictions)
    assert fake.requests == [] and not (tmp_path / "ledger.json").exists()


def test_server_errors_are_retried_then_upload(fake, predictions, tmp_path):
    fake.faults.fail_next_n_with_500 = 2
    assert submit(fake, predictions, tmp_path).uploaded
    assert len(fake.uploads) == 1


@pytest.mark.parametrize(
    ("setup", "error", "match"),
    [
        ({"fail_next_n_with_500": 1000}, NumeraiApiError, "failed after 3 attempts: HTTP 500"),
        ({"round_open": False}, RoundClosedError, f"round {ROUND} is closed.*Saturday 12:00 UTC"),
        ({"auth_error": True}, NumeraiAuthError, "NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY"),
        ({"malformed": "empty"}, NumeraiApiError, "malformed answer"),
    ],
)
def test_failures_are_clear_and_keep_the_file(fake, predictions, tmp_path, setup, error, match):
    before = predictions.read_bytes()
    for name, value in setup.items():
        setattr(fake.faults, name, value)
    with pytest.raises(error, match=match):
        submit(fake, predictions, tmp_path)
    assert predictions.read_bytes() == before
    assert fake.uploads == [] and not (tmp_path / "ledger.json").exists()


def test_unknown_model_lists_available(fake, predictions, tmp_path):
    with pytest.raises(SubmissionError, match=r"'gamma' is not in .*available: alpha, beta"):
        submit(fake, predictions, tmp_path, model="gamma")
    assert predictions.exists() and fake.uploads == []


def test_bad_credentials(fake, predictions, tmp_path):
    with pytest.raises(NumeraiAuthError, match="credentials rejected"):
        submit(fake, predictions, tmp_path, client={"secret_key": "wrong"})
    assert predictions.exists() and fake.uploads == []


def test_stale_round_is_refused(fake, predictions, tmp_path):
    with pytest.raises(SubmissionError, match=f"for round {ROUND - 1} but .* current round is"):
        submit(fake, predictions, tmp_path, round_num=ROUND - 1)


def test_invalid_predictions_are_refused_before_any_request(fake, tmp_path, live_ids):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"id": live_ids[:-1], "prediction": 0.5}).to_csv(bad, index=False)
    with pytest.raises(SubmissionError, match="live ids have no prediction"):
        submit(fake, bad, tmp_path, live_ids=live_ids)
    bad.write_text("id,score\na,0.5\nb,0.7\n")
    with pytest.raises(SubmissionError, match="invalid_submission_headers"):
        submit(fake, bad, tmp_path)
    assert fake.requests == []


def test_secret_never_in_errors_or_logs(fake, predictions, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    fake.faults.fail_next_n_with_500 = 1000
    with pytest.raises(NumeraiApiError) as server_error:
        submit(fake, predictions, tmp_path)
    fake.faults.fail_next_n_with_500 = 0
    with pytest.raises(NumeraiAuthError) as auth_error:
        submit(fake, predictions, tmp_path, client={"secret_key": "other-secret-value"})
    assert submit(fake, predictions, tmp_path).uploaded
    for text in (str(server_error.value), str(auth_error.value), caplog.text):
        assert fake.secret_key not in text and "other-secret-value" not in text
