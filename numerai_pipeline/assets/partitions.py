"""Partitions shared by assets: CV folds (the fold count is fixed when definitions load)."""

from dagster import StaticPartitionsDefinition

from numerai_pipeline.resources import env_int

CV_FOLDS = env_int("NUMERAI_CV_FOLDS", 4, minimum=1)
cv_fold_partitions = StaticPartitionsDefinition([f"fold_{i}" for i in range(1, CV_FOLDS + 1)])
