"""Where a data version's files are: a local folder in Numerai's layout, or generated ones."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from numerai_pipeline.core.schema import DatasetError, validate_version
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
    signal: Path | None = None
    round_num: int | None = None
    """The tournament round the live file belongs to (known for numerapi downloads)."""
    source: str = "local"
    """Where the files came from: "local" (a folder of the user's), "synthetic" or "numerai"."""

    def fingerprint(self) -> str:
        """A digest of the names, sizes and modification times of the files: changes when a file
        is replaced (downloaded, regenerated, edited), so what was built from them is stale."""
        digest = hashlib.sha256()
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Path) and value.is_file():
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
        raise DatasetError(
            f"no dataset folder {root}; set NUMERAI_DATA_DIR to a folder laid out like "
            f"Numerai's ({layout})"
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
        signal=optional("synthetic_signal.parquet"),
    )


def ensure_synthetic_dataset(data_root: Path, version: str, preset: str, seed: int) -> DatasetFiles:
    """Generate `<data_root>/synthetic-<preset>-<seed>/<version>/` unless complete; locate it."""
    validate_version(version)
    resolve_preset(preset)
    folder = Path(data_root) / f"synthetic-{preset}-{seed}"
    if not is_complete(folder / version):
        write_synthetic_dataset(folder, version=version, preset=preset, seed=seed)
    return replace(locate_local_dataset(folder, version), source="synthetic")
