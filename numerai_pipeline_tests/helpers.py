"""Small Numerai-shaped data shared by the model tests."""

from __future__ import annotations

import numpy as np

from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.features.era_context import EraContext, build_era_context, summary_groups


def tiny_data(
    n_eras: int = 24, rows: int = 64, n_features: int = 24, n_targets: int = 3, seed: int = 0
) -> TrainingData:
    """Numerai-shaped rows with a planted signal (linear in features 0..3, U-shaped in feature
    4): int8 bins (some -1), binned targets, NaN aux."""
    rng = np.random.default_rng(seed)
    n = n_eras * rows
    features = rng.integers(0, 5, (n, n_features)).astype(np.int8)
    features[rng.random((n, n_features)) < 0.02] = -1
    u_shape = 2 * np.abs(features[:, 4].astype(float) - 2) * (features[:, 4] >= 0)
    signal = features[:, :4].clip(0).sum(1) + u_shape + rng.normal(0, 2, n)
    targets = np.stack(
        [
            np.digitize(signal + rng.normal(0, j, n), np.quantile(signal, [0.2, 0.4, 0.6, 0.8])) / 4
            for j in range(n_targets)
        ],
        1,
    ).astype(np.float32)
    targets[: rows * 2, -1] = np.nan
    eras = np.repeat([f"{e + 1:04d}" for e in range(n_eras)], rows).astype(object)
    return TrainingData(
        features,
        targets,
        eras,
        [f"feature_{i}" for i in range(n_features)],
        ["target"] + [f"target_aux{j}_20" for j in range(1, n_targets)],
        np.array([f"id{i}" for i in range(n)], dtype=object),
    )


def tiny_context(data: TrainingData, span: int = 4) -> EraContext:
    """The era-context table of `data`'s eras."""
    groups = summary_groups(data.feature_names, {})
    return build_era_context([(data.features, data.main_target, data.eras)], groups, span)
