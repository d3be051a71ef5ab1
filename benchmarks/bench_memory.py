"""Peak memory of the data path (read -> feature matrix -> training arrays) vs the int8 bytes,
and optionally of one model's fit and prediction on those arrays.

Prints, for a synthetic preset or a Numerai-format folder, the int8 feature bytes of the labeled
rows and the peak RSS of each stage as a ratio to them (1.0 = one int8 copy; a float64 frame
would be 8+). Peak RSS only grows, so measure one model per run.

    .venv/bin/python benchmarks/bench_memory.py --preset large
    .venv/bin/python benchmarks/bench_memory.py --data /data/numerai --model mlp
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from numerai_pipeline.data.eras import build_era_index, labeled_eras
from numerai_pipeline.data.sources import ensure_synthetic_dataset, locate_local_dataset
from numerai_pipeline.features.engineering import build_feature_matrix, load_training_data
from numerai_pipeline.models.base import TournamentModel


def make_model(name: str) -> TournamentModel:
    """The pipeline's model of that name with its CPU configuration."""
    if name == "xgboost":
        from numerai_pipeline.models.xgb import XGBoostModel

        return XGBoostModel()
    if name == "mtm":
        from numerai_pipeline.models.mtm import MTMConfig
        from numerai_pipeline.models.mtm_training import MTMModel

        return MTMModel(MTMConfig.cpu_demo())
    from numerai_pipeline.models.mlp import MLPModel

    return MLPModel()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--data-root", type=Path, default=None, help="where to generate")
    parser.add_argument("--data", type=Path, help="a Numerai-format folder instead of synthetic")
    parser.add_argument("--version", default="v5.0")
    parser.add_argument("--model", choices=("xgboost", "mtm", "mlp"), help="also fit one model")
    args = parser.parse_args()
    root = args.data_root or Path(tempfile.mkdtemp(prefix="bench_memory_"))
    if args.data:
        files = locate_local_dataset(args.data, args.version)
    else:
        files = ensure_synthetic_dataset(root, args.version, args.preset, seed=0)
    baseline = peak_rss_bytes()
    start = time.perf_counter()
    index = build_era_index(files.train, files.validation, files.live)
    eras = labeled_eras(index)
    matrix = build_feature_matrix(files, root / "features", eras=eras)
    after_matrix = peak_rss_bytes()
    data = load_training_data(matrix)
    after_load = peak_rss_bytes()
    stages = [("build_feature_matrix", after_matrix), ("load_training_data", after_load)]
    if args.model:
        model = make_model(args.model)
        model.fit(data)
        model.predict(data.features, data.eras)
        stages.append((f"{args.model} fit + predict", peak_rss_bytes()))
    int8_bytes = data.features.nbytes
    source = args.data or f"preset {args.preset}"
    print(
        f"{source}: {len(data.features):,} labeled rows x {data.features.shape[1]} "
        f"features = {int8_bytes / 2**20:.1f} MiB int8 ({time.perf_counter() - start:.1f} s)"
    )
    print(f"baseline RSS (imports)        {baseline / 2**20:8.1f} MiB")
    for label, peak in stages:
        extra = peak - baseline
        print(
            f"peak RSS after {label:<21} {peak / 2**20:8.1f} MiB  "
            f"(+{extra / 2**20:.1f} MiB = {extra / int8_bytes:.2f}x int8 features)"
        )


if __name__ == "__main__":
    main()
