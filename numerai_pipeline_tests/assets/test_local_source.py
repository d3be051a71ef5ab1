"""A Numerai-format folder written by another tool, and a bad one stopped by the blocking checks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from dagster import AssetKey, DagsterInstance

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


def legacy_folder(root: Path, n_eras: int = 48, rows: int = 60, seed: int = 4) -> Path:
    """A folder labelled `legacy` as Numerai wrote data before 2019: `feature<n>` continuous in
    [0, 1), binary targets, "era<n>" labels and the live era "eraX", nothing but the 3 files."""
    rng = np.random.default_rng(seed)
    out = root / "legacy"
    out.mkdir(parents=True)

    def frame(eras: list[str], kind: str, labeled: bool) -> pd.DataFrame:
        n = len(eras)
        data = {"era": eras, "data_type": kind}
        for j in range(1, 13):
            data[f"feature{j}"] = rng.random(n).astype(np.float32)
        signal = data["feature1"] - 0.5 + rng.normal(scale=1.0, size=n)
        data["target"] = (signal > 0).astype(np.float32) if labeled else np.full(n, np.nan)
        ids = [f"n{kind}{i:06d}" for i in range(n)]
        return pd.DataFrame(data, index=pd.Index(ids, name="id"))

    def labels(first: int, last: int) -> list[str]:
        return [f"era{e}" for e in range(first, last + 1) for _ in range(rows)]

    frame(labels(1, n_eras - 12), "train", True).to_parquet(out / "train.parquet")
    frame(labels(n_eras - 11, n_eras), "validation", True).to_parquet(out / "validation.parquet")
    frame(["eraX"] * rows, "live", False).to_parquet(out / "live.parquet")
    return root


def test_run_on_a_legacy_folder_of_continuous_features_and_binary_targets(
    pipeline_home, tmp_path, monkeypatch
):
    monkeypatch.setenv("DAGSTER_HOME", str(pipeline_home.dagster))
    folder = legacy_folder(tmp_path / "old")
    resources = tiny_resources(
        pipeline_home, source="local", data_dir=str(folder), version="legacy"
    )
    outcome = run_pipeline("WARNING", resources)
    report = json.loads((pipeline_home.reports / "cv_report.json").read_text())
    assert report["main_target"] == "target" and report["benchmark_column"] is None
    assert report["models"]["xgboost"]["n_eras"] > 10
    labeled = pd.read_parquet(pipeline_home.features / "legacy" / "labeled.parquet")
    features = [f"feature{j}" for j in range(1, 13)]
    assert (labeled[features].dtypes == np.int8).all()
    for _, era in labeled.groupby("era"):  # five equal-count bins per era
        assert np.bincount(era["feature1"], minlength=5).tolist() == [12] * 5
    assert set(labeled["target"].unique()) == {0.0, 1.0}
    submission = pd.read_csv(outcome["submission"])
    assert len(submission) == 60 and submission["id"].str.startswith("nlive").all()
    checks = DagsterInstance.get().get_latest_materialization_event(AssetKey("numerai_dataset"))
    scale = checks.asset_materialization.metadata["feature_scale"].value
    assert "binned per era into five equal-count bins" in scale


def v53_folder(tiny_dataset: Path, root: Path) -> Path:
    """The tiny synthetic files relabelled as v5.3: the main target renamed to ender, the
    benchmark named `v53_lgbm_ender20`, and a new feature family in features.json."""
    out = root / "v5.3"
    shutil.copytree(tiny_dataset, out)
    rename = {"target_cyrusd_20": "target_ender_20", "v5_lgbm_cyrusd20": "v53_lgbm_ender20"}
    rng = np.random.default_rng(7)
    new_family = [f"feature_agnostic_{j}" for j in range(6)]
    for name in ("train", "validation", "live"):
        frame = pd.read_parquet(out / f"{name}.parquet").rename(columns=rename)
        for feature in new_family:
            frame[feature] = rng.integers(0, 5, len(frame)).astype(np.int8)
        frame.to_parquet(out / f"{name}.parquet")
    for name in ("validation", "live"):
        path = out / f"{name}_benchmark_models.parquet"
        pd.read_parquet(path).rename(columns=rename).to_parquet(path)
    meta = json.loads((out / "features.json").read_text())
    meta["feature_sets"]["agnostic"] = new_family
    meta["feature_sets"]["all"] += new_family
    meta["targets"] = [rename.get(t, t) for t in meta["targets"]]
    (out / "features.json").write_text(json.dumps(meta))
    return root


def test_run_on_a_v5_3_folder_with_a_new_feature_family(
    pipeline_home, tiny_dataset, tmp_path, monkeypatch
):
    monkeypatch.setenv("DAGSTER_HOME", str(pipeline_home.dagster))
    folder = v53_folder(tiny_dataset, tmp_path / "new")
    resources = tiny_resources(pipeline_home, source="local", data_dir=str(folder), version="v5.3")
    outcome = run_pipeline("WARNING", resources)
    report = json.loads((pipeline_home.reports / "cv_report.json").read_text())
    assert report["main_target"] == "target_ender_20"
    assert report["benchmark_column"] == "v53_lgbm_ender20"
    assert report["models"]["xgboost"]["bmc_mean"] is not None
    live = pd.read_parquet(pipeline_home.features / "v5.3" / "live.parquet")
    assert {"feature_eng_agnostic_mean", "feature_eng_agnostic_spread"} <= set(live.columns)
    assert len(pd.read_csv(outcome["submission"])) == len(live)


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
