"""Where the raw Numerai files come from: synthetic (default), a local folder, or numerapi."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from numerai_pipeline.data.schema import DatasetError, validate_version
from numerai_pipeline.data.sources import (
    DatasetFiles,
    ensure_synthetic_dataset,
    locate_local_dataset,
)

SOURCES = ("synthetic", "local", "numerai")


class NumeraiDataSource(ConfigurableResource):
    """Data source settings (env: NUMERAI_DATA_SOURCE, NUMERAI_DATA_DIR, NUMERAI_DATA_VERSION,
    NUMERAI_SYNTHETIC_PRESET)."""

    source: str = "synthetic"
    data_dir: str = ""
    version: str = "v5.0"
    synthetic_preset: str = "demo"
    seed: int = 0

    def fetch(self, data_root: Path) -> DatasetFiles:
        """Make the version's files available on disk and return where they are."""
        validate_version(self.version)
        if self.source == "synthetic":
            return ensure_synthetic_dataset(
                data_root, self.version, self.synthetic_preset, self.seed
            )
        if self.source == "local":
            if not self.data_dir:
                raise DatasetError(
                    "NUMERAI_DATA_SOURCE=local needs NUMERAI_DATA_DIR: a folder laid out like "
                    f"Numerai's (<dir>/{self.version}/train.parquet, validation.parquet, live.parquet)"
                )
            return locate_local_dataset(Path(self.data_dir), self.version)
        if self.source == "numerai":
            raise DatasetError("the numerai source is configured through the numerai resource")
        raise DatasetError(
            f"unknown data source {self.source!r}; set NUMERAI_DATA_SOURCE to one of "
            f"{', '.join(SOURCES)}"
        )
