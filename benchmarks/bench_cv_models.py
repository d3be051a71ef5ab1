"""Walk-forward CV of the tournament models on a Numerai-format dataset (default: the demo
synthetic data), the pipeline's folds exactly: per-era CORR mean ± SE per model, the paired
per-era difference to XGBoost ± SE, the per-era correlation of predictions with XGBoost's, fit
seconds, and on synthetic data the oracle's CORR and each model's per-era correlation with the
planted noise-free signal, r(oracle): a far less noisy measure of what a model learned than CORR
with the noisy target (a model's CORR is about r(oracle) x the oracle's CORR). `--set seed=N`
seeds every model; `--cache` keys predictions by each model's config.

    python benchmarks/bench_cv_models.py [--data DIR | --synthetic demo|latent|persistent] [--folds 4] [--embargo 8]
        [--models xgboost,mtm,...]
        [--preset cpu_demo] [--set lr=3e-3 --set d_model=48] [--cache DIR] [--threads 2]
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from numerai_pipeline.data.eras import sorted_eras
from numerai_pipeline.data.loading import read_numerai_parquet
from numerai_pipeline.data.schema import feature_columns, target_columns
from numerai_pipeline.data.synthetic import (
    is_complete,
    planted_terms,
    read_signal,
    resolve_preset,
    write_synthetic_dataset,
)
from numerai_pipeline.evaluation.cv import era_cv_splits
from numerai_pipeline.evaluation.metrics import per_era_corr, standard_error
from numerai_pipeline.evaluation.report import TARGET_SPAN
from numerai_pipeline.models.base import TrainingData
from numerai_pipeline.models.mlp import MLPConfig, MLPModel
from numerai_pipeline.models.mtm import MTMConfig
from numerai_pipeline.models.mtm_training import MTMModel
from numerai_pipeline.models.ridge import RidgeModel
from numerai_pipeline.models.xgb import XGBoostConfig, XGBoostModel

Model = XGBoostModel | RidgeModel | MLPModel | MTMModel

MODELS = ("xgboost", "ridge", "mtm", "mtm_no_pretrain", "mlp")
"""`ridge` (closed form on ordinal values) is the linear reference, not a pipeline model."""


def load_rows(folder: Path) -> tuple[TrainingData, pd.Series | None]:
    """Labeled train + validation rows (int8 features, targets with the main one first, sorted by
    era) and the synthetic oracle signal per row when the folder has one."""
    frames = []
    for name in ("train.parquet", "validation.parquet"):
        frame = read_numerai_parquet(folder / name)
        frames.append(frame[frame["target"].notna()])
    frame = pd.concat(frames)
    rank = {era: i for i, era in enumerate(sorted_eras(frame["era"].unique()))}
    frame = frame.iloc[np.argsort(frame["era"].map(rank).to_numpy(), kind="stable")]
    features = feature_columns(frame.columns)
    targets = ["target"] + [t for t in target_columns(frame.columns) if t != "target"]
    data = TrainingData(
        frame[features].to_numpy(np.int8),
        frame[targets].to_numpy(np.float32),
        frame["era"].to_numpy(object),
        features,
        targets,
        frame.index.to_numpy(),
    )
    signal_path = folder / "synthetic_signal.parquet"
    signal = read_signal(signal_path).reindex(frame.index) if signal_path.exists() else None
    return data, signal


def make_model(name: str, config: MTMConfig) -> Model:
    """A model as the pipeline builds it: XGBoost and the MLP take the MTM config's seed, and the
    MLP its selection stride (as the `compute` resource gives it)."""
    if name == "xgboost":
        return XGBoostModel(XGBoostConfig(seed=config.seed))
    if name == "ridge":
        return RidgeModel()
    if name == "mlp":
        stride = config.selection_era_stride
        return MLPModel(MLPConfig(seed=config.seed, selection_era_stride=stride))
    return MTMModel(config, pretrain=name == "mtm")


def config_tag(model: Model, folder: Path) -> str:
    """A short hash of a model's config and the dataset folder: the cache key of its predictions
    (synthetic presets of the same size share row counts, so the folder must be in the key)."""
    values = json.dumps([asdict(model.config), str(folder.resolve())], sort_keys=True, default=str)
    return hashlib.blake2b(values.encode(), digest_size=6).hexdigest()


def prediction_corr(a: np.ndarray, b: np.ndarray, eras: np.ndarray) -> float:
    """Mean per-era Pearson correlation of two prediction vectors."""
    frame = pd.DataFrame({"a": a, "b": b, "era": eras})
    return float(frame.groupby("era")[["a", "b"]].apply(lambda g: g["a"].corr(g["b"])).mean())


def print_learned_terms(
    preds: dict[str, np.ndarray], oracle: np.ndarray, data: TrainingData, preset: str
) -> None:
    """Per-era correlation of each model's (and the oracle's) predictions with each stable term
    of the planted signal: which part of the signal a model learned (transient terms left out)."""
    terms = planted_terms(data.features, data.feature_names, preset, seed=0)
    columns = {**preds, "oracle": oracle}
    print(f"\nper-era correlation with the terms of the planted signal ({preset}):")
    print(f"{'term':14s}" + "".join(f" {name:>15s}" for name in columns))
    for term, values in terms.items():
        if not term.startswith("transient"):
            row = [prediction_corr(p, values, data.eras) for p in columns.values()]
            print(f"{term:14s}" + "".join(f" {r:15.3f}" for r in row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="a Numerai-format folder (default: synthetic)")
    parser.add_argument("--synthetic", default="demo", help="synthetic preset without --data")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument(
        "--embargo", type=int, default=8, help="eras between training and scoring (0: leaks)"
    )
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--preset", default="cpu_demo")
    parser.add_argument("--set", action="append", default=[], help="MTMConfig field=value")
    parser.add_argument("--cache", type=Path, help="reuse/save predictions per model and fold")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = getattr(MTMConfig, args.preset)()
    for item in args.set:
        key, value = item.split("=", 1)
        setattr(config, key, ast.literal_eval(value))
    folder = args.data or Path(tempfile.gettempdir()) / "bench_cv" / args.synthetic / "v5.0"
    if args.data is None and not is_complete(folder):
        write_synthetic_dataset(folder.parent, "v5.0", args.synthetic, seed=0)
    data, signal = load_rows(folder)
    folds = era_cv_splits(
        sorted_eras(np.unique(data.eras)), n_folds=args.folds, embargo=args.embargo
    )
    print(f"{len(data.eras)} rows, {data.features.shape[1]} features; MTM config: {config}")

    names = args.models.split(",")
    preds = {n: [] for n in names}
    fit_s = {n: [] for n in names}
    test_rows = []
    for fold in folds:
        train = data.select_eras(np.array(fold.train_eras))
        test_mask = np.isin(data.eras, fold.test_eras)
        test_rows.append(np.flatnonzero(test_mask))
        print(fold.describe(), flush=True)
        for name in names:
            model = make_model(name, config)
            key = f"{name}-{config_tag(model, folder)}-{fold.name}-{fold.train_eras[-1]}.npz"
            cached = args.cache / key if args.cache else None
            if cached and cached.exists():
                saved = np.load(cached)
                preds[name].append(saved["pred"])
                fit_s[name].append(float(saved["fit_s"]))
                continue
            start = time.perf_counter()
            model.fit(train)
            seconds = time.perf_counter() - start
            pred = model.predict(data.features[test_mask], data.eras[test_mask])
            preds[name].append(pred)
            fit_s[name].append(seconds)
            extra = f" selected {model.selected}" if hasattr(model, "selected") else ""
            extra += f" penalty {model.penalty:g}" if isinstance(model, RidgeModel) else ""
            score = per_era_corr(pred, data.main_target[test_mask], data.eras[test_mask]).mean()
            print(f"  {name}: fit {seconds:.0f} s, CORR {score:.4f}{extra}", flush=True)
            if cached:
                cached.parent.mkdir(parents=True, exist_ok=True)
                np.savez(cached, pred=pred, fit_s=seconds)

    rows = np.concatenate(test_rows)
    eras, target = data.eras[rows], data.main_target[rows]
    scores = {n: per_era_corr(np.concatenate(preds[n]), target, eras) for n in names}
    base = np.concatenate(preds["xgboost"]) if "xgboost" in names else None
    print(f"\n{len(np.unique(eras))} test eras over {len(folds)} folds")
    oracle = None if signal is None else signal.to_numpy()[rows]
    print(
        f"{'model':16s} {'CORR ± SE':>17s} {'- xgboost ± SE':>18s} {'r(xgb)':>7s} {'fit s':>6s}"
        + ("" if oracle is None else f" {'r(oracle)':>9s}")
    )
    for name in names:
        s = scores[name]
        line = f"{name:16s} {s.mean():8.4f} ± {standard_error(s, TARGET_SPAN):.4f}"
        if base is not None and name != "xgboost":
            diff = s - scores["xgboost"]
            r = prediction_corr(np.concatenate(preds[name]), base, eras)
            line += f" {diff.mean():+9.4f} ± {standard_error(diff, TARGET_SPAN):.4f} {r:7.3f}"
        else:
            line += " " * 26
        line += f" {np.mean(fit_s[name]):6.1f}"
        if oracle is not None:
            line += f" {prediction_corr(np.concatenate(preds[name]), oracle, eras):9.3f}"
        print(line)
    if {"mtm", "mtm_no_pretrain"} <= set(names):
        diff = scores["mtm"] - scores["mtm_no_pretrain"]
        print(
            f"{'mtm - no_pretrain':16s} {diff.mean():+8.4f} ± {standard_error(diff, TARGET_SPAN):.4f} (paired)"
        )
    if oracle is not None:
        s = per_era_corr(oracle, target, eras)
        print(f"{'oracle':16s} {s.mean():8.4f} ± {standard_error(s, TARGET_SPAN):.4f}")
        if args.data is None and resolve_preset(args.synthetic).signal_on == "features":
            tested = {n: np.concatenate(preds[n]) for n in names}
            print_learned_terms(tested, oracle, data.select_eras(np.unique(eras)), args.synthetic)


if __name__ == "__main__":
    main()
