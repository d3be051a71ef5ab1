"""download_numerai_dataset through the real numerapi client against the fake Numerai server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from numerai_pipeline.core.schema import DatasetError
from numerai_pipeline.data.download import download_numerai_dataset
from numerai_pipeline_tests.fake_numerai_server import (
    FakeNumerai,
    running_fake_numerai,
    write_tiny_dataset,
)

FILES = (
    "train.parquet",
    "validation.parquet",
    "features.json",
    "meta_model.parquet",
    "validation_benchmark_models.parquet",
)
LIVE_FILES = ("live", "live_benchmark_models")


@pytest.fixture
def served(tmp_path: Path) -> Path:
    write_tiny_dataset(tmp_path / "served")
    return tmp_path / "served"


@pytest.fixture
def fake(served: Path) -> Iterator[FakeNumerai]:
    with running_fake_numerai(served, current_round=1234) as fake:
        yield fake


def test_downloads_version_in_numerais_layout(fake: FakeNumerai, served: Path, tmp_path: Path):
    folder = download_numerai_dataset(fake.client(), "v5.0", tmp_path / "data")
    assert folder == tmp_path / "data" / "v5.0"
    for name in FILES:
        assert (folder / name).read_bytes() == (served / "v5.0" / name).read_bytes()
    for name in LIVE_FILES:  # kept per round, and the round's under the plain name
        live = (served / "v5.0" / f"{name}.parquet").read_bytes()
        assert (folder / f"{name}_1234.parquet").read_bytes() == live
        assert (folder / f"{name}.parquet").read_bytes() == live
    assert not list(folder.glob("*.part")) and not list(folder.glob(".*"))
    train = pd.read_parquet(folder / "train.parquet")
    features = [c for c in train.columns if c.startswith("feature_")]
    assert train.index.name == "id" and (train[features].dtypes == "int8").all()


def test_second_run_skips_complete_files(fake: FakeNumerai, tmp_path: Path):
    client = fake.client()
    download_numerai_dataset(client, "v5.0", tmp_path / "data", round_num=1234)
    fake.requests.clear()
    download_numerai_dataset(client, "v5.0", tmp_path / "data", round_num=1234)
    file_gets = [r for r in fake.requests if r.path.startswith("/files/")]
    assert len(file_gets) == len(FILES) + len(LIVE_FILES)
    assert all(r.range == "bytes=0-0" for r in file_gets)


def test_optional_file_not_listed_is_skipped(fake: FakeNumerai, served: Path, tmp_path: Path):
    for name in ("meta_model", "validation_benchmark_models", "live_benchmark_models"):
        (served / "v5.0" / f"{name}.parquet").unlink()
    folder = download_numerai_dataset(fake.client(), "v5.0", tmp_path / "data")
    assert (folder / "train.parquet").exists() and (folder / "live.parquet").exists()
    assert sorted(p.name for p in folder.iterdir()) == [
        "features.json",
        "live.parquet",
        "live_1234.parquet",
        "train.parquet",
        "validation.parquet",
    ]


def test_unknown_version_lists_available(fake: FakeNumerai, tmp_path: Path):
    with pytest.raises(DatasetError, match=r"no dataset version 'v9.9'; available: v5.0"):
        download_numerai_dataset(fake.client(), "v9.9", tmp_path / "data")


def test_missing_required_file_is_named(fake: FakeNumerai, served: Path, tmp_path: Path):
    (served / "v5.0" / "live.parquet").unlink()
    with pytest.raises(DatasetError, match="listing lacks live.parquet, which the pipeline"):
        download_numerai_dataset(fake.client(), "v5.0", tmp_path / "data")


def test_download_works_without_credentials(fake: FakeNumerai, tmp_path: Path):
    client = fake.client(public_id=None, secret_key=None)
    folder = download_numerai_dataset(client, "v5.0", tmp_path / "data")
    assert (folder / "live.parquet").exists()


def test_a_live_file_the_round_does_not_list_leaves_no_older_copy(
    fake: FakeNumerai, served: Path, tmp_path: Path
):
    folder = download_numerai_dataset(fake.client(), "v5.0", tmp_path / "data")
    assert (folder / "live_benchmark_models.parquet").exists()
    (served / "v5.0" / "live_benchmark_models.parquet").unlink()
    fake.current_round = 1235
    download_numerai_dataset(fake.client(), "v5.0", tmp_path / "data")
    assert not (folder / "live_benchmark_models.parquet").exists()
    assert (folder / "live_1235.parquet").exists()
