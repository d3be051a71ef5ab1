"""Where the raw Numerai files come from: synthetic (default), a local folder, or numerapi."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dagster import ConfigurableResource

from numerai_pipeline.core.schema import (
    LIVE_BENCHMARK_FILE,
    LIVE_FILE,
    DatasetError,
    validate_version,
)
from numerai_pipeline.data.download import download_live_files, download_numerai_dataset
from numerai_pipeline.data.sources import (
    DatasetFiles,
    RoundLiveFiles,
    ensure_synthetic_dataset,
    local_round_files,
    locate_local_dataset,
)
from numerai_pipeline.data.synthetic import write_synthetic_live
from numerai_pipeline.numerai_api import NumeraiClient

SOURCES = ("synthetic", "local", "numerai")


class NumeraiDataSource(ConfigurableResource):
    """Data source settings (env: NUMERAI_DATA_SOURCE, NUMERAI_DATA_DIR, NUMERAI_DATA_VERSION,
    NUMERAI_SYNTHETIC_PRESET)."""

    source: str = "synthetic"
    data_dir: str = ""
    version: str = "v5.0"
    synthetic_preset: str = "demo"
    seed: int = 0

    def fetch(self, data_root: Path, client: NumeraiClient | None = None) -> DatasetFiles:
        """Make the version's files available on disk and return where they are.

        The `numerai` source downloads with `client`: complete files are skipped, partial ones
        resumed, and the live file is fetched for the current round.
        """
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
            if client is None:
                raise DatasetError("NUMERAI_DATA_SOURCE=numerai needs a Numerai API client")
            round_num = client.get_current_round()
            download_numerai_dataset(client, self.version, data_root / "numerai", round_num)
            files = locate_local_dataset(data_root / "numerai", self.version)
            return replace(files, round_num=round_num, source="numerai")
        raise DatasetError(
            f"unknown data source {self.source!r}; set NUMERAI_DATA_SOURCE to one of "
            f"{', '.join(SOURCES)}"
        )

    def fetch_live(
        self,
        data_root: Path,
        round_num: int,
        client: NumeraiClient | None = None,
        current: bool = True,
    ) -> RoundLiveFiles:
        """The live files of round `round_num`: downloaded for that round (`numerai`), the
        folder's `live_<round>.parquet` or, for the `current` round, its `live.parquet`
        (`local`), or generated for the round (`synthetic`); with the benchmark models file
        where there is one."""
        if self.source == "synthetic":
            root = self.fetch(data_root).root
            write_synthetic_live(root, round_num, self.synthetic_preset, self.seed)
            return local_round_files(root, round_num)
        if self.source == "local":
            root = locate_local_dataset(Path(self.data_dir), self.version).root
            return local_round_files(root, round_num, current)
        if client is None:
            raise DatasetError("NUMERAI_DATA_SOURCE=numerai needs a Numerai API client")
        folder = data_root / "numerai" / self.version
        files = download_live_files(client, self.version, folder, round_num)
        return RoundLiveFiles(files[LIVE_FILE], files.get(LIVE_BENCHMARK_FILE))
