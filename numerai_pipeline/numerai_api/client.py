"""NumeraiClient: numerapi's queries with timeouts, bounded retries, clear errors and no secrets.

numerapi's own transport (`Api.raw_query`) posts to the module constant `API_TOURNAMENT_URL`
with no timeout, sleeps 5 s + 10 s on HTTP 5xx and turns every HTTP error into `{}` (which later
surfaces as `KeyError: 'data'`). `_NumerAPI` keeps numerapi's queries and request format but
posts to its own URL and raises typed errors, so the module constant is never modified.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numerapi
import requests
from numerapi import base_api

logger = logging.getLogger(__name__)

T = TypeVar("T")

CREDENTIALS_HINT = "set NUMERAI_PUBLIC_ID and NUMERAI_SECRET_KEY"
MAX_BACKOFF_SECONDS = 60.0
CLASSIC_TOURNAMENT = 8
_CHUNK_BYTES = 1024 * 1024
_AUTH_WORDS = re.compile(
    r"authenticat|authori[sz]|credential|permission|forbidden|api.?key|token", re.I
)
_AUTH_CODES = {"UNAUTHENTICATED", "UNAUTHORIZED", "FORBIDDEN"}

_ROUND_QUERY = """
query ($tournament: Int! $number: Int!) {
    rounds(tournament: $tournament number: $number) {
        number openTime closeTime closeStakingTime
    }
}
"""
"""A round's times (numerapi's `list_rounds` asks this and much more)."""

# numerapi's `download_dataset` query; numerapi would also fetch the file, which we do ourselves.
_DATASET_QUERY = """
query ($filename: String!
       $round: Int
       $tournament: Int) {
    dataset(filename: $filename
            round: $round
            tournament: $tournament)
}
"""


class NumeraiApiError(RuntimeError):
    """A Numerai API call failed; the message names the call and the cause."""


class NumeraiAuthError(NumeraiApiError):
    """Numerai credentials are missing or were rejected."""


class _Transient(Exception):
    """A failure worth retrying: HTTP 5xx or a download that stopped short."""


class _BadAnswer(Exception):
    """An answer that cannot be used: a non-5xx HTTP error, not JSON, or no `data`."""


_RETRYABLE = (
    _Transient,
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def _graphql_error_message(errors: Any) -> str:
    if isinstance(errors, list):
        return "; ".join(
            str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
        )
    if isinstance(errors, dict):
        return str(errors.get("detail", errors))
    return str(errors)


def _is_auth_error(errors: Any) -> bool:
    items = errors if isinstance(errors, list) else [errors]
    codes = {
        str((e.get("extensions") or {}).get("code", "")).upper()
        for e in items
        if isinstance(e, dict)
    }
    return bool(codes & _AUTH_CODES) or bool(_AUTH_WORDS.search(_graphql_error_message(errors)))


class _NumerAPI(numerapi.NumerAPI):
    """numerapi with a GraphQL transport of its own: a URL, a timeout and typed errors."""

    def __init__(
        self, public_id: str | None, secret_key: str | None, url: str, timeout: float
    ) -> None:
        # numerapi's __init__ calls logging.basicConfig and reads credentials from env/.env;
        # set the attributes it sets instead, with explicit credentials only.
        self.logger = logging.getLogger(base_api.__name__)
        self.token = (public_id, secret_key) if public_id and secret_key else None
        self.show_progress_bars = False
        self.tournament_id = CLASSIC_TOURNAMENT
        self.global_data_dir = "."
        self.url = url
        self.timeout = timeout

    def raw_query(
        self,
        query: str,
        variables: dict | None = None,
        authorization: bool = False,
        **_numerapi_retry_args: Any,
    ) -> dict:
        """POST a GraphQL query; GraphQL errors raise ValueError as in numerapi."""
        headers = {"Content-type": "application/json", "Accept": "application/json"}
        if authorization:
            if self.token is None:
                raise NumeraiAuthError(f"this call needs API keys: {CREDENTIALS_HINT}")
            headers["Authorization"] = "Token {}${}".format(*self.token)
        resp = requests.post(
            self.url,
            json={"query": query, "variables": variables},
            headers=headers,
            timeout=self.timeout,
        )
        if resp.status_code >= 500:
            raise _Transient(f"HTTP {resp.status_code}")
        try:
            body = resp.json()
        except ValueError:
            body = None
        errors = body.get("errors") if isinstance(body, dict) else None
        if resp.status_code in (401, 403) or (errors and _is_auth_error(errors)):
            detail = f": {_graphql_error_message(errors)}" if errors else ""
            raise NumeraiAuthError(f"credentials rejected (HTTP {resp.status_code}{detail})")
        if errors:
            raise ValueError(_graphql_error_message(errors))
        if resp.status_code >= 400:
            raise _BadAnswer(f"HTTP {resp.status_code}")
        if body is None:
            raise _BadAnswer(f"answer is not JSON: {resp.text[:80]!r}")
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise _BadAnswer(f"answer has no 'data': {str(body)[:80]}")
        return body


def _check_download_status(resp: requests.Response) -> None:
    if resp.status_code >= 500:
        raise _Transient(f"HTTP {resp.status_code} from the file server")
    if resp.status_code >= 400 and resp.status_code != 416:
        raise _BadAnswer(f"HTTP {resp.status_code} from the file server")


def _total_size(resp: requests.Response) -> int | None:
    """Full size of the remote file from Content-Range (206/416) or Content-Length (200)."""
    if resp.status_code in (206, 416):
        total = resp.headers.get("Content-Range", "").rpartition("/")[2]
    else:
        total = resp.headers.get("Content-Length", "")
    return int(total) if total.isdigit() else None


def _get(
    url: str, timeout: float, range_from: int | None = None, range_to: str = ""
) -> requests.Response:
    headers = {"Accept-Encoding": "identity"}
    if range_from is not None:
        headers["Range"] = f"bytes={range_from}-{range_to}"
    return requests.get(url, headers=headers, stream=True, timeout=timeout)


def _fetch(url: str, dest: Path, timeout: float) -> None:
    """Download `url` to `dest` through `<dest>.part`: resume a partial file, skip a complete one.

    A complete `dest` is detected with a one-byte ranged GET (presigned download URLs refuse
    HEAD). Only a `.part` file of the full remote size is renamed to `dest`.
    """
    part = dest.with_name(dest.name + ".part")
    if dest.exists():
        with _get(url, timeout, 0, "0") as probe:
            _check_download_status(probe)
            if _total_size(probe) == dest.stat().st_size:
                logger.info("%s is complete; not downloading it again", dest)
                part.unlink(missing_ok=True)
                return
    offset = part.stat().st_size if part.exists() else 0
    with _get(url, timeout, offset or None) as resp:
        _check_download_status(resp)
        total = _total_size(resp)
        if resp.status_code == 416:
            if total != offset:
                part.unlink()
                raise _Transient(f"{part.name} is larger than the remote file; restarting")
        else:
            if offset and resp.status_code != 206:
                logger.info("server ignored the Range request; downloading %s again", dest.name)
                offset = 0
            elif offset:
                logger.info("resuming %s from byte %d", dest.name, offset)
            with part.open("ab" if offset else "wb") as out:
                for chunk in resp.iter_content(_CHUNK_BYTES):
                    out.write(chunk)
    size = part.stat().st_size
    if total is not None and size != total:
        raise _Transient(f"download of {dest.name} stopped at {size} of {total} bytes")
    os.replace(part, dest)


class NumeraiClient:
    """Numerai's API (numerapi) with timeouts, bounded retries and errors that name the call.

    HTTP 5xx, connection errors, timeouts and short downloads are retried `max_retries` times
    with exponential backoff, then raise NumeraiApiError; rejected or missing credentials raise
    NumeraiAuthError. The secret key never appears in messages, logs or the repr.
    """

    def __init__(
        self,
        public_id: str | None,
        secret_key: str | None,
        api_url: str | None = None,
        max_retries: int = 3,
        backoff_seconds: float = 1.0,
        timeout_seconds: float = 30,
    ) -> None:
        self.api_url = api_url or base_api.API_TOURNAMENT_URL
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self._secret = secret_key or None
        self._api = _NumerAPI(public_id, secret_key, self.api_url, timeout_seconds)

    def __repr__(self) -> str:
        credentials = "set" if self.has_credentials else "missing"
        return f"NumeraiClient(api_url={self.api_url!r}, credentials={credentials})"

    @property
    def has_credentials(self) -> bool:
        """Whether both the public id and the secret key were given."""
        return self._api.token is not None

    def list_datasets(self, round_num: int | None = None) -> list[str]:
        """Dataset files of a round (default: current), e.g. `v5.0/train.parquet`."""
        return self._call(
            "list_datasets", lambda: [str(f) for f in self._api.list_datasets(round_num)]
        )

    def download_dataset(
        self, filename: str, dest_path: Path, round_num: int | None = None
    ) -> Path:
        """Download `filename` to `dest_path`, resuming a partial download, skipping a complete one."""
        dest = Path(dest_path)
        dest.parent.mkdir(parents=True, exist_ok=True)

        def attempt() -> None:
            variables = {
                "filename": filename,
                "round": round_num,
                "tournament": self._api.tournament_id,
            }
            url = self._api.raw_query(_DATASET_QUERY, variables)["data"]["dataset"]
            if not isinstance(url, str) or not url:
                raise _BadAnswer(f"no download URL for {filename}")
            _fetch(url, dest, self.timeout_seconds)

        self._call(f"download_dataset({filename})", attempt)
        return dest

    def get_current_round(self) -> int:
        """Number of the current round."""
        round_num = self._call("get_current_round", self._api.get_current_round)
        if not isinstance(round_num, int):
            raise NumeraiApiError(
                f"Numerai API get_current_round gave no round number: {round_num!r}"
            )
        return round_num

    def round_times(self, number: int = 0) -> dict[str, Any]:
        """`number`, `openTime`, `closeTime`, `closeStakingTime` (ISO strings) of a round; 0 is
        the current round."""

        def attempt() -> dict[str, Any]:
            variables = {"tournament": self._api.tournament_id, "number": number}
            rounds = self._api.raw_query(_ROUND_QUERY, variables)["data"]["rounds"]
            if not rounds or not isinstance(rounds[0], dict) or "openTime" not in rounds[0]:
                raise _BadAnswer(f"no round {number or '(current)'} in the answer")
            return rounds[0]

        return self._call("round_times", attempt)

    def check_new_round(self, hours: int = 12) -> bool:
        """Whether the current round opened within the last `hours` (numerapi's check)."""
        return bool(self._call("check_new_round", lambda: self._api.check_new_round(hours)))

    def check_round_open(self) -> bool:
        """Whether the current round accepts submissions now."""
        return bool(self._call("check_round_open", self._api.check_round_open))

    def get_models(self) -> dict[str, str]:
        """The account's Classic models: name -> model id (needs credentials)."""
        self._require_credentials("get_models")
        return self._call(
            "get_models", lambda: {str(k): str(v) for k, v in self._api.get_models().items()}
        )

    def upload_predictions(self, path: Path, model_id: str) -> str:
        """Upload a predictions CSV for `model_id`; returns the submission id (needs credentials)."""
        self._require_credentials("upload_predictions")

        def attempt() -> str:
            return self._api.upload_predictions(
                str(path), model_id=model_id, timeout=self.timeout_seconds
            )

        submission_id = self._call("upload_predictions", attempt)
        if not isinstance(submission_id, str) or not submission_id:
            raise NumeraiApiError(
                f"Numerai API upload_predictions gave no submission id: {submission_id!r}"
            )
        return submission_id

    def model_upload_options(self) -> tuple[dict[str, str], dict[str, str]]:
        """What a model upload may run on: data versions and docker images, name -> id (needs
        credentials)."""
        self._require_credentials("model_upload_options")
        versions = self._call("model_upload_data_versions", self._api.model_upload_data_versions)
        images = self._call("model_upload_docker_images", self._api.model_upload_docker_images)
        return {str(k): str(v) for k, v in versions.items()}, {
            str(k): str(v) for k, v in images.items()
        }

    def upload_model(self, path: Path, model_id: str, data_version: str, docker_image: str) -> str:
        """Upload a model-upload pickle for `model_id`, to run on the data version and docker
        image given by id; returns the upload's id (needs credentials)."""
        self._require_credentials("upload_model")

        def attempt() -> str:
            return self._api.model_upload(
                str(path), model_id=model_id, data_version=data_version, docker_image=docker_image
            )

        upload_id = self._call("model_upload", attempt)
        if not isinstance(upload_id, str) or not upload_id:
            raise NumeraiApiError(f"Numerai API model_upload gave no upload id: {upload_id!r}")
        return upload_id

    def _require_credentials(self, name: str) -> None:
        if not self.has_credentials:
            raise NumeraiAuthError(f"Numerai API {name} needs credentials: {CREDENTIALS_HINT}")

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def _describe(self, err: BaseException) -> str:
        if isinstance(err, requests.Timeout):
            return f"no answer within {self.timeout_seconds}s ({type(err).__name__})"
        if isinstance(err, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
            return f"connection failed ({type(err).__name__}: {err})"
        if isinstance(err, KeyError):
            return f"missing field {err}"
        if isinstance(err, TypeError | IndexError):
            return f"unexpected shape ({err})"
        return str(err)

    def _call(self, name: str, fn: Callable[[], T]) -> T:
        """Run one API call with retries; every failure becomes a NumeraiApiError naming `name`."""
        attempts = self.max_retries + 1
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except NumeraiAuthError as err:
                message = f"Numerai API {name}: {err}; check NUMERAI_PUBLIC_ID / NUMERAI_SECRET_KEY"
                raise NumeraiAuthError(self._scrub(message)) from None
            except _RETRYABLE as err:
                cause = self._scrub(self._describe(err))
                if attempt >= attempts:
                    raise NumeraiApiError(
                        f"Numerai API {name} failed after {attempts} attempts: {cause}"
                    ) from None
                delay = min(self.backoff_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
                logger.warning(
                    "Numerai API %s attempt %d/%d failed (%s); retrying in %.1fs",
                    name,
                    attempt,
                    attempts,
                    cause,
                    delay,
                )
                time.sleep(delay)
            except ValueError as err:
                raise NumeraiApiError(
                    self._scrub(f"Numerai API {name} returned an error: {err}")
                ) from None
            except (_BadAnswer, KeyError, IndexError, TypeError) as err:
                raise NumeraiApiError(
                    self._scrub(
                        f"Numerai API {name} gave a malformed answer: {self._describe(err)}"
                    )
                ) from None
