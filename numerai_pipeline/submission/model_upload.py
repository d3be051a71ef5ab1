"""Upload the model-upload pickle to Numerai's hosted model upload, at most once per model and
pickle (a local JSON ledger, as for submissions)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from numerai_pipeline.numerai_api.client import NumeraiClient
from numerai_pipeline.storage.atomic import atomic_write_text
from numerai_pipeline.submission.predictions import SubmissionError
from numerai_pipeline.submission.upload import NO_CREDENTIALS, file_sha256, read_ledger

logger = logging.getLogger(__name__)

ALREADY_UPLOADED = "already uploaded"


@dataclass(frozen=True)
class ModelUploadResult:
    uploaded: bool
    reason: str
    model_name: str
    upload_id: str | None
    sha256: str
    data_version: str = ""
    docker_image: str = ""


def python_image(images: dict[str, str], version: tuple[int, int] | None = None) -> str:
    """The docker image (by name) of the Python the pickle was made with: cloudpickled code only
    loads in the same Python minor version."""
    major, minor = version or sys.version_info[:2]
    matches = [name for name in images if f"{major}.{minor}" in name]
    if not matches:
        raise SubmissionError(
            f"Numerai offers no model-upload image for Python {major}.{minor} (images: "
            f"{', '.join(sorted(images)) or 'none'}); set NUMERAI_MODEL_UPLOAD_IMAGE to one "
            "and export the pickle with that Python"
        )
    return sorted(matches)[0]


def _choose(options: dict[str, str], wanted: str, what: str, setting: str) -> str:
    if wanted not in options:
        raise SubmissionError(
            f"{what} {wanted!r} is not one Numerai's model upload offers ({', '.join(sorted(options))}"
            f"); set {setting} to one of them"
        )
    return options[wanted]


def upload_model_pickle(
    client: NumeraiClient,
    pickle_path: Path,
    model_name: str,
    *,
    data_version: str,
    docker_image: str = "",
    ledger_path: Path,
    force: bool = False,
) -> ModelUploadResult:
    """Upload `pickle_path` as `model_name`'s hosted model unless this very pickle (by SHA-256)
    was uploaded for it and `data_version` before. The pickle runs on `data_version` and on `docker_image` (by
    name; default: the image of this Python). Without credentials nothing is uploaded and the
    result says so (not an error). The ledger is rewritten atomically after an upload."""
    path = Path(pickle_path)
    if not path.is_file():
        raise SubmissionError(f"model-upload pickle {path} does not exist; export it first")
    sha256 = file_sha256(path)

    def result(uploaded: bool, reason: str, upload_id: str | None = None, **choice: str):
        return ModelUploadResult(uploaded, reason, model_name, upload_id, sha256, **choice)

    if not client.has_credentials:
        return result(False, NO_CREDENTIALS)
    ledger_path = Path(ledger_path)
    ledger = read_ledger(ledger_path)
    key = f"{sha256} {data_version}"
    previous = ledger.get(model_name, {}).get(key)
    if previous and not force:
        return result(
            False,
            f"{ALREADY_UPLOADED}: this pickle is {model_name}'s upload {previous.get('upload_id')}",
            previous.get("upload_id"),
        )
    models = client.get_models()
    if model_name not in models:
        raise SubmissionError(
            f"model {model_name!r} is not in this Numerai account; available: "
            f"{', '.join(sorted(models)) or 'none'}; set NUMERAI_MODEL_NAME to one of them"
        )
    versions, images = client.model_upload_options()
    image = docker_image or python_image(images)
    version_id = _choose(versions, data_version, "data version", "NUMERAI_DATA_VERSION")
    image_id = _choose(images, image, "docker image", "NUMERAI_MODEL_UPLOAD_IMAGE")
    upload_id = client.upload_model(path, models[model_name], version_id, image_id)
    ledger.setdefault(model_name, {})[key] = {
        "upload_id": upload_id,
        "model_id": models[model_name],
        "data_version": data_version,
        "docker_image": image,
        "file": path.name,
        "uploaded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    atomic_write_text(ledger_path, json.dumps(ledger, indent=2, sort_keys=True))
    logger.info("uploaded %s as %s's hosted model: upload %s", path.name, model_name, upload_id)
    return result(True, "uploaded", upload_id, data_version=data_version, docker_image=image)
