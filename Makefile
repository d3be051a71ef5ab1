# numerai-pipeline: `make run` installs and runs the pipeline on the built-in dataset; `make test` tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export NUMERAI_PIPELINE_HOME ?= $(CURDIR)/.numerai_home
export DAGSTER_HOME := $(NUMERAI_PIPELINE_HOME)/dagster
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export PYTHONUNBUFFERED := 1

.PHONY: install run test test-upload lint format ui mlflow-ui bench clean

install: $(STAMP)

# pip byte-compiles on one core; compileall uses all of them (~20 s less on 2 cores).
# A few torch test files for newer Pythons fail to compile, as they do under pip: ignored.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile -e '.[dev]'
	$(BIN)/python -m compileall -qq -j 0 $(VENV)/lib || true
	touch $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

run: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/numerai-pipeline run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/pytest

# The model-upload pickle in a virtual environment like Numerai's image (minutes: not in `test`).
test-upload: install
	$(BIN)/pytest -m numerai_image -s

ui: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(NUMERAI_PIPELINE_HOME)/mlflow.db --port 5000

bench: install
	$(BIN)/python benchmarks/bench_mtm.py
	$(BIN)/python benchmarks/bench_memory.py --preset demo
	$(BIN)/python benchmarks/bench_cv_models.py

clean:
	rm -rf $(NUMERAI_PIPELINE_HOME)
