"""The model-upload pickle as Numerai runs it: in a virtual environment holding only what
Numerai's numerai-predict image holds (`numerai_predict_py311.txt`), without this package, with
one thread and 4 GB of address space, on full-width live data (the `wide` synthetic preset:
~6,000 rows x 2,400 features), loaded and called as numerai-predict's `predict.py` does.

Costs a few minutes (the environment is made once, then the whole graph runs on the wide
data), so it runs under `make test-upload`, not `make test`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from numerai_pipeline_tests.assets.test_pipeline import CLI, cli_env, new_home

pytestmark = pytest.mark.numerai_image

ROOT = Path(__file__).parents[2]
REQUIREMENTS = Path(__file__).with_name("numerai_predict_py311.txt")
VENV = ROOT / ".venv-numerai-predict"
LIMIT_BYTES = 4 * 2**30
LIMIT_SECONDS = 600

RUNNER = Path(__file__).with_name("numerai_predict.py")


@pytest.fixture(scope="module")
def numerai_python() -> Path:
    """The Python of a virtual environment with only the image's packages (remade when the list
    changes)."""
    if sys.version_info[:2] != (3, 11):
        pytest.fail(f"the list is for Numerai's Python 3.11 image; this is {sys.version}")
    stamp = VENV / "requirements.txt"
    python = VENV / "bin" / "python"
    if not stamp.exists() or stamp.read_text() != REQUIREMENTS.read_text():
        shutil.rmtree(VENV, ignore_errors=True)
        venv.create(VENV, with_pip=True)
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            + ["-r", REQUIREMENTS],
            check=True,
        )
        shutil.copyfile(REQUIREMENTS, stamp)
    return python


def test_the_pickle_runs_in_numerai_s_image_within_its_limits(
    numerai_python, tmp_path, mlflow_template_db
):
    home = new_home(tmp_path, mlflow_template_db)
    env = cli_env(home) | {"NUMERAI_SYNTHETIC_PRESET": "wide"}
    done = subprocess.run(
        [*CLI, "--log-level", "WARNING"], env=env, capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stderr[-3000:]
    submission = Path(done.stdout.rsplit("submission file: ", 1)[1].strip())
    round_num = submission.parent.name.removeprefix("round_")
    raw = home.data / "synthetic-wide-0" / "v5.0"
    live = raw / f"live_{round_num}.parquet"
    benchmark = raw / f"live_benchmark_models_{round_num}.parquet"
    out = tmp_path / "predictions.csv"
    one_thread = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    ran = subprocess.run(
        [numerai_python, "-I", RUNNER]
        + [home.models / "model_upload.pkl", live, benchmark, out, str(LIMIT_BYTES)],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **one_thread},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=LIMIT_SECONDS,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    cost = json.loads(ran.stdout.strip().splitlines()[-1])
    print(
        f"\nmodel upload in Numerai's image: {cost['seconds']:.1f} s of {LIMIT_SECONDS} s, "
        f"peak {cost['peak_bytes'] / 2**30:.2f} GiB of {LIMIT_BYTES / 2**30:.0f} GiB, "
        f"{len(pd.read_parquet(live, columns=['era']))} live rows"
    )
    predicted = pd.read_csv(out, index_col="id")["prediction"]
    served = pd.read_csv(submission, index_col="id")["prediction"]
    assert predicted.index.tolist() == served.index.tolist() and len(served) > 5_000
    # other numpy/scipy/torch builds and batch sizes move values by float rounding: near-ties
    # may swap a few rank places, nothing more
    difference = np.abs(predicted.to_numpy() - served.to_numpy())
    assert difference.max() <= 3 / len(served) and (difference > 0).mean() < 0.02
    assert np.corrcoef(predicted, served)[0, 1] > 0.99999
