"""Settings read from NUMERAI_* environment variables."""

from __future__ import annotations

import pytest

from numerai_pipeline.resources import env_int, resources_from_env


def test_env_int_reads_the_variable_or_the_default(monkeypatch):
    monkeypatch.setenv("NUMERAI_NEURAL_SEED", " 3 ")
    assert env_int("NUMERAI_NEURAL_SEED", 0) == 3
    monkeypatch.setenv("NUMERAI_NEURAL_SEED", "")
    assert env_int("NUMERAI_NEURAL_SEED", 5) == 5
    monkeypatch.delenv("NUMERAI_NEURAL_SEED")
    assert env_int("NUMERAI_NEURAL_SEED", 5) == 5


def test_a_malformed_integer_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("NUMERAI_CV_FOLDS", "four")
    with pytest.raises(ValueError, match="NUMERAI_CV_FOLDS must be an integer, got 'four'"):
        env_int("NUMERAI_CV_FOLDS", 4)


def test_the_neural_seed_reaches_the_compute_resource(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMERAI_PIPELINE_HOME", str(tmp_path))
    monkeypatch.setenv("NUMERAI_NEURAL_SEED", "2")
    assert resources_from_env()["compute"].seed == 2
