"""The synthetic generator: Numerai's files and schema, determinism, planted signal, NaN policy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numerai_tools.scoring import numerai_corr

from numerai_pipeline.core.schema import DatasetError
from numerai_pipeline.data import synthetic
from numerai_pipeline.data.loading import read_numerai_parquet
from numerai_pipeline.data.synthetic import (
    GROUP_NAMES,
    PRESETS,
    SYNTHETIC_FILES,
    SyntheticPreset,
    is_complete,
    planted_terms,
    write_synthetic_dataset,
)

TINY = PRESETS["tiny"]


@pytest.fixture(scope="module")
def frames(tiny_dataset: Path) -> dict[str, pd.DataFrame]:
    return {
        kind: read_numerai_parquet(tiny_dataset / f"{kind}.parquet")
        for kind in ("train", "validation", "live")
    }


def _features(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame if c.startswith("feature_")]


def test_writes_every_file(tiny_dataset: Path) -> None:
    assert tiny_dataset.name == "v5.0" and is_complete(tiny_dataset)
    assert sorted(p.name for p in tiny_dataset.iterdir()) == sorted(SYNTHETIC_FILES)
    assert not [p for p in tiny_dataset.parent.iterdir() if p.name.startswith(".")]


def test_same_seed_same_bytes_other_seed_other_data(tiny_dataset: Path, tmp_path: Path) -> None:
    again = write_synthetic_dataset(tmp_path / "a", "v5.0", "tiny", seed=0)
    for name in SYNTHETIC_FILES:
        assert (again / name).read_bytes() == (tiny_dataset / name).read_bytes(), name
    other = write_synthetic_dataset(tmp_path / "b", "v5.0", "tiny", seed=1)
    assert (other / "train.parquet").read_bytes() != (tiny_dataset / "train.parquet").read_bytes()


def test_layout_of_data_files(frames: dict[str, pd.DataFrame]) -> None:
    train, validation, live = frames["train"], frames["validation"], frames["live"]
    ids = pd.Index(np.concatenate([f.index for f in frames.values()]))
    assert ids.is_unique and all(re.fullmatch(r"n[0-9a-f]{15}", i) for i in ids)
    eras = [f"{i:04d}" for i in range(1, 58)]
    assert sorted(train["era"].unique()) == eras[:40]
    assert sorted(validation["era"].unique()) == eras[40:56]
    assert live["era"].unique().tolist() == ["0057"]
    for kind, frame in frames.items():
        assert frame["data_type"].unique().tolist() == [kind]
        assert list(frame.columns) == list(train.columns)
    assert 0.8 * TINY.rows_per_era <= train.groupby("era").size().min()
    assert len(_features(train)) == TINY.n_features
    assert all(re.fullmatch(r"feature_[a-z]+_[a-z]+_[a-z]+", f) for f in _features(train))


def test_features_are_equal_per_era_bins(frames: dict[str, pd.DataFrame]) -> None:
    train = frames["train"]
    features = _features(train)
    assert (train[features].dtypes == np.int8).all()
    for _, era in train.groupby("era"):
        for column in features:
            counts = np.bincount(era[column], minlength=5)
            assert counts.max() - counts.min() <= 1 or (counts[2] == len(era)), column


def test_missing_feature_eras_are_all_twos(frames: dict[str, pd.DataFrame]) -> None:
    train = frames["train"]
    features = _features(train)
    per_era = train.groupby("era")[features]
    all_twos = (per_era.min() == 2) & (per_era.max() == 2)
    assert all_twos.to_numpy().sum() >= 1
    assert all_twos.any().sum() >= 2 and not all_twos.all().any()


def test_features_correlate_within_groups(tiny_dataset: Path, frames) -> None:
    sets = json.loads((tiny_dataset / "features.json").read_text())["feature_sets"]
    corr = frames["train"][_features(frames["train"])].astype(float).corr()
    groups = [sets[g] for g in GROUP_NAMES[: TINY.n_feature_groups]]
    within = np.mean([corr.loc[g, g].to_numpy()[np.triu_indices(len(g), 1)].mean() for g in groups])
    across = corr.loc[groups[0], groups[1]].to_numpy().mean()
    assert within > 0.1 and abs(across) < 0.05


def test_targets_are_numerai_bins(frames: dict[str, pd.DataFrame]) -> None:
    train = frames["train"]
    targets = [c for c in train if c.startswith("target")]
    aux_names = {re.fullmatch(r"target_([a-z]+)_(20|60)", t).group(1) for t in targets[1:]}
    assert targets[0] == "target" and len(aux_names) >= 8 and len(targets) == 1 + 2 * len(aux_names)
    assert {"agnes", "claudia", "cyrusd", "victor", "teager"} <= aux_names
    assert (train[targets].dtypes == np.float32).all()
    assert set(np.unique(train[targets].stack())) == {0.0, 0.25, 0.5, 0.75, 1.0}
    shares = train["target"].value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(shares, [0.05, 0.2, 0.5, 0.2, 0.05], atol=0.02)
    pd.testing.assert_series_equal(train["target_cyrusd_20"], train["target"], check_names=False)


def test_target_nan_policy(frames: dict[str, pd.DataFrame]) -> None:
    train, validation, live = frames["train"], frames["validation"], frames["live"]
    assert train["target"].notna().all()
    aux_nan = train.filter(like="target_").isna().mean()
    assert (aux_nan > 0).sum() >= 4 and aux_nan.max() < 0.1
    nan_by_era = validation.filter(like="target").isna().groupby(validation["era"]).mean()
    cols_20 = ["target"] + [c for c in nan_by_era if c.endswith("_20")]
    cols_60 = [c for c in nan_by_era if c.endswith("_60")]
    assert (nan_by_era.loc[["0055", "0056"], cols_20] == 1).all().all()
    assert (nan_by_era.loc[["0053", "0054", "0055", "0056"], cols_60] == 1).all().all()
    assert (nan_by_era.loc[:"0054", "target"] == 0).all()
    assert (nan_by_era.loc[:"0052", cols_60] < 0.1).all().all()
    assert live.filter(like="target").isna().all().all()


def test_planted_signal_strength(tiny_dataset: Path, frames) -> None:
    signal = pd.read_parquet(tiny_dataset / "synthetic_signal.parquet")
    labeled = pd.concat([frames["train"], frames["validation"]]).dropna(subset=["target"])
    joined = labeled[["era", "target"]].join(signal["signal"])
    per_era = [numerai_corr(g[["signal"]], g["target"])["signal"] for _, g in joined.groupby("era")]
    assert len(per_era) == 54 and 0.03 <= np.mean(per_era) <= 0.10


def test_side_files(tiny_dataset: Path, frames: dict[str, pd.DataFrame]) -> None:
    signal = pd.read_parquet(tiny_dataset / "synthetic_signal.parquet")
    all_ids = np.concatenate([f.index for f in frames.values()])
    assert signal.index.name == "id" and sorted(signal.index) == sorted(all_ids)
    assert signal["signal"].dtype == np.float32 and list(signal.columns) == ["era", "signal"]

    meta = pd.read_parquet(tiny_dataset / "meta_model.parquet")
    assert sorted(meta.index) == sorted(frames["validation"].index)
    values = meta["numerai_meta_model"]
    assert values.dtype == np.float32 and values.between(0, 1, inclusive="neither").all()
    assert 0.3 < np.corrcoef(values.rank(), signal.loc[meta.index, "signal"].rank())[0, 1] < 0.9

    preds = pd.read_parquet(tiny_dataset / "live_example_preds.parquet")
    assert list(preds.columns) == ["prediction"] and preds.index.name == "id"
    assert sorted(preds.index) == sorted(frames["live"].index)
    assert preds["prediction"].between(0, 1, inclusive="neither").all()


def test_features_json(tiny_dataset: Path, frames: dict[str, pd.DataFrame]) -> None:
    meta = json.loads((tiny_dataset / "features.json").read_text())
    sets, features = meta["feature_sets"], _features(frames["train"])
    groups = list(GROUP_NAMES[: TINY.n_feature_groups])
    assert list(sets) == ["small", "medium", "all", *groups]
    assert sets["all"] == features
    assert set(sets["small"]) < set(sets["medium"]) < set(features)
    assert sorted(f for g in groups for f in sets[g]) == sorted(features)
    assert meta["targets"] == [c for c in frames["train"] if c.startswith("target")]


def test_custom_preset_and_unknown_preset(tmp_path: Path) -> None:
    small = SyntheticPreset(6, 6, 30, 16, 2, n_aux_targets=3, eras_per_row_group=2)
    folder = write_synthetic_dataset(tmp_path, "v5.2", small, seed=5)
    frame = read_numerai_parquet(folder / "train.parquet")
    assert folder.name == "v5.2" and frame["era"].nunique() == 6
    assert "target_cyrusd_20" in frame and len(_features(frame)) == 16
    with pytest.raises(
        DatasetError, match="unknown synthetic preset 'huge'.*tiny, demo, large, latent"
    ):
        write_synthetic_dataset(tmp_path, preset="huge")


def test_signal_on_factors_reads_the_latent_factors_not_the_features() -> None:
    """Same features either way; on "features" the signal is exactly linear in its `planted_terms`
    (R^2 = 1), on "factors" those terms, built from the binned features, explain it only in part."""
    r2, features = {}, {}
    for mode in ("features", "factors"):
        preset = SyntheticPreset(4, 2, 2000, 40, 4, signal_on=mode)
        planted = synthetic._Planted(preset, seed=3)
        era = planted.era(1)
        terms = planted_terms(era["features"].T, planted.features, preset, seed=3)
        n = era["features"].shape[1]
        assert len(terms) == 15 and all(t.shape == (n,) for t in terms.values())
        x = np.column_stack([np.ones(n), *terms.values()])
        fitted = x @ np.linalg.lstsq(x, era["signal"], rcond=None)[0]
        r2[mode] = 1 - np.var(era["signal"] - fitted) / np.var(era["signal"])
        features[mode] = era["features"]
    assert r2["features"] > 0.999 and r2["factors"] < 0.9, r2
    np.testing.assert_array_equal(features["features"], features["factors"])
    with pytest.raises(DatasetError, match="signal_on must be 'features' or 'factors'"):
        synthetic._Planted(SyntheticPreset(4, 2, 30, 16, 2, signal_on="rows"), seed=0)


def test_planted_terms_of_a_written_dataset_explain_its_signal(tiny_dataset: Path, frames) -> None:
    """The terms from the files' own rows (columns in any order) rebuild the saved signal per era;
    rows without all of the dataset's features are refused."""
    frame = frames["train"]
    names = _features(frame)[::-1]
    terms = planted_terms(frame[names].to_numpy(np.int8), names, "tiny", seed=0)
    signal = pd.read_parquet(tiny_dataset / "synthetic_signal.parquet")["signal"]
    worst = 1.0
    for era in ["0001", "0020", "0040"]:
        rows = (frame["era"] == era).to_numpy()
        x = np.column_stack([np.ones(rows.sum()), *(t[rows] for t in terms.values())])
        y = signal.loc[frame.index[rows]].to_numpy()
        fitted = x @ np.linalg.lstsq(x, y, rcond=None)[0]
        worst = min(worst, 1 - np.var(y - fitted) / np.var(y))
    assert worst > 0.999
    with pytest.raises(DatasetError, match="lack 1 features of the synthetic 'tiny'"):
        planted_terms(frame[names[1:]].to_numpy(np.int8), names[1:], "tiny", seed=0)


