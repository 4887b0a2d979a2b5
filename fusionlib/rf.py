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
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GroupKFold, KFold

from .features import make_imputer

DECOMPOSITIONS = ("ordinal_original", "ordinal", "multiclass")
SOURCES = ("in_sample", "oof", "oof_grouped")


def make_forest(seed: int = 0, n_estimators: int = 300, n_jobs: int | None = -1) -> RandomForestClassifier:
    """The original's forest: 300 trees, max depth 10, min samples per leaf 5, balanced class weights."""
    return RandomForestClassifier(n_estimators=n_estimators, max_depth=10, min_samples_leaf=5,
                                  class_weight="balanced", random_state=seed, n_jobs=n_jobs)


class MetadataForest(ClassifierMixin, BaseEstimator):
    """Clinical features (a DataFrame from :func:`fusionlib.features.clinical_features`) -> ``(n, 3)``
    class probabilities, with the imputer fitted on the training rows of each :meth:`fit`.

    ``predict_proba`` returns rows that sum to 1 except under ``decomposition="ordinal_original"``.
    """

    def __init__(self, decomposition: str = "ordinal", seed: int = 0, n_estimators: int = 300,
                 imputer: str = "knn", n_jobs: int | None = -1):
        self.decomposition = decomposition
        self.seed = seed
        self.n_estimators = n_estimators
        self.imputer = imputer
        self.n_jobs = n_jobs

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "MetadataForest":
        if self.decomposition not in DECOMPOSITIONS:
            raise ValueError(f"decomposition={self.decomposition!r}: use one of {DECOMPOSITIONS}")
        y = np.asarray(y)
        self.classes_ = np.arange(3)
        self.imputer_ = make_imputer(X, self.imputer).fit(X)
        Z = self.imputer_.transform(X)
        rf = make_forest(self.seed, self.n_estimators, self.n_jobs)
        if self.decomposition == "multiclass":
            self.forests_ = [clone(rf).fit(Z, y)]
        elif self.decomposition == "ordinal_original":
            self.forests_ = [clone(rf).fit(Z, y > 0), clone(rf).fit(Z, y == 2)]
        else:
            self.forests_ = [clone(rf).fit(Z, y > 0), clone(rf).fit(Z[y > 0], y[y > 0] == 2)]
        return self

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


def training_probabilities(X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, source: str,
                           decomposition: str, seed: int = 0, n_splits: int = 5, **forest_kw) -> np.ndarray:
    """Probabilities for the training rows ``X`` under ``source`` (see the module docstring), ``(n, 3)``."""
    if source not in SOURCES:
        raise ValueError(f"source={source!r}: use one of {SOURCES}")
    forest = MetadataForest(decomposition, seed=seed, **forest_kw)
    if source == "in_sample":
        return forest.fit(X, y).predict_proba(X)
    if source == "oof":
        splitter = KFold(n_splits=n_splits, shuffle=True, random_state=seed).split(X)
    else:
        splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(X, y, groups)
    out = np.full((len(X), 3), np.nan)
    for tr, te in splitter:
        out[te] = clone(forest).fit(X.iloc[tr], y[tr]).predict_proba(X.iloc[te])
    return out


def fold_probabilities(X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, train: np.ndarray, val: np.ndarray,
                       source: str, decomposition: str, seed: int = 0, **forest_kw) -> tuple[np.ndarray, np.ndarray]:
    """RF probabilities for one outer fold: ``(p_train, p_val)`` of shapes ``(len(train), 3)`` and
    ``(len(val), 3)``. ``p_train`` follows ``source``; ``p_val`` comes from the forest fit on all of ``train``.
    """
    Xtr, ytr = X.iloc[train], y[train]
    full = MetadataForest(decomposition, seed=seed, **forest_kw).fit(Xtr, ytr)
    p_val = full.predict_proba(X.iloc[val])
    if source == "in_sample":
        p_train = full.predict_proba(Xtr)
    else:
        p_train = training_probabilities(Xtr, ytr, groups[train], source, decomposition, seed, **forest_kw)
    return p_train, p_val
