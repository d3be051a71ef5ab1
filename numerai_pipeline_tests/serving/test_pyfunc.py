"""MLflow pyfunc round trips: every kind of fitted model and the champion load back and predict
exactly what they predicted in the pipeline, also where the pipeline is not installed."""

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

from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.ensemble.blend import Blend
from numerai_pipeline.ensemble.champion import Champion
from numerai_pipeline.models.mlp import MLPConfig, MLPModel
from numerai_pipeline.models.mtm.config import MTMConfig
from numerai_pipeline.models.mtm.model import MTMModel
from numerai_pipeline.models.ridge import RidgeModel
from numerai_pipeline.models.rnn import RNNConfig, RNNModel
from numerai_pipeline.models.saved import load_model, save_model
from numerai_pipeline.models.training import TrainConfig
from numerai_pipeline.models.xgb import XGBoostConfig, XGBoostModel
from numerai_pipeline.serving.pyfunc import log_predictor
from numerai_pipeline_tests.helpers import tiny_context, tiny_data

DATA = tiny_data()
TRAIN = TrainConfig(eras_per_batch=2)
MAKERS = {
    "xgboost": lambda: XGBoostModel(XGBoostConfig(n_estimators=10)),
    "ridge": lambda: RidgeModel(),
    "mtm": lambda: MTMModel(MTMConfig.tiny(), TRAIN),
    "mlp": lambda: MLPModel(MLPConfig.tiny(), TRAIN),
    "rnn": lambda: RNNModel(tiny_context(DATA), RNNConfig.tiny(), TRAIN),
}


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mlflow")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
    mlflow.set_experiment(
        experiment_id=mlflow.create_experiment(
            "pyfunc-test", artifact_location=(root / "artifacts").as_uri()
        )
    )
    yield root
    mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def fitted() -> dict:
    models = {name: make() for name, make in MAKERS.items()}
    for model in models.values():
        model.fit(DATA)
    return models


def frame_of(data: TrainingData) -> pd.DataFrame:
    frame = pd.DataFrame(data.features, columns=data.feature_names)
    frame["era"] = data.eras
    return frame


@pytest.mark.parametrize("name", list(MAKERS))
def test_pyfunc_round_trip_reproduces_predictions(tracking, fitted, tmp_path, name) -> None:
    model = fitted[name]
    folder = save_model(model, tmp_path / name)
    assert type(load_model(folder)) is type(model)
    with mlflow.start_run():
        info = log_predictor(folder, model.feature_names, name=name)
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    expected = model.predict(DATA.features, DATA.eras)
    np.testing.assert_array_equal(np.asarray(loaded.predict(frame_of(DATA))), expected)
    assert info.signature.inputs.input_names() == [*DATA.feature_names, "era"]
    with pytest.raises(MlflowException, match=DATA.feature_names[0]):
        loaded.predict(frame_of(DATA).drop(columns=DATA.feature_names[0]))


def test_xgboost_reads_minus_one_and_nan_as_missing(tracking, tmp_path) -> None:
    """The logged XGBoost reproduces the pipeline's predictions from the feature matrix's int8
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
        info = log_predictor(save_model(model, tmp_path / "xgb"), names)
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    frame = pd.DataFrame(features, columns=names)
    np.testing.assert_array_equal(np.asarray(loaded.predict(frame)), expected)
    floats = frame.astype(np.float32).mask(frame == -1)
    np.testing.assert_array_equal(np.asarray(loaded.predict(floats)), expected)


def test_the_champion_ranks_its_blend_per_era(tracking, fitted, tmp_path) -> None:
    """The champion's values are the blend of its members ranked into (0, 1) per era, whatever
    the order of the rows; its pyfunc reproduces them."""
    blend = Blend("optimized", {"ridge": 0.6, "mlp": 0.4, "xgboost": 0.0}, neutralization=0.5)
    champion = Champion(fitted, blend, DATA.feature_names[:8])
    assert champion.members == ["ridge", "mlp"]
    frame = frame_of(DATA)
    values = champion.predict_frame(frame)
    assert ((values > 0) & (values < 1)).all()
    for era in ("0001", "0013"):
        rows = DATA.eras == era
        assert np.allclose(np.sort(values[rows]), (np.arange(rows.sum()) + 0.5) / rows.sum())
    shuffled = np.random.default_rng(0).permutation(len(frame))
    np.testing.assert_array_equal(champion.predict_frame(frame.iloc[shuffled]), values[shuffled])
    folder = champion.save(tmp_path / "champion")
    assert sorted(p.name for p in (folder / "members").iterdir()) == ["mlp", "ridge"]
    with mlflow.start_run():
        info = log_predictor(folder, Champion.load(folder).feature_names)
    np.testing.assert_array_equal(mlflow.pyfunc.load_model(info.model_uri).predict(frame), values)


LOAD_AND_PREDICT = """
import sys
import numpy as np, pandas as pd, mlflow
try:
    import numerai_pipeline
    sys.exit("numerai_pipeline is importable: the test proves nothing")
except ImportError:
    pass
frame = pd.read_parquet("frame.parquet")
for name in ("xgboost", "mtm", "rnn"):
    predicted = np.asarray(mlflow.pyfunc.load_model(name).predict(frame))
    np.testing.assert_array_equal(predicted, np.load(name + ".npy"))
"""


def test_logged_models_load_where_the_pipeline_is_not_installed(tracking, fitted, tmp_path) -> None:
    """The logged models ship the package (`code_paths`): a Python without numerai_pipeline (no
    site hooks, no editable install, another working directory) loads them and predicts the same."""
    with mlflow.start_run():
        for name in ("xgboost", "mtm", "rnn"):
            model = fitted[name]
            folder = save_model(model, tmp_path / "saved" / name)
            uri = log_predictor(folder, model.feature_names, name=name).model_uri
            mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / name))
            np.save(tmp_path / f"{name}.npy", model.predict(DATA.features, DATA.eras))
    frame_of(DATA).to_parquet(tmp_path / "frame.parquet")
    env = {"PYTHONPATH": ":".join(site.getsitepackages()), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-S", "-c", LOAD_AND_PREDICT],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
