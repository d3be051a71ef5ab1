"""A Numerai-format folder written by another tool, and a bad one stopped by the blocking checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from numerai_pipeline.cli import run_pipeline
from numerai_pipeline.definitions import defs
from numerai_pipeline_tests.assets.test_pipeline import tiny_resources


def foreign_folder(root: Path, n_eras: int = 48, rows: int = 60, seed: int = 3) -> Path:
    """Numerai's layout written with plain pandas: int8 features plus float features with NaN,
    integer eras, no features.json and no meta model."""
    rng = np.random.default_rng(seed)
    out = root / "v5.0"
    out.mkdir(parents=True)

    def frame(eras: np.ndarray, kind: str, labeled: bool) -> pd.DataFrame:
        n = len(eras)
        data = {"era": eras, "data_type": kind}
        for j in range(8):
            data[f"feature_int_{j}"] = rng.integers(0, 5, n).astype(np.int8)
        legacy = rng.integers(0, 5, n) / 4
        legacy[rng.random(n) < 0.1] = np.nan
        data["feature_legacy_float"] = legacy.astype(np.float32)
        as_float = rng.integers(0, 5, n).astype(np.float64)
        as_float[rng.random(n) < 0.1] = np.nan
        data["feature_int_with_nan"] = as_float
        signal = data["feature_int_0"] - 2 + rng.normal(scale=4, size=n)
        target = np.digitize(signal, np.quantile(signal, [0.05, 0.25, 0.75, 0.95])) / 4
        data["target"] = target if labeled else np.full(n, np.nan)
        aux = target.copy()
        aux[rng.random(n) < 0.3] = np.nan
        data["target_other_60"] = aux if labeled else np.full(n, np.nan)
        ids = [f"x{kind}{i:06d}" for i in range(n)]
        return pd.DataFrame(data, index=pd.Index(ids, name="id"))

    train_eras = np.repeat(np.arange(1, n_eras - 11), rows)
    valid_eras = np.repeat(np.arange(n_eras - 11, n_eras + 1), rows)
    frame(train_eras, "train", True).to_parquet(out / "train.parquet")
    frame(valid_eras, "validation", True).to_parquet(out / "validation.parquet")
    frame(np.full(rows, n_eras + 1), "live", False).to_parquet(out / "live.parquet")
    return root


def test_run_on_a_foreign_numerai_folder(pipeline_home, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(pipeline_home.dagster))
    folder = foreign_folder(tmp_path / "foreign")
    outcome = run_pipeline(
        "WARNING", tiny_resources(pipeline_home, source="local", data_dir=str(folder))
    )
    report = json.loads((pipeline_home.reports / "cv_report.json").read_text())
    assert report["models"]["xgboost"]["n_eras"] > 10
    assert report["models"]["xgboost"]["mmc_mean"] is None  # no meta_model.parquet
    submission = pd.read_csv(outcome["submission"])
    assert len(submission) == 60 and submission["id"].str.startswith("xlive").all()


def test_blocking_check_stops_bad_data_before_features(pipeline_home, tiny_dataset, tmp_path):
    folder = tmp_path / "bad"
    shutil.copytree(tiny_dataset, folder / "v5.0")
    train = pd.read_parquet(folder / "v5.0" / "train.parquet")
    train.index = train.index[:1].repeat(3).append(train.index[3:])  # duplicate ids
    train.to_parquet(folder / "v5.0" / "train.parquet")
    resources = tiny_resources(pipeline_home, source="local", data_dir=str(folder))
    result = defs.resolve_job_def("prepare_data").execute_in_process(
        resources=resources, raise_on_error=False
    )
    assert not result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["train_file_valid"].passed
    assert "duplicate" in checks["train_file_valid"].description
    assert checks["live_file_valid"].passed
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"numerai_dataset"}  # era_index and feature_matrix were not run


def test_missing_folder_fails_with_guidance(pipeline_home, tmp_path):
    resources = tiny_resources(pipeline_home, source="local", data_dir=str(tmp_path / "nowhere"))
    result = defs.resolve_job_def("prepare_data").execute_in_process(
        resources=resources, raise_on_error=False
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error.to_string()
    assert "no dataset folder" in failure and "set NUMERAI_DATA_DIR" in failure
