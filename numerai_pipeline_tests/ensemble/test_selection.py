"""Nested ensemble selection: no look-ahead, the champion rule, weights, neutralization."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numerai_tools.scoring import neutralize

from numerai_pipeline.core.folds import era_cv_splits
from numerai_pipeline.core.schema import ordinal_values
from numerai_pipeline.ensemble.blend import Blend, MemberMatrix, gaussianize, optimize_weights
from numerai_pipeline.ensemble.champion import choose_champion
from numerai_pipeline.ensemble.selection import ENSEMBLE, EQUAL_BLEND, nested_selection

N_ERAS, ROWS = 60, 120
ERAS = [f"{e:04d}" for e in range(1, N_ERAS + 1)]
FOLDS = era_cv_splits(ERAS, n_folds=4, embargo=8)


def oof(seed: int = 0) -> tuple[dict[str, pd.DataFrame], np.ndarray]:
    """Out-of-fold frames of three models on the folds' test eras: `good` reads the signal,
    `half` half of it, `noise` none; and the rows' int8 features (the first carries the signal)."""
    rng = np.random.default_rng(seed)
    scored = [e for fold in FOLDS for e in fold.test_eras]
    eras = np.repeat(scored, ROWS)
    features = rng.integers(0, 5, (len(eras), 6)).astype(np.int8)
    signal = features[:, 0] - 2.0 + rng.normal(0, 1, len(eras))
    target = np.digitize(signal + rng.normal(0, 3, len(eras)), [-3, -1, 1, 3]) / 4
    ids = pd.Index([f"n{i}" for i in range(len(eras))], name="id")
    predictions = {
        "good": signal + rng.normal(0, 1, len(eras)),
        "half": 0.5 * signal + rng.normal(0, 1.5, len(eras)),
        "noise": rng.normal(0, 1, len(eras)),
    }
    frames = {
        name: pd.DataFrame({"era": eras, "target": target, "prediction": p}, index=ids)
        for name, p in predictions.items()
    }
    return frames, features


def select(frames: dict[str, pd.DataFrame], features: np.ndarray):
    position = frames["good"].index
    return nested_selection(frames, list(FOLDS), lambda ids: features[position.get_indexer(ids)])


def test_no_look_ahead_a_folds_pick_ignores_what_comes_after_it():
    """Redrawing the targets and predictions of the eras after fold 3's scored eras leaves fold
    3's blend (weights and neutralization) as it was; redrawing the eras before it changes it."""
    frames, features = oof()
    reference = select(frames, features)
    fold3 = FOLDS[2]
    rng = np.random.default_rng(9)

    def redrawn(rows: np.ndarray) -> dict[str, pd.DataFrame]:
        out = {}
        target = frames["good"]["target"].to_numpy().copy()
        target[rows] = rng.permutation(target[rows])
        for name, frame in frames.items():
            prediction = frame["prediction"].to_numpy().copy()
            prediction[rows] = rng.normal(size=rows.sum())
            out[name] = frame.assign(target=target, prediction=prediction)
        return out

    eras = frames["good"]["era"].to_numpy()
    later = redrawn(eras > fold3.test_eras[-1])
    again = select(later, features)
    assert again.folds[2].blend == reference.folds[2].blend
    assert again.folds[1].blend == reference.folds[1].blend
    assert again.folds[2].scores == reference.folds[2].scores
    earlier = select(redrawn(eras < fold3.test_eras[0]), features)
    assert earlier.folds[2].scores != reference.folds[2].scores


def test_the_first_fold_has_no_prior_folds_and_is_not_scored():
    frames, features = oof()
    selection = select(frames, features)
    assert selection.folds[0].blend is None and selection.folds[1].blend is not None
    scored = set(selection.predictions[ENSEMBLE]["era"])
    assert scored == {e for fold in FOLDS[1:] for e in fold.test_eras}
    assert len(selection.predictions[EQUAL_BLEND]) == len(frames["good"])
    start = int(FOLDS[1].test_eras[0])
    behind = sum(int(e) < start - FOLDS[1].embargo for e in FOLDS[0].test_eras)
    assert selection.folds[1].history_eras == behind > 0, "behind the embargo only"


def test_the_selection_prefers_the_informative_model():
    frames, features = oof()
    selection = select(frames, features)
    final = selection.final
    assert final.weights.get("noise", 0) < 0.2
    assert final.weights.get("good", 0) > final.weights.get("half", 0)


def per_era(values: list[float]) -> pd.Series:
    return pd.Series(values, index=[f"{e:04d}" for e in range(1, len(values) + 1)])


def test_the_champion_falls_back_to_the_best_single_model():
    """An ensemble whose Sharpe is below the best single model's on the same eras loses to that
    model, alone and not neutralized; one at least as good wins."""
    final = Blend("optimized", {"a": 0.7, "b": 0.3}, neutralization=0.5)
    steady = per_era([0.03, 0.028, 0.031, 0.029, 0.03, 0.032])
    jumpy = per_era([0.09, -0.05, 0.08, -0.04, 0.07, -0.03])
    singles = {"a": steady, "b": jumpy}
    fallback = choose_champion(final, jumpy.iloc[2:], singles)
    assert fallback.blend == Blend("a", {"a": 1.0}) and "a alone" in fallback.reason
    winner = choose_champion(final, steady.iloc[2:] + 0.001, singles)
    assert winner.blend == final and ">=" in winner.reason
    alone = choose_champion(final, None, singles)
    assert alone.blend.weights == {"a": 1.0} and "one CV fold" in alone.reason


def test_optimized_weights_are_on_the_simplex_and_favour_the_signal():
    frames, _ = oof()
    eras = frames["good"]["era"].to_numpy()
    raw = np.column_stack([frames[m]["prediction"].to_numpy() for m in ("good", "half", "noise")])
    g = np.vstack([gaussianize(raw[eras == e]) for e in dict.fromkeys(eras)])
    w = optimize_weights(g, frames["good"]["target"].to_numpy(), eras)
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0)
    assert w[0] > w[1] > w[2] - 1e-9


def test_a_neutralized_blend_is_numerai_tools_neutralize_of_the_blend():
    """Neutralization is linear: mixing each member's neutralized predictions gives exactly
    numerai-tools' `neutralize` of the blend, whatever the proportion."""
    frames, features = oof()
    rows = frames["good"]["era"].to_numpy() == FOLDS[0].test_eras[0]
    raw = np.column_stack([frames[m]["prediction"].to_numpy()[rows] for m in frames])
    eras = np.full(rows.sum(), "x")
    matrix = MemberMatrix.build(list(frames), raw, eras, features[rows])
    blend = Blend("b", {"good": 0.5, "half": 0.3, "noise": 0.2}, neutralization=0.5)
    plain = matrix.combine(Blend("b", blend.weights))
    expected = neutralize(
        pd.DataFrame({"p": plain}), pd.DataFrame(ordinal_values(features[rows])), proportion=0.5
    )["p"].to_numpy()
    np.testing.assert_allclose(matrix.combine(blend), expected, atol=1e-10)
