"""The CV report: per-model per-era scores, summaries, comparisons, a table and a plot."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from numerai_pipeline.core.schema import ERA_COL, TARGET_COL
from numerai_pipeline.core.scoring import per_era_corr_table, standard_error
from numerai_pipeline.core.targets import target_span_eras
from numerai_pipeline.evaluation.metrics import (
    max_drawdown,
    per_era_contribution_table,
    per_era_max_feature_exposure,
    sharpe,
)
from numerai_pipeline.storage.atomic import atomic_write_text

REFERENCE_MODEL = "xgboost"
CONTRIBUTIONS = ("mmc", "bmc")
"""Contributions scored against reference models: MMC (meta model), BMC (Numerai's benchmark)."""
BENCHMARK = "benchmark"
"""The report's row of Numerai's benchmark model itself, on the eras its file covers."""
TARGET_SPAN = target_span_eras(TARGET_COL)
"""Standard errors count the covariance of eras whose main-target windows overlap."""


def _clean(value: float) -> float | None:
    """JSON-safe float (NaN -> None)."""
    return None if value is None or math.isnan(value) else float(value)


def era_scores(
    oof_by_model: dict[str, pd.DataFrame], references: dict[str, pd.Series] | None = None
) -> dict[str, dict[str, pd.Series]]:
    """Per model, its per-era CORR (`corr`) and its contribution to each reference model's
    predictions (by id), e.g. {"mmc": meta model, "bmc": benchmark}: empty where the reference
    covers none of its rows. Models on the same rows, eras and targets are scored together: one
    numerai-tools call per era for all of them."""
    scores: dict[str, dict[str, pd.Series]] = {}
    remaining = dict(oof_by_model)
    while remaining:
        first = next(iter(remaining.values()))
        rows = first[[ERA_COL, TARGET_COL]]  # `equals` compares the ids (index) too
        group = [name for name, oof in remaining.items() if oof[[ERA_COL, TARGET_COL]].equals(rows)]
        predictions = pd.DataFrame({name: remaining.pop(name)["prediction"] for name in group})
        targets, eras = first[TARGET_COL].to_numpy(), first[ERA_COL].to_numpy()
        tables = {"corr": per_era_corr_table(predictions, targets, eras)}
        for kind, values in (references or {}).items():
            reference = values.reindex(first.index).to_numpy(dtype="float64")
            tables[kind] = (
                per_era_contribution_table(predictions, reference, targets, eras)
                if np.isfinite(reference).any()
                else pd.DataFrame(columns=group, dtype="float64")
            )
        for name in group:
            scores[name] = {kind: table[name].rename(kind) for kind, table in tables.items()}
    return scores


def score_model(oof: pd.DataFrame, features: np.ndarray, scores: dict[str, pd.Series]) -> dict:
    """Summaries of one model's out-of-fold predictions (`era`, `target`, `prediction` by id) and
    its per-era scores (`era_scores`: CORR, and MMC/BMC where there are reference models).

    `features` holds the int8 features of `oof`'s rows in the same order (for feature exposure).
    """
    corr = scores["corr"]
    preds, eras = oof["prediction"].to_numpy(), oof[ERA_COL].to_numpy()
    exposure = per_era_max_feature_exposure(preds, features, eras)
    summary = {
        "corr_mean": _clean(corr.mean()),
        "corr_std": _clean(float(np.std(corr))),
        "corr_se": _clean(standard_error(corr, TARGET_SPAN)),
        "corr_sharpe": _clean(sharpe(corr)),
        "max_drawdown": _clean(max_drawdown(corr)),
    }
    for kind in CONTRIBUTIONS:
        values = scores.get(kind, pd.Series(dtype="float64"))
        summary[f"{kind}_mean"] = _clean(values.mean()) if len(values) else None
        summary[f"{kind}_eras"] = len(values)
    return summary | {
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
    benchmark: pd.Series | None = None,
) -> dict:
    """Score every model's out-of-fold predictions (CORR; MMC against `meta_model` and BMC
    against Numerai's `benchmark` predictions by id, where given), compare each with
    `reference` and each (model, baseline) pair of `comparisons` (e.g. an ablation) the same
    way. The benchmark model itself gets a row (`BENCHMARK`) on the rows its predictions cover.

    `features_for(index)` returns the int8 feature array of the given ids, in that order.
    """
    oof_by_model = dict(oof_by_model)
    if benchmark is not None and reference in oof_by_model:
        rows = oof_by_model[reference]
        covered = rows[rows.index.isin(benchmark.dropna().index)]
        if len(covered):
            oof_by_model[BENCHMARK] = covered.assign(prediction=benchmark.reindex(covered.index))
    references = {"mmc": meta_model, "bmc": benchmark}
    scores = era_scores(oof_by_model, {k: v for k, v in references.items() if v is not None})
    models = {
        name: score_model(oof, features_for(oof.index), scores[name])
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
    correlations = prediction_correlations(
        {name: oof for name, oof in oof_by_model.items() if name != BENCHMARK}
    )
    return {
        "reference_model": reference,
        "benchmark_column": None if benchmark is None else benchmark.name,
        "standard_error_target_span_eras": TARGET_SPAN,
        "models": models,
        "comparisons": compared,
        "prediction_correlations": json.loads(correlations.round(4).to_json()),
        "notes": notes or {},
    }


def prediction_correlations(oof_by_model: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Mean over eras of the Spearman correlation between each pair of models' predictions, on
    the rows every model scored (models x models)."""
    names = list(oof_by_model)
    common = oof_by_model[names[0]].index
    for frame in oof_by_model.values():
        common = common.intersection(frame.index)
    first = oof_by_model[names[0]].loc[common]
    joined = pd.DataFrame({n: oof_by_model[n]["prediction"].reindex(common) for n in names})
    ranked = joined.groupby(first[ERA_COL].to_numpy()).rank()
    per_era = ranked.groupby(first[ERA_COL].to_numpy()).corr()
    return per_era.groupby(level=1).mean().reindex(index=names, columns=names)


def ensemble_verdict(report: dict, ensemble: str, best: str, members: Sequence[str]) -> str:
    """Whether the `ensemble` row beat the best single model's CV CORR, with the numbers that say
    why not: the paired per-era difference, the drawdowns and how alike the `members`' predictions
    are (blending gains little over members that agree)."""
    if ensemble not in report["models"]:
        return f"No `{ensemble}` row: with one CV fold there are no earlier folds to choose from."
    vs = report["models"][ensemble].get("vs_" + best)
    if vs is None or vs["corr_diff_vs_reference_mean"] is None:
        return f"`{ensemble}` and `{best}` share no scored eras: no comparison."
    diff, se = vs["corr_diff_vs_reference_mean"], vs["corr_diff_vs_reference_se"] or float("nan")
    ahead = "ahead of" if diff > 0 else "behind"
    noise = " (within 2 SE: noise)" if abs(diff) < 2 * se else ""
    text = (
        f"CORR: `{ensemble}` is {ahead} `{best}`, the single model with the best CV CORR, by "
        f"{diff:+.4f} ± {se:.4f}{noise}"
    )
    if diff > 0:
        return text + "."
    corr = report["prediction_correlations"]
    pairs = [corr.get(a, {}).get(b) for i, a in enumerate(members) for b in members[i + 1 :]]
    pairs = [value for value in pairs if value is not None]
    dd = {name: report["models"][name]["max_drawdown"] for name in (ensemble, best)}
    if pairs:
        text += (
            f": the candidates' predictions correlate {min(pairs):.2f}-{max(pairs):.2f} per era"
            f" (mean {np.mean(pairs):.2f})"
        )
    return text + f"; max drawdown {_fmt(dd[ensemble], 3)} against {_fmt(dd[best], 3)}."


def _fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def report_markdown(report: dict) -> str:
    """The report for people, in tables narrow enough for Dagster's metadata panel: the champion,
    the headline numbers per model (the champion's row marked), then the paired comparisons."""
    champion = report.get("champion", {})
    served = champion.get("row")
    lines = []
    if report.get("main_target", "target") != "target":
        lines += [f"Scored against `target`, Numerai's `{report['main_target']}`.", ""]
    if champion:
        lines += [f"**Champion**: {champion['blend']}. {champion['reason']}.", ""]
    if report.get("ensemble", {}).get("verdict"):
        lines += [report["ensemble"]["verdict"], ""]
    lines += [
        "| model | CORR ± SE | Sharpe | max DD | MMC | BMC | exposure |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in report["models"].items():
        mark = " ★" if name == served else ""
        lines.append(
            f"| {name}{mark} | {_fmt(m['corr_mean'])} ± {_fmt(m['corr_se'])} "
            f"| {_fmt(m['corr_sharpe'], 2)} | {_fmt(m['max_drawdown'], 3)} "
            f"| {_fmt(m['mmc_mean'])} | {_fmt(m.get('bmc_mean'))} "
            f"| {_fmt(m['feature_exposure_max'], 2)} |"
        )
    covered = {
        kind: max((m.get(f"{kind}_eras", 0) for m in report["models"].values()), default=0)
        for kind in CONTRIBUTIONS
    }
    parts = [f"{kind.upper()} on {n} eras" for kind, n in covered.items() if n]
    if covered["bmc"] and report.get("benchmark_column"):
        parts[-1] += f" (against `{report['benchmark_column']}`)"
    if parts:
        lines += ["", f"{'; '.join(parts)}: the eras the reference files cover."]
    ref = report.get("reference_model", REFERENCE_MODEL)
    pairs = [tuple(p) for p in report.get("comparisons", [])]
    pairs += [(n, ref) for n, m in report["models"].items() if "vs_" + ref in m]
    if pairs:
        lines += ["", "| paired comparison | CORR diff ± SE | prediction corr |", "|---|---|---|"]
    for name, baseline in dict.fromkeys(pairs):
        vs = report["models"][name]["vs_" + baseline]
        lines.append(
            f"| {name} - {baseline} | {_fmt(vs['corr_diff_vs_reference_mean'])} "
            f"± {_fmt(vs['corr_diff_vs_reference_se'])} "
            f"| {_fmt(vs['prediction_corr_with_reference'], 3)} |"
        )
    return "\n".join(lines)


def write_report_files(report: dict, folder: Path) -> dict[str, Path]:
    """`cv_report.json` and the report's plots (PNG) in `folder`, each written atomically."""
    from numerai_pipeline.evaluation import plots

    paths = {
        "json": atomic_write_text(Path(folder) / "cv_report.json", json.dumps(report, indent=2))
    }
    paths["cumulative_corr"] = plots.cumulative_corr(
        report, Path(folder) / "cv_cumulative_corr.png"
    )
    paths["champion_per_era"] = plots.champion_per_era(
        report, Path(folder) / "champion_per_era.png"
    )
    paths["model_correlations"] = plots.model_correlations(
        report, Path(folder) / "model_correlations.png"
    )
    if report.get("ensemble", {}).get("folds"):
        paths["ensemble_weights"] = plots.ensemble_weights(
            report, Path(folder) / "ensemble_weights.png"
        )
    return paths
