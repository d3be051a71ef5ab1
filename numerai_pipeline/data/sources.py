"""Where a data version's files are: a local folder in Numerai's layout, or generated ones."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import NamedTuple

from numerai_pipeline.core.schema import (
    LIVE_BENCHMARK_FILE,
    LIVE_FILE,
    VALIDATION_BENCHMARK_FILE,
    DatasetError,
    per_round_name,
    validate_version,
)
from numerai_pipeline.data.synthetic import is_complete, resolve_preset, write_synthetic_dataset

REQUIRED_FILES = ("train.parquet", "validation.parquet", "live.parquet")


@dataclass(frozen=True)
class DatasetFiles:
    """Paths of one data version's files (optional ones are None when absent)."""

    version: str
    root: Path
    train: Path
    validation: Path
    live: Path
    features_json: Path | None = None
    meta_model: Path | None = None
    validation_benchmark: Path | None = None
    """Numerai's benchmark models' predictions of the validation rows (BMC is measured against)."""
    live_benchmark: Path | None = None
    signal: Path | None = None
    round_num: int | None = None
    """The tournament round the live file belongs to (known for numerapi downloads)."""
    source: str = "local"
    """Where the files came from: "local" (a folder of the user's), "synthetic" or "numerai"."""

    def fingerprint(self) -> str:
        """A digest of the names, sizes and modification times of the training files: changes
        when one is replaced (downloaded, regenerated, edited), so what was built from them is
        stale. The live files are left out: they change every round, and a new round's live rows
        are predicted through the round's own assets, not by training again."""
        digest = hashlib.sha256()
        for f in fields(self):
            value = getattr(self, f.name)
            live = f.name in ("live", "live_benchmark")
            if not live and isinstance(value, Path) and value.is_file():
                stat = value.stat()
                digest.update(f"{f.name}:{value.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        return digest.hexdigest()[:16]

    def to_metadata(self) -> dict[str, str]:
        """The fields as strings (for asset metadata); absent optional files are left out."""
        return {f.name: str(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name)}


def locate_local_dataset(data_dir: Path, version: str) -> DatasetFiles:
    """The files of `<data_dir>/<version>/`; DatasetError saying what is missing."""
    validate_version(version)
    root = Path(data_dir) / version
    layout = f"<dir>/{version}/train.parquet, validation.parquet, live.parquet"
    if not root.is_dir():
        present = sorted(p.parent.name for p in Path(data_dir).glob("*/train.parquet"))
        hint = (
            f"; {data_dir} holds {', '.join(present)}: set NUMERAI_DATA_VERSION to one of them"
            if present
            else ""
        )
        raise DatasetError(
            f"no dataset folder {root}; set NUMERAI_DATA_DIR to a folder laid out like "
            f"Numerai's ({layout}){hint}"
        )
    missing = [name for name in REQUIRED_FILES if not (root / name).is_file()]
    if missing:
        raise DatasetError(
            f"{root} lacks {', '.join(missing)}; download them (numerapi) or set "
            f"NUMERAI_DATA_DIR to a folder laid out like Numerai's ({layout})"
        )

    def optional(name: str) -> Path | None:
        return root / name if (root / name).is_file() else None

    return DatasetFiles(
        version=version,
        root=root,
        train=root / "train.parquet",
        validation=root / "validation.parquet",
        live=root / "live.parquet",
        features_json=optional("features.json"),
        meta_model=optional("meta_model.parquet"),
        validation_benchmark=optional(VALIDATION_BENCHMARK_FILE),
        live_benchmark=optional(LIVE_BENCHMARK_FILE),
        signal=optional("synthetic_signal.parquet"),
    )


class RoundLiveFiles(NamedTuple):
    """A round's live rows and, when Numerai gives them, its benchmark models' predictions."""

    live: Path
    benchmark: Path | None


def local_round_files(root: Path, round_num: int, current: bool = True) -> RoundLiveFiles:
    """A version folder's files of a round: `live_<round>.parquet` and
    `live_benchmark_models_<round>.parquet`; for the `current` round, else the plain
    `live.parquet` and `live_benchmark_models.parquet` (what a folder holds is the latest
    round's). No benchmark file when there is none."""
    kept = root / per_round_name(LIVE_FILE, round_num)
    if kept.is_file():
        live, benchmark = kept, root / per_round_name(LIVE_BENCHMARK_FILE, round_num)
    elif current:
        live, benchmark = root / LIVE_FILE, root / LIVE_BENCHMARK_FILE
    else:
        raise DatasetError(
            f"{root} has no {kept.name}, and its {LIVE_FILE} is the latest round's, not round "
            f"{round_num}'s: put round {round_num}'s live file there as {kept.name}"
        )
    if not live.is_file():
        raise DatasetError(
            f"{root} has neither {kept.name} nor {LIVE_FILE}: put the round's live file there "
            f"(numerapi downloads {LIVE_FILE})"
        )
    return RoundLiveFiles(live, benchmark if benchmark.is_file() else None)


def ensure_synthetic_dataset(data_root: Path, version: str, preset: str, seed: int) -> DatasetFiles:
    """Generate `<data_root>/synthetic-<preset>-<seed>/<version>/` unless complete; locate it."""
    validate_version(version)
    resolve_preset(preset)
    folder = Path(data_root) / f"synthetic-{preset}-{seed}"
    if not is_complete(folder / version):
        write_synthetic_dataset(folder, version=version, preset=preset, seed=seed)
    return replace(locate_local_dataset(folder, version), source="synthetic")
