"""How good can the metadata alone be? Candidate metadata arms, chosen by nested patient-grouped CV.

Every fusion is judged against "the best single modality". This module finds the strongest *honest* metadata
arm of a visit table (the public clinical CSV, or the synthetic cohort) and measures what each choice is worth.

Candidates
    A :class:`MetadataConfig` is a model (:data:`MODELS`), an encoding (:data:`ENCODINGS`) and whether the
    temperature columns are features. :class:`MetadataModel` is one of them as a scikit-learn classifier:
    a :class:`MetadataEncoder` fitted on the training rows only, then the model; ``predict_proba`` gives
    ``(n_visits, 3)`` probabilities of I, P, R. :data:`REPORT` is the report's arm (the conditional ordinal
    pair of forests with balanced class weights, the report's encoding, no temperatures): the same
    probabilities as :class:`fusionlib.models.rf.MetadataForest` ``(decomposition="ordinal")``.

Selection without peeking (:func:`nested_cv`)
    The outer folds are the study's (:func:`fusionlib.data.splits.patient_folds`: patient-grouped, stratified,
    ``n_splits`` x ``n_repeats``, the same folds as :func:`fusionlib.arms.runner.run_arms` for the same seed).
    Inside each outer training fold, a patient-grouped ``inner_splits``-fold CV scores every candidate
    (quadratic κ of the pooled inner out-of-fold predictions, per visit; its forests may be smaller,
    ``inner_estimators``, since they only rank); the best one (ties: the earlier candidate, the report's arm
    first) is refitted on the whole outer training fold and predicts the outer validation visits. The outer validation rows never
    reach a fit or a score that chooses (``tests/test_metadata.py`` asserts it on indices). The choice of
    each outer fold is recorded.

Leaks, for contrast only (:data:`LEAKS`)
    ``"ungrouped"`` — folds that ignore the patient (visits of one patient on both sides of a fold);
    ``"label_columns"`` — the label-restating columns ``Healing Phase`` and ``Phase Confidence (%)`` as
    features. A leak runs only when asked for by name (``allow_leak="ungrouped"``); otherwise
    :class:`LeakRefused` says why.

The chapter's tables, figure and text, and the real-data page's bar, are in :mod:`fusionstudy.chapters.metadata_tables`.

Fits are single-threaded (forests, boosting and BLAS alike), so results are bit-identical from run to run
and do not depend on ``n_jobs`` (folds run in parallel processes instead). Each outer fold's work is cached
on disk by content (:func:`fusionlib.cache.store.cached`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Iterable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import KNNImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from fusionlib.data.features import CODINGS, clinical_features, labels, make_imputer, nominal_columns
from fusionlib.evaluation.metrics import PROBA, kappa_columns
from fusionlib.models.rf import _positive_proba, make_forest
from fusionlib.data.splits import Fold, patient_folds
from fusionlib.cache import code_key
from fusionlib.cache.hashing import content_key
from fusionlib.cache.store import cached

#: Candidate models, name -> what it is. Forests: 300 trees, max depth 10, min 5 samples per leaf (the
#: original's forest); the other models' settings are fixed here and were not tuned on any fold.
MODELS = {
    "ordinal_balanced": "the report's: conditional ordinal pair of forests, P(y > I) and P(R | y > I), "
                        "balanced class weights at both stages",
    "ordinal": "conditional ordinal pair of forests, no class weights",
    "rf3": "one three-class forest, no class weights",
    "rf3_balanced": "one three-class forest, balanced class weights",
    "hgb": "histogram gradient boosting (learning rate 0.1, max depth 3, min 10 samples per leaf, 100 iterations; "
           "fewer when the forests are smaller: as many as their trees)",
    "logistic": "multinomial logistic regression (L2, C = 1) on standardised features",
}
#: Encodings of the clinical columns, name -> what it does; all fitted on the training rows only.
ENCODINGS = {
    "fill": "the report's: coded columns as numbers (Exudate Appearance 1-4), numeric columns standardised and "
            "KNN-imputed (k = 5), nominal columns most-frequent imputed and one-hot",
    "missing_level": "categorical columns (nominal strings and coded columns such as Exudate Appearance) one-hot "
                     "with 'missing' as a level of its own; numeric columns as in 'fill'",
    "indicators": "'fill' plus a 0/1 missing-indicator column for every column with a gap in the training rows",
}
#: Leaks, name -> why it is one. Never run unless asked for by name.
LEAKS = {
    "ungrouped": "folds that ignore the patient put visits of one patient on both sides of a fold, so the model "
                 "can recognise the patient instead of the healing phase",
    "label_columns": "'Healing Phase' is the label with a +/- grade and 'Phase Confidence (%)' is the grader's "
                     "confidence in it: both restate the label",
}
#: Short names of the leaks for tables and figures.
LEAK_CHANGES = {"ungrouped": "ungrouped folds (one patient's visits on both sides)",
                "label_columns": "+ Healing Phase, Phase Confidence (%) (label restatements)"}
#: The label-restating columns the ``"label_columns"`` leak adds back.
LABEL_COLUMNS = ("Healing Phase", "Phase Confidence (%)")
#: The candidate space of the nested selection (temperatures are not a choice there: the semi-real image
#: branch is rendered from them, so the fusions' bar must go without; their effect is in the ablation).
SELECTION_MODELS = ("ordinal_balanced", "ordinal", "rf3", "rf3_balanced", "hgb", "logistic")
SELECTION_ENCODINGS = ("fill", "missing_level", "indicators")
#: The name of the nested-CV arm in tables and on the real-data page.
BEST_LABEL = "metadata, best by nested CV"


class LeakRefused(ValueError):
    """A leak arm was asked for without naming it in ``allow_leak``."""


def check_leak(leak: str, allow_leak: str | Iterable[str] | None, what: str = "this arm") -> None:
    """Raise :class:`LeakRefused` unless ``leak`` is ``""`` (honest) or named in ``allow_leak``."""
    if not leak:
        return
    if leak not in LEAKS:
        raise ValueError(f"leak={leak!r}: use one of {tuple(LEAKS)} (or '' for an honest arm)")
    allowed = {allow_leak} if isinstance(allow_leak, str) else set(allow_leak or ())
    if leak not in allowed:
        raise LeakRefused(f"{what} uses the leak {leak!r}: {LEAKS[leak]}. Its κ is not an estimate of anything; "
                          f"it is run only for contrast, and only when asked for by name: pass allow_leak={leak!r}")


@dataclass(frozen=True)
class MetadataConfig:
    """One candidate metadata arm: ``model`` (:data:`MODELS`), ``encoding`` (:data:`ENCODINGS`),
    ``temperatures`` (the temperature columns as features) and ``leak`` (``""``, or one of :data:`LEAKS`)."""

    model: str = "ordinal_balanced"
    encoding: str = "fill"
    temperatures: bool = False
    leak: str = ""

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"model={self.model!r}: use one of {tuple(MODELS)}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding={self.encoding!r}: use one of {tuple(ENCODINGS)}")
        if self.leak and self.leak not in LEAKS:
            raise ValueError(f"leak={self.leak!r}: use one of {tuple(LEAKS)} (or '' for an honest arm)")

    @property
    def label(self) -> str:
        """``model | encoding | no temperatures`` (``| LEAK: <name>`` for a leak)."""
        parts = [self.model, self.encoding, "temperatures" if self.temperatures else "no temperatures"]
        return " | ".join(parts + ([f"LEAK: {self.leak}"] if self.leak else []))

    @property
    def feature_set(self) -> str:
        """The feature table it reads: ``base``, ``temperatures``, plus ``+label_columns`` for that leak."""
        return ("temperatures" if self.temperatures else "base") + \
            ("+label_columns" if self.leak == "label_columns" else "")


#: The report's arm.
REPORT = MetadataConfig()


def candidates(models: Iterable[str] = SELECTION_MODELS, encodings: Iterable[str] = SELECTION_ENCODINGS,
               temperatures: bool = False) -> list[MetadataConfig]:
    """The honest candidates ``models x encodings`` (the report's arm first when it is among them)."""
    out = [MetadataConfig(m, e, temperatures) for m in models for e in encodings]
    return sorted(out, key=lambda c: c != replace(REPORT, temperatures=temperatures))


# --- features and encodings ----------------------------------------------------------------------------

def metadata_features(visits: pd.DataFrame, temperatures: bool = False, label_columns: bool = False,
                      allow_leak: str | Iterable[str] | None = None) -> pd.DataFrame:
    """The feature columns of a visit table (:func:`fusionlib.data.features.clinical_features`), before encoding.

    ``label_columns=True`` adds :data:`LABEL_COLUMNS` back (the ``"label_columns"`` leak: refused unless
    ``allow_leak`` names it). Returns a DataFrame with the index of ``visits``; missing values stay NaN.
    """
    X = clinical_features(visits, include_temperatures=temperatures)
    if label_columns:
        check_leak("label_columns", allow_leak, "label_columns=True")
        missing = [c for c in LABEL_COLUMNS if c not in visits.columns]
        if missing:
            raise ValueError(f"label_columns=True: the visit table lacks column(s) {missing}")
        X = X.assign(**{LABEL_COLUMNS[0]: visits[LABEL_COLUMNS[0]].astype(object).where(
                            visits[LABEL_COLUMNS[0]].notna(), np.nan),
                        LABEL_COLUMNS[1]: pd.to_numeric(visits[LABEL_COLUMNS[1]], errors="coerce").astype(float)})
    return X


def categorical_columns(X: pd.DataFrame) -> list[str]:
    """The columns the ``"missing_level"`` encoding treats as categories: nominal strings and the coded
    columns of :data:`fusionlib.data.features.CODINGS` (text in the source file, e.g. Exudate Appearance)."""
    nominal = nominal_columns(X)
    return nominal + [c for c in CODINGS if c in X.columns and c not in nominal]


def as_categories(X) -> np.ndarray:
    """Values as category strings, ``"missing"`` for a gap (``1.0`` -> ``"1"``), shape of ``X``, object."""
    arr = np.asarray(X, dtype=object)
    out = np.empty(arr.shape, dtype=object)
    for idx, v in np.ndenumerate(arr):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out[idx] = "missing"
        elif isinstance(v, float) and v.is_integer():
            out[idx] = str(int(v))
        else:
            out[idx] = str(v)
    return out


class MetadataEncoder(TransformerMixin, BaseEstimator):
    """Clinical features (a DataFrame from :func:`metadata_features`) -> a dense float array, with every
    statistic (imputation, categories, which columns get an indicator) fitted in :meth:`fit` only.

    ``encoding``: one of :data:`ENCODINGS`. ``"fill"`` is :func:`fusionlib.data.features.make_imputer` (the
    report's). ``"missing_level"``: :func:`categorical_columns` one-hot, a gap being the level ``"missing"``
    — a level (``"missing"`` included) exists only if the training rows have it; an unseen one encodes as
    all zeros. ``"indicators"``: ``"fill"`` plus one 0/1 column per column with a gap in the training rows.
    """

    def __init__(self, encoding: str = "fill"):
        self.encoding = encoding

    def fit(self, X: pd.DataFrame, y=None) -> "MetadataEncoder":
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding={self.encoding!r}: use one of {tuple(ENCODINGS)}")
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"MetadataEncoder.fit needs a DataFrame of clinical features, got {type(X).__name__}")
        self.columns_ = list(X.columns)
        if self.encoding == "missing_level":
            cat = categorical_columns(X)
            num = [c for c in X.columns if c not in cat]
            self.base_ = ColumnTransformer(
                [("num", make_pipeline(StandardScaler(), KNNImputer(n_neighbors=5)), num),
                 ("cat", make_pipeline(FunctionTransformer(as_categories, feature_names_out="one-to-one"),
                                       OneHotEncoder(handle_unknown="ignore", sparse_output=False)), cat)],
                verbose_feature_names_out=False)
        else:
            self.base_ = make_imputer(X, "knn")
        self.base_.fit(X)
        self.indicator_columns_ = ([c for c in X.columns if X[c].isna().any()]
                                   if self.encoding == "indicators" else [])
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """``(n_rows, n_encoded)`` floats; raises ``ValueError`` naming columns absent from ``X``."""
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise ValueError(f"missing feature column(s) {missing[:5]} (the encoder was fitted with them)")
        X = X[self.columns_]
        Z = np.asarray(self.base_.transform(X), dtype=float)
        if self.indicator_columns_:
            Z = np.hstack([Z, X[self.indicator_columns_].isna().to_numpy(dtype=float)])
        return Z

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        names = list(self.base_.get_feature_names_out())
        return np.array(names + [f"{c} is missing" for c in self.indicator_columns_], dtype=object)


