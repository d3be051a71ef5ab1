import numpy as np
import pytest

from numerai_pipeline.core.folds import era_cv_splits
from numerai_pipeline.core.scoring import per_era_corr, standard_error
from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.evaluation.oof import fold_predictions, shuffle_targets_within_eras
from numerai_pipeline.models.xgb import XGBoostConfig, XGBoostModel


def planted(n_eras=40, rows=150, n_features=8, seed=0) -> TrainingData:
    rng = np.random.default_rng(seed)
    eras = np.repeat([f"{i:04d}" for i in range(1, n_eras + 1)], rows)
    x = rng.integers(0, 5, size=(len(eras), n_features)).astype(np.int8)
    x[::17, 2] = -1  # missing values
    signal = (x[:, 0] - 2) * 0.5 + np.abs(x[:, 1] - 2.0)
    noisy = signal + rng.normal(scale=3.0, size=len(eras))
    target = np.digitize(noisy, np.quantile(noisy, [0.05, 0.25, 0.75, 0.95])) / 4
    targets = np.stack([target, np.full(len(eras), np.nan)], axis=1).astype(np.float32)
    names = [f"feature_{i}" for i in range(n_features)]
    ids = np.array([f"n{i}" for i in range(len(eras))], dtype=object)
    return TrainingData(x, targets, eras, names, ["target", "target_aux_60"], ids)


def small_xgb(name="xgboost") -> XGBoostModel:
    return XGBoostModel(XGBoostConfig(n_estimators=60, learning_rate=0.1), name=name)


def test_xgboost_learns_the_planted_signal_out_of_fold_and_reports_progress():
    data = planted()
    fold = era_cv_splits(np.unique(data.eras), n_folds=1, embargo=4)[0]
    messages = []
    oof = fold_predictions(small_xgb(), data, fold, messages.append).predictions
    assert set(oof["era"]) == set(fold.test_eras)
    assert messages[-1] == "trees 60/60"
    corr = per_era_corr(oof["prediction"].to_numpy(), oof["target"].to_numpy(), oof["era"])
    assert corr.mean() > 3 * standard_error(corr)


def test_shuffled_control_scores_within_noise_of_zero():
    data = shuffle_targets_within_eras(planted(), seed=1)
    fold = era_cv_splits(np.unique(data.eras), n_folds=1, embargo=4)[0]
    oof = fold_predictions(small_xgb(), data, fold).predictions
    corr = per_era_corr(oof["prediction"].to_numpy(), oof["target"].to_numpy(), oof["era"])
    assert abs(corr.mean()) < 3 * standard_error(corr)


def test_shuffling_keeps_each_eras_targets():
    data = planted()
    shuffled = shuffle_targets_within_eras(data, seed=3)
    assert not np.array_equal(shuffled.main_target, data.main_target)
    for era in np.unique(data.eras)[:5]:
        rows = data.eras == era
        assert sorted(shuffled.main_target[rows]) == sorted(data.main_target[rows])


def test_fit_sees_only_training_eras(monkeypatch):
    data = planted()
    fold = era_cv_splits(np.unique(data.eras), n_folds=2, embargo=4)[1]
    seen = {}
    model = small_xgb()
    original = model.fit

    def spy(train, progress, schedule=None):
        seen["eras"] = set(train.eras)
        original(train, progress, schedule)

    monkeypatch.setattr(model, "fit", spy)
    fold_predictions(model, data, fold)
    assert seen["eras"] == set(fold.train_eras)
    assert max(map(int, seen["eras"])) < int(fold.test_eras[0]) - 4


def test_predict_before_fit_is_an_error():
    with pytest.raises(RuntimeError, match="before fit"):
        small_xgb().predict(np.zeros((2, 3), np.int8), np.array(["a", "a"]))


def test_training_data_requires_int8_features():
    with pytest.raises(TypeError, match="int8"):
        TrainingData(np.zeros((2, 2)), np.zeros((2, 1)), np.array(["a", "a"]), ["f", "g"], ["t"])
