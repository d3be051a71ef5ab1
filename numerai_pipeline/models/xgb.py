"""Gradient-boosted trees (XGBoost, CPU `hist`) on int8 features: the baseline to beat."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from numerai_pipeline.core.schema import MISSING_FEATURE
from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.models.base import Progress, Schedule, no_progress

if TYPE_CHECKING:  # xgboost is imported where it is used: importing the definitions stays fast
    import xgboost as xgb


@dataclass
class XGBoostConfig:
    """Numerai's example-script style settings, shrunk for small data."""

    n_estimators: int = 300
    max_depth: int = 4
    learning_rate: float = 0.03
    colsample_bytree: float = 0.3
    subsample: float = 0.8
    min_child_weight: float = 20.0
    max_bin: int = 5
    seed: int = 0
    n_threads: int = 0


def _progress_callback(total: int, progress: Progress, every: int) -> xgb.callback.TrainingCallback:
    """An xgboost callback reporting `trees k/total` every `every` trees."""
    import xgboost as xgb

    class Progress(xgb.callback.TrainingCallback):
        def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
            done = epoch + 1
            if done % every == 0 or done == total:
                progress(f"trees {done}/{total}")
            return False

    return Progress()


class XGBoostModel:
    """XGBoost regressor on the main target; int8 features go in without a float copy. Its
    schedule is fixed (`n_estimators` trees)."""

    kind = "xgboost"

    def __init__(self, config: XGBoostConfig | None = None, name: str = "xgboost") -> None:
        self.config = config or XGBoostConfig()
        self.name = name
        self.booster: xgb.Booster | None = None
        self.feature_names: list[str] = []

    @property
    def schedule(self) -> Schedule:
        """Nothing to choose on a holdout: `n_estimators` trees."""
        return {}

    def _train_params(self) -> dict:
        c = self.config
        return {
            "objective": "reg:squarederror",
            "tree_method": "hist",
            "max_depth": c.max_depth,
            "eta": c.learning_rate,
            "colsample_bytree": c.colsample_bytree,
            "subsample": c.subsample,
            "min_child_weight": c.min_child_weight,
            "max_bin": c.max_bin,
            "seed": c.seed,
            "nthread": c.n_threads,
        }

    def fit(
        self, data: TrainingData, progress: Progress = no_progress, schedule: Schedule | None = None
    ) -> None:
        import xgboost as xgb

        labeled = ~np.isnan(data.main_target)
        self.feature_names = list(data.feature_names)
        matrix = xgb.QuantileDMatrix(
            data.features[labeled],
            label=data.main_target[labeled],
            missing=MISSING_FEATURE,
            max_bin=self.config.max_bin,
            nthread=self.config.n_threads,
        )
        every = max(1, self.config.n_estimators // 5)
        self.booster = xgb.train(
            self._train_params(),
            matrix,
            num_boost_round=self.config.n_estimators,
            callbacks=[_progress_callback(self.config.n_estimators, progress, every)],
        )

    def predict(self, features: np.ndarray, eras: np.ndarray | None = None) -> np.ndarray:
        if self.booster is None:
            raise RuntimeError("XGBoostModel.predict called before fit")
        return np.asarray(
            self.booster.inplace_predict(features, missing=MISSING_FEATURE), dtype=np.float32
        )

    def params(self) -> dict[str, float | int | str]:
        return asdict(self.config)

    def save(self, folder: Path) -> None:
        """Write the booster and its feature names into `folder`."""
        if self.booster is None:
            raise RuntimeError(f"{self.name} is not fitted")
        self.booster.save_model(folder / "booster.ubj")
        meta = {"name": self.name, "features": self.feature_names, "config": asdict(self.config)}
        (folder / "xgboost.json").write_text(json.dumps(meta))

    def __getstate__(self) -> dict:
        """Pickled with the booster as its saved model (UBJSON), which other XGBoost versions
        load (a pickled Booster is XGBoost's memory snapshot, for the same version only): the
        champion's model-upload pickle runs in Numerai's image."""
        state = dict(self.__dict__)
        if self.booster is not None:
            state["booster"] = bytes(self.booster.save_raw(raw_format="ubj"))
        return state

    def __setstate__(self, state: dict) -> None:
        import xgboost as xgb

        if isinstance(state.get("booster"), bytes):
            booster = xgb.Booster()
            booster.load_model(bytearray(state["booster"]))
            state = {**state, "booster": booster}
        self.__dict__.update(state)

    @classmethod
    def load(cls, folder: Path, device: str | None = None) -> XGBoostModel:
        import xgboost as xgb

        meta = json.loads((folder / "xgboost.json").read_text())
        model = cls(XGBoostConfig(**meta["config"]), name=meta["name"])
        model.booster = xgb.Booster(model_file=str(folder / "booster.ubj"))
        model.feature_names = meta["features"]
        return model
