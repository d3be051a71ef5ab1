"""Atomic writes: write a temp file (or folder) beside the target, then rename it over the target.
What is written gets the modes the umask gives new files, as a plain `open` would."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def umask_mode(directory: bool = False) -> int:
    """The mode a new file (or folder) gets under the process's umask."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path in the target's folder; on success rename it to `target`, else delete it."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        tmp_path.chmod(umask_mode())  # mkstemp makes 0600 files
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temp folder beside `target`; on success it replaces `target` (an earlier one is
    removed only after the new one is in place), else it is deleted."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    old = target.with_name(f".{target.name}.old")
    try:
        yield tmp
        tmp.chmod(umask_mode(directory=True))  # mkdtemp makes 0700 folders
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_text(target: Path, text: str) -> Path:
    """Write `text` to `target` atomically and return `target`."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return Path(target)


def atomic_write_bytes(target: Path, data: bytes) -> Path:
    """Write `data` to `target` atomically and return `target`."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)
