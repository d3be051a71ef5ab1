"""Partitions shared by assets: CV folds (the fold count is fixed when definitions load)."""

import os

from dagster import StaticPartitionsDefinition

CV_FOLDS = int(os.environ.get("NUMERAI_CV_FOLDS", "4"))
cv_fold_partitions = StaticPartitionsDefinition([f"fold_{i}" for i in range(1, CV_FOLDS + 1)])
