"""A full-size champion's model-upload pickle run as Numerai runs it: members at the sizes of a
compute preset (default `gpu`, what a GPU user's champion is; trained for one epoch, which costs
nothing at prediction), an equal blend of XGBoost, ridge, MTM, MLP and RNN neutralized by half,
on the `wide` synthetic data (2,400 features, a 6,000-row live era). Runs the pickle in the
virtual environment like Numerai's image that `make test-upload` makes, with one thread and
4 GiB of address space, and prints its seconds and peak memory against Numerai's limits, and
how far its values are from the pipeline's own.

    python benchmarks/bench_model_upload.py [--preset gpu|cpu_demo|tiny]
        [--python .venv-numerai-predict/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from numerai_pipeline.data.eras import build_era_index, labeled_eras
from numerai_pipeline.data.sources import locate_local_dataset
from numerai_pipeline.data.synthetic import write_synthetic_dataset
from numerai_pipeline.ensemble.blend import Blend
from numerai_pipeline.ensemble.champion import Champion
from numerai_pipeline.features.engineering import build_feature_matrix, load_training_data
from numerai_pipeline.features.era_context import era_context_of_rows
from numerai_pipeline.models.roster import PRESETS, SPECS, ModelInputs, NeuralPreset
from numerai_pipeline.serving.numerai_pickle import export_model_pickle, make_predict

ROOT = Path(__file__).parents[1]
RUNNER = ROOT / "numerai_pipeline_tests" / "serving" / "numerai_predict.py"
MEMBERS = ("xgboost", "ridge", "mtm", "mlp", "rnn")
LIMIT_BYTES, LIMIT_SECONDS = 4 * 2**30, 600


def one_epoch(preset: NeuralPreset) -> NeuralPreset:
    """The preset's networks, trained one epoch per phase without a refit."""
    return replace(
        preset,
        mtm=replace(preset.mtm, pretrain_epochs=1, finetune_epochs=1),
        mtm_train=replace(preset.mtm_train, refit=False),
        mlp=replace(preset.mlp, epochs=1),
        rnn=replace(preset.rnn, epochs=1),
        row_train=replace(preset.row_train, refit=False),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="gpu", choices=PRESETS)
    parser.add_argument("--python", type=Path, default=ROOT / ".venv-numerai-predict/bin/python")
    args = parser.parse_args()
    if not args.python.exists():
        parser.error(f"{args.python} does not exist: `make test-upload` makes it")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = locate_local_dataset(work, write_synthetic_dataset(work, "v5.0", "wide").name)
        eras = labeled_eras(build_era_index(files.train, files.validation, files.live))
        matrix = build_feature_matrix(files, work / "features", eras=eras)
        data = load_training_data(matrix)
        context = era_context_of_rows(data, matrix.groups)
        inputs = ModelInputs(
            one_epoch(NeuralPreset.named(args.preset)),
            seed_groups=matrix.groups,
            era_context=context,
        )
        models = {}
        for name in MEMBERS:
            started = time.monotonic()
            models[name] = SPECS[name].make(inputs)
            models[name].fit(data)
            print(f"{name}: fitted in {time.monotonic() - started:.0f} s")
        blend = Blend("equal", {m: 1 / len(MEMBERS) for m in MEMBERS}, neutralization=0.5)
        folder = Champion(models, blend, matrix.neutralizers).save(work / "champion")
        pickle = export_model_pickle(folder, matrix.features, matrix.groups, work / "mu.pkl")
        live = pd.read_parquet(files.live)
        expected = make_predict(Champion.load(folder, "cpu"), matrix.features, matrix.groups)(
            live, None
        )["prediction"]
        out = work / "predictions.csv"
        one_thread = {
            k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
        }
        ran = subprocess.run(
            [args.python, "-I", RUNNER, pickle, files.live, files.live_benchmark, out]
            + [str(LIMIT_BYTES)],
            env={"PATH": os.environ["PATH"], "HOME": tmp, **one_thread},
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=LIMIT_SECONDS,
        )
        if ran.returncode:
            raise SystemExit(f"the pickle failed in Numerai's environment:\n{ran.stderr[-3000:]}")
        cost = json.loads(ran.stdout.strip().splitlines()[-1])
        got = pd.read_csv(out, index_col="id")["prediction"].reindex(expected.index)
        steps = np.abs(got.to_numpy() - expected.to_numpy()) * len(live)  # in rank places
        print(
            f"preset {args.preset}: pickle {pickle.stat().st_size / 2**20:.1f} MiB, "
            f"{len(live)} live rows x {len(matrix.features)} features\n"
            f"seconds {cost['seconds']:.1f} = {cost['seconds'] / LIMIT_SECONDS:.3f} of "
            f"Numerai's {LIMIT_SECONDS}\n"
            f"peak {cost['peak_bytes'] / 2**30:.2f} GiB = {cost['peak_bytes'] / LIMIT_BYTES:.3f} "
            f"of Numerai's 4 GiB\n"
            f"against the pipeline's values: at most {steps.max():.1f} rank places, "
            f"{(steps >= 0.5).sum()} of {len(live)} rows moved (the rest differ by float "
            "rounding alone)"
        )


if __name__ == "__main__":
    main()
