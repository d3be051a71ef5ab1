"""upload_model_pickle through the real numerapi client against the fake Numerai server."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from numerai_pipeline.submission.model_upload import (
    ALREADY_UPLOADED,
    python_image,
    upload_model_pickle,
)
from numerai_pipeline.submission.predictions import SubmissionError
from numerai_pipeline.submission.upload import NO_CREDENTIALS, file_sha256
from numerai_pipeline_tests.fake_numerai_server import FakeNumerai, running_fake_numerai


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeNumerai]:
    (tmp_path / "served").mkdir()
    with running_fake_numerai(tmp_path / "served", models={"alpha": "id-alpha"}) as fake:
        yield fake


@pytest.fixture
def pickle_file(tmp_path: Path) -> Path:
    path = tmp_path / "model_upload.pkl"
    path.write_bytes(b"pickled predict, version 1")
    return path


def upload(fake: FakeNumerai, path: Path, tmp_path: Path, **kwargs):
    options = {"data_version": "v5.0", "ledger_path": tmp_path / "ledger.json"} | kwargs
    return upload_model_pickle(fake.client(**options.pop("client", {})), path, "alpha", **options)


def test_a_pickle_is_uploaded_once_for_this_python_and_data_version(fake, pickle_file, tmp_path):
    first = upload(fake, pickle_file, tmp_path)
    assert first.uploaded and first.reason == "uploaded"
    [sent] = fake.model_uploads
    assert (sent.model_id, sent.filename) == ("id-alpha", "model_upload.pkl")
    assert sent.data == pickle_file.read_bytes() and sent.upload_id == first.upload_id
    assert sent.data_version_id == fake.data_versions["v5.0"]
    python = "Python {}.{}".format(*sys.version_info[:2])
    assert sent.docker_image_id == fake.docker_images[python] and first.docker_image == python
    ledger = json.loads((tmp_path / "ledger.json").read_text())
    assert ledger["alpha"][f"{file_sha256(pickle_file)} v5.0"]["upload_id"] == first.upload_id

    again = upload(fake, pickle_file, tmp_path)
    assert not again.uploaded and again.reason.startswith(ALREADY_UPLOADED)
    assert again.upload_id == first.upload_id and len(fake.model_uploads) == 1

    pickle_file.write_bytes(b"pickled predict, version 2")  # a new champion
    assert upload(fake, pickle_file, tmp_path).uploaded and len(fake.model_uploads) == 2
    assert upload(fake, pickle_file, tmp_path, force=True).uploaded
    assert upload(fake, pickle_file, tmp_path, data_version="v5.2").uploaded  # another version
    assert len(fake.model_uploads) == 4


def test_without_credentials_nothing_is_uploaded(fake, pickle_file, tmp_path):
    result = upload(fake, pickle_file, tmp_path, client={"public_id": None, "secret_key": None})
    assert not result.uploaded and result.reason == NO_CREDENTIALS
    assert fake.model_uploads == [] and not (tmp_path / "ledger.json").exists()


def test_choices_numerai_does_not_offer_are_named(fake, pickle_file, tmp_path):
    with pytest.raises(SubmissionError, match=r"data version 'v9\.9'.*v5\.0, v5\.2.*NUMERAI_DATA"):
        upload(fake, pickle_file, tmp_path, data_version="v9.9")
    with pytest.raises(SubmissionError, match="docker image 'Python 2.7'.*MODEL_UPLOAD_IMAGE"):
        upload(fake, pickle_file, tmp_path, docker_image="Python 2.7")
    with pytest.raises(SubmissionError, match=r"no model-upload image for Python 3\.9"):
        python_image(fake.docker_images, (3, 9))
    assert fake.model_uploads == []
