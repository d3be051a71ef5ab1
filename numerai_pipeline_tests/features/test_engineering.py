import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from numerai_pipeline.core.eras import subsample_eras
from numerai_pipeline.core.schema import DatasetError
from numerai_pipeline.data.eras import build_era_index, labeled_eras, unresolved_eras
from numerai_pipeline.data.sources import locate_local_dataset
from numerai_pipeline.features import engineering
from numerai_pipeline.features.engineering import (
    MAX_NEUTRALIZERS,
    build_feature_matrix,
    load_training_data,
    load_unlabeled_features,
    neutralizer_features,
    select_feature_set,
)


@pytest.fixture
def files(tiny_dataset: Path):
    return locate_local_dataset(tiny_dataset.parent, tiny_dataset.name)


def test_feature_matrix_is_int8_with_engineered_group_features(files, tmp_path):
    eras = subsample_eras(pd.read_parquet(files.train, columns=["era"])["era"].unique().tolist(), 2)
    matrix = build_feature_matrix(files, tmp_path, eras=eras)
    labeled = pd.read_parquet(matrix.labeled)
    assert set(labeled["era"]) == set(eras)
    assert (labeled[matrix.all_features].dtypes == np.int8).all()
    assert labeled[matrix.all_features].isin([-1, 0, 1, 2, 3, 4]).all().all()
    groups = json.loads(files.features_json.read_text())["feature_sets"]
    assert len(matrix.engineered) == 2 * len(matrix.groups) > 0
    assert set(matrix.groups) <= set(groups)
    live = pd.read_parquet(matrix.live)
    assert list(live.columns[-len(matrix.engineered) :]) == matrix.engineered
    data = load_training_data(matrix)
    assert data.features.dtype == np.int8
    assert list(data.eras) == sorted(data.eras)
    assert data.target_names[0] == "target" and not np.isnan(data.main_target).any()


def test_feature_matrix_row_groups_stay_small(files, tmp_path, monkeypatch):
    # a reader decodes a whole row group: pyarrow's default of 1M rows is GBs of full-size data
    monkeypatch.setattr(engineering, "ROW_GROUP_BYTES", 100 * 2**10)
    eras = pd.read_parquet(files.train, columns=["era"])["era"].unique().tolist()
    matrix = build_feature_matrix(files, tmp_path, eras=eras)
    for path in (matrix.labeled, matrix.live):
        meta = pq.ParquetFile(path).metadata
        limit = engineering.row_group_rows(meta.num_columns)
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert max(sizes) <= limit and (meta.num_row_groups > 1 or meta.num_rows <= limit)
    labeled = pq.ParquetFile(matrix.labeled).metadata
    assert labeled.num_row_groups >= 2
    data = load_training_data(matrix)
    assert len(data.features) == labeled.num_rows


def test_feature_matrix_is_the_same_built_in_chunks_of_eras(files, tmp_path, monkeypatch):
    # engineered features are binned per era: chunks must hold whole eras to match
    eras = pd.read_parquet(files.train, columns=["era"])["era"].unique().tolist()
    whole = build_feature_matrix(files, tmp_path / "whole", eras=eras)
    monkeypatch.setattr(engineering, "CHUNK_BYTES", 2 * 2**10)
    chunked = build_feature_matrix(files, tmp_path / "chunked", eras=eras)
    assert chunked.engineered == whole.engineered and chunked.engineered
    assert pq.ParquetFile(chunked.labeled).metadata.num_row_groups > 3  # one or more per chunk
    assert pq.ParquetFile(whole.labeled).metadata.num_row_groups == 1
    assert pq.read_table(chunked.labeled).equals(pq.read_table(whole.labeled))


