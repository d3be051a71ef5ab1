"""Fetch one Numerai data version into a local folder laid out like Numerai's (`<version>/<file>`)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from numerai_pipeline.core.schema import (
    LIVE_BENCHMARK_FILE,
    LIVE_FILE,
    VALIDATION_BENCHMARK_FILE,
    DatasetError,
    per_round_name,
)
from numerai_pipeline.numerai_api.client import NumeraiClient
from numerai_pipeline.storage.atomic import atomic_path

logger = logging.getLogger(__name__)

REQUIRED_FILES = ("train.parquet", "validation.parquet", "features.json")
OPTIONAL_FILES = ("meta_model.parquet", VALIDATION_BENCHMARK_FILE)
LIVE_FILES = (LIVE_FILE, LIVE_BENCHMARK_FILE)
"""Files of the round (downloaded per round as `<name>_<round>.parquet`); the first is required."""


def download_numerai_dataset(
    client: NumeraiClient, version: str, dest_root: Path, round_num: int | None = None
) -> Path:
    """Download `version`'s files into `dest_root/<version>/` and return that folder.

    Complete files are skipped and partial ones resumed. The round's live files are stored per
    round (`live_<round>.parquet`) and copied atomically to their plain names.
    """
    available = set(client.list_datasets(round_num))
    versions = sorted({name.split("/", 1)[0] for name in available if "/" in name})
    if version not in versions:
        raise DatasetError(
            f"Numerai has no dataset version {version!r}; available: {', '.join(versions) or 'none'}"
            ": set NUMERAI_DATA_VERSION to one of them"
        )
    missing = [f for f in (*REQUIRED_FILES, LIVE_FILE) if f"{version}/{f}" not in available]
    if missing:
        raise DatasetError(
            f"Numerai's {version} listing lacks {', '.join(missing)}, which the pipeline needs; "
            "set NUMERAI_DATA_VERSION to a version that has them"
        )
    folder = Path(dest_root) / version
    for name in (*REQUIRED_FILES, *OPTIONAL_FILES):
        if f"{version}/{name}" in available:
            client.download_dataset(f"{version}/{name}", folder / name, round_num)
        else:
            logger.info("%s/%s is not listed; skipping it", version, name)
    live_round = round_num if round_num is not None else client.get_current_round()
    downloaded = download_live_files(client, version, folder, live_round)
    for name in LIVE_FILES:
        if name not in downloaded:  # not listed this round: an older round's copy would lie
            (folder / name).unlink(missing_ok=True)
    for name, path in downloaded.items():
        with atomic_path(folder / name) as tmp:
            shutil.copyfile(path, tmp)
    return folder


def download_live_files(
    client: NumeraiClient, version: str, folder: Path, round_num: int
) -> dict[str, Path]:
    """The round's live files (the live rows, and the benchmark models' predictions when listed)
    downloaded as `<name>_<round>.parquet` into `folder`, by plain name."""
    available = set(client.list_datasets(round_num))
    return {
        name: client.download_dataset(
            f"{version}/{name}", folder / per_round_name(name, round_num), round_num
        )
        for name in LIVE_FILES
        if name == LIVE_FILE or f"{version}/{name}" in available
    }
