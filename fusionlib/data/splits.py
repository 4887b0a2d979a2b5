"""Patient-grouped evaluation splits: repeated stratified group K-fold with an inner validation split.

All indices are visit indices (rows of ``Cohort.visits``); image rows follow their visit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from fusionlib.data.cohort import CLASSES


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


def _check_enough(y: np.ndarray, groups: np.ndarray, n_splits: int, what: str,
                  classes: tuple[str, ...] = CLASSES) -> None:
    """Raise ``ValueError`` naming the class (by its letter in ``classes``) that has no visit, or fewer patients
    than ``n_splits``; ``y`` holds the integer classes ``0..len(classes)-1``."""
    for c, name in enumerate(classes):
        n = np.unique(groups[y == c]).size
        if n == 0:
            raise ValueError(f"{what}: class {name} has no visits, so it cannot be learnt or scored; every class "
                             f"of {', '.join(classes)} needs visits of at least {n_splits} patients (one per fold)")
        if n < n_splits:
            raise ValueError(f"{what}: class {name} occurs in only {n} patient(s), fewer than the {n_splits} folds "
                             "requested; use fewer folds or a larger cohort")


def scored_visits(image_visit: np.ndarray, n_visits: int) -> np.ndarray:
    """Boolean mask ``(n_visits,)`` of the visits that have at least one image row (``image_visit``: the visit
    index of each image row) — the visits :func:`fusionlib.arms.runner.run_arm` scores."""
    return np.bincount(np.asarray(image_visit, dtype=np.int64), minlength=n_visits)[:n_visits] > 0


def patient_folds(y: np.ndarray, groups: np.ndarray, n_splits: int = 5, n_repeats: int = 3, seed: int = 0,
                  inner_splits: int = 5, scored: np.ndarray | None = None) -> list[Fold]:
    """Repeated patient-grouped stratified K-fold over visits.

    Parameters
    ----------
    y : array of shape (n_visits,)
        Integer class per visit (stratification target), 0 = I, 1 = P, 2 = R; every class must occur.
    groups : array of shape (n_visits,)
        Patient id per visit; no patient is ever on both sides of any split.
    n_splits, n_repeats : int
        Outer folds and repeats; repeat ``r`` shuffles with ``seed + r``.
    inner_splits : int
        The inner validation set is one fold of a ``inner_splits``-fold patient-grouped split of ``train``
        (about ``1 / inner_splits`` of it).
    scored : bool array of shape (n_visits,), optional
        The visits that are scored (:func:`scored_visits`: those with image rows). When some are not, the outer
        and inner splits are stratified over the scored visits only, so that every fold's scored rows keep the
        class shares; each unscored visit follows its patient's fold (patients with no scored visit are spread
        over the folds in a seeded order, and sit in the inner training part), so it still trains the RF.
        ``None`` or all ``True``: every visit is scored (exactly the plain split).

    Raises ``ValueError`` naming the class (I, P or R) that has no (scored) visit or fewer patients than folds, or
    is absent from a reporting fold.
    """
    y = np.asarray(y)
    groups = np.asarray(groups)
    scored = np.ones(len(y), bool) if scored is None else np.asarray(scored, dtype=bool)
    if scored.shape != y.shape:
        raise ValueError(f"scored has shape {scored.shape}; y has {y.shape}")
    partial = not scored.all()
    idx = np.flatnonzero(scored)
    _check_enough(y[idx], groups[idx], n_splits,
                  f"cohort, the {idx.size} of {len(y)} visits with images (the scored ones)" if partial else "cohort")
    folds = []
    for r in range(n_repeats):
        outer = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed + r)
        splits = [(idx[tr], idx[va]) for tr, va in outer.split(np.zeros(idx.size), y[idx], groups[idx])]
        if partial:
            splits = _add_unscored(splits, groups, scored, seed + r)
        for k, (train, val) in enumerate(splits):
            val_s, train_s = val[scored[val]], train[scored[train]]
            missing = set(np.unique(y[idx])) - set(np.unique(y[val_s]))
            if missing:
                names = ", ".join(CLASSES[int(c)] for c in sorted(missing))
                raise ValueError(f"repeat {r} fold {k}: class(es) {names} absent from the reporting fold; use fewer "
                                 "folds or a larger cohort")
            inner = StratifiedGroupKFold(n_splits=inner_splits, shuffle=True, random_state=seed + 1000 * (r + 1) + k)
            i_tr, i_val = next(inner.split(np.zeros(len(train_s)), y[train_s], groups[train_s]))
            if partial:
                in_val = np.isin(groups[train], groups[train_s[i_val]])
                fold = Fold(r, k, train, val, train[~in_val], train[in_val])
            else:
                fold = Fold(r, k, train, val, train[i_tr], train[i_val])
            assert_patient_disjoint(groups, fold.train, fold.val, f"repeat {r} fold {k} (train/val)")
            assert_patient_disjoint(groups, fold.inner_train, fold.inner_val, f"repeat {r} fold {k} (inner)")
            folds.append(fold)
    return folds


def _add_unscored(splits: list, groups: np.ndarray, scored: np.ndarray, seed: int) -> list:
    """``splits`` (train, val) over the scored visits, with every unscored visit added to its patient's side;
    patients without a scored visit go to the reporting fold ``i % n_splits`` in a seeded order."""
    n_splits = len(splits)
    fold_of = {}
    for k, (_, val) in enumerate(splits):
        fold_of.update(dict.fromkeys(groups[val].tolist(), k))
    loose = np.unique(groups[~scored & ~np.isin(groups, list(fold_of))])
    order = np.random.default_rng(seed).permutation(loose.size)
    fold_of.update({p: i % n_splits for i, p in zip(range(loose.size), loose[order].tolist())})
    visit_fold = np.array([fold_of[p] for p in groups.tolist()])
    return [(np.flatnonzero(visit_fold != k), np.flatnonzero(visit_fold == k)) for k in range(n_splits)]