def test_training_rows_are_put_in_era_order(tmp_path):
    """Rows read in file order, whatever it is, come back sorted by era with their features,
    targets and ids still aligned."""
    n = 12
    frame = pd.DataFrame(
        {
            "era": ["0010", "0002", "0010", "0009"] * 3,
            "data_type": "train",
            "feature_a": np.arange(n, dtype=np.int8) % 5,
            "target": np.linspace(0, 1, n, dtype=np.float32),
            "target_aux": np.linspace(1, 0, n, dtype=np.float32),
        },
        index=pd.Index([f"n{i:02d}" for i in range(n)], name="id"),
    )
    frame.to_parquet(tmp_path / "labeled.parquet")
    matrix = engineering.FeatureMatrix(
        tmp_path / "labeled.parquet",
        tmp_path / "live.parquet",
        ["feature_a"],
        [],
        ["target", "target_aux"],
    )
    data = load_training_data(matrix)
    expected = frame.iloc[np.argsort(frame["era"].astype(int), kind="stable")]
    assert data.eras.tolist() == expected["era"].tolist()
    assert data.ids.tolist() == expected.index.tolist()
    np.testing.assert_array_equal(data.features[:, 0], expected["feature_a"])
    np.testing.assert_array_equal(data.targets, expected[["target", "target_aux"]])
    swapped = engineering.FeatureMatrix(
        matrix.labeled, matrix.live, ["feature_a"], [], ["target_aux", "target"]
    )
    np.testing.assert_array_equal(load_training_data(swapped).targets, data.targets[:, ::-1])


def test_unresolved_eras_are_written_as_unlabeled_features(files, tmp_path):
    index = build_era_index(files.train, files.validation, files.live)
    unresolved = unresolved_eras(index)
    matrix = build_feature_matrix(
        files, tmp_path, eras=labeled_eras(index), unresolved_eras=unresolved
    )
    rows = pd.read_parquet(matrix.unresolved)
    source = pd.read_parquet(files.validation, columns=["era", "target"])
    expected = source[source["era"].isin(unresolved)]
    assert unresolved and rows.index.equals(expected.index) and expected["target"].isna().all()
    assert not any(c.startswith("target") for c in rows.columns)
    unlabeled = load_unlabeled_features(matrix)
    live = pd.read_parquet(matrix.live)
    assert unlabeled.dtype == np.int8 and unlabeled.shape == (
        len(live) + len(rows),
        len(matrix.all_features),
    )
    assert (unlabeled[len(live) :] == rows[matrix.all_features].to_numpy()).all()
    assert (
        build_feature_matrix(files, tmp_path / "none", eras=labeled_eras(index)).unresolved is None
    )
    # a rebuild into the same folder without unresolved eras leaves no stale file behind
    assert build_feature_matrix(files, tmp_path, eras=labeled_eras(index)).unresolved is None
    assert not matrix.unresolved.exists()


def test_feature_sets_come_from_features_json(files):
    small, _, _ = select_feature_set(files, "small")
    everything, _, neutralizers = select_feature_set(files, "all")
    assert neutralizers == everything  # few features: all of them
    assert 0 < len(small) < len(everything)
    with pytest.raises(DatasetError, match="feature set 'huge' is not in features.json"):
        select_feature_set(files, "huge")


def test_groups_are_thematic_sets_only(tiny_dataset, tmp_path):
    """Real features.json files also list selections (`v3_equivalent_features` of ~1,000 features,
    `fncv3_features`): they are neither engineered group features nor MTM token seeds."""
    folder = tmp_path / tiny_dataset.name
    shutil.copytree(tiny_dataset, folder)
    meta = json.loads((folder / "features.json").read_text())
    sets = meta["feature_sets"]
    thematic = {name for name in sets if name not in ("small", "medium", "all")}
    sets["v3_equivalent_features"] = sets["all"][::2]
    sets["fncv3_features"] = sets["all"][1::3]
    sets["one_feature_group"] = sets["all"][:1]
    (folder / "features.json").write_text(json.dumps(meta))
    _, groups, _ = select_feature_set(locate_local_dataset(tmp_path, folder.name), "all")
    assert set(groups) == thematic and thematic


def test_engineering_can_be_switched_off(files, tmp_path):
    eras = pd.read_parquet(files.train, columns=["era"])["era"].unique().tolist()
    matrix = build_feature_matrix(files, tmp_path, eras=eras, engineer=False)
    assert matrix.engineered == []


def test_neutralizers_are_every_feature_or_a_smaller_set_past_the_limit():
    few = [f"feature_{i}" for i in range(MAX_NEUTRALIZERS)]
    assert neutralizer_features(few, {"small": few[:3]}) == few
    many = [f"feature_{i}" for i in range(3 * MAX_NEUTRALIZERS)]
    assert neutralizer_features(many, {"small": ["feature_7", "feature_9", "absent"]}) == [
        "feature_7",
        "feature_9",
    ]
    spaced = neutralizer_features(many, {})
    assert len(spaced) <= MAX_NEUTRALIZERS and spaced[0] == many[0] and spaced[1] == many[3]
