"""Walk-forward CV of the tournament models on a Numerai-format dataset (default: the demo
synthetic data), the pipeline's folds exactly: per-era CORR mean ± SE per model, the paired
per-era difference to XGBoost ± SE, the per-era correlation of predictions with XGBoost's, fit
seconds, and on synthetic data the oracle's CORR and each model's per-era correlation with the
planted noise-free signal, r(oracle): a far less noisy measure of what a model learned than CORR
with the noisy target (a model's CORR is about r(oracle) x the oracle's CORR). `--set seed=N`
seeds every model; `--cache` keys predictions by each model's configs. Models are built as the
pipeline's roster builds them, from the neural preset (without the rows lacking targets the MTM
pretrains on in the pipeline); the RNN reads an era context built from the loaded rows. Fit
seconds include the fold's prediction.

    python benchmarks/bench_cv_models.py [--data DIR | --synthetic demo|latent|persistent|tiny]
        [--folds 4] [--embargo 8] [--models xgboost,mtm,...] [--preset cpu_demo|gpu|tiny]
        [--set lr=3e-3 --set mtm.d_model=48] [--cache DIR] [--threads 2]
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import tempfile
import time
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from numerai_pipeline.core.eras import sorted_eras
from numerai_pipeline.core.folds import EraFold, era_cv_splits
from numerai_pipeline.core.schema import feature_columns, target_columns
from numerai_pipeline.core.scoring import per_era_corr, standard_error
from numerai_pipeline.core.training_data import TrainingData
from numerai_pipeline.data.loading import read_numerai_parquet
from numerai_pipeline.data.synthetic import (
    is_complete,
    planted_terms,
    read_signal,
    resolve_preset,
    write_synthetic_dataset,
)
from numerai_pipeline.evaluation.oof import fold_predictions
from numerai_pipeline.evaluation.report import TARGET_SPAN
from numerai_pipeline.features.era_context import era_context_of_rows
from numerai_pipeline.models.base import TournamentModel
from numerai_pipeline.models.device import select_device
from numerai_pipeline.models.roster import PRESETS, SPECS, ModelInputs, NeuralPreset
from numerai_pipeline.models.training import NeuralModel
from numerai_pipeline.models.xgb import XGBoostConfig, XGBoostModel

MODELS = ("xgboost", "ridge", "mtm", "mtm_no_pretrain", "mlp", "rnn", "rnn_no_context")


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


def preset_configs(name: str, items: list[str]) -> tuple[NeuralPreset, int]:
    """The neural preset with `field=value` items applied, and the seed: `seed=N` seeds every
    model, `config.field=value` sets one config's field (`mtm`, `mtm_train`, `mlp`, `rnn`,
    `row_train`) and `field=value` every config that has it."""
    values = dict(item.split("=", 1) for item in items)
    seed = int(values.pop("seed", 0))
    preset = NeuralPreset.named(name, seed)
    configs = {f.name: getattr(preset, f.name) for f in fields(preset)}
    for key, value in values.items():
        owner, _, field = key.rpartition(".")
        targets = [configs[owner]] if owner else list(configs.values())
        targets = [c for c in targets if hasattr(c, field)]
        if not targets:
            raise SystemExit(f"--set {key}: not a field of the {', '.join(configs)} configs")
        for config in targets:
            setattr(config, field, ast.literal_eval(value))
    return preset, seed


def make_model(name: str, inputs: ModelInputs, seed: int) -> TournamentModel:
    """A model as the pipeline's roster builds it; XGBoost also takes the seed."""
    if name == "xgboost":
        return XGBoostModel(XGBoostConfig(n_estimators=inputs.xgboost_trees, seed=seed))
    return SPECS[name].make(inputs)


def config_tag(model: TournamentModel, folder: Path) -> str:
    """A short hash of a model's configs and the dataset folder: the cache key of its predictions
    (synthetic presets of the same size share row counts, so the folder must be in the key)."""
    configs = [asdict(model.config)]
    if isinstance(model, NeuralModel):
        configs.append(asdict(model.train_config))
    values = json.dumps([model.name, configs, str(folder.resolve())], sort_keys=True, default=str)
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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="a Numerai-format folder (default: synthetic)")
    parser.add_argument("--synthetic", default="demo", help="synthetic preset without --data")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument(
        "--embargo", type=int, default=8, help="eras between training and scoring (0: leaks)"
    )
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--preset", default="cpu_demo", choices=PRESETS)
    parser.add_argument(
        "--set", action="append", default=[], help="[config.]field=value, or seed=N"
    )
    parser.add_argument("--cache", type=Path, help="reuse/save predictions per model and fold")
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


