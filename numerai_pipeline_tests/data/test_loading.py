"""Reading Numerai parquet files: dtypes, legacy formats, column/era push-down, bad files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from numerai_pipeline.core.schema import MISSING_FEATURE, DatasetError
from numerai_pipeline.data.eras import build_era_index
from numerai_pipeline.data.loading import (
    era_chunk_sizes,
    era_quintiles,
    has_continuous_features,
    parquet_columns,
    read_features_json,
    read_numerai_era_chunks,
    read_numerai_parquet,
    read_numerai_rows,
)
from numerai_pipeline_tests.data.conftest import corrupt_column_chunk, truncate_half, write_frame

REAL_SAMPLE = Path("/work/shared/data/real_v3_schema_sample.parquet")


def _frame(n: int = 20, **columns) -> pd.DataFrame:
    base = {
        "era": [f"{1 + i // 10:04d}" for i in range(n)],
        "data_type": ["train"] * n,
        "feature_a": np.arange(n, dtype=np.int8) % 5,
        "target": np.linspace(0, 1, n, dtype=np.float32),
    }
    index = pd.Index([f"n{i:015x}" for i in range(n)], name="id")
    return pd.DataFrame(base | columns, index=index)


def test_synthetic_file_reads_with_numerai_dtypes(tiny_dataset: Path) -> None:
    frame = read_numerai_parquet(tiny_dataset / "train.parquet")
    features = [c for c in frame if c.startswith("feature_")]
    targets = [c for c in frame if c.startswith("target")]
    assert frame.index.name == "id" and frame.index.is_unique
    assert isinstance(frame.index[0], str) and isinstance(frame["era"].iloc[0], str)
    assert list(frame.columns[:2]) == ["era", "data_type"]
    assert (frame[features].dtypes == np.int8).all() and (frame[targets].dtypes == np.float32).all()
    assert set(np.unique(frame[features].to_numpy())) <= {0, 1, 2, 3, 4}
    expected = pd.read_parquet(tiny_dataset / "train.parquet")
    pd.testing.assert_frame_equal(frame, expected[frame.columns])


def test_features_are_read_into_one_row_major_block(tiny_dataset: Path) -> None:
    path = tiny_dataset / "train.parquet"
    rows = read_numerai_rows(path, eras=["0003", "0005"])
    expected = pd.read_parquet(path)
    expected = expected[expected["era"].isin(["0003", "0005"])]
    assert rows.features.dtype == np.int8 and rows.features.flags.c_contiguous
    np.testing.assert_array_equal(rows.features, expected[rows.feature_names].to_numpy())
    assert not set(rows.feature_names) & set(rows.frame.columns)
    assert rows.frame.index.equals(expected.index)
    eras = rows.frame["era"]  # one str per era label, not per row
    assert len({id(e) for e in eras}) == eras.nunique() == 2
    frame = rows.to_frame()  # the frame's columns are views of the arrays read, not copies
    assert np.shares_memory(frame[rows.feature_names[0]].to_numpy(), rows.features)
    assert np.shares_memory(frame["target"].to_numpy(), rows.values["target"].to_numpy())
    columns = read_numerai_rows(path, eras=["0003", "0005"], row_major=False).features
    assert columns.flags.f_contiguous  # each feature contiguous: arrow takes it without a copy
    np.testing.assert_array_equal(columns, rows.features)
    assert list(frame.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(frame, expected)


def test_era_chunks_are_whole_eras_that_add_up_to_one_read(tiny_dataset: Path) -> None:
    path = tiny_dataset / "train.parquet"
    eras = [f"{e:04d}" for e in range(3, 15)]
    whole = read_numerai_parquet(path, eras=eras)
    era_rows = whole["era"].value_counts()
    max_rows = int(era_rows.max() * 2.5)  # chunk edges fall inside the scanned batches
    chunks = list(read_numerai_era_chunks(path, eras=eras, max_rows=max_rows))
    assert len(chunks) > 2
    seen: set[str] = set()
    for chunk in chunks:
        chunk_eras = set(chunk.labels["era"])
        assert not chunk_eras & seen  # every era in one chunk only
        seen |= chunk_eras
        assert len(chunk.features) == era_rows[list(chunk_eras)].sum() <= max_rows
        assert chunk.features.flags.f_contiguous  # column-major by default, for frames
    pd.testing.assert_frame_equal(pd.concat([c.to_frame() for c in chunks]), whole)


def test_era_chunk_sizes_group_runs_of_eras() -> None:
    assert era_chunk_sizes(np.array([0, 0, 1, 1, 1, 2]), max_rows=4) == [2, 4]
    assert era_chunk_sizes(np.array([0, 0, 0, 0, 0, 1]), max_rows=3) == [5, 1]  # a big era
    assert era_chunk_sizes(np.array([0, 1, 1, 2]), max_rows=10) == [4]
    assert era_chunk_sizes(np.array([0, 1, 0]), max_rows=1) == [3]  # an era in two runs
    assert era_chunk_sizes(np.array([], dtype=np.int32), max_rows=5) == []


def test_a_file_with_interleaved_eras_is_one_chunk(tmp_path: Path) -> None:
    frame = _frame(era=["0001", "0002"] * 10)
    path = write_frame(tmp_path / "interleaved.parquet", frame)
    chunks = list(read_numerai_era_chunks(path, max_rows=5))
    assert len(chunks) == 1
    pd.testing.assert_frame_equal(chunks[0].to_frame(), read_numerai_parquet(path))


def test_null_labels_read_as_none(tmp_path: Path) -> None:
    frame = _frame(data_type=["train"] * 5 + [None] * 5 + ["validation"] * 10)
    path = write_frame(tmp_path / "labels.parquet", frame)
    assert read_numerai_parquet(path)["data_type"].tolist() == frame["data_type"].tolist()


def test_legacy_float_features_become_int8_bins() -> None:
    frame = read_numerai_parquet(REAL_SAMPLE)
    source = pd.read_parquet(REAL_SAMPLE)
    features = [c for c in source if c.startswith("feature_")]
    targets = [c for c in source if c.startswith("target")]
    assert len(features) == 1050 and (frame[features].dtypes == np.int8).all()
    np.testing.assert_array_equal(
        frame[features].to_numpy(), np.rint(source[features].to_numpy() * 4).astype(np.int8)
    )
    assert set(np.unique(frame[features].to_numpy())) == {0, 1, 2, 3, 4}
    assert (frame[targets].dtypes == np.float32).all()
    np.testing.assert_array_equal(frame[targets].to_numpy(), source[targets].to_numpy())
    assert frame["era"].tolist() == source["era"].tolist()


def test_era_quintiles_are_equal_sized_per_era() -> None:
    eras = np.repeat(["a", "b"], 100)
    values = np.concatenate([np.arange(100.0), -np.arange(100.0)])
    bins = era_quintiles(values, eras)
    assert bins.dtype == np.int8 and bins.shape == values.shape
    for era in ("a", "b"):
        assert np.bincount(bins[eras == era], minlength=5).tolist() == [20] * 5
    assert bins[99] == 4 and bins[100] == 4  # the largest value of each era
    block = np.column_stack([values, -values])
    block[0, 1] = np.nan
    binned = era_quintiles(block, eras)
    assert binned.shape == block.shape and binned[0, 1] == MISSING_FEATURE
    np.testing.assert_array_equal(binned[:, 0], bins)


def _legacy_frame(n_eras: int = 4, rows: int = 50, seed: int = 0) -> pd.DataFrame:
    """Rows as Numerai wrote them before 2019: `feature<n>` continuous in [0, 1), "era<n>"."""
    rng = np.random.default_rng(seed)
    n = n_eras * rows
    frame = pd.DataFrame(
        {
            "era": [f"era{1 + i // rows}" for i in range(n)],
            "data_type": "train",
            **{f"feature{j}": rng.random(n).astype(np.float32) for j in range(1, 4)},
            "target": (rng.random(n) > 0.5).astype(np.float32),
        },
        index=pd.Index([f"n{i:015x}" for i in range(n)], name="id"),
    )
    frame.loc[frame.index[3], "feature2"] = np.nan
    return frame


def test_continuous_features_are_binned_per_era(tmp_path: Path) -> None:
    source = _legacy_frame()
    path = write_frame(tmp_path / "legacy.parquet", source, row_group_size=30)
    assert has_continuous_features(path)
    frame = read_numerai_parquet(path)
    features = ["feature1", "feature2", "feature3"]
    assert (frame[features].dtypes == np.int8).all()
    assert frame["era"].unique().tolist() == ["0001", "0002", "0003", "0004"]
    expected = (
        source.groupby("era")[features].rank(method="first", pct=True).mul(5).apply(np.ceil) - 1
    )
    np.testing.assert_array_equal(
        frame[features].to_numpy(), expected.fillna(MISSING_FEATURE).to_numpy().astype(np.int8)
    )
    for era, rows in frame.groupby("era"):
        assert np.bincount(rows["feature1"], minlength=5).tolist() == [10] * 5, era
    assert frame["target"].isin([0.0, 1.0]).all()
    # bins depend on the era's rows only: chunked and era-filtered reads give the same ones
    chunks = pd.concat(c.to_frame() for c in read_numerai_era_chunks(path, max_rows=60))
    pd.testing.assert_frame_equal(chunks[frame.columns], frame)
    one = read_numerai_parquet(path, columns=["feature2"], eras=["0003"])
    assert one["feature2"].tolist() == frame.loc[frame.era == "0003", "feature2"].tolist()


def test_continuous_values_outside_the_unit_interval_raise(tmp_path: Path) -> None:
    source = _legacy_frame()
    source.loc[source.index[5], "feature3"] = 1.7
    path = write_frame(tmp_path / "legacy.parquet", source)
    with pytest.raises(DatasetError, match=r"'feature3'.*e\.g\. 1\.7.*continuous"):
        read_numerai_parquet(path)


def test_bins_are_not_taken_for_continuous_values(tiny_dataset: Path) -> None:
    assert not has_continuous_features(REAL_SAMPLE)  # floats on the 0.25 grid: bins
    assert not has_continuous_features(tiny_dataset / "train.parquet")  # int8


def test_nan_features_become_missing_and_integers_are_cast(tmp_path: Path) -> None:
    legacy = np.array([0.0, 0.25, np.nan, 1.0] * 5)
    ints = pd.array([0, 4, None, 2] * 5, dtype="Int64")
    path = write_frame(tmp_path / "f.parquet", _frame(feature_a=legacy, feature_b=ints))
    frame = read_numerai_parquet(path)
    assert frame["feature_a"].tolist()[:4] == [0, 1, MISSING_FEATURE, 4]
    assert frame["feature_b"].tolist()[:4] == [0, 4, MISSING_FEATURE, 2]
    assert frame["feature_b"].dtype == np.int8


def test_integer_bins_stored_as_floats_with_nan_are_read_as_bins(tmp_path: Path) -> None:
    values = np.array([0.0, 4.0, np.nan, 2.0, 3.0] * 4)  # an int8 column that picked up NaN
    path = write_frame(tmp_path / "f.parquet", _frame(feature_a=values))
    frame = read_numerai_parquet(path)
    assert frame["feature_a"].tolist()[:5] == [0, 4, MISSING_FEATURE, 2, 3]


@pytest.mark.parametrize("bad", [7, -3, 0.3, 4.5, "b"])
def test_values_that_are_not_bins_raise(tmp_path: Path, bad) -> None:
    if bad == 0.3:
        values = np.array([0, 0.25, 0.5, bad] * 5)  # floats <= 1 are the legacy 0..1 scale
    elif isinstance(bad, float):
        values = np.array([0.0, 1.0, 2.0, bad] * 5)  # floats > 1 are int bins stored as floats
    elif isinstance(bad, str):
        values = np.array([bad] * 20)
    else:
        values = np.array([0, 1, 2, bad] * 5, dtype=np.int16)
    path = write_frame(tmp_path / "f.parquet", _frame(feature_bad=values))
    with pytest.raises(DatasetError) as err:
        read_numerai_parquet(path)
    message = str(err.value)
    assert "'feature_bad'" in message and f"e.g. {bad!r}" in message and str(path) in message
    assert "regenerate" in message


def test_a_target_that_is_not_numeric_raises(tmp_path: Path) -> None:
    path = write_frame(tmp_path / "text_target.parquet", _frame(target=["up"] * 20))
    with pytest.raises(DatasetError, match="target column 'target' is not numeric"):
        read_numerai_rows(path)


def test_integer_eras_are_zero_padded_and_filterable(tmp_path: Path) -> None:
    frame = _frame(era=np.repeat([1, 2], 10))
    path = write_frame(tmp_path / "f.parquet", frame)
    assert read_numerai_parquet(path)["era"].unique().tolist() == ["0001", "0002"]
    assert read_numerai_parquet(path, eras=["0002"])["era"].unique().tolist() == ["0002"]


@pytest.mark.parametrize(
    "stored",
    [
        ["7"] * 10 + ["12"] * 10,
        ["era7"] * 10 + ["era12"] * 10,
        ["7"] * 5 + ["era7"] * 5 + ["12"] * 10,  # both spellings of one era in one file
        pd.Categorical(["era7"] * 10 + ["12"] * 10),  # stored dictionary-encoded
    ],
)
def test_string_era_numbers_read_and_filter_as_padded_labels(tmp_path: Path, stored) -> None:
    """Unpadded ("7") and older "era7" labels read as "0007" and filter by it, as the era index
    names them."""
    path = write_frame(tmp_path / "f.parquet", _frame(era=stored))
    assert read_numerai_parquet(path)["era"].unique().tolist() == ["0007", "0012"]
    assert read_numerai_parquet(path, eras=["0012"])["era"].unique().tolist() == ["0012"]
    index = build_era_index(path, path, path)
    assert index["era"].unique().tolist() == ["0007", "0012"]


def test_non_numeric_eras_are_kept_and_id_column_becomes_index(tmp_path: Path) -> None:
    frame = _frame(era=["0001"] * 10 + ["X"] * 10).reset_index()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "f.parquet")
    loaded = read_numerai_parquet(tmp_path / "f.parquet")
    assert loaded.index.name == "id" and "id" not in loaded.columns
    assert loaded["era"].unique().tolist() == ["0001", "X"]
    assert read_numerai_parquet(tmp_path / "f.parquet", eras=["X"]).shape[0] == 10


def test_missing_columns_are_listed(tiny_dataset: Path) -> None:
    with pytest.raises(DatasetError) as err:
        read_numerai_parquet(tiny_dataset / "live.parquet", columns=["feature_nope", "target_x"])
    assert "2 requested columns are not in" in str(err.value)
    assert "feature_nope, target_x" in str(err.value) and "live.parquet" in str(err.value)


def test_column_selection_reads_only_those_columns(tiny_dataset: Path, tmp_path: Path) -> None:
    path = shutil.copy(tiny_dataset / "train.parquet", tmp_path / "train.parquet")
    names = pq.ParquetFile(path).schema_arrow.names
    first, second = [c for c in names if c.startswith("feature_")][:2]
    for row_group in range(pq.ParquetFile(path).num_row_groups):
        corrupt_column_chunk(path, row_group, names.index(second))
    frame = read_numerai_parquet(path, columns=[first, "target"])
    assert list(frame.columns) == ["era", "data_type", first, "target"]
    with pytest.raises(DatasetError, match="delete it and download/regenerate it"):
        read_numerai_parquet(path, columns=[second])


def test_era_filter_skips_other_row_groups(tiny_dataset: Path, tmp_path: Path) -> None:
    path = shutil.copy(tiny_dataset / "train.parquet", tmp_path / "train.parquet")
    metadata = pq.ParquetFile(path).metadata
    assert metadata.num_row_groups == 10  # tiny: 40 eras, 4 per row group
    for column in range(metadata.num_columns):
        corrupt_column_chunk(path, 9, column)
    frame = read_numerai_parquet(path, eras=["0002", "0005"])
    assert sorted(frame["era"].unique()) == ["0002", "0005"]
    assert read_numerai_parquet(path, data_types=["validation"]).empty
    with pytest.raises(DatasetError, match="not a readable parquet file"):
        read_numerai_parquet(path, eras=["0040"])


def test_data_type_filter(tiny_dataset: Path) -> None:
    frame = read_numerai_parquet(tiny_dataset / "validation.parquet", data_types=["validation"])
    assert frame["data_type"].unique().tolist() == ["validation"]


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_parquet_raises_with_advice(tiny_dataset: Path, tmp_path: Path, damage) -> None:
    path = tmp_path / "train.parquet"
    if damage == "garbage":
        path.write_bytes(b"this is not parquet" * 100)
    else:
        truncate_half(Path(shutil.copy(tiny_dataset / "train.parquet", path)))
    for read in (parquet_columns, read_numerai_parquet):
        with pytest.raises(DatasetError) as err:
            read(path)
        assert str(path) in str(err.value)
        assert "delete it and download/regenerate it" in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        parquet_columns(tmp_path / "nope.parquet")


def test_parquet_columns_include_id(tiny_dataset: Path) -> None:
    columns = parquet_columns(tiny_dataset / "train.parquet")
    assert columns[:2] == ["era", "data_type"] and columns[-1] == "id"
    assert "target" in columns


def test_read_features_json(tiny_dataset: Path, tmp_path: Path) -> None:
    meta = read_features_json(tiny_dataset / "features.json")
    assert {"feature_sets", "targets"} <= meta.keys()
    (tmp_path / "bad.json").write_text(json.dumps({"feature_sets": {}}))
    with pytest.raises(DatasetError, match="needs keys 'feature_sets' and 'targets'"):
        read_features_json(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(DatasetError, match="cannot read .*broken.json"):
        read_features_json(tmp_path / "broken.json")