# --- models ----------------------------------------------------------------------------------------------

def _forest(seed: int, n_estimators: int, balanced: bool) -> RandomForestClassifier:
    if balanced:
        return make_forest(seed, n_estimators, n_jobs=1)
    return RandomForestClassifier(n_estimators=n_estimators, max_depth=10, min_samples_leaf=5, class_weight=None,
                                  random_state=seed, n_jobs=1)


class _OrdinalPair(ClassifierMixin, BaseEstimator):
    """P(y > I) and P(R | y > I) from two clones of ``forest``: ``[1 - p1, p1 (1 - p2), p1 p2]``."""

    def __init__(self, forest: RandomForestClassifier):
        self.forest = forest

    def fit(self, Z, y):
        y = np.asarray(y)
        self.classes_ = np.arange(3)
        self.first_ = clone(self.forest).fit(Z, y > 0)
        self.second_ = clone(self.forest).fit(Z[y > 0], y[y > 0] == 2)
        return self

    def predict_proba(self, Z):
        p1, p2 = _positive_proba(self.first_, Z), _positive_proba(self.second_, Z)
        return np.stack([1 - p1, p1 * (1 - p2), p1 * p2], axis=1)


def make_model(name: str, seed: int = 0, n_estimators: int = 300):
    """An unfitted model of :data:`MODELS` that works on encoded arrays; every one single-threaded.
    ``n_estimators``: trees per forest; boosting runs ``min(100, n_estimators)`` iterations."""
    if name not in MODELS:
        raise ValueError(f"model={name!r}: use one of {tuple(MODELS)}")
    if name in ("ordinal_balanced", "ordinal"):
        return _OrdinalPair(_forest(seed, n_estimators, balanced=name == "ordinal_balanced"))
    if name in ("rf3", "rf3_balanced"):
        return _forest(seed, n_estimators, balanced=name == "rf3_balanced")
    if name == "hgb":
        return HistGradientBoostingClassifier(learning_rate=0.1, max_iter=min(100, n_estimators), max_depth=3,
                                              min_samples_leaf=10, early_stopping=False, random_state=seed)
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))


