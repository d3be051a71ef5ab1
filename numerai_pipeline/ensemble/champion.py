"""The champion: what is submitted. The rule that picks it, and the combination itself (fitted
members, blend weights, neutralization) as one predictor with its own folder on disk.

Rule: the nested ensemble selection's blend (chosen on every out-of-fold era) is the champion if
the nested `ensemble` row's CV Sharpe is at least that of the best single candidate (by Sharpe on
the same eras); otherwise that single model, alone and not neutralized. With a single CV fold
there is no nested evidence and the best single candidate by Sharpe is the champion.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numerai_tools.scoring import rank

from numerai_pipeline.core.eras import era_runs
from numerai_pipeline.core.schema import ERA_COL, feature_block
from numerai_pipeline.ensemble.blend import Blend, MemberMatrix
from numerai_pipeline.evaluation.metrics import sharpe
from numerai_pipeline.models.base import TournamentModel
from numerai_pipeline.models.saved import load_model, save_model
from numerai_pipeline.storage.atomic import atomic_dir


def _sharpe(scores: pd.Series) -> float:
    """Sharpe of per-era CORR for ranking; scores without spread rank last."""
    value = sharpe(scores)
    return value if np.isfinite(value) else float("-inf")


@dataclass(frozen=True)
class ChampionChoice:
    blend: Blend
    reason: str


def choose_champion(
    final: Blend, ensemble: pd.Series | None, singles: dict[str, pd.Series]
) -> ChampionChoice:
    """Apply the rule to per-era CORR series (indexed by era): the nested `ensemble`'s (None
    without one) and each single candidate's."""
    if ensemble is None or ensemble.empty:
        best = max(singles, key=lambda m: _sharpe(singles[m]))
        reason = f"no nested ensemble (one CV fold): best single model by Sharpe, {best}"
        return ChampionChoice(Blend(best, {best: 1.0}), reason)
    eras = ensemble.index
    sharpes = {m: _sharpe(s.reindex(eras).dropna()) for m, s in singles.items()}
    best = max(sharpes, key=sharpes.get)
    mine = _sharpe(ensemble)
    if mine >= sharpes[best]:
        reason = f"ensemble CV Sharpe {mine:.3f} >= best single model {best}'s {sharpes[best]:.3f}"
        return ChampionChoice(final, reason)
    reason = (
        f"ensemble CV Sharpe {mine:.3f} < best single model {best}'s {sharpes[best]:.3f} on the "
        f"same {len(eras)} eras: {best} alone"
    )
    return ChampionChoice(Blend(best, {best: 1.0}), reason)


class Champion:
    """The fitted members of a blend and the blend: `predict_frame` turns a frame of features
    (and `era`) into the submitted values, ranked per era into (0, 1)."""

    def __init__(
        self, models: dict[str, TournamentModel], blend: Blend, neutralizers: list[str]
    ) -> None:
        self.models, self.blend, self.neutralizers = models, blend, neutralizers
        self.members = [m for m, w in blend.weights.items() if w > 0]

    @property
    def feature_names(self) -> list[str]:
        """Every column a frame must hold: the members' features and the neutralizers."""
        names = [f for m in self.members for f in self.models[m].feature_names] + self.neutralizers
        return list(dict.fromkeys(names))

    def predict_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Submitted values in the frame's row order: each member's predictions, gaussianized and
        blended per era, neutralized by the blend's proportion, ranked per era."""
        eras = (
            frame[ERA_COL].astype(str).to_numpy()
            if ERA_COL in frame
            else np.full(len(frame), "live", dtype=object)
        )
        order = np.argsort(eras, kind="stable")
        eras, rows = eras[order], frame.iloc[order]
        raw = np.column_stack(
            [
                self.models[m].predict(feature_block(rows, self.models[m].feature_names), eras)
                for m in self.members
            ]
        )
        neutralizers = feature_block(rows, self.neutralizers)
        combined = MemberMatrix.build(self.members, raw, eras, neutralizers).combine(self.blend)
        ranked = np.empty(len(frame))
        for run in era_runs(eras):  # a frame: numerai-tools before 0.5 ranks frames only
            ranked[run] = rank(pd.DataFrame({"p": combined[run]}))["p"].to_numpy()
        out = np.empty(len(frame))
        out[order] = ranked
        return out

    def save(self, folder: Path) -> Path:
        """Write the champion (its members' folders and `champion.json`) into `folder`."""
        with atomic_dir(folder) as tmp:
            for name in self.members:
                save_model(self.models[name], tmp / "members" / name)
            meta = {"blend": asdict(self.blend), "neutralizers": self.neutralizers}
            (tmp / "champion.json").write_text(json.dumps(meta, indent=2))
        return Path(folder)

    @classmethod
    def load(cls, folder: Path, device: str | None = None) -> Champion:
        meta = json.loads((Path(folder) / "champion.json").read_text())
        blend = Blend(**meta["blend"])
        models = {
            m: load_model(Path(folder) / "members" / m, device)
            for m, w in blend.weights.items()
            if w > 0
        }
        return cls(models, blend, meta["neutralizers"])
