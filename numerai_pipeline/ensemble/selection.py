"""Nested ensemble selection: what would have been submitted at each fold, chosen without look-ahead.

Candidates are each single model, the equal blend of all, a blend whose weights maximize the mean
per-era CORR over every earlier era (`optimize_weights`), and one whose weights follow only the
latest `RECENT_ERAS` of them (model performance moves with regimes); each at every neutralization
proportion. For fold k, the weights are fit and the (candidate, proportion) pair with the best mean
per-era CORR is picked on the out-of-fold predictions of folds before k whose eras end more than
the embargo before fold k's first scored era; fold 1 has no prior folds and is not scored. The
picks, applied to each fold's own predictions, make the `ensemble` row of the report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from numerai_pipeline.core.eras import era_numbers, sorted_eras
from numerai_pipeline.core.folds import EraFold
from numerai_pipeline.core.scoring import per_era_corr, per_era_corr_table
from numerai_pipeline.ensemble.blend import PROPORTIONS, Blend, MemberMatrix, optimize_weights
from numerai_pipeline.ensemble.champion import ChampionChoice, choose_champion

RECENT_ERAS = 52
"""Eras the recency-weighted candidate is fit on (about a year of weekly eras)."""
ENSEMBLE, EQUAL_BLEND = "ensemble", "equal_blend"


def candidate_blends(matrix: MemberMatrix, rows: np.ndarray, target: np.ndarray) -> list[Blend]:
    """Each member alone, the equal blend, and blends optimized on `rows` and on their latest
    `RECENT_ERAS` eras."""
    members = matrix.members
    blends = [Blend(m, {m: 1.0}) for m in members]
    if len(members) == 1:
        return blends
    blends.append(Blend(EQUAL_BLEND, {m: 1.0 / len(members) for m in members}))
    eras = matrix.eras[rows]
    recent = np.isin(eras, sorted_eras(np.unique(eras))[-RECENT_ERAS:])
    for name, chosen in (("optimized", rows), ("recent", rows[recent])):
        w = optimize_weights(matrix.gaussianized[chosen], target[chosen], matrix.eras[chosen])
        blends.append(Blend(name, dict(zip(members, w.tolist(), strict=True))))
    return blends


def score_blends(
    matrix: MemberMatrix, rows: np.ndarray, target: np.ndarray, blends: list[Blend]
) -> pd.DataFrame:
    """Per-era CORR (eras x blends) of each blend on `rows`: one numerai-tools call per era."""
    columns = {b.describe(): matrix.combine(b, rows) for b in blends}
    return per_era_corr_table(pd.DataFrame(columns), target[rows], matrix.eras[rows])


def select(matrix: MemberMatrix, rows: np.ndarray, target: np.ndarray) -> tuple[Blend, pd.Series]:
    """The (candidate, proportion) with the best mean per-era CORR on `rows`, and every pair's
    mean CORR there."""
    blends = [
        Blend(b.name, b.weights, p)
        for b in candidate_blends(matrix, rows, target)
        for p in PROPORTIONS
    ]
    means = score_blends(matrix, rows, target, blends).mean()
    best = int(np.argmax(means.to_numpy()))
    return blends[best], means


@dataclass
class FoldChoice:
    """What the selection picked for one fold, from the eras it was allowed to see."""

    fold: str
    blend: Blend | None
    """None: no prior folds."""
    history_eras: int = 0
    scores: dict[str, float] = field(default_factory=dict)


@dataclass
class EnsembleSelection:
    """The nested selection over CV folds, and the blend chosen on every out-of-fold era (what
    goes live)."""

    members: list[str]
    folds: list[FoldChoice]
    predictions: dict[str, pd.DataFrame]
    """`ensemble` (folds 2..K) and `equal_blend` (all folds): era, target, prediction by id."""
    final: Blend
    champion: ChampionChoice


def nested_selection(
    oof: dict[str, pd.DataFrame], folds: list[EraFold], features_for
) -> EnsembleSelection:
    """Run the selection fold by fold over the candidates' out-of-fold predictions (`oof`: model
    -> frame of era, target, prediction by id, the same rows for every model, folds stacked in
    order); `features_for(ids)` gives the neutralizing int8 features of those rows."""
    members = list(oof)
    first = oof[members[0]]
    for name in members[1:]:
        if not oof[name].index.equals(first.index):
            raise ValueError(f"{name}'s out-of-fold rows differ from {members[0]}'s")
    eras = first["era"].to_numpy().astype(str)
    target = first["target"].to_numpy(dtype="float64")
    predictions = np.column_stack([oof[m]["prediction"].to_numpy() for m in members])
    matrix = MemberMatrix.build(members, predictions, eras, features_for(first.index))
    numbers = dict(zip(sorted_eras(eras), era_numbers(sorted_eras(eras)), strict=True))
    era_number = np.array([numbers[e] for e in eras])
    choices, parts = [], []
    for fold in folds:
        scored = np.flatnonzero(np.isin(eras, fold.test_eras))
        start = numbers[fold.test_eras[0]]
        history = np.flatnonzero(era_number < start - fold.embargo)
        if not len(history):
            choices.append(FoldChoice(fold.name, None))
            continue
        blend, means = select(matrix, history, target)
        choices.append(
            FoldChoice(fold.name, blend, len(np.unique(eras[history])), means.round(5).to_dict())
        )
        parts.append(first.iloc[scored].assign(prediction=matrix.combine(blend, scored)))
    final, _ = select(matrix, np.arange(len(eras)), target)
    equal = Blend(EQUAL_BLEND, {m: 1.0 / len(members) for m in members})
    out = {EQUAL_BLEND: first.assign(prediction=matrix.combine(equal))}
    if parts:
        out[ENSEMBLE] = pd.concat(parts)
    singles = {m: _per_era(oof[m]) for m in members}
    nested = _per_era(out[ENSEMBLE]) if ENSEMBLE in out else None
    champion = choose_champion(final, nested, singles)
    return EnsembleSelection(members, choices, out, final, champion)


def _per_era(frame: pd.DataFrame) -> pd.Series:
    """Per-era CORR of a frame of era, target, prediction."""
    return per_era_corr(
        frame["prediction"].to_numpy(), frame["target"].to_numpy(), frame["era"].to_numpy()
    )


def ensemble_summary(selection: EnsembleSelection) -> dict:
    """The selection as plain data for the report: per fold the blend picked, the final blend,
    and the champion with the report row that holds its out-of-fold record."""
    served = selection.champion.blend
    row = (
        ENSEMBLE if served == selection.final and ENSEMBLE in selection.predictions else served.name
    )
    return {
        "folds": [
            {"fold": c.fold, **asdict(c.blend), "history_eras": c.history_eras}
            for c in selection.folds
            if c.blend is not None
        ],
        "unscored_folds": [c.fold for c in selection.folds if c.blend is None],
        "final": asdict(selection.final),
        "champion": {"blend": served.describe(), "reason": selection.champion.reason, "row": row},
    }
