"""Locating a local dataset folder and generating/reusing the synthetic one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from numerai_pipeline.core.schema import DatasetError
from numerai_pipeline.data import sources
from numerai_pipeline.data.sources import (
    DatasetFiles,
    ensure_synthetic_dataset,
    local_round_files,
    locate_local_dataset,
)


def test_locate_local_dataset(tiny_dataset: Path, tmp_path: Path) -> None:
    files = locate_local_dataset(tiny_dataset.parent, "v5.0")
    assert files.root == tiny_dataset and files.train == tiny_dataset / "train.parquet"
    assert files.features_json and files.meta_model and files.signal
    minimal = tmp_path / "v5.2"
    minimal.mkdir()
    for name in ("train.parquet", "validation.parquet", "live.parquet"):
        shutil.copy(tiny_dataset / name, minimal / name)
    files = locate_local_dataset(tmp_path, "v5.2")
    assert (files.features_json, files.meta_model, files.signal) == (None, None, None)
    assert set(files.to_metadata()) == {"version", "root", "train", "validation", "live", "source"}


def test_missing_folder_or_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        locate_local_dataset(tmp_path, "v5.0")
    assert f"no dataset folder {tmp_path / 'v5.0'}" in str(err.value)
    assert "set NUMERAI_DATA_DIR to a folder laid out like Numerai's" in str(err.value)
    (tmp_path / "v5.0").mkdir()
    (tmp_path / "v5.0" / "train.parquet").write_bytes(b"")
    with pytest.raises(DatasetError, match="lacks validation.parquet, live.parquet; download"):
        locate_local_dataset(tmp_path, "v5.0")


def test_any_version_label_is_a_folder_and_missing_files_are_named(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    shutil.copytree(tiny_dataset, tmp_path / "v5.0")
    with pytest.raises(DatasetError) as err:
        locate_local_dataset(tmp_path, "v9.9")
    assert "no dataset folder" in str(err.value)
    assert f"{tmp_path} holds v5.0: set NUMERAI_DATA_VERSION to one of them" in str(err.value)
    (tmp_path / "v9.9").mkdir()
    shutil.copy(tiny_dataset / "train.parquet", tmp_path / "v9.9" / "train.parquet")
    with pytest.raises(DatasetError, match=r"v9\.9 lacks validation\.parquet, live\.parquet"):
        locate_local_dataset(tmp_path, "v9.9")
    for name in ("validation.parquet", "live.parquet"):
        shutil.copy(tiny_dataset / name, tmp_path / "v9.9" / name)
    assert locate_local_dataset(tmp_path, "v9.9").version == "v9.9"


def test_ensure_synthetic_generates_once(tmp_path: Path, monkeypatch) -> None:
    files = ensure_synthetic_dataset(tmp_path, "v5.0", "tiny", 3)
    assert isinstance(files, DatasetFiles)
    assert files.root == tmp_path / "synthetic-tiny-3" / "v5.0" and files.signal is not None
    calls = []
    real = sources.write_synthetic_dataset
    monkeypatch.setattr(
        sources, "write_synthetic_dataset", lambda *a, **k: calls.append(a) or real(*a, **k)
    )
    assert ensure_synthetic_dataset(tmp_path, "v5.0", "tiny", 3) == files
    assert calls == []
    (files.root / "meta_model.parquet").unlink()  # incomplete: regenerated
    assert ensure_synthetic_dataset(tmp_path, "v5.0", "tiny", 3).meta_model is not None
    assert len(calls) == 1


def test_ensure_synthetic_unknown_preset(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown synthetic preset 'nope'; set NUMERAI_SYN"):
        ensure_synthetic_dataset(tmp_path, "v5.0", "nope", 0)
    assert not list(tmp_path.iterdir())


def test_a_past_rounds_live_file_must_be_kept_under_its_round(tiny_dataset: Path, tmp_path: Path):
    root = shutil.copytree(tiny_dataset, tmp_path / "v5.0")
    assert local_round_files(root, 1234).live == root / "live.parquet"  # the current round
    with pytest.raises(DatasetError, match="no live_1200.parquet.*latest round's, not round 1200"):
        local_round_files(root, 1200, current=False)
    shutil.copy(root / "live.parquet", root / "live_1200.parquet")
    kept = local_round_files(root, 1200, current=False)
    assert kept.live == root / "live_1200.parquet" and kept.benchmark is None
