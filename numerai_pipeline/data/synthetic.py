"""A deterministic synthetic Numerai dataset: same files, schema and quirks, with a planted signal.

Per era, each feature group has a latent factor; a feature is its group factor plus noise, cut
into five equal per-era bins (int8 0..4). The noise-free signal is a function of the binned
features: a linear part (one weight flips sign between regimes, one drifts), an interaction, an
|x - 2| term, and a transient part whose weights are a moving sum of 4 weekly innovations (so
consecutive eras share them, like overlapping 20-day targets: training up to a scored era leaks).
Targets add noise and are cut into Numerai's 5 bins (5/20/50/20/5%). Generation is era by era,
written with ParquetWriter, so no frame of all rows x features is ever built.

The `latent` preset plants the same signal on the groups' latent factors instead of the binned
features: the Bayes predictor then has to estimate factors from their noisy views, which is what
masked feature modelling learns without targets (on `demo` the group factors are independent and
the signal reads the features themselves, so the feature distribution carries nothing about it).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from numerai_pipeline.core.schema import (
    DATA_TYPE_COL,
    ERA_COL,
    FEATURE_PREFIX,
    ID_COL,
    LIVE_BENCHMARK_FILE,
    LIVE_FILE,
    META_MODEL_COL,
    TARGET_COL,
    VALIDATION_BENCHMARK_FILE,
    DatasetError,
    benchmark_column,
    per_round_name,
    validate_version,
)
from numerai_pipeline.storage.atomic import atomic_path

SIGNAL_COL = "signal"
PREDICTION_COL = "prediction"
SYNTHETIC_FILES = (
    "train.parquet",
    "validation.parquet",
    "live.parquet",
    "features.json",
    "meta_model.parquet",
    "live_example_preds.parquet",
    VALIDATION_BENCHMARK_FILE,
    LIVE_BENCHMARK_FILE,
    "synthetic_signal.parquet",
)
GROUP_NAMES = (
    "intelligence",
    "charisma",
    "strength",
    "dexterity",
    "constitution",
    "wisdom",
    "agility",
    "serenity",
    "sunshine",
    "rain",
    "midnight",
)
AUX_NAMES = (
    "agnes",
    "claudia",
    "cyrusd",
    "victor",
    "ralph",
    "waldo",
    "jeremy",
    "teager",
    "alpha",
    "bravo",
    "caroline",
    "echo",
    "jasper",
    "rowan",
    "sam",
    "xerxes",
)
MAIN_AUX = "cyrusd"
"""Numerai's main `target` is a copy of `target_cyrusd_20`."""
TARGET_BIN_SHARES = (0.05, 0.20, 0.50, 0.20, 0.05)
_ADJECTIVES = (  # noqa: SIM905
    "abashed agile amber arid ashen balmy bashful bitter bleak brisk burly calm canny chalky "
    "civic coy crisp dapper dusky eager earthy fervid fickle frosty gaudy glum hardy hazy "
    "jaunty keen lanky lofty lucid mellow misty nimble oblique opaque placid plucky quaint "
    "rustic sallow shrewd snug somber stark sultry tawny terse vapid wary wily zesty"
).split()
_NOUNS = (  # noqa: SIM905
    "abbot anvil badger beacon bramble canopy cobbler dervish ember falcon ferret gable "
    "garnet harbor heron ingot jackal juniper kestrel lantern ledger magpie marten nomad "
    "oracle otter parapet pilgrim quarry quiver raven rampart sable saddle tallow thicket "
    "umber vessel vintner walrus warden yeoman zealot zephyr"
).split()


