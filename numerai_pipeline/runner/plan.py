"""What a run of the CLI re-materializes and what it reuses.

An asset (or one of its partitions) is reused when Dagster calls it FRESH (materialized by the
same code version, from the same data versions of its inputs: the dataset's version is a digest
of its files) and its last materialization ran with the same settings (data source, compute
preset, seed: `settings_fingerprint`); otherwise it is re-materialized, and so is everything
after it in the same stage. Later stages see the new data versions through Dagster itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, Definitions
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.definitions.temporal_context import TemporalContext
from dagster._time import get_current_datetime

SETTINGS_TAG = "numerai/settings"
"""Run tag: the fingerprint of the settings the run's assets were materialized with."""


def settings_fingerprint(resources: Mapping[str, object], names: Iterable[str]) -> str:
    """A digest of the configuration of the named resources (those that change results)."""
    configs = {
        name: resources[name].model_dump()
        if hasattr(resources[name], "model_dump")
        else repr(resources[name])
        for name in sorted(names)
        if name in resources
    }
    return hashlib.sha256(json.dumps(configs, sort_keys=True, default=str).encode()).hexdigest()[
        :16
    ]


@dataclass
class StagePlan:
    """The assets of one stage (and partition) to materialize and the ones reused."""

    job_name: str
    partition: str | None
    run: list[AssetKey] = field(default_factory=list)
    reused: list[AssetKey] = field(default_factory=list)
    reasons: dict[AssetKey, str] = field(default_factory=dict)


class Planner:
    """Decides, stage by stage, which assets need materializing (see the module docstring)."""

    def __init__(self, defs: Definitions, instance: DagsterInstance, fingerprint: str) -> None:
        self.defs, self.instance, self.fingerprint = defs, instance, fingerprint
        self.graph = defs.resolve_asset_graph()

    def _resolver(self) -> CachingStaleStatusResolver:
        view = AssetGraphView(
            temporal_context=TemporalContext(
                effective_dt=get_current_datetime(), last_event_id=None
            ),
            instance=self.instance,
            asset_graph=self.graph,
        )
        return CachingStaleStatusResolver(self.instance, self.graph, view)

    def _settings_of_last(self, key: AssetKey, partition: str | None) -> str | None:
        """The settings tag of the run that last materialized `key` (`partition`)."""
        records = self.instance.fetch_materializations(
            AssetRecordsFilter(key, asset_partitions=[partition] if partition else None), limit=1
        ).records
        if not records:
            return None
        run = self.instance.get_run_by_id(records[0].run_id)
        return run.tags.get(SETTINGS_TAG) if run else None

    def _reason(
        self, resolver: CachingStaleStatusResolver, key: AssetKey, pk: str | None
    ) -> str | None:
        status = resolver.get_status(key, pk)
        if status == StaleStatus.MISSING:
            return "never materialized"
        if status == StaleStatus.STALE:
            causes = resolver.get_stale_root_causes(key, pk)
            return "; ".join(sorted({c.reason for c in causes})) or "stale"
        if self._settings_of_last(key, pk) != self.fingerprint:
            return "settings changed"
        return None

    def plan(self, job_name: str, partition: str | None, redo: bool = False) -> StagePlan:
        """The stage's assets in dependency order, each to run (with why) or reused."""
        job = self.defs.resolve_job_def(job_name)
        keys = set(job.asset_layer.executable_asset_keys)
        resolver = self._resolver()
        plan = StagePlan(job_name, partition)
        for key in self.graph.toposorted_asset_keys:
            if key not in keys:
                continue
            upstream = [k for k in self.graph.get(key).parent_keys if k in plan.run]
            reason = (
                "asked to redo"
                if redo
                else f"after {upstream[0].to_user_string()}"
                if upstream
                else self._reason(resolver, key, partition)
            )
            if reason is None:
                plan.reused.append(key)
            else:
                plan.run.append(key)
                plan.reasons[key] = reason
        return plan
