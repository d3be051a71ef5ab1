"""Loading the definitions (the code server, every step pod, every schedule and sensor tick)
imports no training stack: torch, XGBoost and MLflow load where a step uses them."""

import subprocess
import sys

HEAVY = ("torch", "xgboost", "mlflow")


def test_loading_the_definitions_imports_no_training_stack() -> None:
    code = (
        "import sys, numerai_pipeline.definitions as d; "
        f"assert d.defs is not None; print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", f"imported at load: {done.stdout.strip()}"
