"""Upload a predictions CSV to Numerai at most once per model and round (a local JSON ledger)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from numerai_tools.submissions import validate_headers_numerai, validate_values

from numerai_pipeline.numerai_api.client import NumeraiClient
from numerai_pipeline.storage.atomic import atomic_write_text
from numerai_pipeline.submission.predictions import SubmissionError, validate_submission

logger = logging.getLogger(__name__)

NO_CREDENTIALS = "not uploaded: no credentials"
ALREADY_SUBMITTED = "already submitted"


class RoundClosedError(SubmissionError):
    """The round does not accept submissions now."""


@dataclass(frozen=True)
class SubmissionResult:
    uploaded: bool
    reason: str
    round_num: int | None
    model_name: str
    submission_id: str | None
    sha256: str


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def validate_predictions_csv(path: Path, live_ids: Sequence[str] | None = None) -> None:
    """numerai-tools' checks on an `id,prediction` CSV; with `live_ids`, every live id once."""
    try:
        frame = pd.read_csv(path, dtype={"id": str})
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SubmissionError(f"cannot read predictions file {path}: {exc}") from exc
    if live_ids is not None:
        validate_submission(frame, pd.Index(live_ids))
        return
    try:
        _, prediction_col = validate_headers_numerai(frame)
        validate_values(frame, prediction_col)
    except AssertionError as exc:
        raise SubmissionError(f"submission rejected by numerai-tools: {exc}") from exc
    if frame["id"].isna().any() or frame["id"].duplicated().any():
        raise SubmissionError("ids must be present and unique; each live id must appear once")


def read_ledger(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """An upload ledger: `{model: {key: record}}` ({} when there is none yet)."""
    if not path.exists():
        return {}
    try:
        ledger = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SubmissionError(
            f"submission ledger {path} is not valid JSON ({exc}); fix or remove it"
        ) from exc
    if not isinstance(ledger, dict):
        raise SubmissionError(f"submission ledger {path} must hold a JSON object; fix or remove it")
    return ledger


def submit_predictions(
    client: NumeraiClient,
    predictions_csv: Path,
    model_name: str,
    *,
    round_num: int | None,
    ledger_path: Path,
    force: bool = False,
    live_ids: Sequence[str] | None = None,
) -> SubmissionResult:
    """Validate and upload `predictions_csv` for `model_name` unless this round was uploaded before.

    Without credentials nothing is uploaded and the result says so (not an error). The CSV is
    never modified; the ledger (`{model: {round: {...}}}`) is rewritten atomically after upload.
    """
    path = Path(predictions_csv)
    if not path.is_file():
        raise SubmissionError(f"predictions file {path} does not exist")
    sha256 = file_sha256(path)
    validate_predictions_csv(path, live_ids)

    def result(uploaded: bool, reason: str, submission_id: str | None = None) -> SubmissionResult:
        return SubmissionResult(uploaded, reason, round_num, model_name, submission_id, sha256)

    if not client.has_credentials:
        logger.info("predictions for %s written to %s; %s", model_name, path, NO_CREDENTIALS)
        return result(False, NO_CREDENTIALS)

    current_round = client.get_current_round() if round_num is None else None
    round_num = current_round if round_num is None else round_num
    ledger_path = Path(ledger_path)
    ledger = read_ledger(ledger_path)
    previous = ledger.get(model_name, {}).get(str(round_num))
    if previous and not force:
        return result(
            False,
            f"{ALREADY_SUBMITTED}: round {round_num} for {model_name} as submission "
            f"{previous.get('submission_id')} (force to upload again)",
            previous.get("submission_id"),
        )
    current_round = client.get_current_round() if current_round is None else current_round
    if round_num != current_round:
        raise SubmissionError(
            f"predictions are for round {round_num} but Numerai's current round is {current_round}; "
            "download the current live data and predict again"
        )
    models = client.get_models()
    if model_name not in models:
        raise SubmissionError(
            f"model {model_name!r} is not in this Numerai account; available: "
            f"{', '.join(sorted(models)) or 'none'}; set NUMERAI_MODEL_NAME to one of them"
        )
    if not client.check_round_open():
        raise RoundClosedError(
            f"round {round_num} is closed for submissions; weekday rounds are open Tuesday-Friday "
            "12:00-13:00 UTC and the weekend round opens Saturday 12:00 UTC"
        )

    submission_id = client.upload_predictions(path, models[model_name])
    ledger.setdefault(model_name, {})[str(round_num)] = {
        "submission_id": submission_id,
        "model_id": models[model_name],
        "sha256": sha256,
        "file": path.name,
        "uploaded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    atomic_write_text(ledger_path, json.dumps(ledger, indent=2, sort_keys=True))
    logger.info(
        "uploaded %s for %s round %d: submission %s",
        path.name,
        model_name,
        round_num,
        submission_id,
    )
    return result(True, "uploaded", submission_id)
