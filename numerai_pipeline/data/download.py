"""Fetch one Numerai data version into a local folder laid out like Numerai's (`<version>/<file>`)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from numerai_pipeline.core.schema import DatasetError
from numerai_pipeline.numerai_api.client import NumeraiClient
from numerai_pipeline.storage.atomic import atomic_path

logger = logging.getLogger(__name__)

REQUIRED_FILES = ("train.parquet", "validation.parquet", "features.json")
OPTIONAL_FILES = ("meta_model.parquet",)
LIVE_FILE = "live.parquet"


def live_file_name(round_num: int) -> str:
    """Per-round name of the live file inside the version folder."""
    return f"live_{round_num}.parquet"


def download_numerai_dataset(
    client: NumeraiClient, version: str, dest_root: Path, round_num: int | None = None
) -> Path:
    """Download `version`'s files into `dest_root/<version>/` and return that folder.

    Complete files are skipped and partial ones resumed. The live file is stored per round as
    `live_<round>.parquet` and copied atomically to `live.parquet`.
    """
    available = set(client.list_datasets(round_num))
    versions = sorted({name.split("/", 1)[0] for name in available if "/" in name})
    if version not in versions:
        raise DatasetError(
            f"Numerai has no dataset version {version!r}; available: {', '.join(versions) or 'none'}"
        )
    missing = [f for f in (*REQUIRED_FILES, LIVE_FILE) if f"{version}/{f}" not in available]
    if missing:
        raise DatasetError(f"Numerai's {version} listing lacks {', '.join(missing)}")
    folder = Path(dest_root) / version
    for name in (*REQUIRED_FILES, *OPTIONAL_FILES):
        if f"{version}/{name}" in available:
            client.download_dataset(f"{version}/{name}", folder / name, round_num)
        else:
            logger.info("%s/%s is not listed; skipping it", version, name)

    live_round = round_num if round_num is not None else client.get_current_round()
    live_path = client.download_dataset(
        f"{version}/{LIVE_FILE}", folder / live_file_name(live_round), live_round
    )
    with atomic_path(folder / LIVE_FILE) as tmp:
        shutil.copyfile(live_path, tmp)
    return folder
