"""Peak memory of the data path (read -> feature matrix -> training arrays) vs the int8 bytes,
and optionally of one model's fit and prediction on those arrays.

Prints, for a synthetic preset or a Numerai-format folder, the int8 feature bytes of the labeled
rows and the peak RSS of each stage as a ratio to them (1.0 = one int8 copy; a float64 frame
would be 8+). Peak RSS only grows, so measure one model per run. The model is the roster's, with
the `cpu_demo` neural preset on the default device, and gets what the pipeline gives it: the rows
without targets (MTM) or the era-context table (RNN), built with the model's imports as a stage
of their own.

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
from numerai_pipeline.features.engineering import (
    FeatureMatrix,
    build_feature_matrix,
    load_training_data,
    load_unlabeled_features,
)
from numerai_pipeline.features.era_context import era_context_of
from numerai_pipeline.models.base import TournamentModel

MODELS = ("xgboost", "ridge", "mtm", "mtm_no_pretrain", "mlp", "rnn", "rnn_no_context")
"""The roster's models (imported only when one is fit: the baseline RSS is the data path's)."""


def make_model(name: str, matrix: FeatureMatrix) -> TournamentModel:
    """The roster's model of that name as the pipeline builds it: the `cpu_demo` preset, the
    default device for a network, the feature groups and the inputs it reads beyond its rows."""
    from numerai_pipeline.models.device import select_device
    from numerai_pipeline.models.roster import SPECS, ModelInputs, NeuralPreset

    spec = SPECS[name]
    inputs = ModelInputs(
        NeuralPreset.named("cpu_demo"),
        device=str(select_device()) if spec.neural else "cpu",
        seed_groups=matrix.groups,
        unlabeled=load_unlabeled_features(matrix) if "unlabeled" in spec.needs else None,
        era_context=era_context_of(matrix) if "era_context" in spec.needs else None,
    )
    return spec.make(inputs)


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--data-root", type=Path, default=None, help="where to generate")
    parser.add_argument("--data", type=Path, help="a Numerai-format folder instead of synthetic")
    parser.add_argument("--version", default="v5.0")
    parser.add_argument("--model", choices=MODELS, help="also fit one model")
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
        model = make_model(args.model, matrix)
        stages.append(("imports + inputs", peak_rss_bytes()))
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
