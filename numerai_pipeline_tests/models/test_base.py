"""TrainingData: era selection copies only rows that are not one run."""

from __future__ import annotations

import numpy as np

from numerai_pipeline.models.mlp import MLPConfig, MLPModel
from numerai_pipeline_tests.helpers import tiny_data


def test_selecting_scattered_eras_copies_and_a_run_of_eras_shares_the_features() -> None:
    data = tiny_data(n_eras=6)
    some = data.select_eras(np.array(["0002", "0004"]))
    assert set(some.eras) == {"0002", "0004"} and some.features.dtype == np.int8
    assert not np.shares_memory(some.features, data.features)
    everything = data.select_eras(np.unique(data.eras))
    assert everything.features is data.features and len(everything.eras) == len(data.eras)
    run = data.select_eras(np.array(["0002", "0003", "0004"]))  # a fold's training eras
    rows = np.isin(data.eras, ["0002", "0003", "0004"])
    for name in ("features", "targets", "eras"):
        assert np.shares_memory(getattr(run, name), getattr(data, name))
        np.testing.assert_array_equal(getattr(run, name), getattr(data, name)[rows])


def test_the_refit_trains_on_the_features_without_copying_them() -> None:
    data = tiny_data()
    seen = []

    class Spy(MLPModel):
        def build(self, train):
            seen.append(train.features)
            return super().build(train)

    Spy(MLPConfig.tiny()).fit(data)
    assert seen[-1] is data.features
