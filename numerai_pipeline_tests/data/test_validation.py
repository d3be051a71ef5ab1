"""Frame validation and streamed file checks: each bad input gives an actionable message."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from numerai_pipeline.core.schema import DatasetError
from numerai_pipeline.data.loading import read_numerai_parquet
from numerai_pipeline.data.validation import (
    CHECK_NAMES,
    REMEDIES,
    CheckResult,
    check_dataset_file,
    validate_numerai_frame,
)
from numerai_pipeline_tests.data.conftest import truncate_half, write_frame


@pytest.fixture(scope="module")
def train_frame(tiny_dataset: Path) -> pd.DataFrame:
    return read_numerai_parquet(tiny_dataset / "train.parquet")


def _raises(frame: pd.DataFrame, *fragments: str, require_target: bool = True) -> None:
    with pytest.raises(DatasetError) as err:
        validate_numerai_frame(frame, name="train", require_target=require_target)
    assert str(err.value).startswith("train: ")
    for fragment in fragments:
        assert fragment in str(err.value)


def test_good_frames_pass(train_frame: pd.DataFrame, tiny_dataset: Path) -> None:
    validate_numerai_frame(train_frame, name="train", require_target=True)
    live = read_numerai_parquet(tiny_dataset / "live.parquet")
    validate_numerai_frame(live, name="live", require_target=False)
    validate_numerai_frame(train_frame.drop(columns="target"), name="x", require_target=False)


def test_missing_columns(train_frame: pd.DataFrame) -> None:
    _raises(train_frame.drop(columns="era"), "no 'era' column", "read_numerai_parquet")
    _raises(train_frame.drop(columns="target"), "no 'target' column", "read the train")
    features = [c for c in train_frame if c.startswith("feature_")]
    _raises(train_frame.drop(columns=features), "no feature columns", "feature set")


def test_features_must_be_int8_bins(train_frame: pd.DataFrame) -> None:
    column = next(c for c in train_frame if c.startswith("feature_"))
    as_float = train_frame.astype({column: np.float64})
    _raises(as_float, "1 feature columns are not int8", column, "read_numerai_parquet")
    bad = train_frame.copy()
    bad.iloc[3, bad.columns.get_loc(column)] = 7
    _raises(bad, f"feature {column!r} has values outside 0..4", "e.g. 7", "re-bin")


def test_duplicate_ids(train_frame: pd.DataFrame) -> None:
    doubled = pd.concat([train_frame, train_frame.iloc[:3]])
    _raises(doubled, "3 duplicate ids", f"e.g. {train_frame.index[0]!r}", "drop duplicated rows")


@pytest.mark.parametrize("label", [None, ""])
def test_empty_era_labels(train_frame: pd.DataFrame, label) -> None:
    frame = train_frame.copy()
    frame.iloc[:2, frame.columns.get_loc("era")] = label
    _raises(frame, "2 rows have an empty era label", "fix or drop those rows")


def test_era_without_any_target(train_frame: pd.DataFrame) -> None:
    frame = train_frame.copy()
    frame.loc[frame["era"] == "0003", "target"] = np.nan
    _raises(frame, "1 eras have rows but no non-NaN 'target'", "0003", "drop unresolved rows")
    validate_numerai_frame(frame, name="train", require_target=False)


def _by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


@pytest.mark.parametrize(
    ("file", "require_target"),
    [("train", True), ("validation", True), ("live", False)],
)
def test_checks_pass_on_generated_files(tiny_dataset: Path, file: str, require_target) -> None:
    results = check_dataset_file(tiny_dataset / f"{file}.parquet", require_target=require_target)
    assert [r.name for r in results] == list(CHECK_NAMES)
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
    eras = _by_name(results)["eras"].metadata
    assert eras["eras"] == {"train": 40, "validation": 16, "live": 1}[file]
    assert 0 < eras["min_rows_per_era"] <= eras["max_rows_per_era"]
    if file == "validation":
        assert _by_name(results)["target_nan_policy"].metadata["unresolved_validation_eras"] == 2


def test_streaming_checks_find_every_problem(train_frame: pd.DataFrame, tmp_path: Path) -> None:
    frame = train_frame.copy()
    column = next(c for c in frame if c.startswith("feature_"))
    frame.iloc[5, frame.columns.get_loc(column)] = 9
    frame.iloc[6, frame.columns.get_loc("era")] = ""
    frame.iloc[7, frame.columns.get_loc("target")] = np.nan
    frame = pd.concat([frame, frame.iloc[[0]]])  # a duplicate id in the last batch
    path = write_frame(tmp_path / "bad.parquet", frame)
    results = _by_name(check_dataset_file(path, require_target=True, batch_rows=100))
    assert results["schema"].passed
    assert not results["feature_values"].passed
    assert f"{column!r} has 9" in results["feature_values"].message
    assert results["feature_values"].metadata["bad_values"] == 1
    assert not results["unique_ids"].passed
    assert f"1 duplicate ids (e.g. {frame.index[0]!r})" in results["unique_ids"].message
    assert not results["eras"].passed and "1 rows have no era label" in results["eras"].message
    assert not results["target_nan_policy"].passed
    assert "1 train rows have a NaN 'target'" in results["target_nan_policy"].message
    remedy = REMEDIES["numerai"]
    assert all(r.message.endswith(remedy) for r in results.values() if not r.passed)


def test_partially_labeled_validation_era_fails(tiny_dataset: Path, tmp_path: Path) -> None:
    frame = read_numerai_parquet(tiny_dataset / "validation.parquet")
    frame.iloc[:3, frame.columns.get_loc("target")] = np.nan
    path = write_frame(tmp_path / "validation.parquet", frame)
    result = _by_name(check_dataset_file(path, require_target=True))["target_nan_policy"]
    assert not result.passed
    assert "1 validation eras have NaN 'target' in only some rows (e.g. 0041)" in result.message


def test_nan_features_are_counted_not_failed(train_frame: pd.DataFrame, tmp_path: Path) -> None:
    frame = train_frame.copy()
    column = next(c for c in frame if c.startswith("feature_"))
    frame[column] = frame[column].astype(float).where(frame.index != frame.index[0]) / 4
    path = write_frame(tmp_path / "nan.parquet", frame)
    result = _by_name(check_dataset_file(path, require_target=True))["feature_values"]
    assert result.passed and result.metadata["missing_values"] == 1


def test_missing_columns_fail_schema(train_frame: pd.DataFrame, tmp_path: Path) -> None:
    path = write_frame(tmp_path / "x.parquet", train_frame.drop(columns=["target", "era"]))
    results = _by_name(check_dataset_file(path, require_target=True))
    assert not results["schema"].passed
    assert "lacks columns era, target" in results["schema"].message
    assert not results["eras"].passed and not results["target_nan_policy"].passed
    local = check_dataset_file(path, require_target=False, remedy=REMEDIES["local"])
    assert local[0].message.endswith(
        "lacks columns era; it is not a Numerai x file: fix the file or export it again from "
        "where it came from"
    )


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_unreadable_file_gives_one_failed_result(tiny_dataset, tmp_path: Path, damage) -> None:
    path = tmp_path / "train.parquet"
    if damage == "garbage":
        path.write_bytes(b"\x00garbage" * 50)
    else:
        truncate_half(Path(shutil.copy(tiny_dataset / "train.parquet", path)))
    [result] = check_dataset_file(path, require_target=True)
    assert result.name == "readable" and not result.passed
    assert "delete it and download/regenerate it" in result.message
