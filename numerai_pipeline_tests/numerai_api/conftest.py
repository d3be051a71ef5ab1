"""Fixtures: tiny Numerai files served by the fake Numerai API, and a client for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from numerai_pipeline.numerai_api import NumeraiClient
from numerai_pipeline_tests.fake_numerai_server import (
    FakeNumerai,
    running_fake_numerai,
    write_tiny_dataset,
)


@pytest.fixture
def served_dir(tmp_path: Path) -> Path:
    """Folder the fake server serves (`v5.0/<file>`)."""
    root = tmp_path / "served"
    write_tiny_dataset(root)
    return root


@pytest.fixture
def fake_numerai(served_dir: Path) -> Iterator[FakeNumerai]:
    with running_fake_numerai(served_dir, models={"my_model": "model-id-1"}) as fake:
        yield fake


@pytest.fixture
def client(fake_numerai: FakeNumerai) -> NumeraiClient:
    return fake_numerai.client()
