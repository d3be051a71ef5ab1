"""MLflow pyfunc round trip: the loaded model reproduces the fitted model's predictions exactly."""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from numerai_pipeline.models.base import TrainingData
from numerai_pipeline.models.mlp import MLPConfig, MLPModel
from numerai_pipeline.models.mtm import MTMConfig
from numerai_pipeline.models.mtm_training import MTMModel
from numerai_pipeline.models.pyfunc import (
    load_neural_model,
    log_neural_model,
    log_xgboost_model,
    save_neural_model,
)
from numerai_pipeline.models.xgb import XGBoostConfig, XGBoostModel
from numerai_pipeline_tests.models.test_mtm import tiny_data


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        previous = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
        mlflow.set_experiment(
            experiment_id=mlflow.create_experiment(
                "pyfunc-test", artifact_location=(root / "artifacts").as_uri()
            )
        )
        yield root
        mlflow.set_tracking_uri(previous)


@pytest.mark.parametrize(
    "make",
    [lambda: MTMModel(MTMConfig.tiny()), lambda: MLPModel(MLPConfig(hidden=(16,), epochs=2))],
)
def test_pyfunc_round_trip_reproduces_predictions(tracking: Path, make) -> None:
    data = tiny_data()
    model = make()
    model.fit(data)
    frame = pd.DataFrame(data.features, columns=data.feature_names)
    frame["era"] = data.eras
    with mlflow.start_run():
        info = log_neural_model(model, name=model.name)
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    expected = model.predict(data.features, data.eras)
    np.testing.assert_array_equal(np.asarray(loaded.predict(frame)), expected)
    assert info.signature.inputs.input_names() == data.feature_names
    with pytest.raises(MlflowException, match=data.feature_names[0]):
        loaded.predict(frame.drop(columns=data.feature_names[0]))


def test_saved_payload_round_trip(tmp_path: Path) -> None:
    data = tiny_data()
    model = MTMModel(MTMConfig.tiny())
    model.fit(data)
    again = load_neural_model(save_neural_model(model, tmp_path / "m.pt"))
    assert again.groups == model.groups and again.config == model.config
    assert again.u_features == model.u_features != []
    np.testing.assert_array_equal(again.predict(data.features), model.predict(data.features))


def test_xgboost_pyfunc_reads_minus_one_and_nan_as_missing(tracking: Path) -> None:
    """The registered XGBoost reproduces the pipeline's predictions from the feature matrix's int8
    frame (-1 = missing) and from a float frame with NaN, where MLflow's xgboost flavor would
    take -1 for a bin below 0."""
    rng = np.random.default_rng(0)
    n, names = 3000, [f"feature_{i}" for i in range(4)]
    features = rng.integers(0, 5, (n, 4)).astype(np.int8)
    features[rng.random((n, 4)) < 0.3] = -1
    signal = (features[:, 0] == -1) + 0.2 * features[:, 1] + rng.normal(0, 0.3, n)
    target = (np.digitize(signal, np.quantile(signal, [0.2, 0.4, 0.6, 0.8])) / 4)[:, None]
    data = TrainingData(features, target.astype(np.float32), np.full(n, "0001"), names, ["target"])
    model = XGBoostModel(XGBoostConfig(n_estimators=30, learning_rate=0.3))
    model.fit(data)
    expected = model.predict(features, data.eras)
    as_a_bin = model.booster.inplace_predict(features.astype(np.float32))
    assert np.abs(as_a_bin - expected).max() > 0.05  # the convention matters on this data

    with mlflow.start_run():
        info = log_xgboost_model(model)
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    frame = pd.DataFrame(features, columns=names)
    np.testing.assert_array_equal(np.asarray(loaded.predict(frame)), expected)
    floats = frame.astype(np.float32).mask(frame == -1)
    np.testing.assert_array_equal(np.asarray(loaded.predict(floats)), expected)
    assert info.signature.inputs.input_names() == names


LOAD_AND_PREDICT = """
import sys
import numpy as np, pandas as pd, mlflow
try:
    import numerai_pipeline
    sys.exit("numerai_pipeline is importable: the test proves nothing")
except ImportError:
    pass
frame = pd.read_parquet("frame.parquet")
for name in ("xgboost", "mtm"):
    predicted = np.asarray(mlflow.pyfunc.load_model(name).predict(frame))
    np.testing.assert_array_equal(predicted, np.load(name + ".npy"))
"""


def test_logged_models_load_where_the_pipeline_is_not_installed(tracking, tmp_path) -> None:
    """The logged models ship the package (`code_paths`): a Python without numerai_pipeline (no
    site hooks, no editable install, another working directory) loads them and predicts the same."""
    data = tiny_data()
    models = {
        "xgboost": XGBoostModel(XGBoostConfig(n_estimators=10)),
        "mtm": MTMModel(MTMConfig.tiny()),
    }
    with mlflow.start_run():
        for name, model in models.items():
            model.fit(data)
            log = log_xgboost_model if name == "xgboost" else log_neural_model
            uri = log(model, name=name).model_uri
            mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / name))
            np.save(tmp_path / f"{name}.npy", model.predict(data.features, data.eras))
    pd.DataFrame(data.features, columns=data.feature_names).to_parquet(tmp_path / "frame.parquet")
    env = {"PYTHONPATH": ":".join(site.getsitepackages()), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-S", "-c", LOAD_AND_PREDICT],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
