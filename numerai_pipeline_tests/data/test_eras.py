from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from numerai_pipeline.core.eras import (
    era_numbers,
    era_offsets,
    era_runs,
    in_era_order,
    in_eras,
    sorted_eras,
    subsample_eras,
)
from numerai_pipeline.core.schema import DatasetError
from numerai_pipeline.data.eras import (
    MIN_ERA_ROWS,
    build_era_index,
    era_labels,
    labeled_eras,
    unresolved_eras,
)


def test_era_index_counts_rows_and_labels_per_split(tiny_dataset: Path):
    index = build_era_index(
        tiny_dataset / "train.parquet",
        tiny_dataset / "validation.parquet",
        tiny_dataset / "live.parquet",
    )
    train = pd.read_parquet(tiny_dataset / "train.parquet", columns=["era"])
    assert index.loc[index.data_type == "train", "n_rows"].sum() == len(train)
    live = index[index.data_type == "live"]
    assert len(live) == 1 and live["n_labeled"].iloc[0] == 0
    assert (
        index["era"].tolist() == sorted_eras(index["era"]) or index["era"].is_monotonic_increasing
    )
    eras = labeled_eras(index)
    assert live["era"].iloc[0] not in eras
    validation = index[index.data_type == "validation"]
    unresolved = validation[validation.n_labeled == 0]["era"].tolist()
    assert unresolved and not set(unresolved) & set(eras)


def test_unresolved_eras_follow_the_last_labeled_one():
    index = pd.DataFrame(
        {
            "era": ["0001", "0002", "0003", "0004", "0005", "0006", "X"],
            "data_type": [
                "train",
                "train",
                "validation",
                "validation",
                "validation",
                "validation",
                "live",
            ],
            "n_rows": [20] * 7,
            "n_labeled": [20, 0, 20, MIN_ERA_ROWS - 1, 0, 0, 0],
        }
    )
    # 0002 (a gap between labeled eras) is not unresolved; 0004 has too few labels to train on
    # and targets to pretrain on: left out of both; live rows are not an era of the data files.
    assert unresolved_eras(index) == ["0005", "0006"]
    assert unresolved_eras(index.iloc[:4]) == []


def test_live_only_data_has_no_labels(tiny_dataset: Path):
    live = tiny_dataset / "live.parquet"
    with pytest.raises(DatasetError, match="no labeled rows"):
        build_era_index(live, live, live)


def test_subsampling_keeps_the_latest_era():
    eras = [f"{i:04d}" for i in range(1, 11)]
    assert subsample_eras(eras, 4) == ["0002", "0006", "0010"]
    assert subsample_eras(eras, 1) == eras
    with pytest.raises(ValueError):
        subsample_eras(eras, 0)


def test_era_numbers_count_weeks_or_positions():
    assert era_numbers(["0002", "0006", "0010"]).tolist() == [2, 6, 10]
    assert era_numbers(["0002", "X"]).tolist() == [0, 1]


def test_era_labels_sort_numerically_and_are_padded():
    assert sorted_eras(["0010", "0002", "X", "0002"]) == ["0002", "0010", "X"]
    stored = pa.array(["7", "0012", "X", "era3", "era120", "eraX", "12345"])
    expected = ["0007", "0012", "X", "0003", "0120", "eraX", "12345"]
    assert era_labels(stored).to_pylist() == expected
    assert era_labels(pa.array([7, 120], pa.int16())).to_pylist() == ["0007", "0120"]
    assert era_labels(pa.array(["era2", "era2"]).dictionary_encode()).to_pylist() == ["0002"] * 2
    assert sorted_eras(era_labels(pa.array(["era10", "era2", "eraX"])).to_pylist()) == [
        "0002",
        "0010",
        "eraX",
    ]


def test_in_eras_masks_the_rows_of_the_wanted_eras():
    eras = np.array(["0001", "0002", "X", None, "0002", "0010"], dtype=object)
    mask = in_eras(eras, ["0002", "0010", "0099"])
    assert mask.dtype == bool
    assert mask.tolist() == [False, True, False, False, True, True]
    assert not in_eras(eras, []).any()
    assert in_eras(eras, np.array(["X"], dtype=object)).tolist() == [0, 0, 1, 0, 0, 0]


def test_in_era_order_needs_one_chronological_run_per_era():
    def order(*eras: str) -> bool:
        return in_era_order(np.array(eras, dtype=object))

    assert order() and order("0001", "0001", "0002", "0010", "X")
    assert not order("0002", "0001")  # runs out of order
    assert not order("0001", "0002", "0001")  # an era in two runs
    assert order("9", "10") and not order("10", "9")  # chronological, not string order


def test_era_runs_are_the_rows_of_each_era_in_order():
    eras = np.array(["0001", "0001", "0002", "0003", "0003", "0003"], dtype=object)
    assert era_offsets(eras).tolist() == [0, 2, 3, 6]
    assert [(run.start, run.stop) for run in era_runs(eras)] == [(0, 2), (2, 3), (3, 6)]
    assert era_offsets(eras[:1]).tolist() == [0, 1]
