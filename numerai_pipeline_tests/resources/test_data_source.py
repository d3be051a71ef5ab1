import pytest

from numerai_pipeline.core.schema import DatasetError
from numerai_pipeline.resources.data_source import NumeraiDataSource


def test_unknown_source_names_the_choices(tmp_path):
    with pytest.raises(
        DatasetError, match="NUMERAI_DATA_SOURCE to one of synthetic, local, numerai"
    ):
        NumeraiDataSource(source="kaggle").fetch(tmp_path)


@pytest.mark.parametrize("version", ["../v5.0", "v5/0", ""])
def test_a_version_that_cannot_name_a_folder_is_refused(tmp_path, version):
    with pytest.raises(DatasetError, match=f"data version {version!r} cannot name a folder"):
        NumeraiDataSource(source="local", data_dir=str(tmp_path), version=version).fetch(tmp_path)


def test_local_source_needs_a_folder(tmp_path):
    with pytest.raises(DatasetError, match="needs NUMERAI_DATA_DIR"):
        NumeraiDataSource(source="local").fetch(tmp_path)


def test_local_source_reports_missing_files(tmp_path):
    (tmp_path / "v5.0").mkdir()
    with pytest.raises(DatasetError, match="train.parquet"):
        NumeraiDataSource(source="local", data_dir=str(tmp_path)).fetch(tmp_path / "home")


def test_synthetic_source_generates_once_and_reuses(tmp_path):
    source = NumeraiDataSource(synthetic_preset="tiny")
    first = source.fetch(tmp_path)
    mtime = first.train.stat().st_mtime_ns
    second = source.fetch(tmp_path)
    assert second == first and second.train.stat().st_mtime_ns == mtime
    assert first.meta_model is not None and first.features_json is not None
