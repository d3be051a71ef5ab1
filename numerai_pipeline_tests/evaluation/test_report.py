import json

import numpy as np
import pandas as pd
import pytest
from numerai_tools.scoring import correlation_contribution

from numerai_pipeline.core.scoring import per_era_corr, standard_error
from numerai_pipeline.evaluation.metrics import per_era_contribution
from numerai_pipeline.evaluation.report import (
    build_cv_report,
    ensemble_verdict,
    report_markdown,
    score_model,
    write_report_files,
)
from numerai_pipeline_tests.evaluation.test_metrics import overlapping_scores


def oof_frames(seed=0, n_eras=12, rows=300):
    rng = np.random.default_rng(seed)
    eras = np.repeat([f"{i:04d}" for i in range(n_eras)], rows)
    ids = pd.Index([f"n{i}" for i in range(len(eras))], name="id")
    target = rng.choice([0, 0.25, 0.5, 0.75, 1.0], size=len(eras))
    features = rng.integers(0, 5, size=(len(eras), 4)).astype(np.int8)
    good = target + rng.normal(scale=1.0, size=len(eras))
    other = good + rng.normal(scale=0.3, size=len(eras))
    frames = {
        name: pd.DataFrame({"era": eras, "target": target, "prediction": p}, index=ids)
        for name, p in {"xgboost": good, "mtm": other, "noise": rng.normal(size=len(eras))}.items()
    }
    meta = pd.Series(target + rng.normal(scale=3.0, size=len(eras)), index=ids)
    return frames, features, ids, meta


