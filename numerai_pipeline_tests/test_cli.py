"""`numerai-pipeline run` on bad input: one defect at a time, it stops before any training with a
non-zero exit code, and its last console lines say what is wrong (the check's own message, not
only its name) and what to do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from numerai_pipeline.cli import main
from numerai_pipeline_tests.data.conftest import truncate_half

Defect = Callable[[Path], None]


def _edit(name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Defect:
    """A defect that rewrites one file of the version folder through pandas."""

    def apply(folder: Path) -> None:
        path = folder / name
        change(pd.read_parquet(path)).to_parquet(path)

    return apply


def _set(column: str, rows: slice, value) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        if value is None or isinstance(value, str):
            frame[column] = frame[column].astype(object)
        frame.iloc[rows, frame.columns.get_loc(column)] = value
        return frame

    return change


def _first_feature(frame: pd.DataFrame) -> str:
    return next(c for c in frame.columns if c.startswith("feature_"))


def _feature_values(value) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        column = _first_feature(frame)
        frame[column] = frame[column].astype(str if isinstance(value, str) else "int16")
        frame.iloc[:5, frame.columns.get_loc(column)] = value
        return frame

    return change


def _live_ids_from_train(folder: Path) -> None:
    live = pd.read_parquet(folder / "live.parquet")
    train = pd.read_parquet(folder / "train.parquet", columns=["era"])
    live.index = pd.Index(train.index[: len(live)], name="id")
    live.to_parquet(folder / "live.parquet")


def _validation_repeats_train_eras(folder: Path) -> None:
    validation = pd.read_parquet(folder / "validation.parquet")
    first = sorted(validation["era"].unique())[0]
    validation.loc[validation["era"] == first, "era"] = "0003"
    validation.to_parquet(folder / "validation.parquet")


def _features_json_names_absent_features(folder: Path) -> None:
    meta = json.loads((folder / "features.json").read_text())
    meta["feature_sets"]["small"] = meta["feature_sets"]["small"] + ["feature_not_in_the_files"]
    (folder / "features.json").write_text(json.dumps(meta))


def _zero_bytes(name: str) -> Defect:
    return lambda folder: (folder / name).write_bytes(b"")


def _truncated(name: str) -> Defect:
    return lambda folder: truncate_half(folder / name)


def _drop(name: str, column: str) -> Defect:
    return _edit(name, lambda frame: frame.drop(columns=[column]))


def _duplicate_ids(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_axis(pd.Index([frame.index[0]] * 2 + list(frame.index[2:]), name="id"))


DATA_DEFECTS: dict[str, tuple[Defect, str]] = {
    "missing target": (_drop("train.parquet", "target"), "lacks columns target"),
    "missing era": (_drop("train.parquet", "era"), "lacks columns era"),
    "string feature": (_edit("train.parquet", _feature_values("abc")), "are not bins 0..4"),
    "feature out of range": (_edit("train.parquet", _feature_values(7)), "has 7"),
    "duplicate ids": (_edit("train.parquet", _duplicate_ids), "duplicate ids"),
    "truncated parquet": (_truncated("validation.parquet"), "not a readable parquet file"),
    "zero-byte parquet": (_zero_bytes("train.parquet"), "not a readable parquet file"),
    "empty live file": (_edit("live.parquet", lambda f: f.iloc[:0]), "live.parquet has no rows"),
    "null eras": (_edit("train.parquet", _set("era", slice(0, 3), None)), "have no era label"),
    "NaN targets": (_edit("train.parquet", _set("target", slice(0, 3), np.nan)), "NaN 'target'"),
    "era not a number": (_edit("train.parquet", _set("era", slice(0, 60), "abc")), "'abc'"),
    "validation repeats train eras": (_validation_repeats_train_eras, "appear in both"),
    "live ids are train ids": (_live_ids_from_train, "live ids are also train or validation ids"),
    "target above 1": (_edit("train.parquet", _set("target", slice(0, 3), 4.0)), "outside [0, 1]"),
    "features.json names absent features": (
        _features_json_names_absent_features,
        "features.json names 1 features that train.parquet lacks",
    ),
    "broken meta model": (_truncated("meta_model.parquet"), "meta_model.parquet is not a readable"),
}


@pytest.fixture
def local_run(tiny_dataset: Path, tmp_path: Path, monkeypatch, mlflow_template_db):
    """A copy of the tiny dataset as a local Numerai folder, and the environment to run on it."""
    folder = tmp_path / "data" / tiny_dataset.name
    shutil.copytree(tiny_dataset, folder)
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(mlflow_template_db, home / "mlflow.db")
    for name, value in {
        "NUMERAI_PIPELINE_HOME": str(home),
        "NUMERAI_DATA_SOURCE": "local",
        "NUMERAI_DATA_DIR": str(tmp_path / "data"),
        "NUMERAI_MODEL_PRESET": "tiny",
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
    }.items():
        monkeypatch.setenv(name, value)
    return folder


def last_lines(capsys, n: int = 4) -> str:
    return "\n".join(capsys.readouterr().err.strip().splitlines()[-n:])


@pytest.mark.parametrize("defect", list(DATA_DEFECTS))
def test_a_defect_stops_the_run_with_its_own_message(local_run, capsys, defect):
    damage, message = DATA_DEFECTS[defect]
    damage(local_run)
    code = main(["run", "--until", "prepare_data"])
    tail = last_lines(capsys)
    assert code == 1, tail
    assert message in tail
    assert "Traceback" not in tail


def test_an_accepted_oddity_is_noted_and_the_run_goes_on(local_run, capsys):
    """A validation era of one row is left out and -1 features are read as missing: both are
    said, neither stops the run."""
    validation = pd.read_parquet(local_run / "validation.parquet")
    last = sorted(validation.loc[validation["target"].notna(), "era"].unique())[-1]
    first_row = np.flatnonzero(validation["era"].to_numpy() == last)[0]
    keep = (validation["era"] != last).to_numpy() | (np.arange(len(validation)) == first_row)
    validation = validation[keep]
    column = _first_feature(validation)
    validation.iloc[:3, validation.columns.get_loc(column)] = -1
    validation.to_parquet(local_run / "validation.parquet")
    assert main(["run", "--until", "prepare_data"]) == 0
    out = capsys.readouterr().out
    assert "fewer than 10 labeled rows and are left out" in out and last in out
    assert "feature values are -1 or NaN and are read as missing" in out


def test_an_id_column_instead_of_an_index_is_accepted(local_run):
    train = pd.read_parquet(local_run / "train.parquet").reset_index()
    pq.write_table(pa.Table.from_pandas(train, preserve_index=False), local_run / "train.parquet")
    assert main(["run", "--until", "dataset"]) == 0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NUMERAI_MODEL_PRESET", "huge", "NUMERAI_MODEL_PRESET is 'huge'; it must be one of"),
        ("NUMERAI_SYNTHETIC_PRESET", "big", "NUMERAI_SYNTHETIC_PRESET is 'big'"),
        ("NUMERAI_DATA_SOURCE", "kaggle", "NUMERAI_DATA_SOURCE is 'kaggle'"),
        ("NUMERAI_NEURAL_SEED", "-1", "NUMERAI_NEURAL_SEED must be at least 0"),
        ("NUMERAI_DEVICE", "tpu", "NUMERAI_DEVICE is 'tpu'"),
    ],
)
def test_a_bad_setting_stops_the_run_before_anything_runs(
    local_run, capsys, monkeypatch, name, value, message
):
    monkeypatch.setenv(name, value)
    assert main(["run"]) == 2
    assert message in last_lines(capsys, 2)
    assert not (Path(os.environ["NUMERAI_PIPELINE_HOME"]) / "features").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NUMERAI_CV_FOLDS": "0"}, "NUMERAI_CV_FOLDS must be at least 1"),
        ({"NUMERAI_EVERY_NTH_ERA": "0"}, "NUMERAI_EVERY_NTH_ERA must be at least 1"),
        ({"NUMERAI_CV_FOLDS": "60"}, "set NUMERAI_CV_FOLDS to at most"),
    ],
)
def test_settings_read_when_definitions_load_are_named_too(local_run, env, message):
    """These are read when the definitions are imported: a fresh process sees them."""
    done = subprocess.run(
        [sys.executable, "-m", "numerai_pipeline.cli", "run", "--until", "prepare_data"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    tail = "\n".join(done.stderr.strip().splitlines()[-3:])
    assert done.returncode in (1, 2) and message in tail, done.stderr[-3000:]
    assert "Traceback" not in tail


def test_too_few_eras_for_any_fold_says_the_minimum(local_run, capsys):
    """9 labeled eras allow no fold with an 8-era embargo: the message says how many are needed
    and does not suggest fewer folds."""
    train = pd.read_parquet(local_run / "train.parquet")
    train[train["era"].isin(sorted(train["era"].unique())[:5])].to_parquet(
        local_run / "train.parquet"
    )
    validation = pd.read_parquet(local_run / "validation.parquet")
    labeled = sorted(validation.loc[validation["target"].notna(), "era"].unique())[:4]
    validation = validation[validation["era"].isin(labeled) | validation["target"].isna()]
    validation["era"] = validation["era"].replace(
        dict(zip(labeled, ["0006", "0007", "0008", "0009"], strict=True))
    )
    validation.to_parquet(local_run / "validation.parquet")
    assert main(["run", "--until", "prepare_data"]) == 1
    tail = last_lines(capsys)
    assert "9 labeled eras are too few for 4 CV fold(s)" in tail and "need at least" in tail
    assert "NUMERAI_CV_FOLDS to at most" not in tail and "add labeled eras" in tail
