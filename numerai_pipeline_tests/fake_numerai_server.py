"""A Numerai-like API on 127.0.0.1 for tests: GraphQL as numerapi 3.1.1 sends it, files, uploads.

GraphQL (POST to the root URL, root field picked from the query text):
  listDatasets, dataset (download URL on this server), rounds(number), account { models },
  submission_upload_auth (PUT URL on this server), create_submission, and the model upload's
  computePickleDataVersions, computePickleDockerImages, computePickleUploadAuth,
  createComputePickleUpload.
Authenticated fields need `Authorization: Token <public_id>$<secret_key>`.
Files: GET/HEAD /files/<version>/<file> with `Range: bytes=a-`, `bytes=a-b`, `bytes=-n`.
Uploads: PUT /uploads/<key>.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from numerai_pipeline.data.synthetic import write_synthetic_dataset
from numerai_pipeline.numerai_api import NumeraiClient

AUTHENTICATED_FIELDS = {
    "account",
    "submission_upload_auth",
    "create_submission",
    "computePickleDataVersions",
    "computePickleDockerImages",
    "computePickleUploadAuth",
    "createComputePickleUpload",
}
AUTH_ERROR_MESSAGE = "You must be authenticated: your API key is invalid or has been revoked"
ROUND_CLOSED_MESSAGE = "Current round not open for submissions"
CLASSIC_TOURNAMENT = 8


@dataclass
class Faults:
    """Switches a test flips to make the server misbehave."""

    fail_next_n_with_500: int = 0
    delay_seconds: float = 0.0
    round_open: bool = True
    auth_error: bool = False
    malformed: Literal["empty", "missing_fields", "not_json"] | None = None
    ignore_range: bool = False
    drop_next_download_after: int | None = None
    """Send the full Content-Length but only this many body bytes, then close (once)."""


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    operation: str | None
    range: str | None


@dataclass(frozen=True)
class Upload:
    model_id: str
    filename: str
    data: bytes
    submission_id: str
    round_num: int


@dataclass(frozen=True)
class ModelUpload:
    model_id: str
    filename: str
    data: bytes
    upload_id: str
    data_version_id: str
    docker_image_id: str


def _ids(*names: str) -> dict[str, str]:
    return {name: str(uuid.uuid4()) for name in names}


@dataclass
class FakeNumerai:
    """State of a running fake server; `url` is the GraphQL endpoint."""

    data_dir: Path
    models: dict[str, str]
    public_id: str
    secret_key: str
    current_round: int
    url: str = ""
    round_opened: dt.datetime | None = None
    """When the current round opened (a test sets it to open a new round); None: an hour ago."""
    faults: Faults = field(default_factory=Faults)
    requests: list[RequestRecord] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    model_uploads: list[ModelUpload] = field(default_factory=list)
    data_versions: dict[str, str] = field(default_factory=lambda: _ids("v5.0", "v5.2"))
    docker_images: dict[str, str] = field(
        default_factory=lambda: _ids("Python 3.10", "Python 3.11", "Python 3.12")
    )
    _put_files: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, **overrides: Any) -> NumeraiClient:
        """A NumeraiClient for this server with its credentials and fast retries."""
        options: dict[str, Any] = {
            "public_id": self.public_id,
            "secret_key": self.secret_key,
            "api_url": self.url,
            "max_retries": 2,
            "backoff_seconds": 0.01,
            "timeout_seconds": 5.0,
        }
        return NumeraiClient(**(options | overrides))

    def operations(self) -> list[str]:
        """GraphQL root fields asked so far, in order."""
        return [r.operation for r in self.requests if r.operation]

    def file_requests(self, filename: str) -> list[RequestRecord]:
        """GET/HEAD requests for `<version>/<file>`."""
        return [r for r in self.requests if r.path == f"/files/{filename}"]

    def _take_500(self) -> bool:
        with self._lock:
            if self.faults.fail_next_n_with_500 > 0:
                self.faults.fail_next_n_with_500 -= 1
                return True
            return False

    def _take_drop(self) -> int | None:
        with self._lock:
            limit, self.faults.drop_next_download_after = self.faults.drop_next_download_after, None
            return limit


def _round_times(is_open: bool, opened: dt.datetime | None) -> tuple[str, str]:
    """(openTime, closeTime) of the current round: `opened` when a test set it, else open an
    hour ago and closing in an hour, or closed two hours ago."""
    now = dt.datetime.now(dt.UTC)
    if opened is not None:
        return opened.isoformat(), (opened + dt.timedelta(hours=1)).isoformat()
    if is_open:
        return (now - dt.timedelta(hours=1)).isoformat(), (now + dt.timedelta(hours=1)).isoformat()
    return (now - dt.timedelta(hours=26)).isoformat(), (now - dt.timedelta(hours=2)).isoformat()


class _GraphQLError(Exception):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeNumerai

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up early (timeouts, size probes) are expected; stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence the default stderr access log."""

    @property
    def fake(self) -> FakeNumerai:
        return self.server.fake

    # --- plumbing -------------------------------------------------------------------------------
    def _begin(self, operation: str | None = None) -> bool:
        """Record the request and apply delay / 500 faults; False when a 500 was sent."""
        self.fake.requests.append(
            RequestRecord(self.command, self.path, operation, self.headers.get("Range"))
        )
        if self.fake.faults.delay_seconds:
            time.sleep(self.fake.faults.delay_seconds)
        if self.fake._take_500():
            self._send(500, b"internal server error", "text/plain")
            return False
        return True

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        *,
        send_body: bool = True,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _send_json(self, payload: Any, status: int = 200) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    # --- GraphQL --------------------------------------------------------------------------------
    def do_POST(self) -> None:
        try:
            request = json.loads(self._read_body() or b"{}")
        except json.JSONDecodeError:
            request = {}
        query = str(request.get("query") or "")
        variables = request.get("variables") or {}
        match = re.search(r"\{\s*(\w+)", query)
        operation = match.group(1) if match else None
        if not self._begin(operation):
            return
        malformed = self.fake.faults.malformed
        if malformed == "empty":
            return self._send_json({})
        if malformed == "missing_fields":
            return self._send_json({"data": {}})
        if malformed == "not_json":
            return self._send(200, b"<html>gateway hiccup</html>", "text/html")
        if operation in AUTHENTICATED_FIELDS:
            error = {"message": AUTH_ERROR_MESSAGE, "extensions": {"code": "UNAUTHENTICATED"}}
            if self.fake.faults.auth_error:
                return self._send_json({"errors": [error]}, status=403)
            expected = f"Token {self.fake.public_id}${self.fake.secret_key}"
            if self.headers.get("Authorization") != expected:
                return self._send_json({"errors": [error], "data": None})
        try:
            data = self._resolve(operation, variables)
        except _GraphQLError as err:
            return self._send_json({"errors": [{"message": str(err)}], "data": None})
        self._send_json({"data": {operation: data}})

    def _resolve(self, operation: str | None, variables: dict[str, Any]) -> Any:
        fake = self.fake
        base = fake.url
        if operation == "listDatasets":
            return sorted(
                p.relative_to(fake.data_dir).as_posix()
                for p in fake.data_dir.rglob("*")
                if p.is_file() and not p.name.startswith(".")
            )
        if operation == "dataset":
            filename = str(variables.get("filename", ""))
            if not self._data_file(filename):
                raise _GraphQLError(f"dataset {filename} not found")
            return f"{base}/files/{filename}"
        if operation == "rounds":
            number = variables.get("number") or fake.current_round
            open_time, close_time = _round_times(fake.faults.round_open, fake.round_opened)
            return [
                {
                    "number": number,
                    "openTime": open_time,
                    "closeTime": close_time,
                    "closeStakingTime": close_time,
                }
            ]
        if operation == "account":
            models = [
                {"id": model_id, "name": name, "tournament": CLASSIC_TOURNAMENT}
                for name, model_id in fake.models.items()
            ]
            return {"models": models}
        if operation in ("submission_upload_auth", "computePickleUploadAuth"):
            if variables.get("modelId") not in fake.models.values():
                raise _GraphQLError(f"model {variables.get('modelId')} does not exist")
            key = uuid.uuid4().hex
            return {
                "filename": f"{key}/{variables.get('filename')}",
                "url": f"{base}/uploads/{key}",
            }
        if operation == "create_submission":
            return {"id": self._create_submission(variables)}
        if operation == "computePickleDataVersions":
            return [{"name": k, "id": v} for k, v in fake.data_versions.items()]
        if operation == "computePickleDockerImages":
            return [{"name": k, "id": v} for k, v in fake.docker_images.items()]
        if operation == "createComputePickleUpload":
            return {"id": self._create_model_upload(variables)}
        raise _GraphQLError(f"unknown query field {operation!r}")

    def _uploaded(self, variables: dict[str, Any]) -> tuple[str, bytes]:
        """The name and bytes of the file PUT under the upload auth's `filename`."""
        key, _, name = str(variables.get("filename", "")).partition("/")
        with self.fake._lock:
            data = self.fake._put_files.pop(key, None)
        if data is None:
            raise _GraphQLError(f"no uploaded file {variables.get('filename')}")
        return name, data

    def _create_submission(self, variables: dict[str, Any]) -> str:
        fake = self.fake
        name, data = self._uploaded(variables)
        if not fake.faults.round_open:
            raise _GraphQLError(ROUND_CLOSED_MESSAGE)
        submission_id = str(uuid.uuid4())
        model_id = str(variables.get("modelId"))
        fake.uploads.append(Upload(model_id, name, data, submission_id, fake.current_round))
        return submission_id

    def _create_model_upload(self, variables: dict[str, Any]) -> str:
        fake = self.fake
        name, data = self._uploaded(variables)
        version, image = variables.get("dataVersionId"), variables.get("dockerImageId")
        if version not in fake.data_versions.values():
            raise _GraphQLError(f"data version {version} does not exist")
        if image not in fake.docker_images.values():
            raise _GraphQLError(f"docker image {image} does not exist")
        upload_id = str(uuid.uuid4())
        model_id = str(variables.get("modelId"))
        fake.model_uploads.append(ModelUpload(model_id, name, data, upload_id, version, image))
        return upload_id

    # --- files and uploads ----------------------------------------------------------------------
    def _data_file(self, filename: str) -> Path | None:
        root = self.fake.data_dir.resolve()
        path = (root / filename).resolve()
        return path if path.is_file() and path.is_relative_to(root) else None

    def do_HEAD(self) -> None:
        self._serve_file(send_body=False)

    def do_GET(self) -> None:
        self._serve_file(send_body=True)

    def _serve_file(self, *, send_body: bool) -> None:
        if not self._begin():
            return
        path = (
            self._data_file(self.path.removeprefix("/files/"))
            if self.path.startswith("/files/")
            else None
        )
        if path is None:
            return self._send(404, b"not found", "text/plain", send_body=send_body)
        data = path.read_bytes()
        total = len(data)
        headers = {"Accept-Ranges": "bytes"}
        status = 200
        range_header = self.headers.get("Range")
        if range_header and not self.fake.faults.ignore_range:
            match = re.fullmatch(r"bytes=(\d*)-(\d*)", range_header.strip())
            if not match or match.groups() == ("", ""):
                return self._send(400, b"bad range", "text/plain", send_body=send_body)
            first, last = match.groups()
            if first:
                start, end = int(first), min(int(last) if last else total - 1, total - 1)
            else:
                start, end = max(total - int(last), 0), total - 1
            if start >= total or start > end:
                headers["Content-Range"] = f"bytes */{total}"
                return self._send(416, b"", "text/plain", headers, send_body=send_body)
            headers["Content-Range"] = f"bytes {start}-{end}/{total}"
            data, status = data[start : end + 1], 206
        drop_after = self.fake._take_drop() if send_body else None
        if drop_after is None:
            return self._send(
                status, data, "application/octet-stream", headers, send_body=send_body
            )
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data[:drop_after])
        self.close_connection = True

    def do_PUT(self) -> None:
        body = self._read_body()
        if not self._begin():
            return
        key = self.path.removeprefix("/uploads/")
        with self.fake._lock:
            self.fake._put_files[key] = body
        self._send(200, b"", "text/plain")


def write_tiny_dataset(data_dir: Path, version: str = "v5.0", seed: int = 0) -> Path:
    """The synthetic generator's `tiny` files in `data_dir/<version>/` (what the server serves)."""
    return write_synthetic_dataset(Path(data_dir), version, "tiny", seed=seed)


@contextmanager
def running_fake_numerai(
    data_dir: Path,
    *,
    models: dict[str, str] | None = None,
    public_id: str = "FAKEPUBLICID",
    secret_key: str = "FAKE-SECRET-never-leak-42",
    current_round: int = 1000,
) -> Iterator[FakeNumerai]:
    """Serve a fake Numerai API for `data_dir` (`<version>/<file>`) on a random loopback port."""
    fake = FakeNumerai(
        data_dir=Path(data_dir),
        models=dict(models) if models is not None else {"my_model": str(uuid.uuid4())},
        public_id=public_id,
        secret_key=secret_key,
        current_round=current_round,
    )
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},
        name="fake-numerai",
        daemon=True,
    )
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
