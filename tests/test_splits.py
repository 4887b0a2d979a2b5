import numpy as np
import pytest

from fusionlib.data.splits import assert_patient_disjoint, patient_folds


def test_every_split_is_patient_disjoint_and_covers_all_visits(default_cohort):
    y, g = default_cohort.y_visit, default_cohort.groups_visit
    folds = patient_folds(y, g, n_splits=5, n_repeats=3)
    assert len(folds) == 15
    for r in range(3):
        vals = np.concatenate([f.val for f in folds if f.repeat == r])
        assert np.array_equal(np.sort(vals), np.arange(len(y)))          # each visit reported once per repeat
    for f in folds:
        assert not set(g[f.train]) & set(g[f.val])
        assert not set(g[f.inner_train]) & set(g[f.inner_val])
        assert not set(f.inner_val) & set(f.val)                          # early stopping never sees the reporting fold
        assert set(f.inner_train) | set(f.inner_val) == set(f.train)
        assert set(np.unique(y[f.val])) == {0, 1, 2}
    assert not np.array_equal(folds[0].val, folds[5].val)                 # repeats reshuffle


def test_a_leak_is_caught():
    g = np.array([1, 1, 2, 2, 3])
    with pytest.raises(AssertionError, match="leaks 1 patient"):
        assert_patient_disjoint(g, np.array([0, 2]), np.array([1, 4]))


def test_too_few_patients_for_the_folds_is_a_clear_error():
    y = np.array([0, 0, 1, 1, 2, 2, 1, 1])
    g = np.array([1, 1, 2, 2, 3, 3, 4, 4])
    with pytest.raises(ValueError, match="class I occurs in only 1 patient"):
        patient_folds(y, g, n_splits=3, n_repeats=1)
