import pytest

from numerai_pipeline.core.folds import EraPlan, era_cv_splits
from numerai_pipeline.core.schema import DatasetError
from numerai_pipeline.core.targets import embargo_for_target


def eras(n: int, step: int = 1) -> list[str]:
    return [f"{i:04d}" for i in range(1, n * step + 1, step)]


def test_folds_walk_forward_with_embargo_and_cover_test_eras_once():
    folds = era_cv_splits(eras(100), n_folds=4, embargo=8)
    assert [f.name for f in folds] == ["fold_1", "fold_2", "fold_3", "fold_4"]
    tested = [e for f in folds for e in f.test_eras]
    assert len(tested) == len(set(tested)) == 60
    for fold in folds:
        last_train, first_test = int(fold.train_eras[-1]), int(fold.test_eras[0])
        assert first_test - last_train == 9  # eras last_train+1 .. last_train+8 left out
        assert not set(fold.train_eras) & set(fold.test_eras)
        assert max(map(int, fold.train_eras)) < min(map(int, fold.test_eras))


def test_embargo_counts_real_eras_when_subsampled():
    folds = era_cv_splits(eras(50, step=4), n_folds=2, embargo=8)
    for fold in folds:
        assert int(fold.test_eras[0]) - int(fold.train_eras[-1]) > 8
        assert int(fold.test_eras[0]) - int(fold.train_eras[-1]) <= 12


def test_embargo_for_60_day_targets_is_longer():
    assert embargo_for_target("target") == 8
    assert embargo_for_target("target_ralph_20") == 8
    assert embargo_for_target("target_ralph_60") == 16


def test_too_few_eras_is_a_clear_error():
    with pytest.raises(
        DatasetError, match=r"too few for 4 CV fold\(s\).*need at least 16 labeled eras"
    ):
        era_cv_splits(eras(12), n_folds=4, embargo=8)


def test_plan_looks_up_folds_by_name():
    folds = era_cv_splits(eras(40), n_folds=2, embargo=4)
    plan = EraPlan(tuple(eras(40)), tuple(folds), 1)
    assert plan.fold("fold_2") is folds[1]
    with pytest.raises(KeyError, match="fold_9"):
        plan.fold("fold_9")