def cross_validate(
    names: list[str],
    data: TrainingData,
    folds: list[EraFold],
    inputs: ModelInputs,
    seed: int,
    tag_folder: Path,
    cache: Path | None,
) -> tuple[dict[str, list[np.ndarray]], dict[str, list[float]], list[np.ndarray]]:
    """Per model, the test predictions and fit seconds of each fold (from `cache` when there),
    and each fold's test rows."""
    preds: dict[str, list[np.ndarray]] = {n: [] for n in names}
    fit_s: dict[str, list[float]] = {n: [] for n in names}
    test_rows = []
    for fold in folds:
        test_mask = np.isin(data.eras, fold.test_eras)
        test_rows.append(np.flatnonzero(test_mask))
        print(fold.describe(), flush=True)
        for name in names:
            model = make_model(name, inputs, seed)
            key = f"{name}-{config_tag(model, tag_folder)}-{fold.name}-{fold.train_eras[-1]}.npz"
            cached = cache / key if cache else None
            if cached and cached.exists():
                saved = np.load(cached)
                preds[name].append(saved["pred"])
                fit_s[name].append(float(saved["fit_s"]))
                continue
            start = time.perf_counter()
            result = fold_predictions(model, data, fold)
            seconds = time.perf_counter() - start
            pred = result.predictions["prediction"].to_numpy()
            preds[name].append(pred)
            fit_s[name].append(seconds)
            extra = f" schedule {result.schedule}" if result.schedule else ""
            score = per_era_corr(pred, data.main_target[test_mask], data.eras[test_mask]).mean()
            print(f"  {name}: fit {seconds:.0f} s, CORR {score:.4f}{extra}", flush=True)
            if cached:
                cached.parent.mkdir(parents=True, exist_ok=True)
                np.savez(cached, pred=pred, fit_s=seconds)
    return preds, fit_s, test_rows


def print_summary(
    names: list[str],
    preds: dict[str, np.ndarray],
    fit_s: dict[str, list[float]],
    eras: np.ndarray,
    target: np.ndarray,
    oracle: np.ndarray | None,
) -> None:
    """The table of CORR ± SE, the paired difference to XGBoost, r(xgb), fit seconds and
    r(oracle); the paired MTM pretraining and RNN context differences."""
    scores = {n: per_era_corr(preds[n], target, eras) for n in names}
    base = preds.get("xgboost")
    print(
        f"{'model':16s} {'CORR ± SE':>17s} {'- xgboost ± SE':>18s} {'r(xgb)':>7s} {'fit s':>6s}"
        + ("" if oracle is None else f" {'r(oracle)':>9s}")
    )
    for name in names:
        s = scores[name]
        line = f"{name:16s} {s.mean():8.4f} ± {standard_error(s, TARGET_SPAN):.4f}"
        if base is not None and name != "xgboost":
            diff = s - scores["xgboost"]
            r = prediction_corr(preds[name], base, eras)
            line += f" {diff.mean():+9.4f} ± {standard_error(diff, TARGET_SPAN):.4f} {r:7.3f}"
        else:
            line += " " * 26
        line += f" {np.mean(fit_s[name]):6.1f}"
        if oracle is not None:
            line += f" {prediction_corr(preds[name], oracle, eras):9.3f}"
        print(line)
    for model, ablation, label in (
        ("mtm", "mtm_no_pretrain", "mtm - no_pretrain"),
        ("rnn", "rnn_no_context", "rnn - no_context"),
    ):
        if {model, ablation} <= set(names):
            diff = scores[model] - scores[ablation]
            se = standard_error(diff, TARGET_SPAN)
            print(f"{label:16s} {diff.mean():+8.4f} ± {se:.4f} (paired)")


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    preset, seed = preset_configs(args.preset, args.set)
    folder = args.data or Path(tempfile.gettempdir()) / "bench_cv" / args.synthetic / "v5.0"
    if args.data is None and not is_complete(folder):
        write_synthetic_dataset(folder.parent, "v5.0", args.synthetic, seed=0)
    data, signal = load_rows(folder)
    folds = era_cv_splits(
        sorted_eras(np.unique(data.eras)), n_folds=args.folds, embargo=args.embargo
    )
    print(f"{len(data.eras)} rows, {data.features.shape[1]} features; neural preset: {preset}")

    names = args.models.split(",")
    context = era_context_of_rows(data, {}) if {"rnn", "rnn_no_context"} & set(names) else None
    inputs = ModelInputs(preset, device=str(select_device()), era_context=context)
    preds, fit_s, test_rows = cross_validate(names, data, folds, inputs, seed, folder, args.cache)
    rows = np.concatenate(test_rows)
    eras, target = data.eras[rows], data.main_target[rows]
    print(f"\n{len(np.unique(eras))} test eras over {len(folds)} folds")
    oracle = None if signal is None else signal.to_numpy()[rows]
    tested = {n: np.concatenate(preds[n]) for n in names}
    print_summary(names, tested, fit_s, eras, target, oracle)
    if oracle is not None:
        s = per_era_corr(oracle, target, eras)
        print(f"{'oracle':16s} {s.mean():8.4f} ± {standard_error(s, TARGET_SPAN):.4f}")
        if args.data is None and resolve_preset(args.synthetic).signal_on == "features":
            print_learned_terms(tested, oracle, data.select_eras(np.unique(eras)), args.synthetic)


if __name__ == "__main__":
    main()