@dataclass(frozen=True)
class SyntheticPreset:
    """Size and shape of a synthetic dataset."""

    n_train_eras: int
    n_validation_eras: int
    rows_per_era: int
    n_features: int
    n_feature_groups: int
    n_aux_targets: int = 8
    """Auxiliary target names; each gives a `_20` and a `_60` column."""
    eras_per_row_group: int = 10
    unresolved_eras_20: int = 2
    """Latest validation eras whose 20-day targets (`target` included) are NaN."""
    unresolved_eras_60: int = 4
    """Latest validation eras whose 60-day targets are NaN."""
    signal_corr: float = 0.06
    """Pearson correlation of the noise-free signal with the target's latent, per era."""
    signal_on: str = "features"
    """What the planted signal is a function of: "features" (the binned features themselves, so
    the feature distribution says nothing about the target) or "factors" (the groups' latent
    factors, of which each feature is a noisy view: what masked feature modelling can learn from
    rows without targets)."""
    live_rows: int | None = None
    """Rows of the live era (default: about `rows_per_era`, as every era)."""
    persistence: float = 0.0
    """Week-to-week correlation of a stock's group factors and feature noise, as on real data,
    where a stock keeps most of its features from one era to the next. Above 0 one universe of
    stocks runs through every era (the first rows of each era are the same stocks; ids stay
    per-row, as Numerai obfuscates them) and the target's noise is a sum of 4 weekly shocks, so
    the targets of eras fewer than 4 apart share shocks like overlapping 20-day returns."""


PRESETS: dict[str, SyntheticPreset] = {
    "tiny": SyntheticPreset(40, 16, 60, 24, 4, eras_per_row_group=4),
    "demo": SyntheticPreset(200, 60, 1_500, 120, 10, eras_per_row_group=20),
    "large": SyntheticPreset(400, 100, 5_000, 600, 11, eras_per_row_group=10),
    "latent": SyntheticPreset(200, 60, 1_500, 120, 10, eras_per_row_group=20, signal_on="factors"),
    "persistent": SyntheticPreset(200, 60, 1_500, 120, 10, eras_per_row_group=20, persistence=0.9),
    "wide": SyntheticPreset(30, 10, 150, 2_400, 11, eras_per_row_group=10, live_rows=6_000),
}
"""`wide` has full v5 width and a full-size live era over few small eras: what serving a live
round costs (the model-upload check), not a dataset to learn from."""

_REGIME_ERAS = 60
_DRIFT_PERIOD = 150
_TRANSIENT_WINDOW = 4
_AUX_NAN_SHARE = 0.02
_MISSING_ERA_SHARE = 0.1


def resolve_preset(preset: str | SyntheticPreset) -> SyntheticPreset:
    """A preset by name (or the preset itself); DatasetError naming the presets if unknown."""
    if isinstance(preset, SyntheticPreset):
        return preset
    if preset not in PRESETS:
        raise DatasetError(
            f"unknown synthetic preset {preset!r}; set NUMERAI_SYNTHETIC_PRESET to one of "
            f"{', '.join(PRESETS)}"
        )
    return PRESETS[preset]


def is_complete(version_dir: Path) -> bool:
    """Whether a synthetic version folder holds every file the generator writes."""
    return all((Path(version_dir) / name).is_file() for name in SYNTHETIC_FILES)


def era_label(number: int) -> str:
    """Numerai's era label: "0001" for era 1."""
    return f"{number:04d}"


def _feature_names(rng: np.random.Generator, n: int) -> list[str]:
    names: dict[str, None] = {}
    while len(names) < n:
        a, b = rng.choice(len(_ADJECTIVES), size=2, replace=False)
        noun = rng.integers(len(_NOUNS))
        names[f"{FEATURE_PREFIX}{_ADJECTIVES[a]}_{_ADJECTIVES[b]}_{_NOUNS[noun]}"] = None
    return list(names)


def _standardize(x: np.ndarray) -> np.ndarray:
    std = x.std()
    return (x - x.mean()) / (std if std > 0 else 1.0)