def test_rewrite_replaces_and_failure_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    small = SyntheticPreset(4, 6, 20, 16, 2, eras_per_row_group=2)
    first = write_synthetic_dataset(tmp_path, "v5.0", small, seed=1)
    before = (first / "train.parquet").read_bytes()
    write_synthetic_dataset(tmp_path, "v5.0", small, seed=2)
    assert (first / "train.parquet").read_bytes() != before and is_complete(first)

    def broken(out: Path, spec: SyntheticPreset, seed: int, version: str) -> None:
        (out / "train.parquet").write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(synthetic, "_write_dataset", broken)
    with pytest.raises(RuntimeError):
        write_synthetic_dataset(tmp_path, "v5.1", small)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v5.0"]


def test_persistent_stocks_keep_their_features_and_share_target_shocks() -> None:
    """With `persistence` the first rows of every era are the same stocks: their features move
    slowly and targets of eras fewer than 4 apart share shocks (independent from 4 apart); without
    it the same positions are unrelated. Eras must be drawn in order."""

    def same_stock_corr(persistence: float) -> tuple[float, float, float]:
        planted = synthetic._Planted(SyntheticPreset(12, 4, 600, 16, 2, persistence=persistence), 3)
        eras = [planted.era(number) for number in range(1, 10)]
        n = min(len(e["signal"]) for e in eras)
        first, next_, later = eras[4], eras[5], eras[8]
        features = np.mean(
            [
                np.corrcoef(first["features"][j, :n], next_["features"][j, :n])[0, 1]
                for j in range(16)
            ]
        )
        return (
            features,
            np.corrcoef(first["target"][:n], next_["target"][:n])[0, 1],
            np.corrcoef(first["target"][:n], later["target"][:n])[0, 1],
        )

    features, next_week, four_weeks = same_stock_corr(0.9)
    assert features > 0.7 and next_week > 0.5 and abs(four_weeks) < 0.15
    assert np.abs(same_stock_corr(0.0)).max() < 0.15
    planted = synthetic._Planted(SyntheticPreset(12, 4, 60, 16, 2, persistence=0.5), 3)
    with pytest.raises(RuntimeError, match="in order: 1 next"):
        planted.era(2)
    with pytest.raises(DatasetError, match="persistence must be in"):
        synthetic._Planted(SyntheticPreset(12, 4, 60, 16, 2, persistence=1.0), 3)
