"""The metadata arm: a Random Forest turning clinical features into three class probabilities.

Two switches reproduce the original code base's defects on purpose (``original-codebase-facts.md``):

``decomposition``
    ``"ordinal_original"`` — RF1 on ``y > 0``, RF2 on ``y == R`` over *all* rows (unconditional); output
    ``[1 - p1, p1 (1 - p2), p2]``, which sums to ``1 + p2 (1 - p1)``, not 1 (the original defect).
    ``"ordinal"`` — RF1 on ``y > 0``, RF2 on ``y == R`` among rows with ``y > 0`` (conditional); output
    ``[1 - p1, p1 (1 - p2), p1 p2]``, which sums to 1. ``"multiclass"`` — one three-class RF.

``source`` (where the *training* rows' probabilities come from; validation rows always get probabilities
from the forest fit on the whole training fold)
    ``"in_sample"`` — the forest fit on the training rows predicts those same rows (the original defect);
    ``"oof"`` — out-of-fold over a plain shuffled 5-fold KFold of the training rows (the original's later
    fix, which lets other visits of a patient leak into the inner fits); ``"oof_grouped"`` — out-of-fold over
    a patient-grouped 5-fold split (correct).

The forest is the original's: 300 trees, depth 10, min leaf 5, inverse-frequency ("balanced") class
weights. It is fit on visits (one row per visit: the clinical table's unit); image rows inherit their
visit's probabilities.

``forest="original"`` is instead the forest of the original code base's January runs (e0ba25c,
``src/data/dataset_utils.py``; :data:`ORIGINAL_FOREST`): depth 14, min split 19, min leaf 2, ``log2``
features, class weights balanced on the *unique* training visits, fit on the training visits **repeated once
per image row** (``repeats``: the original fit its forests on image rows) and then randomly oversampled to the
largest class (seeded), as the original did before its fit. With ``source="in_sample"`` it then predicts
its own (duplicated) training visits: the memorised, near-perfect training probabilities of the original.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GroupKFold, KFold

from fusionlib.data.features import make_imputer

DECOMPOSITIONS = ("ordinal_original", "ordinal", "multiclass")
SOURCES = ("in_sample", "oof", "oof_grouped")
FORESTS = ("project", "original")
#: The original code base's forest settings (e0ba25c, scikit-learn branch) and its number of trees.
ORIGINAL_FOREST = {"max_depth": 14, "min_samples_split": 19, "min_samples_leaf": 2, "max_features": "log2"}
ORIGINAL_TREES = 646


def make_forest(seed: int = 0, n_estimators: int = 300, n_jobs: int | None = -1) -> RandomForestClassifier:
    """The original's forest: 300 trees, max depth 10, min samples per leaf 5, balanced class weights."""
    return RandomForestClassifier(n_estimators=n_estimators, max_depth=10, min_samples_leaf=5,
                                  class_weight="balanced", random_state=seed, n_jobs=n_jobs)


def _balanced(target: np.ndarray) -> dict:
    """scikit-learn's "balanced" class weights of ``target`` as a dict (computed on the rows given)."""
    classes, counts = np.unique(target, return_counts=True)
    return {c: len(target) / (len(classes) * n) for c, n in zip(classes.tolist(), counts)}


def original_rows(y: np.ndarray, repeats: np.ndarray | None, seed: int) -> np.ndarray:
    """Row indices of the original's RF training set: row ``i`` repeated ``repeats[i]`` times (default once),
    then random oversampling of those rows to the largest class (seeded). Shape ``(n_out,)``."""
    y = np.asarray(y)
    rows = np.arange(len(y)) if repeats is None else np.repeat(np.arange(len(y)), np.asarray(repeats, dtype=int))
    counts = np.bincount(y[rows], minlength=3)
    rng = np.random.default_rng(seed)
    extra = [rng.choice(rows[y[rows] == c], counts.max() - counts[c]) for c in np.flatnonzero(counts)
             if counts[c] < counts.max()]
    return np.concatenate([rows, *extra])