def test_report_scores_models_and_compares_them_with_the_reference(tmp_path):
    frames, features, ids, meta = oof_frames()
    report = build_cv_report(frames, lambda idx: features[ids.get_indexer(idx)], meta)
    json.dumps(report)  # JSON-safe
    models = report["models"]
    assert set(models) == {"xgboost", "mtm", "noise"}
    assert report["standard_error_target_span_eras"] == 4
    assert models["xgboost"]["corr_mean"] > 0.2
    assert abs(models["noise"]["corr_mean"]) < 3 * models["noise"]["corr_se"]
    assert models["xgboost"]["mmc_mean"] > 0
    assert len(models["mtm"]["per_era"]) == 12
    assert models["mtm"]["vs_xgboost"]["prediction_corr_with_reference"] > 0.8
    assert models["noise"]["vs_xgboost"]["corr_diff_vs_reference_mean"] < 0
    assert "vs_xgboost" not in models["xgboost"]
    shuffled = dict(
        frames, control=frames["noise"].assign(target=frames["noise"]["target"][::-1].values)
    )
    report = build_cv_report(shuffled, lambda idx: features[ids.get_indexer(idx)], meta)
    assert "vs_xgboost" not in report["models"]["control"]  # other targets: no paired difference
    assert "vs_xgboost" in report["models"]["noise"]
    table = report_markdown(report)
    assert "| xgboost |" in table and "| noise - xgboost |" in table
    assert max(line.count("|") for line in table.splitlines()) <= 8, "narrow enough for the UI"
    correlations = pd.DataFrame(report["prediction_correlations"])
    assert correlations.loc["mtm", "xgboost"] > 0.8 and correlations.loc["mtm", "mtm"] == 1
    report["champion"] = {"blend": "mtm (mtm 1.00; neutralized 0)", "reason": "test", "row": "mtm"}
    assert "| mtm ★ |" in report_markdown(report) and "**Champion**" in report_markdown(report)
    paths = write_report_files(report, tmp_path)
    assert json.loads(paths["json"].read_text()) == report
    for name in ("cumulative_corr", "champion_per_era", "model_correlations"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_without_meta_model_has_no_mmc():
    frames, features, ids, _ = oof_frames()
    report = build_cv_report(frames, lambda idx: features[ids.get_indexer(idx)], None)
    assert report["models"]["xgboost"]["mmc_mean"] is None
    assert report["models"]["xgboost"]["bmc_mean"] is None and "benchmark" not in report["models"]


def test_bmc_is_numerai_tools_contribution_against_the_benchmark_on_the_eras_it_covers():
    frames, features, ids, _ = oof_frames()
    rng = np.random.default_rng(5)
    target = frames["xgboost"]["target"]
    covered = frames["xgboost"]["era"] >= "0004"  # a validation-only benchmark file
    benchmark = pd.Series(target + rng.normal(scale=2.0, size=len(target)), index=ids)[covered]
    benchmark.name = "v5_lgbm_cyrusd20"
    report = build_cv_report(
        frames, lambda idx: features[ids.get_indexer(idx)], None, benchmark=benchmark
    )
    for name, oof in frames.items():
        per_era = []
        for _, rows in oof[covered].groupby("era"):
            per_era.append(
                correlation_contribution(
                    rows[["prediction"]],
                    benchmark.loc[rows.index].rename("benchmark"),
                    rows["target"].rename("target"),
                )["prediction"]
            )
        assert report["models"][name]["bmc_mean"] == pytest.approx(np.mean(per_era), abs=1e-12)
        assert report["models"][name]["bmc_eras"] == 8
    row = report["models"]["benchmark"]
    assert row["n_eras"] == 8 and row["n_rows"] == len(benchmark)
    expected = per_era_corr(
        benchmark.to_numpy(), target[covered].to_numpy(), frames["xgboost"]["era"][covered]
    )
    assert row["corr_mean"] == pytest.approx(expected.mean(), abs=1e-12)
    assert "BMC on 8 eras (against `v5_lgbm_cyrusd20`)" in report_markdown(report)
    without = build_cv_report(frames, lambda idx: features[ids.get_indexer(idx)], None)
    assert report["prediction_correlations"] == without["prediction_correlations"]


def test_models_scored_together_get_the_scores_they_get_alone():
    frames, features, ids, meta = oof_frames()
    reordered = frames["noise"].iloc[::-1]  # other row order: scored on its own
    control = frames["noise"].assign(target=frames["noise"]["target"][::-1].values)
    frames = dict(frames, reordered=reordered, control=control)
    report = build_cv_report(frames, lambda idx: features[ids.get_indexer(idx)], meta)
    for name, oof in frames.items():
        args = oof["prediction"].to_numpy(), oof["target"].to_numpy(), oof["era"].to_numpy()
        alone = per_era_corr(*args)
        assert report["models"][name]["per_era"] == pytest.approx(
            {str(era): v for era, v in alone.items()}, abs=1e-12
        )
        mmc = per_era_contribution(args[0], meta.reindex(oof.index).to_numpy(), *args[1:])
        assert report["models"][name]["mmc_mean"] == pytest.approx(mmc.mean(), abs=1e-12)
    assert report["models"]["reordered"]["corr_mean"] == pytest.approx(
        report["models"]["noise"]["corr_mean"]
    )


def test_standard_errors_count_eras_that_share_target_windows():
    frames, features, ids, _ = oof_frames()
    oof = frames["mtm"]
    corr = pd.Series(overlapping_scores(60, 1)[:, 0], index=[f"{e:04d}" for e in range(1, 61)])
    scored = score_model(oof, features[ids.get_indexer(oof.index)], {"corr": corr})
    assert scored["corr_se"] == pytest.approx(standard_error(corr, target_span=4))
    assert scored["corr_se"] > 1.3 * standard_error(corr)


def test_comparisons_add_paired_differences_between_named_models():
    frames, features, ids, meta = oof_frames()
    pairs = (("mtm", "noise"), ("mtm", "absent"), ("noise", "noise"))
    report = build_cv_report(
        frames, lambda idx: features[ids.get_indexer(idx)], meta, comparisons=pairs
    )
    assert report["comparisons"] == [["mtm", "noise"]]
    vs = report["models"]["mtm"]["vs_noise"]
    mtm, noise = (pd.Series(report["models"][m]["per_era"]) for m in ("mtm", "noise"))
    assert vs["corr_diff_vs_reference_mean"] == pytest.approx((mtm - noise).mean())
    assert vs["corr_diff_vs_reference_se"] == pytest.approx(standard_error(mtm - noise, 4))
    table = report_markdown(report)
    assert "| mtm - noise |" in table and f"{(mtm - noise).mean():.4f}" in table
    plain = report_markdown(
        build_cv_report(frames, lambda idx: features[ids.get_indexer(idx)], meta)
    )
    assert "| mtm - noise |" not in plain


def test_the_verdict_says_with_numbers_why_the_ensemble_did_not_beat_the_best_model():
    frames, features, ids, _ = oof_frames()
    # a blend of the two good models and noise: behind the best model, correlated with it
    blend = frames["xgboost"]["prediction"] + frames["noise"]["prediction"]
    frames["ensemble"] = frames["xgboost"].assign(prediction=blend)
    report = build_cv_report(
        frames, lambda idx: features[ids.get_indexer(idx)], comparisons=[("ensemble", "xgboost")]
    )
    verdict = ensemble_verdict(report, "ensemble", "xgboost", ["xgboost", "mtm", "noise"])
    vs = report["models"]["ensemble"]["vs_xgboost"]
    assert vs["corr_diff_vs_reference_mean"] < 0
    assert f"{vs['corr_diff_vs_reference_mean']:+.4f}" in verdict and "behind" in verdict
    correlations = pd.DataFrame(report["prediction_correlations"])
    assert f"{correlations.loc['xgboost', 'mtm']:.2f} per era" in verdict  # the most alike pair
    report["ensemble"] = {"verdict": verdict}
    assert verdict in report_markdown(report)
    sharper = frames["xgboost"]["target"] + np.random.default_rng(1).normal(size=len(blend))
    frames["ensemble"] = frames["xgboost"].assign(prediction=sharper)
    report = build_cv_report(
        frames, lambda idx: features[ids.get_indexer(idx)], comparisons=[("ensemble", "xgboost")]
    )
    ahead = ensemble_verdict(report, "ensemble", "xgboost", ["xgboost", "mtm"])
    assert "ahead of" in ahead and "correlate" not in ahead
    assert "one CV fold" in ensemble_verdict(report, "nested", "xgboost", ["xgboost", "mtm"])
