"""The CV report: per-model per-era scores, summaries, comparisons, a table and a plot."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from numerai_pipeline.data.schema import ERA_COL, TARGET_COL
from numerai_pipeline.evaluation.cv import target_span_eras
from numerai_pipeline.evaluation.metrics import (
    max_drawdown,
    per_era_corr_table,
    per_era_max_feature_exposure,
    per_era_mmc_table,
    sharpe,
    standard_error,
)
from numerai_pipeline.storage.atomic import atomic_path

REFERENCE_MODEL = "xgboost"
TARGET_SPAN = target_span_eras(TARGET_COL)
"""Standard errors count the covariance of eras whose main-target windows overlap."""


def _clean(value: float) -> float | None:
    """JSON-safe float (NaN -> None)."""
    return None if value is None or math.isnan(value) else float(value)


def era_scores(
    oof_by_model: dict[str, pd.DataFrame], meta_model: pd.Series | None = None
) -> dict[str, tuple[pd.Series, pd.Series]]:
    """Per-era CORR and MMC (empty without meta-model values) of each model's out-of-fold
    predictions. Models on the same rows, eras and targets are scored together: one numerai-tools
    call per era for all of them."""
    scores: dict[str, tuple[pd.Series, pd.Series]] = {}
    remaining = dict(oof_by_model)
    while remaining:
        first = next(iter(remaining.values()))
        rows = first[[ERA_COL, TARGET_COL]]  # `equals` compares the ids (index) too
        group = [name for name, oof in remaining.items() if oof[[ERA_COL, TARGET_COL]].equals(rows)]
        predictions = pd.DataFrame({name: remaining.pop(name)["prediction"] for name in group})
        targets, eras = first[TARGET_COL].to_numpy(), first[ERA_COL].to_numpy()
        corr = per_era_corr_table(predictions, targets, eras)
        mmc = pd.DataFrame(columns=group, dtype="float64")
        if meta_model is not None:
            meta = meta_model.reindex(first.index).to_numpy()
            if np.isfinite(meta).any():
                mmc = per_era_mmc_table(predictions, meta, targets, eras)
        for name in group:
            scores[name] = (corr[name].rename("corr"), mmc[name].rename("mmc"))
    return scores


def score_model(oof: pd.DataFrame, features: np.ndarray, corr: pd.Series, mmc: pd.Series) -> dict:
    """Summaries of one model's out-of-fold predictions (`era`, `target`, `prediction` by id) and
    its per-era CORR and MMC (`era_scores`).

    `features` holds the int8 features of `oof`'s rows in the same order (for feature exposure).
    """
    preds, eras = oof["prediction"].to_numpy(), oof[ERA_COL].to_numpy()
    exposure = per_era_max_feature_exposure(preds, features, eras)
    return {
        "corr_mean": _clean(corr.mean()),
        "corr_std": _clean(float(np.std(corr))),
        "corr_se": _clean(standard_error(corr, TARGET_SPAN)),
        "corr_sharpe": _clean(sharpe(corr)),
        "max_drawdown": _clean(max_drawdown(corr)),
        "mmc_mean": _clean(mmc.mean()) if len(mmc) else None,
        "mmc_eras": len(mmc),
        "feature_exposure_max": _clean(exposure.mean()),
        "n_eras": len(corr),
        "n_rows": len(oof),
        "per_era": {str(era): float(v) for era, v in corr.items()},
    }


def compare_to_reference(
    oof: pd.DataFrame, reference: pd.DataFrame, per_era: dict, reference_per_era: dict
) -> dict:
    """Per-era correlation of predictions with the reference model's, and the paired per-era
    CORR difference to it (`per_era` - `reference_per_era`) as mean and standard error
    (differences inside ~2 SE are noise)."""
    joined = oof[[ERA_COL, "prediction"]].join(reference[["prediction"]], rsuffix="_ref")
    pred_corr = pd.Series(
        {
            era: g["prediction"].corr(g["prediction_ref"], method="spearman")
            for era, g in joined.groupby(ERA_COL)
        }
    )
    diff = (pd.Series(per_era) - pd.Series(reference_per_era)).dropna()
    return {
        "prediction_corr_with_reference": _clean(pred_corr.mean()),
        "corr_diff_vs_reference_mean": _clean(diff.mean()) if len(diff) else None,
        "corr_diff_vs_reference_se": _clean(standard_error(diff, TARGET_SPAN))
        if len(diff) > 1
        else None,
    }


def build_cv_report(
    oof_by_model: dict[str, pd.DataFrame],
    features_for: Callable[[pd.Index], np.ndarray],
    meta_model: pd.Series | None = None,
    reference: str = REFERENCE_MODEL,
    notes: dict[str, str] | None = None,
    comparisons: Sequence[tuple[str, str]] = (),
) -> dict:
    """Score every model's out-of-fold predictions, compare each with `reference` and each
    (model, baseline) pair of `comparisons` (e.g. an ablation) the same way.

    `features_for(index)` returns the int8 feature array of the given ids, in that order.
    """
    scores = era_scores(oof_by_model, meta_model)
    models = {
        name: score_model(oof, features_for(oof.index), *scores[name])
        for name, oof in oof_by_model.items()
    }
    wanted = [tuple(pair) for pair in comparisons]
    compared = []
    for name, baseline in [(name, reference) for name in oof_by_model] + wanted:
        if name == baseline or name not in models or baseline not in models:
            continue
        oof, base = oof_by_model[name], oof_by_model[baseline]
        if oof[TARGET_COL].equals(base[TARGET_COL].reindex(oof.index)):  # paired: same targets
            models[name]["vs_" + baseline] = compare_to_reference(
                oof, base, models[name]["per_era"], models[baseline]["per_era"]
            )
            if (name, baseline) in wanted:
                compared.append([name, baseline])
    return {
        "reference_model": reference,
        "standard_error_target_span_eras": TARGET_SPAN,
        "models": models,
        "comparisons": compared,
        "notes": notes or {},
    }


def report_table(report: dict) -> str:
    """A markdown table of the headline numbers per model, with the comparison to the reference."""
    ref = report.get("reference_model", REFERENCE_MODEL)
    header = (
        f"| model | CORR mean ± SE | Sharpe | max drawdown | MMC mean | max feature exposure "
        f"| eras | corr with {ref} | CORR - {ref} ± SE |\n|---|---|---|---|---|---|---|---|---|"
    )

    def fmt(value: float | None, digits: int = 4) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    rows = []
    for name, m in report["models"].items():
        vs = m.get("vs_" + ref, {})
        rows.append(
            f"| {name} | {fmt(m['corr_mean'])} ± {fmt(m['corr_se'])} | {fmt(m['corr_sharpe'], 2)} "
            f"| {fmt(m['max_drawdown'])} | {fmt(m['mmc_mean'])} "
            f"| {fmt(m['feature_exposure_max'], 3)} | {m['n_eras']} "
            f"| {fmt(vs.get('prediction_corr_with_reference'), 3)} "
            f"| {fmt(vs.get('corr_diff_vs_reference_mean'))} "
            f"± {fmt(vs.get('corr_diff_vs_reference_se'))} |"
        )
    lines = [header, *rows]
    if report.get("comparisons"):
        lines += [
            "",
            "| paired comparison | CORR difference ± SE | prediction corr |",
            "|---|---|---|",
        ]
        for name, baseline in report["comparisons"]:
            vs = report["models"][name]["vs_" + baseline]
            lines.append(
                f"| {name} - {baseline} | {fmt(vs['corr_diff_vs_reference_mean'])} "
                f"± {fmt(vs['corr_diff_vs_reference_se'])} "
                f"| {fmt(vs['prediction_corr_with_reference'], 3)} |"
            )
    return "\n".join(lines)


def plot_cumulative_corr(report: dict, path: Path) -> Path:
    """Cumulative per-era CORR of every model, saved as a PNG (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for name, model in report["models"].items():
        per_era = pd.Series(model["per_era"])
        ax.plot(range(len(per_era)), per_era.cumsum().to_numpy(), label=name)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("scored era (walk-forward CV, chronological)")
    ax.set_ylabel("cumulative CORR")
    ax.set_title("Out-of-fold cumulative CORR per model")
    ax.legend(loc="upper left")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path
