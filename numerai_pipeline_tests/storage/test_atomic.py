"""Atomic writes: all or nothing, with the modes the umask gives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from numerai_pipeline.storage.atomic import atomic_dir, atomic_path, atomic_write_text


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_and_folders_follow_the_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        path = atomic_write_text(tmp_path / "report.json", "{}")
        with atomic_dir(tmp_path / "model") as folder:
            (folder / "model.json").write_text("{}")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "model").stat().st_mode & 0o777 == 0o777 & ~umask


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = atomic_write_text(tmp_path / "a.txt", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_a_folder_is_replaced_whole(tmp_path: Path) -> None:
    with atomic_dir(tmp_path / "m") as folder:
        (folder / "old.txt").write_text("1")
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "m") as folder:
        (folder / "new.txt").write_text("2")
        raise RuntimeError("killed")
    assert [p.name for p in (tmp_path / "m").iterdir()] == ["old.txt"]
    with atomic_dir(tmp_path / "m") as folder:
        (folder / "new.txt").write_text("2")
    assert [p.name for p in (tmp_path / "m").iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