class MetadataForest(ClassifierMixin, BaseEstimator):
    """Clinical features (a DataFrame from :func:`fusionlib.data.features.clinical_features`) -> ``(n, 3)``
    class probabilities, with the imputer fitted on the training rows of each :meth:`fit`.

    ``predict_proba`` returns rows that sum to 1 except under ``decomposition="ordinal_original"``.
    ``forest``: ``"project"`` or ``"original"`` (see the module docstring; :meth:`fit` then takes ``repeats``).
    """

    def __init__(self, decomposition: str = "ordinal", seed: int = 0, n_estimators: int = 300,
                 imputer: str = "knn", n_jobs: int | None = -1, forest: str = "project"):
        self.decomposition = decomposition
        self.seed = seed
        self.n_estimators = n_estimators
        self.imputer = imputer
        self.n_jobs = n_jobs
        self.forest = forest

    def fit(self, X: pd.DataFrame, y: np.ndarray, repeats: np.ndarray | None = None) -> "MetadataForest":
        """Fit on visits ``X`` / ``y``; ``repeats`` (``(n,)`` ints, ``forest="original"`` only): how many image
        rows each visit has, i.e. how often the original's forests saw it."""
        if self.decomposition not in DECOMPOSITIONS:
            raise ValueError(f"decomposition={self.decomposition!r}: use one of {DECOMPOSITIONS}")
        if self.forest not in FORESTS:
            raise ValueError(f"forest={self.forest!r}: use one of {FORESTS}")
        y = np.asarray(y)
        self.classes_ = np.arange(3)
        self.imputer_ = make_imputer(X, self.imputer).fit(X)
        Z = self.imputer_.transform(X)
        if self.forest == "original":
            self.forests_ = self._fit_original(Z, y, repeats)
            return self
        if repeats is not None:
            raise ValueError("repeats= applies to forest='original' only")
        rf = make_forest(self.seed, self.n_estimators, self.n_jobs)
        if self.decomposition == "multiclass":
            self.forests_ = [clone(rf).fit(Z, y)]
        elif self.decomposition == "ordinal_original":
            self.forests_ = [clone(rf).fit(Z, y > 0), clone(rf).fit(Z, y == 2)]
        else:
            self.forests_ = [clone(rf).fit(Z, y > 0), clone(rf).fit(Z[y > 0], y[y > 0] == 2)]
        return self

    def _fit_original(self, Z: np.ndarray, y: np.ndarray, repeats: np.ndarray | None) -> list:
        """The original's forests: class weights from the unique visits, fit on repeated + oversampled rows."""
        rows = original_rows(y, repeats, self.seed)

        def forest(target_unique, target_rows, mask=slice(None)):
            rf = RandomForestClassifier(n_estimators=self.n_estimators, class_weight=_balanced(target_unique),
                                        random_state=self.seed, n_jobs=self.n_jobs, **ORIGINAL_FOREST)
            return rf.fit(Z[rows][mask], target_rows)

        yr = y[rows]
        if self.decomposition == "multiclass":
            return [forest(y, yr)]
        if self.decomposition == "ordinal_original":
            return [forest(y > 0, yr > 0), forest(y == 2, yr == 2)]
        return [forest(y > 0, yr > 0), forest(y[y > 0] == 2, yr[yr > 0] == 2, yr > 0)]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, 3)`` probabilities. Trees are averaged in one thread: scikit-learn's threaded accumulation adds
        them in whatever order the threads finish, which changes the last bit from run to run."""
        Z = self.imputer_.transform(X)
        for forest in self.forests_:
            forest.set_params(n_jobs=1)
        if self.decomposition == "multiclass":
            p = np.zeros((len(Z), 3))
            p[:, self.forests_[0].classes_] = self.forests_[0].predict_proba(Z)
            return p
        p1, p2 = (_positive_proba(f, Z) for f in self.forests_)
        if self.decomposition == "ordinal_original":
            return np.stack([1 - p1, p1 * (1 - p2), p2], axis=1)
        return np.stack([1 - p1, p1 * (1 - p2), p1 * p2], axis=1)


def _positive_proba(forest: RandomForestClassifier, Z: np.ndarray) -> np.ndarray:
    """P(True) from a binary forest (0 if the training rows had no positive)."""
    proba = forest.predict_proba(Z)
    return proba[:, list(forest.classes_).index(True)] if True in forest.classes_ else np.zeros(len(Z))


def _fit_kw(repeats, idx=None) -> dict:
    return {} if repeats is None else {"repeats": np.asarray(repeats) if idx is None else np.asarray(repeats)[idx]}


def training_probabilities(X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, source: str,
                           decomposition: str, seed: int = 0, n_splits: int = 5, repeats: np.ndarray | None = None,
                           **forest_kw) -> np.ndarray:
    """Probabilities for the training rows ``X`` under ``source`` (see the module docstring), ``(n, 3)``;
    ``repeats``: image rows per visit, for ``forest="original"``."""
    if source not in SOURCES:
        raise ValueError(f"source={source!r}: use one of {SOURCES}")
    forest = MetadataForest(decomposition, seed=seed, **forest_kw)
    if source == "in_sample":
        return forest.fit(X, y, **_fit_kw(repeats)).predict_proba(X)
    if source == "oof":
        splitter = KFold(n_splits=n_splits, shuffle=True, random_state=seed).split(X)
    else:
        splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(X, y, groups)
    out = np.full((len(X), 3), np.nan)
    for tr, te in splitter:
        out[te] = clone(forest).fit(X.iloc[tr], y[tr], **_fit_kw(repeats, tr)).predict_proba(X.iloc[te])
    return out


def fold_probabilities(X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, train: np.ndarray, val: np.ndarray,
                       source: str, decomposition: str, seed: int = 0, repeats: np.ndarray | None = None,
                       **forest_kw) -> tuple[np.ndarray, np.ndarray]:
    """RF probabilities for one outer fold: ``(p_train, p_val)`` of shapes ``(len(train), 3)`` and
    ``(len(val), 3)``. ``p_train`` follows ``source``; ``p_val`` comes from the forest fit on all of ``train``.
    ``repeats``: image rows per visit of all of ``X`` (``forest="original"`` only).
    """
    Xtr, ytr = X.iloc[train], y[train]
    rep = None if repeats is None else np.asarray(repeats)[train]
    full = MetadataForest(decomposition, seed=seed, **forest_kw).fit(Xtr, ytr, **_fit_kw(rep))
    p_val = full.predict_proba(X.iloc[val])
    if source == "in_sample":
        p_train = full.predict_proba(Xtr)
    else:
        p_train = training_probabilities(Xtr, ytr, groups[train], source, decomposition, seed, repeats=rep,
                                         **forest_kw)
    return p_train, p_val
