"""The CV report's figures as PNG files: cumulative CORR of every model, the champion's per-era
CORR, the correlation matrix of the models' predictions, the ensemble's weights per fold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from numerai_pipeline.storage.atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    _pyplot().close(fig)
    return path


def cumulative_corr(report: dict, path: Path) -> Path:
    """Cumulative per-era CORR of every model over the scored eras (chronological)."""
    fig, ax = _pyplot().subplots(figsize=(9, 4.5))
    eras = sorted({e for m in report["models"].values() for e in m["per_era"]})
    for name, model in report["models"].items():
        per_era = pd.Series(model["per_era"]).reindex(eras)
        style = {"linewidth": 2.5} if name == report.get("champion", {}).get("row") else {}
        ax.plot(
            range(len(eras)), per_era.fillna(0).cumsum().where(per_era.notna()), label=name, **style
        )
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("scored era (walk-forward CV, chronological)")
    ax.set_ylabel("cumulative CORR")
    ax.set_title("Out-of-fold cumulative CORR")
    ax.legend(loc="upper left", fontsize=8, ncol=2)
    return _save(fig, path)


def champion_per_era(report: dict, path: Path) -> Path:
    """Bars of the champion's out-of-fold CORR in each era, with its mean."""
    name = report.get("champion", {}).get("row") or report["reference_model"]
    per_era = pd.Series(report["models"][name]["per_era"])
    fig, ax = _pyplot().subplots(figsize=(9, 3.5))
    colors = np.where(per_era.to_numpy() >= 0, "tab:green", "tab:red")
    ax.bar(range(len(per_era)), per_era.to_numpy(), color=colors, width=1.0)
    ax.axhline(per_era.mean(), color="black", linewidth=1, label=f"mean {per_era.mean():.4f}")
    ax.set_xlabel("scored era")
    ax.set_ylabel("CORR")
    ax.set_title(f"Champion ({name}): CORR per era")
    ax.legend(loc="upper left")
    return _save(fig, path)


def model_correlations(report: dict, path: Path) -> Path:
    """Heatmap of the mean per-era Spearman correlation between models' predictions."""
    matrix = pd.DataFrame(report["prediction_correlations"])
    fig, ax = _pyplot().subplots(figsize=(7, 6))
    image = ax.imshow(matrix.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(matrix.index)), matrix.index, fontsize=8)
    for i in range(len(matrix.index)):
        for j in range(len(matrix.columns)):
            ax.text(j, i, f"{matrix.iat[i, j]:.2f}", ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title("Correlation of predictions (mean per era)")
    return _save(fig, path)


def ensemble_weights(report: dict, path: Path) -> Path:
    """Stacked bars of the blend weights the nested selection picked for each fold."""
    folds = report["ensemble"]["folds"]
    weights = pd.DataFrame([f["weights"] for f in folds], index=[f["fold"] for f in folds]).fillna(
        0
    )
    fig, ax = _pyplot().subplots(figsize=(7, 3.5))
    bottom = np.zeros(len(weights))
    for member in weights.columns:
        ax.bar(weights.index, weights[member], bottom=bottom, label=member)
        bottom += weights[member].to_numpy()
    labels = [f"{f['name']}, neutr. {f['neutralization']:g}" for f in folds]
    for x, label in enumerate(labels):
        ax.text(x, 1.02, label, ha="center", fontsize=7)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("weight")
    ax.set_title("Ensemble weights per fold (chosen from earlier folds)")
    ax.legend(loc="lower right", fontsize=7)
    return _save(fig, path)
