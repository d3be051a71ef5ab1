"""The home folder as a resource, so the UI shows where everything is written."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from numerai_pipeline.storage.home import PipelineHome


class HomeResource(ConfigurableResource):
    """Root of everything the pipeline writes (`NUMERAI_PIPELINE_HOME`)."""

    root: str

    @property
    def paths(self) -> PipelineHome:
        return PipelineHome(Path(self.root).resolve())