def _equal_bins(latent: np.ndarray) -> np.ndarray:
    """Five equal bins (0..4, int8) of each row of a (features, n) latent."""
    n = latent.shape[1]
    codes = ((np.arange(n) * 5) // n).astype(np.int8)
    bins = np.empty(latent.shape, dtype=np.int8)
    np.put_along_axis(bins, np.argsort(latent, axis=1), codes[None, :], axis=1)
    return bins


def _target_bins(latent: np.ndarray) -> np.ndarray:
    """Numerai's 5 target bins {0, .25, .5, .75, 1} with shares 5/20/50/20/5% (float32)."""
    n = latent.shape[0]
    cuts = np.cumsum(TARGET_BIN_SHARES)[:-1] * n
    ranks = np.empty(n, dtype=np.int64)
    ranks[np.argsort(latent)] = np.arange(n)
    return (np.searchsorted(cuts, ranks, side="right") / 4).astype(np.float32)


def _centred_bins(bins: np.ndarray) -> np.ndarray:
    """int8 bins 0..4 as float32 values centred on the middle bin, variance ~1."""
    return (bins.astype(np.float32) - 2) / np.float32(math.sqrt(2))


def _abs_deviation(bins: np.ndarray) -> np.ndarray:
    """|bin - 2| of int8 bins, centred and scaled to variance ~1 (the signal's non-monotone term)."""
    return (np.abs(bins - 2) - 1.2) / 0.75


def _uniform_ranks(x: np.ndarray) -> np.ndarray:
    """Per-era ranks mapped into (0, 1) (float32), like a submitted prediction."""
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[np.argsort(x)] = np.arange(len(x))
    return ((ranks + 0.5) / len(x)).astype(np.float32)


def _ids(counter_start: int, n: int, key: int) -> list[str]:
    """Unique ids "n" + 15 hex chars: a keyed bijection of a running row counter (60 bits)."""
    mask = np.uint64((1 << 60) - 1)
    x = np.arange(counter_start, counter_start + n, dtype=np.uint64)
    x = ((x + np.uint64(key)) * np.uint64(0x9E3779B97F4A7C15)) & mask
    x ^= x >> np.uint64(29)
    x = (x * np.uint64(0xBF58476D1CE4E5B9)) & mask
    x ^= x >> np.uint64(32)
    return [f"n{v:015x}" for v in x.tolist()]


class _Planted:
    """Global parameters of one synthetic dataset (everything but the per-era draws)."""

    def __init__(self, spec: SyntheticPreset, seed: int) -> None:
        if not 1 <= spec.n_feature_groups <= len(GROUP_NAMES):
            raise DatasetError(f"n_feature_groups must be 1..{len(GROUP_NAMES)}")
        if not 1 <= spec.n_aux_targets <= len(AUX_NAMES) or spec.n_features < 16:
            raise DatasetError(f"need 1..{len(AUX_NAMES)} aux targets and >= 16 features")
        if spec.signal_on not in ("features", "factors"):
            raise DatasetError(f"signal_on must be 'features' or 'factors', got {spec.signal_on!r}")
        if not 0 <= spec.persistence < 1:
            raise DatasetError(f"persistence must be in [0, 1), got {spec.persistence}")
        rng = np.random.default_rng([seed, 1])
        self.spec, self.seed = spec, seed
        n_f, n_g = spec.n_features, spec.n_feature_groups
        self.features = _feature_names(rng, n_f)
        self.group_of = rng.permutation(np.arange(n_f) % n_g)
        self.loading = rng.uniform(0.4, 0.9, n_f).astype(np.float32)
        n_eras = spec.n_train_eras + spec.n_validation_eras + 1
        self.rows = np.rint(spec.rows_per_era * rng.uniform(0.85, 1.15, n_eras)).astype(int)
        if spec.live_rows is not None:
            self.rows[-1] = spec.live_rows
        self.row_offset = np.concatenate([[0], np.cumsum(self.rows)])
        self.universe = int(self.rows.max())
        self.state: dict[str, np.ndarray] = {}
        """Persistent presets: the stocks' factors, feature noise and recent target shocks."""
        self.next_era = 1
        self.id_key = int(rng.integers(1 << 60))
        chosen = rng.choice(n_f, size=16, replace=False)
        self.linear, self.inter, self.absdev, self.transient = (
            chosen[:6],
            chosen[6:8],
            chosen[8],
            chosen[9:16],
        )
        self.linear_w = rng.uniform(0.5, 1.0, 6) * rng.choice([-1.0, 1.0], 6)
        self.innovations = 0.25 * rng.standard_normal((n_eras + _TRANSIENT_WINDOW, 7))
        missing = rng.choice(n_f, size=max(2, n_f // 20), replace=False)
        self.missing = np.zeros((n_eras, n_f), dtype=bool)
        self.missing[:, missing] = rng.random((n_eras, len(missing))) < _MISSING_ERA_SHARE
        self.aux = list(AUX_NAMES[: spec.n_aux_targets])
        if MAIN_AUX not in self.aux:
            self.aux[-1] = MAIN_AUX
        self.aux_features = [rng.choice(n_f, size=4, replace=False) for _ in self.aux]
        self.aux_weights = [rng.standard_normal(4) for _ in self.aux]
        self.aux_share = rng.uniform(0.4, 0.9, len(self.aux))
        self.aux_noise_corr = rng.uniform(0.3, 0.7, len(self.aux))
        self.targets = [TARGET_COL] + [f"target_{a}_{d}" for a in self.aux for d in (20, 60)]
        self.k = spec.signal_corr / math.sqrt(1 - spec.signal_corr**2)
        sets_rng = np.random.default_rng([seed, 2])
        small = set(self.linear[:3]) | set(sets_rng.choice(n_f, max(5, n_f // 12), replace=False))
        medium = small | set(sets_rng.choice(n_f, n_f // 2, replace=False))
        self.feature_sets = {
            "small": [f for i, f in enumerate(self.features) if i in small],
            "medium": [f for i, f in enumerate(self.features) if i in medium],
            "all": list(self.features),
        }
        for g in range(n_g):
            self.feature_sets[GROUP_NAMES[g]] = [
                f for f, grp in zip(self.features, self.group_of, strict=True) if grp == g
            ]

    def era(self, number: int, variant: int = 0) -> dict[str, np.ndarray]:
        """Features (features, n) int8, signal, stable signal and target columns of one era;
        `variant` > 0 draws another sample of the era (a live round's)."""
        spec, n = self.spec, int(self.rows[number - 1])
        if spec.persistence and number != self.next_era:
            raise RuntimeError(f"a persistent preset draws eras in order: {self.next_era} next")
        self.next_era = number + 1
        rng = np.random.default_rng([self.seed, 3, number, *([variant] if variant else [])])
        width = self.universe if spec.persistence else n
        shape = (spec.n_feature_groups, width)
        factors = self._persist("factors", rng.standard_normal(shape, dtype=np.float32))[:, :n]
        noise = rng.standard_normal((spec.n_features, width), dtype=np.float32)
        noise = self._persist("noise", noise)[:, :n]
        load = self.loading[:, None]
        features = _equal_bins(load * factors[self.group_of] + np.sqrt(1 - load**2) * noise)
        features[self.missing[number - 1]] = 2
        if self.spec.signal_on == "factors":  # every feature's slot reads its group's factor
            c = factors[self.group_of]
            absdev = (np.abs(c[self.absdev]) - 0.8) / 0.6
        else:
            c = _centred_bins(features)
            absdev = _abs_deviation(features[self.absdev])

        w = self.linear_w.copy()
        w[0] *= 1 if ((number - 1) // _REGIME_ERAS) % 2 == 0 else -1
        w[1] *= 1 + 0.8 * math.cos(2 * math.pi * number / _DRIFT_PERIOD)
        stable = w @ c[self.linear] + 0.6 * c[self.inter[0]] * c[self.inter[1]] + 0.6 * absdev
        transient_w = self.innovations[number - 1 : number - 1 + _TRANSIENT_WINDOW].sum(axis=0)
        signal = _standardize(stable + transient_w @ c[self.transient])

        main_noise = self._overlapping_shocks(rng.standard_normal(width))[:n]
        targets = {TARGET_COL: _target_bins(self.k * signal + main_noise)}
        nan_rows = rng.random(n) < _AUX_NAN_SHARE
        for j, name in enumerate(self.aux):
            own = _standardize(self.aux_weights[j] @ c[self.aux_features[j]])
            share = self.aux_share[j]
            aux_signal = _standardize(share * signal + math.sqrt(1 - share**2) * own)
            r = self.aux_noise_corr[j]
            noise_20 = r * main_noise + math.sqrt(1 - r**2) * rng.standard_normal(n)
            noise_60 = 0.6 * noise_20 + 0.8 * rng.standard_normal(n)
            if name == MAIN_AUX:
                t20 = targets[TARGET_COL]
            else:
                t20 = _target_bins(self.k * aux_signal + noise_20)
            t60 = _target_bins(0.8 * self.k * aux_signal + noise_60)
            if j % 2 and name != MAIN_AUX:  # every other aux target has missing rows
                t20[nan_rows] = np.nan
                t60[nan_rows] = np.nan
            targets[f"target_{name}_20"], targets[f"target_{name}_60"] = t20, t60
        meta = _uniform_ranks(_standardize(stable) + 1.2 * rng.standard_normal(n))
        # a GBDT's view of the planted signal: its stable part (trees miss the weekly weights)
        benchmark = _uniform_ranks(_standardize(stable) + 1.5 * rng.standard_normal(n))
        return {
            "features": features,
            "signal": signal,
            "meta": meta,
            "benchmark": benchmark,
            **targets,
        }

    def _persist(self, name: str, innovation: np.ndarray) -> np.ndarray:
        """An AR(1) step of a persistent state (unit variance), or the innovation itself."""
        p = self.spec.persistence
        if p and name in self.state:
            innovation = p * self.state[name] + math.sqrt(1 - p * p) * innovation
        if p:
            self.state[name] = innovation
        return innovation

    def _overlapping_shocks(self, shock: np.ndarray) -> np.ndarray:
        """Persistent presets: the sum of this and the 3 previous weekly shocks (unit variance);
        else the shock itself."""
        if not self.spec.persistence:
            return shock
        recent = np.vstack([self.state.get("shocks", np.empty((0, len(shock))))[-3:], shock])
        self.state["shocks"] = recent
        return recent.sum(axis=0) / math.sqrt(len(recent))


class _Sink:
    """A ParquetWriter that writes one row group per `eras_per_group` era tables."""

    def __init__(self, path: Path, schema: pa.Schema, eras_per_group: int) -> None:
        self.writer = pq.ParquetWriter(path, schema)
        self.schema, self.eras_per_group, self.pending = schema, eras_per_group, []

    def add(self, columns: dict[str, pa.Array | np.ndarray]) -> None:
        self.pending.append(pa.table(columns, schema=self.schema))
        if len(self.pending) >= self.eras_per_group:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            table = pa.concat_tables(self.pending)
            self.writer.write_table(table, row_group_size=max(1, table.num_rows))
            self.pending = []

    def close(self) -> None:
        self.flush()
        self.writer.close()


def _schema(columns: dict[str, str]) -> pa.Schema:
    """Arrow schema with pandas metadata making `id` the index (as in Numerai's files)."""
    sample = pd.DataFrame(
        {
            c: np.array(["x"], dtype=object) if d == "str" else np.zeros(1, dtype=d)
            for c, d in columns.items()
        },
        index=pd.Index(["x"], name=ID_COL),
    )
    return pa.Schema.from_pandas(sample, preserve_index=True)


def _write_dataset(out: Path, spec: SyntheticPreset, seed: int, version: str) -> None:
    model = _Planted(spec, seed)
    data_cols = {ERA_COL: "str", DATA_TYPE_COL: "str"}
    data_cols |= {f: "int8" for f in model.features}
    data_cols |= {t: "float32" for t in model.targets}
    data_schema = _schema(data_cols)
    per_group = spec.eras_per_row_group
    sinks = {
        kind: _Sink(out / f"{kind}.parquet", data_schema, per_group)
        for kind in ("train", "validation", "live")
    }
    signal_sink = _Sink(
        out / "synthetic_signal.parquet",
        _schema({ERA_COL: "str", SIGNAL_COL: "float32"}),
        per_group,
    )
    meta_sink = _Sink(
        out / "meta_model.parquet", _schema({ERA_COL: "str", META_MODEL_COL: "float32"}), per_group
    )
    benchmark = benchmark_column(version, f"target_{MAIN_AUX}_20")
    benchmark_schema = _schema({ERA_COL: "str", DATA_TYPE_COL: "str", benchmark: "float32"})
    benchmark_sinks = {
        kind: _Sink(out / f"{kind}_benchmark_models.parquet", benchmark_schema, per_group)
        for kind in ("validation", "live")
    }
    last_validation = spec.n_train_eras + spec.n_validation_eras
    for number in range(1, last_validation + 2):
        era = model.era(number)
        n = len(era["signal"])
        kind = (
            "train"
            if number <= spec.n_train_eras
            else "validation"
            if number <= last_validation
            else "live"
        )
        ids = pa.array(_ids(int(model.row_offset[number - 1]), n, model.id_key), pa.string())
        label = pa.array([era_label(number)] * n, pa.string())
        age = last_validation - number
        for target in model.targets:
            if kind == "live" or (
                kind == "validation"
                and age
                < (spec.unresolved_eras_60 if target.endswith("_60") else spec.unresolved_eras_20)
            ):
                era[target][:] = np.nan
        columns = {ERA_COL: label, DATA_TYPE_COL: pa.array([kind] * n, pa.string())}
        columns |= dict(zip(model.features, era["features"], strict=True))
        columns |= {t: era[t] for t in model.targets}
        sinks[kind].add({**columns, ID_COL: ids})
        signal_sink.add({ERA_COL: label, SIGNAL_COL: era["signal"].astype(np.float32), ID_COL: ids})
        if kind == "validation":
            meta_sink.add({ERA_COL: label, META_MODEL_COL: era["meta"], ID_COL: ids})
        if kind in benchmark_sinks:
            benchmark_sinks[kind].add(
                {
                    ERA_COL: label,
                    DATA_TYPE_COL: columns[DATA_TYPE_COL],
                    benchmark: era["benchmark"],
                    ID_COL: ids,
                }
            )
        if kind == "live":
            preds = pa.table(
                {PREDICTION_COL: era["meta"], ID_COL: ids},
                schema=_schema({PREDICTION_COL: "float32"}),
            )
            pq.write_table(preds, out / "live_example_preds.parquet")
    for sink in (*sinks.values(), signal_sink, meta_sink, *benchmark_sinks.values()):
        sink.close()
    meta = {"feature_sets": model.feature_sets, "targets": model.targets}
    (out / "features.json").write_text(json.dumps(meta, indent=1))


def write_synthetic_dataset(
    dest: Path, version: str = "v5.0", preset: str | SyntheticPreset = "demo", seed: int = 0
) -> Path:
    """Write a synthetic dataset to `dest/<version>/` (atomically) and return that folder."""
    spec = resolve_preset(preset)
    validate_version(version)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / version
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", suffix=".tmp", dir=dest))
    tmp.chmod(0o755)
    try:
        _write_dataset(tmp, spec, seed, version)
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{version}.", suffix=".old", dir=dest))
            os.replace(final, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, final)
        except OSError:
            if not is_complete(final):  # a concurrent writer that finished first is fine
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def planted_terms(
    features: np.ndarray,
    feature_names: list[str],
    preset: str | SyntheticPreset = "demo",
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Per row, the terms of the planted signal of the dataset written with `preset` and `seed`,
    from its (n, F) int8 `features` (columns `feature_names`): `linear_0`..`linear_5` (centred
    bins; `linear_0`'s weight flips sign every regime, `linear_1`'s drifts), `interaction` (a
    product of two features), `abs_deviation` (|bin - 2| of one feature) and `transient_0`..
    `transient_6` (weights that change every week: unpredictable behind an embargo). Within an
    era the signal is a linear combination of them when the preset's signal is on the features;
    on "factors" they are only the features' views of its terms. Lets a benchmark say which
    part of the signal a model learned."""
    planted = _Planted(resolve_preset(preset), seed)
    column = {name: i for i, name in enumerate(feature_names)}
    missing = sorted(set(planted.features) - set(column))
    if missing:
        raise DatasetError(
            f"the rows lack {len(missing)} features of the synthetic {preset!r} dataset (seed "
            f"{seed}), e.g. {missing[0]}: pass all of its feature columns"
        )

    def bins(j: int) -> np.ndarray:
        return features[:, column[planted.features[j]]]

    terms = {f"linear_{k}": _centred_bins(bins(j)) for k, j in enumerate(planted.linear)}
    terms["interaction"] = _centred_bins(bins(planted.inter[0])) * _centred_bins(
        bins(planted.inter[1])
    )
    terms["abs_deviation"] = _abs_deviation(bins(planted.absdev)).astype(np.float32)
    terms |= {f"transient_{k}": _centred_bins(bins(j)) for k, j in enumerate(planted.transient)}
    return terms


def read_signal(path: Path) -> pd.Series:
    """The noise-free planted signal per id (`synthetic_signal.parquet`): the oracle's prediction."""
    return pd.read_parquet(path, columns=[SIGNAL_COL])[SIGNAL_COL].astype("float64")


def write_synthetic_live(
    version_dir: Path, round_num: int, preset: str | SyntheticPreset = "demo", seed: int = 0
) -> Path:
    """The live file of round `round_num` for the dataset in `version_dir` (written with `preset`
    and `seed`): the era after the last validation era, drawn afresh for each round (stocks do
    not persist into it), with ids of its own; `live_<round>.parquet`, written atomically with
    its benchmark models file `live_benchmark_models_<round>.parquet`."""
    spec = replace(resolve_preset(preset), persistence=0.0)
    model = _Planted(spec, seed)
    number = spec.n_train_eras + spec.n_validation_eras + 1
    era = model.era(number, variant=round_num)
    n = len(era["signal"])
    labels = {
        ERA_COL: pa.array([era_label(number)] * n, pa.string()),
        DATA_TYPE_COL: pa.array(["live"] * n, pa.string()),
    }
    ids = pa.array(_ids(0, n, model.id_key ^ round_num), pa.string())
    columns = {
        **labels,
        **dict(zip(model.features, era["features"], strict=True)),
        **{t: np.full(n, np.nan, np.float32) for t in model.targets},
        ID_COL: ids,
    }
    dtypes = {ERA_COL: "str", DATA_TYPE_COL: "str"} | {f: "int8" for f in model.features}
    table = pa.table(columns, schema=_schema(dtypes | {t: "float32" for t in model.targets}))
    benchmark = benchmark_column(Path(version_dir).name, f"target_{MAIN_AUX}_20")
    benchmarks = pa.table(
        {**labels, benchmark: era["benchmark"], ID_COL: ids},
        schema=_schema({ERA_COL: "str", DATA_TYPE_COL: "str", benchmark: "float32"}),
    )
    path = Path(version_dir) / per_round_name(LIVE_FILE, round_num)
    with atomic_path(path.with_name(per_round_name(LIVE_BENCHMARK_FILE, round_num))) as tmp:
        pq.write_table(benchmarks, tmp)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path
