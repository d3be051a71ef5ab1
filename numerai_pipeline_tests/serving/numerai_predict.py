"""A model-upload pickle run as numerai-predict's `predict.py` runs it (loaded with
`pd.read_pickle`, called positionally with as many of (live features, live benchmark models) as
`predict` takes, its answer checked the same way), under an address-space limit; prints the
seconds and the peak resident memory as JSON. Runs in any Python with pandas and pyarrow; it
imports nothing of numerai_pipeline and refuses to run where numerai_pipeline is importable.

    python numerai_predict.py PICKLE LIVE_PARQUET BENCHMARK_PARQUET OUT_CSV LIMIT_BYTES
"""

import json
import resource
import sys
import time

pickle_path, live_path, benchmark_path, out_path, limit = sys.argv[1:6]
resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
start = time.monotonic()

from inspect import signature  # noqa: E402

import pandas as pd  # noqa: E402

try:
    import numerai_pipeline  # noqa: F401
except ImportError:
    pass
else:
    sys.exit("numerai_pipeline is importable here: this is not Numerai's image")

model = pd.read_pickle(pickle_path)
live_features = pd.read_parquet(live_path)
arguments = (live_features, pd.read_parquet(benchmark_path))
predictions = model(*arguments[: len(signature(model).parameters)])
if type(predictions) is not pd.DataFrame or not len(predictions):
    sys.exit(f"predict returned {type(predictions)} instead of a DataFrame of predictions")
if predictions.isna().any().any():
    sys.exit("predict returned NaN predictions")
if not predictions.iloc[:, 0].between(0, 1).all():
    sys.exit("predict returned values outside [0, 1]")
predictions.to_csv(out_path)
# VmHWM: this process's own peak (getrusage's maxrss keeps the parent's across exec)
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(json.dumps({"seconds": round(time.monotonic() - start, 2), "peak_bytes": peak}))
