"""Partitions shared by assets: CV folds (the fold count is fixed when definitions load) and
tournament rounds (added by the weekly schedule, the new-round sensor or the CLI)."""

from dagster import DynamicPartitionsDefinition, StaticPartitionsDefinition

from numerai_pipeline.resources import env_int

CV_FOLDS = env_int("NUMERAI_CV_FOLDS", 4, minimum=1)
cv_fold_partitions = StaticPartitionsDefinition([f"fold_{i}" for i in range(1, CV_FOLDS + 1)])
round_partitions = DynamicPartitionsDefinition(name="rounds")
"""One partition per round a submission was made (or backfilled) for, keyed by its number."""