def _proba3(model, Z: np.ndarray) -> np.ndarray:
    """``(n, 3)`` probabilities of classes 0, 1, 2 (a class absent from the training rows gets 0)."""
    p = model.predict_proba(Z)
    classes = list(getattr(model, "classes_", range(p.shape[1])))
    if len(classes) == 3 and classes == [0, 1, 2]:
        return np.asarray(p, dtype=float)
    out = np.zeros((len(Z), 3))
    out[:, [int(c) for c in classes]] = p
    return out


def _single_thread():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


class MetadataModel(ClassifierMixin, BaseEstimator):
    """One candidate metadata arm as a scikit-learn classifier: clinical features (DataFrame) -> ``(n, 3)``.

    ``model`` / ``encoding``: see :data:`MODELS` and :data:`ENCODINGS`; the encoder is fitted on the rows
    given to :meth:`fit` only. ``seed`` seeds the forests / boosting; ``n_estimators`` is the forest size.
    """

    def __init__(self, model: str = "ordinal_balanced", encoding: str = "fill", seed: int = 0,
                 n_estimators: int = 300):
        self.model = model
        self.encoding = encoding
        self.seed = seed
        self.n_estimators = n_estimators

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "MetadataModel":
        self.classes_ = np.arange(3)
        with _single_thread():
            self.encoder_ = MetadataEncoder(self.encoding).fit(X)
            self.model_ = make_model(self.model, self.seed, self.n_estimators).fit(self.encoder_.transform(X),
                                                                                   np.asarray(y))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``(n, 3)`` probabilities of I, P, R; rows sum to 1."""
        with _single_thread():
            return _proba3(self.model_, self.encoder_.transform(X))


# --- folds, fits and the nested selection ------------------------------------------------------------------

def feature_tables(visits: pd.DataFrame, configs: Iterable[MetadataConfig],
                   allow_leak: str | Iterable[str] | None = None) -> dict[str, pd.DataFrame]:
    """The feature tables ``configs`` read, by :attr:`MetadataConfig.feature_set`, index ``0..n-1``."""
    visits = visits.reset_index(drop=True)
    out = {}
    for c in configs:
        if c.feature_set not in out:
            out[c.feature_set] = metadata_features(visits, c.temperatures, c.leak == "label_columns", allow_leak)
    return out


def outer_folds(visits: pd.DataFrame, n_splits: int = 5, n_repeats: int = 3, seed: int = 0) -> list[Fold]:
    """The study's outer folds of ``visits`` (:func:`fusionlib.data.splits.patient_folds`): the folds
    :func:`fusionlib.arms.runner.run_arms` uses for a cohort with these visits and the same settings."""
    return patient_folds(labels(visits), visits["Patient#"].to_numpy(), n_splits, n_repeats, seed=seed)


def ungrouped_folds(y: np.ndarray, n_splits: int = 5, n_repeats: int = 3, seed: int = 0) -> list[Fold]:
    """Stratified K-fold over visits that **ignores the patient** (the ``"ungrouped"`` leak); repeat ``r``
    shuffles with ``seed + r``. Use only through :func:`evaluate` with ``allow_leak="ungrouped"``."""
    out = []
    empty = np.array([], dtype=np.int64)
    for r in range(n_repeats):
        split = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed + r)
        for k, (train, val) in enumerate(split.split(np.zeros(len(y)), y)):
            out.append(Fold(r, k, train, val, empty, empty))
    return out


def inner_splits_of(y_train: np.ndarray, groups_train: np.ndarray, n_splits: int, seed: int) -> list[tuple]:
    """Patient-grouped stratified ``n_splits``-fold split of an outer training fold: ``(fit, score)`` pairs of
    positions *within* the training fold."""
    split = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(split.split(np.zeros(len(y_train)), y_train, groups_train))


def _fit_predict(configs: list[MetadataConfig], tables: dict[str, pd.DataFrame], y: np.ndarray, fit_rows: np.ndarray,
                 predict_rows: np.ndarray, seed: int, n_estimators: int) -> np.ndarray:
    """Every config fitted on visits ``fit_rows`` (encoder included) and predicting ``predict_rows``:
    ``(n_configs, len(predict_rows), 3)``. One encoder per (feature set, encoding) is shared by the models."""
    out = np.empty((len(configs), len(predict_rows), 3))
    encoded = {}
    with _single_thread():
        for i, c in enumerate(configs):
            key = (c.feature_set, c.encoding)
            if key not in encoded:
                X = tables[c.feature_set]
                enc = MetadataEncoder(c.encoding).fit(X.iloc[fit_rows])
                encoded[key] = enc.transform(X.iloc[fit_rows]), enc.transform(X.iloc[predict_rows])
            z_fit, z_pred = encoded[key]
            out[i] = _proba3(make_model(c.model, seed, n_estimators).fit(z_fit, y[fit_rows]), z_pred)
    return out


def _inner_seed(seed: int, fold: Fold) -> int:
    return seed + 7919 * (fold.repeat + 1) + 31 * fold.fold


def _outer_fold(configs: list[MetadataConfig], tables: dict[str, pd.DataFrame], y: np.ndarray,
                groups: np.ndarray, fold: Fold, inner_splits: int, seed: int, n_estimators: int,
                inner_estimators: int, table_key: str) -> dict:
    """One outer fold: ``outer`` — every config fitted on ``fold.train``, predicting ``fold.val``,
    ``(n_configs, len(val), 3)``; with ``inner_splits``, also ``inner_kappa_quadratic`` /
    ``inner_kappa_unweighted`` ``(n_configs,)``: κ per visit of the pooled inner out-of-fold predictions,
    computed from ``fold.train`` alone, with ``inner_estimators`` trees per forest. Cached on disk by content."""
    train, val = np.asarray(fold.train), np.asarray(fold.val)

    def compute():
        out = {"outer": _fit_predict(configs, tables, y, train, val, seed, n_estimators)}
        if inner_splits:
            oof = np.full((len(configs), len(train), 3), np.nan)
            for fit, score in inner_splits_of(y[train], groups[train], inner_splits, _inner_seed(seed, fold)):
                oof[:, score] = _fit_predict(configs, tables, y, train[fit], train[score], seed, inner_estimators)
            pred = oof.argmax(axis=2).T
            out["inner_kappa_quadratic"] = kappa_columns(y[train], pred, "quadratic")
            out["inner_kappa_unweighted"] = kappa_columns(y[train], pred, None)
        return out

    key = content_key(table_key, y, groups, train, val, [c.label for c in configs], inner_splits, seed,
                      n_estimators, inner_estimators if inner_splits else 0, code_key(_fit_predict))
    return cached("metadata", key, compute)


def _tables_key(tables: dict[str, pd.DataFrame]) -> str:
    return content_key(*[x for name in sorted(tables)
                         for x in (name, pd.util.hash_pandas_object(tables[name], index=True).to_numpy(),
                                   list(tables[name].columns))])


def _run_folds(configs, tables, y, groups, folds, inner_splits, seed, n_estimators, inner_estimators, n_jobs,
               progress) -> list[dict]:
    key = _tables_key(tables)
    args = [(configs, tables, y, groups, f, inner_splits, seed, n_estimators, inner_estimators, key) for f in folds]
    if n_jobs == 1:
        from tqdm.auto import tqdm

        return [_outer_fold(*a) for a in tqdm(args, disable=not progress, desc="outer folds", unit="fold")]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs)(delayed(_outer_fold)(*a) for a in args)


def _frame(fold: Fold, y: np.ndarray, groups: np.ndarray, p: np.ndarray, arm: str) -> pd.DataFrame:
    return pd.DataFrame({"arm": arm, "split": "val", "repeat": fold.repeat, "fold": fold.fold, "visit": fold.val,
                         "patient": groups[fold.val], "y": y[fold.val],
                         **{col: p[:, j] for j, col in enumerate(PROBA)}})


@dataclass
class NestedResult:
    """What :func:`nested_cv` found.

    ``nested``: the predictions of the nested arm (one row per repeat and outer-validation visit: ``arm``,
    ``split``, ``repeat``, ``fold``, ``visit``, ``patient``, ``y``, ``p_I``, ``p_P``, ``p_R``).
    ``candidates``: the same table for every candidate used as one fixed arm on all outer folds (for the
    ablation; choosing among them by these numbers would be peeking). ``choices``: one row per outer fold
    — the chosen candidate and its inner κ. ``inner``: every candidate's inner κ per outer fold.
    """

    configs: list
    folds: list
    nested: pd.DataFrame
    candidates: dict
    choices: pd.DataFrame
    inner: pd.DataFrame
    settings: dict = field(default_factory=dict)
    wall_s: float = 0.0

    def config(self, label: str) -> MetadataConfig:
        return next(c for c in self.configs if c.label == label)

    def modal_choice(self) -> MetadataConfig:
        """The candidate chosen in most outer folds (ties: the higher mean inner κ) — an inner-data choice."""
        counts = self.choices["chosen"].value_counts()
        tied = counts[counts == counts.max()].index
        inner = self.inner[self.inner["candidate"].isin(tied)].groupby("candidate")["inner κ quad"].mean()
        return self.config(inner.idxmax())


def nested_cv(visits: pd.DataFrame, configs: list[MetadataConfig] | None = None, n_splits: int = 5,
              n_repeats: int = 3, seed: int = 0, inner_splits: int = 5, n_estimators: int = 300,
              inner_estimators: int | None = None, n_jobs: int = 1, folds: list[Fold] | None = None,
              progress: bool = False) -> NestedResult:
    """Choose the metadata arm by nested patient-grouped CV; report it on the outer folds.

    Parameters
    ----------
    visits : DataFrame
        One row per visit with the clinical columns, ``Patient#`` and the label ``Healing Phase Abs``
        (``Cohort.visits``; the public CSV through :func:`fusionlib.data.dfu.read_clinical`).
    configs : list of MetadataConfig
        The candidates (default :func:`candidates`); honest ones only — a leak is refused here.
    n_splits, n_repeats, seed : int
        The outer folds (:func:`outer_folds`), unless ``folds`` gives them.
    inner_splits : int
        Inner patient-grouped folds per outer training fold (>= 2).
    n_estimators, inner_estimators : int
        Trees per forest of the reporting fits and of the inner (choosing) fits (default: ``n_estimators``).
    n_jobs : int
        Outer folds computed in parallel processes (results do not depend on it).

    Returns a :class:`NestedResult`; per-visit probabilities have shape ``(n_val, 3)`` per fold.
    """
    t0 = time.perf_counter()
    configs = list(configs) if configs is not None else candidates()
    if not configs:
        raise ValueError("configs is empty: nothing to choose from")
    for c in configs:
        check_leak(c.leak, None, f"candidate {c.label!r}")
    if inner_splits < 2:
        raise ValueError(f"inner_splits={inner_splits}: need at least 2 inner folds to choose without peeking")
    visits = visits.reset_index(drop=True)
    y, groups = labels(visits), visits["Patient#"].to_numpy()
    folds = folds if folds is not None else outer_folds(visits, n_splits, n_repeats, seed)
    tables = feature_tables(visits, configs)
    inner_estimators = inner_estimators or n_estimators
    outs = _run_folds(configs, tables, y, groups, folds, inner_splits, seed, n_estimators, inner_estimators, n_jobs,
                      progress)
    frames = {c.label: [] for c in configs}
    nested, choices, inner = [], [], []
    report_i = next((i for i, c in enumerate(configs) if c == REPORT), None)
    for fold, out in zip(folds, outs):
        kq, ku = out["inner_kappa_quadratic"], out["inner_kappa_unweighted"]
        best = int(np.argmax(kq))                       # ties: the first candidate (the report's arm first)
        for i, c in enumerate(configs):
            frames[c.label].append(_frame(fold, y, groups, out["outer"][i], c.label))
            inner.append({"repeat": fold.repeat, "fold": fold.fold, "candidate": c.label,
                          "inner κ quad": float(kq[i]), "inner κ unw": float(ku[i])})
        nested.append(_frame(fold, y, groups, out["outer"][best], BEST_LABEL))
        choices.append({"repeat": fold.repeat, "fold": fold.fold, "chosen": configs[best].label,
                        "model": configs[best].model, "encoding": configs[best].encoding,
                        "inner κ quad (chosen)": float(kq[best]),
                        "inner κ quad (report's arm)": float(kq[report_i]) if report_i is not None else np.nan,
                        "training visits": len(fold.train), "reporting visits": len(fold.val)})
    settings = {"n_splits": n_splits, "n_repeats": n_repeats, "seed": seed, "inner_splits": inner_splits,
                "n_estimators": n_estimators, "inner_estimators": inner_estimators, "n_visits": len(visits),
                "n_folds": len(folds)}
    return NestedResult(configs, folds, pd.concat(nested, ignore_index=True),
                        {k: pd.concat(v, ignore_index=True) for k, v in frames.items()}, pd.DataFrame(choices),
                        pd.DataFrame(inner), settings, time.perf_counter() - t0)


def evaluate(visits: pd.DataFrame, config: MetadataConfig, folds: list[Fold] | None = None, n_splits: int = 5,
             n_repeats: int = 3, seed: int = 0, n_estimators: int = 300, allow_leak: str | Iterable[str] | None = None,
             n_jobs: int = 1) -> pd.DataFrame:
    """One fixed config on the outer folds (no selection): the predictions table of :class:`NestedResult`.

    A leak config is refused unless ``allow_leak`` names it; the ``"ungrouped"`` leak replaces the folds by
    :func:`ungrouped_folds` (same ``n_splits``, ``n_repeats``, ``seed``), so ``folds`` must not be given.
    """
    check_leak(config.leak, allow_leak, f"config {config.label!r}")
    visits = visits.reset_index(drop=True)
    y, groups = labels(visits), visits["Patient#"].to_numpy()
    if config.leak == "ungrouped":
        if folds is not None:
            raise ValueError("the 'ungrouped' leak makes its own folds; do not pass folds")
        folds = ungrouped_folds(y, n_splits, n_repeats, seed)
    folds = folds if folds is not None else outer_folds(visits, n_splits, n_repeats, seed)
    tables = feature_tables(visits, [config], allow_leak)
    outs = _run_folds([config], tables, y, groups, folds, 0, seed, n_estimators, 0, n_jobs, False)
    return pd.concat([_frame(f, y, groups, o["outer"][0], config.label) for f, o in zip(folds, outs)],
                     ignore_index=True)


__all__ = ["MODELS", "ENCODINGS", "LEAKS", "LEAK_CHANGES", "LABEL_COLUMNS", "REPORT", "BEST_LABEL",
           "SELECTION_MODELS", "SELECTION_ENCODINGS", "LeakRefused", "MetadataConfig", "MetadataEncoder",
           "MetadataModel", "NestedResult", "candidates", "check_leak", "metadata_features", "categorical_columns",
           "make_model", "feature_tables", "outer_folds", "ungrouped_folds", "inner_splits_of", "nested_cv",
           "evaluate"]
