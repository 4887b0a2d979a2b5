"""Patient-grouped evaluation splits: repeated stratified group K-fold with an inner validation split.

All indices are visit indices (rows of ``Cohort.visits``); image rows follow their visit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold


@dataclass(frozen=True)
class Fold:
    """One outer fold of one repeat.

    ``train`` / ``val``: visit indices of the training fold and the reporting (validation) fold.
    ``inner_train`` / ``inner_val``: a patient-grouped split of ``train`` for early stopping and model
    selection; the reporting fold is never used for either.
    """

    repeat: int
    fold: int
    train: np.ndarray
    val: np.ndarray
    inner_train: np.ndarray
    inner_val: np.ndarray


def assert_patient_disjoint(groups: np.ndarray, a: np.ndarray, b: np.ndarray, what: str = "split") -> None:
    """Raise ``AssertionError`` naming the shared patients if index sets ``a`` and ``b`` share a group."""
    shared = np.intersect1d(groups[a], groups[b])
    if shared.size:
        raise AssertionError(f"{what} leaks {shared.size} patient(s) across its parts, e.g. {shared[:5].tolist()}")


def _check_enough(y: np.ndarray, groups: np.ndarray, n_splits: int, what: str) -> None:
    n_classes = len(np.unique(y))
    for c in np.unique(y):
        n = np.unique(groups[y == c]).size
        if n < n_splits:
            raise ValueError(f"{what}: class {c} occurs in only {n} patient(s), fewer than the {n_splits} folds "
                             "requested; use fewer folds or a larger cohort")
    if n_classes < 2:
        raise ValueError(f"{what}: a single class; nothing to classify")


def patient_folds(y: np.ndarray, groups: np.ndarray, n_splits: int = 5, n_repeats: int = 3, seed: int = 0,
                  inner_splits: int = 5) -> list[Fold]:
    """Repeated patient-grouped stratified K-fold over visits.

    Parameters
    ----------
    y : array of shape (n_visits,)
        Integer class per visit (stratification target).
    groups : array of shape (n_visits,)
        Patient id per visit; no patient is ever on both sides of any split.
    n_splits, n_repeats : int
        Outer folds and repeats; repeat ``r`` shuffles with ``seed + r``.
    inner_splits : int
        The inner validation set is one fold of a ``inner_splits``-fold patient-grouped split of ``train``
        (about ``1 / inner_splits`` of it).

    Raises ``ValueError`` when a class has fewer patients than folds or a reporting fold lacks a class.
    """
    y = np.asarray(y)
    groups = np.asarray(groups)
    _check_enough(y, groups, n_splits, "cohort")
    folds = []
    for r in range(n_repeats):
        outer = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + r)
        for k, (train, val) in enumerate(outer.split(np.zeros(len(y)), y, groups)):
            missing = set(np.unique(y)) - set(np.unique(y[val]))
            if missing:
                raise ValueError(f"repeat {r} fold {k}: class(es) {sorted(missing)} absent from the reporting "
                                 "fold; use fewer folds or a larger cohort")
            inner = StratifiedGroupKFold(n_splits=inner_splits, shuffle=True, random_state=seed + 1000 * (r + 1) + k)
            i_tr, i_val = next(inner.split(np.zeros(len(train)), y[train], groups[train]))
            fold = Fold(r, k, train, val, train[i_tr], train[i_val])
            assert_patient_disjoint(groups, fold.train, fold.val, f"repeat {r} fold {k} (train/val)")
            assert_patient_disjoint(groups, fold.inner_train, fold.inner_val, f"repeat {r} fold {k} (inner)")
            folds.append(fold)
    return folds
