"""Tests of skfer.model_selection's splitting: the CV resolver and the papers' CK+ folds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.utils._param_validation import InvalidParameterError

from skfer.model_selection import AscendingSubjectKFold, check_group_cv
from skfer.utils import natural_key


def test_check_group_cv_resolves_ints_by_groups():
    y = np.array([0, 1] * 10)
    groups = np.repeat(np.arange(5), 4)
    assert isinstance(check_group_cv(3, y, groups), GroupKFold)
    assert check_group_cv(None, y, groups).get_n_splits() == 5
    assert isinstance(check_group_cv(3, y), StratifiedKFold)
    assert isinstance(check_group_cv(3, np.linspace(0, 1, 20), classifier=False), KFold)
    shuffled = check_group_cv(3, y, shuffle=True, random_state=0)
    assert shuffled.shuffle and shuffled.random_state == 0
    assert isinstance(check_group_cv(3, y, groups, shuffle=True), GroupKFold)
    splitter = AscendingSubjectKFold(2)
    assert check_group_cv(splitter, y, groups) is splitter
    splits = [(np.arange(10), np.arange(10, 20))]
    assert list(check_group_cv(splits, y).split()) == splits
    with pytest.raises(ValueError, match="5 subjects cannot be split into 6 folds"):
        check_group_cv(6, y, groups)


def test_natural_key_compares_digit_runs_as_numbers():
    ids = ["S10", "S5", "S100", "S9", "S050"]
    assert sorted(ids, key=natural_key) == ["S5", "S9", "S10", "S050", "S100"]
    assert sorted([12, 3, 100], key=natural_key) == [3, 12, 100]
    # One key for file names too: text without regard to case, exact text breaks ties.
    assert sorted(["frame10.png", "Frame2.png", "frame2.png"], key=natural_key) == [
        "Frame2.png", "frame2.png", "frame10.png"]


def test_the_old_sort_key_names_the_new_one():
    import skfer.io
    import skfer.model_selection

    assert skfer.io.natural_key is natural_key
    with pytest.warns(FutureWarning, match="use skfer.utils.natural_key"):
        assert skfer.model_selection.natural_sort_key is natural_key


def test_ascending_subject_folds_deal_subjects_in_id_order():
    # subjects out of order, unpadded ids, several clips each
    subjects = ["S5", "S10", "S7", "S100", "S22", "S9", "S61", "S8"]
    groups = np.array([s for s in subjects for _ in range(3)])
    X = np.zeros((len(groups), 1))
    cv = AscendingSubjectKFold(n_splits=3)
    assert cv.get_n_splits() == 3
    folds = [sorted(set(groups[test]), key=natural_key)
             for _, test in cv.split(X, groups=groups)]
    # ascending: S5 S7 S8 S9 S10 S22 S61 S100 -> ranks 0..7, fold = rank mod 3
    assert folds == [["S5", "S9", "S61"], ["S7", "S10", "S100"], ["S8", "S22"]]
    for train, test in cv.split(X, groups=groups):  # a partition, subjects never split
        assert not set(groups[train]) & set(groups[test])
        assert len(train) + len(test) == len(groups)
    blocks = AscendingSubjectKFold(n_splits=3, assignment="contiguous")
    folds = [sorted(set(groups[test]), key=natural_key)
             for _, test in blocks.split(X, groups=groups)]
    assert folds == [["S5", "S7", "S8"], ["S9", "S10", "S22"], ["S61", "S100"]]
    assert cv.subject_folds(groups)["S100"] == 1


def test_ascending_subject_folds_ignore_sample_order():
    rng = np.random.RandomState(0)
    groups = rng.randint(0, 30, size=200)
    order = rng.permutation(200)
    cv = AscendingSubjectKFold(n_splits=10)
    a = [set(groups[test]) for _, test in cv.split(groups, groups=groups)]
    b = [set(groups[order][test]) for _, test in cv.split(groups, groups=groups[order])]
    assert a == b
    assert a[0] == {0, 10, 20}  # integer ids compare as numbers


def test_ascending_subject_kfold_is_a_scikit_learn_splitter():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = np.arange(60) % 2
    groups = np.repeat([f"S{i}" for i in range(12)], 5)
    scores = cross_val_score(GaussianNB(), X, y, groups=groups, cv=AscendingSubjectKFold(4))
    assert scores.shape == (4,)


def test_ascending_subject_kfold_bad_input():
    X = np.zeros((6, 1))
    groups = ["a", "a", "b", "b", "c", "c"]
    with pytest.raises(ValueError, match="'groups' parameter should not be None"):
        next(AscendingSubjectKFold(2).split(X))
    with pytest.raises(ValueError, match="3 subjects cannot be split into 4 folds"):
        next(AscendingSubjectKFold(4).split(X, groups=groups))
    with pytest.raises(InvalidParameterError, match="'n_splits' parameter"):
        next(AscendingSubjectKFold(1).split(X, groups=groups))
    with pytest.raises(InvalidParameterError, match="'assignment' parameter"):
        AscendingSubjectKFold(2, assignment="random").get_n_splits()
    with pytest.raises(ValueError, match="inconsistent numbers of samples: \\[6, 2\\]"):
        next(AscendingSubjectKFold(2).split(X, groups=["a", "b"]))
