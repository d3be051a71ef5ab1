"""Which benchmark column BMC is measured against, and reading reference predictions."""

from __future__ import annotations

from pathlib import Path

import pytest

from numerai_pipeline.core.schema import benchmark_column
from numerai_pipeline.data.reference_models import (
    choose_benchmark_column,
    read_benchmark,
    read_meta_model,
)


@pytest.mark.parametrize(
    ("version", "target", "column"),
    [
        ("v5.0", "target_cyrusd_20", "v5_lgbm_cyrusd20"),
        ("v5.2", "target_ender_20", "v52_lgbm_ender20"),
        ("v5.3", "target_ender_20", "v53_lgbm_ender20"),
        ("v4.3", "target_cyrus_v4_20", "v43_lgbm_cyrus20"),
    ],
)
def test_the_column_is_named_as_numerai_names_it(version, target, column):
    assert benchmark_column(version, target) == column


def test_without_the_versions_own_column_the_newest_of_the_main_target_is_used():
    columns = ["era", "v52_lgbm_ender20", "v5_lgbm_ender20", "v53_lgbm_ender20", "v5_lgbm_ct_blend"]
    assert choose_benchmark_column(columns, "v5.3", "target_ender_20") == "v53_lgbm_ender20"
    assert choose_benchmark_column(columns, "v5.9", "target_ender_20") == "v53_lgbm_ender20"
    assert choose_benchmark_column(columns, "v5.3", "target_agnes_20") is None


def test_reference_files_read_by_id(tiny_dataset: Path):
    meta = read_meta_model(tiny_dataset / "meta_model.parquet")
    benchmark = read_benchmark(
        tiny_dataset / "validation_benchmark_models.parquet", "v5.0", "target_cyrusd_20"
    )
    assert benchmark.name == "v5_lgbm_cyrusd20" and benchmark.index.name == "id"
    assert benchmark.between(0, 1).all() and benchmark.index.isin(meta.index).all()
    assert read_benchmark(None, "v5.0", "target_cyrusd_20") is None
    assert (
        read_benchmark(tiny_dataset / "validation_benchmark_models.parquet", "v5.0", "target")
        is None
    )
