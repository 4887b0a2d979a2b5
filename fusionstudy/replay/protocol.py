"""The original protocol, replayed on the public row table (issue 10).

The original code base's January runs (commits e0ba25c and 1ea5ac0 of github.com/rezabasiri/DFUMultiClassification)
trained and validated the metadata arm on the rows of ``best_matching.csv``: one row per matched depth + thermal
image pair of a visit, 3,107 rows of 517 visits, the clinical columns joined on. This module re-does that
protocol step by step, in this package's own words:

1. :func:`read_rows` reads the table in its order (validated; its sha256 is checked against the pinned public
   file, :data:`fusionlib.data.datasets.FILES`);
2. :func:`original_folds`: the original's patient folds (3 or 5, seed 42): each patient goes to the class of
   the majority of its rows, each class's patients are shuffled (legacy NumPy ``RandomState``) and dealt to the
   folds in order, the first ``remainder`` folds getting one more;
3. per fold ``k`` (seed ``42 + k (k + 3)``): the training rows are randomly oversampled to the largest class
   (:func:`oversample_indices`, the stream of imbalanced-learn's ``RandomOverSampler``) **before** anything is
   fitted; :func:`prepare` derives BMI and bins, codes five categorical columns with
   ``pandas.Categorical(...).codes`` **separately in each split**, maps three ordinal ones, drops the
   identifiers and label restatements, KNN-imputes (k = 3) and standardises with the training rows, and keeps the
   40 columns of highest mutual information with the label (scikit-learn, ``random_state=42``, computed on the
   oversampled training rows);
4. two binary forests (646 trees, depth 14, min split 19, min leaf 2, ``max_features="log2"``, class weights
   "balanced" over the training split's *unique visits*, seeded with the fold seed) give ``p1 = P(y > I)`` and
   ``p2 = P(y = R)``; the training rows get the probabilities of the forests fitted on them (in-sample);
5. the RF vector ``[1 - p1, p1 (1 - p2), p2]`` (:func:`ordinal_vector`; it sums to ``1 + p2 (1 - p1)``,
   e0ba25c divided it by that sum) feeds one of two metadata heads: e0ba25c's ``softmax`` of the vector (zero
   trainable weights: its prediction is the RF's argmax) or 1ea5ac0's ``BatchNormalization -> softmax``
   trained as there (:data:`BN_RECIPE`, :func:`fit_bn_head`).

Each of the original's defects can be switched off on the same folds (:class:`Protocol`, :data:`DEFECTS`).
:func:`run` returns tidy per-fold tables: quadratic and unweighted κ, the training rows' κ, the confusion
matrix (rows true I, P, R; columns predicted) and the agreement of the head's predictions with the RF argmax.

**Environments.** scikit-learn 1.9 changed how a forest with ``class_weight`` draws its bootstrap (indices drawn
with probability proportional to the weights, scikit-learn PR #31529) and how a tree sorts tied feature values,
so the same seeds grow other forests. The recorded numbers are reproduced exactly by the pinned environment of
``requirements-replay.txt`` (``make replay-env``: Python 3.11, scikit-learn 1.5.2, NumPy 1.26.4, pandas 2.2.3,
the versions of the original runs); :func:`run` computes the forests there when it exists (``engine="auto"``),
in a subprocess, and says which environment produced each table (:func:`engine_info`). The heads and everything
Keras run in the project's environment. Results are cached on disk by content (:mod:`fusionlib.cache.store`), keyed by
the data's sha256, the settings, the source of every module the computing function reaches
(:func:`fusionlib.cache.code_key`) and the engine's library versions.

This module imports only NumPy, pandas and scikit-learn at import time (the pinned environment has no Keras).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import mutual_info_classif
from sklearn.impute import KNNImputer
from sklearn.metrics import cohen_kappa_score, confusion_matrix
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight

from fusionlib import io
from fusionlib.cache import code_key, store
from fusionlib.data.datasets import BEST_MATCHING_CSV, FILES
from fusionlib.cache.hashing import ContentHash, content_key, file_sha256

from fusionstudy import PROJECT  # noqa: E402
ROWS_CSV = BEST_MATCHING_CSV
LABEL = "Healing Phase Abs"
CLASSES = ("I", "P", "R")
CLASS_CODES = {c: i for i, c in enumerate(CLASSES)}
VISIT_KEY = ("Patient#", "Appt#", "DFU#")
#: Image file and box columns of the row table (not metadata).
IMAGE_COLUMNS = ("depth_rgb", "depth_map", "thermal_rgb", "thermal_map", "depth_xmin", "depth_ymin", "depth_xmax",
                 "depth_ymax", "thermal_xmin", "thermal_ymin", "thermal_xmax", "thermal_ymax")
#: Text columns coded by ``pandas.Categorical(column).codes`` — in the original separately in each split.
CODED = ("Sex (F:0, M:1)", "Side (Left:0, Right:1)", "Foot Aspect", "Odor", "Type of Pain Grouped")
#: Text columns mapped to fixed codes (values outside the mapping become missing and are imputed).
MAPPED = {
    "Location Grouped (Hallux:1,Toes,Middle,Heel,Ankle:5)": {"Hallux": 0, "toes": 1, "middle": 2, "Heel": 3,
                                                             "ankle": 4},
    "Dressing Grouped": {"NoDressing": 0, "BandAid": 1, "BasicDressing": 1, "AbsorbantDressing": 2, "Antiseptic": 3,
                         "AdvanceMethod": 4, "other": 4},
    "Exudate Appearance (Serous:1,Haemoserous,Bloody,Thick:4)": {"Serous": 0, "Haemoserous": 1, "Bloody": 2,
                                                                 "Thick": 3},
}
#: Columns removed before imputation: identifiers, label restatements, free text, raw temperatures, dressing and
#: offloading (as listed at e0ba25c). ``Patient#`` stays until feature selection (it takes part in the imputer's
#: distances and the scaler, not in the forests).
DROPPED = ("ID", "Location", "Healing Phase", "Phase Confidence (%)", "DFU#", "Appt#", "Appt Days", "Type of Pain2",
           "Type of Pain_Grouped2", "Type of Pain", "Peri-Ulcer Temperature (°C)", "Wound Centre Temperature (°C)",
           "Dressing", "Dressing Grouped", "No Offloading", "Offloading: Therapeutic Footwear",
           "Offloading: Scotcast Boot or RCW", "Offloading: Half Shoes or Sandals", "Offloading: Total Contact Cast",
           "Offloading: Crutches, Walkers or Wheelchairs", "Offloading Score")
#: Columns truncated to integers after imputation (those of the original's list that survive the drop).
TRUNCATED = ("Sex (F:0, M:1)", "Smoking", "Alcohol Consumption", "Habits Score", "Type of Diabetes",
             "Heart Conditions", "Cancer History", "Sensory Peripheral", "Clinical Score", "Number of DFUs",
             "Side (Left:0, Right:1)", "Foot Aspect", "Location Grouped (Hallux:1,Toes,Middle,Heel,Ankle:5)",
             "No Toes Deformities", "Bunion", "Claw", "Hammer", "Charcot Arthropathy", "Flat (Pes Planus) Arch",
             "Abnormally High Arch", "No Arch Deformities", "Foot Score", "Pain Level", "Type of Pain Grouped",
             "Wound Tunneling", "Exudate Amount (None:0,Minor,Medium,Severe:3)",
             "Exudate Appearance (Serous:1,Haemoserous,Bloody,Thick:4)", "Odor",
             "No Peri-ulcer Conditions (False:0, True:1)", "Erythema at Peri-ulcer", "Edema at Peri-ulcer",
             "Pale Colour at Peri-ulcer", "Maceration at Peri-ulcer", "Wound Score", "No Foot Abnormalities",
             "Foot Hair Loss", "Foot Dry Skin", "Foot Fissure Cracks", "Foot Callus", "Thickened Toenail",
             "Foot Fungal Nails", "Leg Score", LABEL, "Age Bin", "Age above 60", "Weight Bin", "Height Bin")
#: Derived bins: (source column, new column, bin width); edges 0, w, 2w, ... up to the split's maximum.
BINNED = (("Age", "Age Bin", 20), ("Weight (Kg)", "Weight Bin", 20), ("Height (cm)", "Height Bin", 10))
#: Columns the preparation reads (besides the visit key and the label); the reader requires them.
USED = ("Age", "Weight (Kg)", "Height (cm)", *CODED, *MAPPED)
NOT_FEATURES = (*VISIT_KEY, LABEL)
N_SELECTED = 40
KNN_NEIGHBOURS = 3
MI_SEED = 42
FOLD_SEED = 42
#: The forests of e0ba25c (scikit-learn branch; the log says "Using Scikit-learn RandomForestClassifier").
FOREST = {"n_estimators": 646, "max_depth": 14, "min_samples_split": 19, "min_samples_leaf": 2,
          "max_features": "log2"}
#: 1ea5ac0's metadata-only training (``src/training/training_utils.py``, ``src/models/losses.py``,
#: ``src/utils/production_config.py`` there): focal ordinal loss (gamma 2, alpha 1/1/1 after oversampling, the
#: ordinal term 0.05 x (argmax true - argmax predicted)^2, which carries no gradient), Adam 1e-4 with clipnorm 1,
#: batch 363 from a shuffle buffer of 1,000 rows reshuffled each pass, up to 300 epochs of ceil(n / 363) steps,
#: early stopping (patience 20, min delta 0.001) and learning-rate halving (patience 5, min delta 0.0005) on the
#: validation rows' weighted F1, and the checkpoint of the best validation F1 (strict improvement) restored.
#: Keras' BatchNormalization defaults (momentum 0.99, epsilon 0.001) are the original's.
BN_RECIPE = {"batch_size": 363, "epochs": 300, "learning_rate": 1e-4, "clipnorm": 1.0, "gamma": 2.0,
             "alpha": (1.0, 1.0, 1.0), "ordinal_weight": 0.05, "shuffle_buffer": 1000, "stop_patience": 20,
             "stop_min_delta": 1e-3, "lr_factor": 0.5, "lr_patience": 5, "lr_min_delta": 5e-4, "min_lr": 1e-10}
#: The two metadata heads, by the commit that had them, and the RF vector each commit fed it.
HEADS = {"e0ba25c": "softmax of the RF vector (zero trainable weights)",
         "1ea5ac0": "RF vector -> BatchNormalization -> softmax, trained"}
COMMIT_VECTOR = {"e0ba25c": "normalised", "1ea5ac0": "ordinal_original"}
TRAIN_PROBABILITIES = ("in_sample", "oof_grouped")
CODINGS = ("per_split", "train")
VECTORS = ("ordinal_original", "normalised")
ENGINES = ("auto", "pinned", "current")
PINNED_ENV_VAR = "FUSIONLIB_REPLAY_PYTHON"
PINNED_VENV = PROJECT / ".venv-replay"
PINNED_REQUIREMENTS = PROJECT / "requirements-replay.txt"


class ReplayDataError(ValueError):
    """Bad input in the row table; the message names the file and the line and/or column at fault."""


# ---------------------------------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class Rows:
    """The row table as read: ``table`` (the CSV in its order, labels as text), where it came from and whether
    its sha256 matches the pinned public file's (:data:`fusionlib.data.datasets.FILES`; ``sha256_status`` says it in
    words)."""

    table: pd.DataFrame
    path: Path
    sha256: str
    pinned_sha256: str
    sha256_status: str

    @property
    def sha256_matches(self) -> bool:
        return self.pinned_sha256 == self.sha256

    def summary(self) -> dict:
        t = self.table
        return {"file": str(self.path), "rows": len(t), "visits": int(t[list(VISIT_KEY)].drop_duplicates().shape[0]),
                "patients": int(t["Patient#"].nunique()), "sha256": self.sha256,
                "sha256 against the pinned public file": self.sha256_status}


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The folder of the public files: ``data_dir``, else ``$DFU_DATA_DIR`` (:func:`fusionlib.data.dfu.data_dir_from`)."""
    if data_dir not in (None, ""):
        return Path(data_dir).expanduser()
    from fusionlib.data.dfu import data_dir_from  # the project's environment only (the pinned one has no Pillow)

    return data_dir_from(None)


def read_rows(data_dir: str | Path | None = None) -> Rows:
    """Read and validate ``best_matching.csv`` from ``data_dir`` (default ``$DFU_DATA_DIR``).

    Raises :class:`ReplayDataError` naming the file, line (the header is line 1) and column when the file is
    missing, lacks a column the protocol reads, has a label outside I / P / R or a missing one, or a visit key
    or numeric column that is not a number. A sha256 that differs from the pinned public file's
    (:data:`fusionlib.data.datasets.FILES`) is not an error (a corrected table may be intended) but is warned about
    and reported in ``sha256_status``.
    """
    folder = resolve_data_dir(data_dir)
    path = folder / ROWS_CSV
    if not path.is_file():
        raise ReplayDataError(f"{path}: file not found (the original's row table, results/best_matching.csv of "
                              "github.com/rezabasiri/DFUMultiClassification)")
    try:
        table = pd.read_csv(path, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ReplayDataError(f"{path}: not a readable CSV ({e})") from e
    missing = [c for c in (*VISIT_KEY, LABEL, *USED) if c not in table.columns]
    if missing:
        raise ReplayDataError(f"{path}: missing column(s) {missing} that the original protocol reads")
    for col in VISIT_KEY:
        num = pd.to_numeric(table[col], errors="coerce")
        bad = np.flatnonzero((num.isna() | (num.fillna(0) % 1 != 0)).to_numpy())
        if bad.size:
            raise ReplayDataError(f"{path}, line {bad[0] + 2}, column {col!r}: not an integer "
                                  f"({table[col].iloc[bad[0]]!r}; {bad.size} such line(s))")
    bad = np.flatnonzero(~table[LABEL].isin(CLASSES).to_numpy())
    if bad.size:
        raise ReplayDataError(f"{path}, line {bad[0] + 2}, column {LABEL!r}: label {table[LABEL].iloc[bad[0]]!r} is "
                              f"not one of {list(CLASSES)} ({bad.size} such line(s))")
    text = set(IMAGE_COLUMNS) | set(CODED) | set(MAPPED) | {"ID", "Location", "Type of Pain", "Type of Pain2",
                                                            "Type of Pain_Grouped2", "Dressing", "Healing Phase", LABEL}
    for col in table.columns:
        if col in text or pd.api.types.is_numeric_dtype(table[col]):
            continue
        num = pd.to_numeric(table[col], errors="coerce")
        bad = np.flatnonzero((num.isna() & table[col].notna()).to_numpy())
        if bad.size:
            raise ReplayDataError(f"{path}, line {bad[0] + 2}, column {col!r}: expected a number, got "
                                  f"{table[col].iloc[bad[0]]!r} ({bad.size} such line(s))")
    sha = file_sha256(path)
    pinned = FILES[ROWS_CSV]
    if sha == pinned.sha256:
        status = "matches the pinned public file"
    else:
        status = (f"DIFFERS from the pinned public file ({pinned.sha256[:12]}..., {pinned.path} at "
                  f"{pinned.commit[:7]}; this file {sha[:12]}...)")
        warnings.warn(f"{path}: sha256 {status}; the replay's numbers are those of this file, not of the "
                      "original's table", stacklevel=2)
    return Rows(table, path, sha, pinned.sha256, status)


@lru_cache(maxsize=4)
def _rows_cached(folder: str, mtime: float) -> Rows:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_rows(folder)


def _rows_of(data_dir: str | Path) -> Rows:
    folder = str(resolve_data_dir(data_dir))
    path = Path(folder) / ROWS_CSV
    return _rows_cached(folder, path.stat().st_mtime if path.exists() else 0.0)


# ---------------------------------------------------------------------------------------------------- folds
def majority_classes(patients: np.ndarray, y: np.ndarray) -> dict:
    """Each patient's class: the most frequent class among its rows (the smallest code on a tie), keyed by
    patient in order of first appearance."""
    out = {}
    for p in pd.unique(np.asarray(patients)):
        counts = np.bincount(np.asarray(y)[np.asarray(patients) == p], minlength=3)
        out[p] = int(np.argmax(counts))
    return out


def original_folds(patients: np.ndarray, y: np.ndarray, n_folds: int = 3, seed: int = FOLD_SEED
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The original's patient folds: ``[(train_patients, val_patients), ...]``, one pair per fold.

    Parameters: ``patients`` and ``y`` (integer classes 0/1/2), one entry per row. Each patient is assigned the
    majority class of its rows; the patients of each class (in order of first appearance) are shuffled with a
    legacy ``numpy.random.RandomState(seed)`` — class I first, then P, then R — and dealt out in blocks: fold
    ``f`` gets ``n // n_folds`` patients of the class plus one if ``f < n % n_folds``. Training patients of a
    fold are the other folds' patients in fold order. Patient-disjoint by construction; deterministic in
    ``seed``.
    """
    if n_folds < 2:
        raise ValueError(f"n_folds={n_folds}: need at least 2")
    rng = np.random.RandomState(seed)
    by_class = {c: [] for c in range(3)}
    for patient, c in majority_classes(patients, y).items():
        by_class[c].append(patient)
    for c in range(3):
        rng.shuffle(by_class[c])
    folds = [[] for _ in range(n_folds)]
    for members in by_class.values():
        size, extra = divmod(len(members), n_folds)
        start = 0
        for f in range(n_folds):
            stop = start + size + (1 if f < extra else 0)
            folds[f].extend(members[start:stop])
            start = stop
    return [(np.array([p for g, fold in enumerate(folds) if g != f for p in fold]), np.array(folds[f]))
            for f in range(n_folds)]


def fold_seed(fold: int) -> int:
    """The original's per-fold seed (oversampler and forests): ``42 + fold * (fold + 3)``, ``fold`` from 0."""
    return 42 + fold * (fold + 3)


def oversample_indices(y: np.ndarray, seed: int) -> np.ndarray:
    """Rows of ``y`` after random oversampling to the largest class: every row once, in order, then for each
    smaller class in increasing class order as many extra rows as it lacks, drawn with replacement by
    ``RandomState(seed).choice`` (the stream of imbalanced-learn's ``RandomOverSampler(random_state=seed)``)."""
    y = np.asarray(y)
    rng = np.random.RandomState(seed)
    classes, counts = np.unique(y, return_counts=True)
    majority = classes[np.argmax(counts)]
    parts = [np.arange(len(y))]
    for c, n in zip(classes, counts):
        if c != majority:
            parts.append(rng.choice(np.flatnonzero(y == c), size=counts.max() - n, replace=True))
    return np.concatenate(parts)


# ---------------------------------------------------------------------------------------------------- features
def _codes(values: pd.Series, categories: list | None) -> np.ndarray:
    """``pandas.Categorical(values).codes`` (sorted categories of ``values``: the original), or the codes of
    ``categories`` with a value outside them coded -1 like a missing one."""
    if categories is None:
        return pd.Categorical(values).codes
    return pd.Categorical(values.where(values.isin(categories)), categories=categories).codes


def _coded_table(split: pd.DataFrame, categories: dict | None) -> pd.DataFrame:
    """Derived columns, codes and drops of one split (no fitted step)."""
    d = split.drop(columns=[c for c in IMAGE_COLUMNS if c in split.columns])
    d["BMI"] = d["Weight (Kg)"] / (d["Height (cm)"] / 100) ** 2
    d["Age above 60"] = (d["Age"] > 60).astype(int)
    for source, name, width in BINNED:
        edges = list(range(0, int(d[source].max()) + width, width))
        d[name] = pd.cut(d[source], bins=edges, right=False, labels=range(len(edges) - 1))
    for col in CODED:
        d[col] = _codes(d[col], None if categories is None else categories[col])
    for col, mapping in MAPPED.items():
        d[col] = d[col].map(mapping)
    return d.drop(columns=[c for c in DROPPED if c in d.columns])


def training_categories(source: pd.DataFrame) -> dict:
    """The categories of :data:`CODED` seen in the training rows (sorted), for one coding of both splits."""
    return {c: sorted(source[c].dropna().unique().tolist()) for c in CODED}


def categorical_codes(split: pd.DataFrame, source: pd.DataFrame | None = None, coding: str = "per_split"
                      ) -> pd.DataFrame:
    """The codes of :data:`CODED` in ``split``: ``coding="per_split"`` (the original) codes each split by its own
    sorted categories, so one category can get different codes in two splits; ``"train"`` uses the categories of
    ``source`` (the training rows) for both, an unseen category getting -1 like a missing value."""
    if coding not in CODINGS:
        raise ValueError(f"coding={coding!r}: use one of {CODINGS}")
    cats = training_categories(source) if coding == "train" else None
    return pd.DataFrame({c: _codes(split[c], None if cats is None else cats[c]) for c in CODED}, index=split.index)


def _impute(imputer: KNNImputer, X: pd.DataFrame, dedupe: bool) -> np.ndarray:
    """``imputer.transform(X)``; with ``dedupe`` each distinct row is imputed once and copied to its repeats (a
    row's imputed values depend only on its own values and the fitted rows, so the result is the same;
    ``tests/test_replay.py`` checks it on the real rows)."""
    if not dedupe:
        return imputer.transform(X)
    values = X.to_numpy(dtype=float)
    _, first, inverse = np.unique(np.nan_to_num(values, nan=np.inf), axis=0, return_index=True, return_inverse=True)
    unique = pd.DataFrame(values[first], columns=X.columns)
    return imputer.transform(unique)[np.asarray(inverse).reshape(-1)]


class Preparation:
    """The original's feature preparation, fitted on the training rows (see :func:`prepare`).

    :meth:`fit` takes the (oversampled) training rows with the label coded 0/1/2 and fits the KNN imputer, the
    scaler and — unless ``selected`` is given — the mutual-information selection; :meth:`transform` prepares any
    split with them. ``coding="per_split"`` codes the categorical columns of each split by its own categories (the
    original), ``"train"`` by the training rows' categories. ``dedupe`` imputes each distinct row once (same
    result, faster on oversampled rows).
    """

    def __init__(self, coding: str = "per_split", selected: list[str] | None = None, dedupe: bool = True):
        if coding not in CODINGS:
            raise ValueError(f"coding={coding!r}: use one of {CODINGS}")
        self.coding, self.selected, self.dedupe = coding, selected, dedupe

    def fit(self, source: pd.DataFrame) -> "Preparation":
        self.categories_ = training_categories(source) if self.coding == "train" else None
        s = _coded_table(source, self.categories_)
        self.columns_ = [c for c in s.columns if c != LABEL]
        self.imputer_ = KNNImputer(n_neighbors=KNN_NEIGHBOURS).fit(s[self.columns_])
        s = self._impute_and_cast(s)
        self.scaler_ = StandardScaler().fit(s[self.columns_])
        self.train_features_ = pd.DataFrame(self.scaler_.transform(s[self.columns_]), columns=self.columns_,
                                            index=s.index)
        if self.selected is None:
            candidates = [c for c in self.columns_ if c not in NOT_FEATURES]
            mi = mutual_info_classif(self.train_features_[candidates].to_numpy(), s[LABEL].to_numpy(),
                                     random_state=MI_SEED)
            self.selected = [candidates[i] for i in np.argsort(mi)[-N_SELECTED:]]
        self.selected_ = list(self.selected)
        return self

    def _impute_and_cast(self, d: pd.DataFrame) -> pd.DataFrame:
        d = d.copy()
        d[self.columns_] = _impute(self.imputer_, d[self.columns_], self.dedupe)
        for col in TRUNCATED:
            if col in d.columns:
                d[col] = d[col].astype(int)
        return d

    def transform(self, split: pd.DataFrame) -> pd.DataFrame:
        """Features of ``split``: float64, the selected columns in the order the forests see them."""
        d = self._impute_and_cast(_coded_table(split, self.categories_)[[*self.columns_, LABEL]])
        scaled = pd.DataFrame(self.scaler_.transform(d[self.columns_]), columns=self.columns_, index=d.index)
        return scaled[self.selected_]

    def training_features(self) -> pd.DataFrame:
        """The features of the rows :meth:`fit` saw (no second imputation)."""
        return self.train_features_[self.selected_]


def prepare(split: pd.DataFrame, source: pd.DataFrame, selected: list[str] | None = None,
            coding: str = "per_split") -> tuple[pd.DataFrame, list[str]]:
    """Features of ``split`` as the original prepared them, fitted on the training rows ``source``.

    ``split`` and ``source`` are row-table slices with the label coded 0/1/2 (``source`` the oversampled
    training rows; pass the same object for the training split). Steps: :func:`_coded_table` on each (codes per
    split, or the training split's categories with ``coding="train"``); a KNN imputer (k = 3) and a standard
    scaler fitted on ``source`` over every remaining column but the label (``Patient#`` included); after the
    imputer the :data:`TRUNCATED` columns are cast to integers. With ``selected=None`` (the training call) the
    :data:`N_SELECTED` columns of highest mutual information with the label on ``source`` are chosen
    (``random_state=42``; ``Patient#`` excluded) and returned in increasing order of it, the order the forests
    see. Returns ``(features of split, selected)``; features are float64, one row per row of ``split``.
    """
    prep = Preparation(coding, selected).fit(source)
    X = prep.training_features() if split is source else prep.transform(split)
    return X, prep.selected_


def unique_case_weights(train: pd.DataFrame) -> tuple[dict, dict]:
    """Class weights of the two binary forests: scikit-learn's "balanced" over the training split's unique
    (visit, label) rows — before oversampling — for ``y > I`` and for ``y = R``."""
    cases = train[[*VISIT_KEY, LABEL]].drop_duplicates()
    out = []
    for target in (cases[LABEL] > 0, cases[LABEL] > 1):
        w = compute_class_weight("balanced", classes=np.array([0, 1]), y=target.astype(int).to_numpy())
        out.append({0: float(w[0]), 1: float(w[1])})
    return out[0], out[1]


def fit_forests(X: pd.DataFrame, y: np.ndarray, weights: tuple[dict, dict], seed: int, n_trees: int
                ) -> tuple[RandomForestClassifier, RandomForestClassifier]:
    """The two binary forests (:data:`FOREST`, ``n_trees`` trees, single-threaded so results do not depend on
    scheduling) fitted on ``y > 0`` and ``y > 1``."""
    out = []
    for target, w in zip((y > 0, y > 1), weights):
        forest = RandomForestClassifier(**{**FOREST, "n_estimators": n_trees}, random_state=seed, class_weight=w,
                                        n_jobs=1)
        out.append(forest.fit(X, target.astype(int)))
    return out[0], out[1]


def forest_probabilities(forests, X: pd.DataFrame) -> np.ndarray:
    """``(n, 2)``: ``p1 = P(y > I)`` and ``p2 = P(y = R)`` of the two forests."""
    return np.column_stack([f.predict_proba(X)[:, 1] for f in forests])


def ordinal_vector(p: np.ndarray, vector: str = "ordinal_original") -> np.ndarray:
    """The RF vector ``[1 - p1, p1 (1 - p2), p2]`` of ``p`` ``(n, 2)``; ``vector="normalised"`` divides each row by
    its sum ``1 + p2 (1 - p1)`` (e0ba25c), ``"ordinal_original"`` leaves it (1ea5ac0). Returns ``(n, 3)``."""
    if vector not in VECTORS:
        raise ValueError(f"vector={vector!r}: use one of {VECTORS}")
    p1, p2 = p[:, 0], p[:, 1]
    v = np.column_stack([1 - p1, p1 * (1 - p2), p2])
    return v / v.sum(axis=1, keepdims=True) if vector == "normalised" else v


# ---------------------------------------------------------------------------------------------------- one fold
@dataclass(frozen=True)
class Protocol:
    """The original protocol and the switches that turn its defects off.

    ``oversample``: random oversampling of the training rows before anything is fitted (original: True).
    ``train_probabilities``: ``"in_sample"`` (the forests fitted on the training rows predict them: original)
    or ``"oof_grouped"`` (each training row gets the forests of an inner patient-grouped split that did not see
    its patient: :func:`original_folds` with ``inner_folds`` folds inside the training fold, each inner part
    prepared and fitted exactly like the fold). ``coding``: categorical codes ``"per_split"`` (original) or
    ``"train"`` (one coding fitted on the training split). ``vector``: the heads' input ``"ordinal_original"``
    (1ea5ac0) or ``"normalised"``; it does not change the forests, and the softmax head's prediction is the same
    for both. ``n_trees``: trees per forest (original 646).
    """

    oversample: bool = True
    train_probabilities: str = "in_sample"
    coding: str = "per_split"
    vector: str = "ordinal_original"
    n_trees: int = FOREST["n_estimators"]
    inner_folds: int = 3

    def __post_init__(self):
        for name, allowed in (("train_probabilities", TRAIN_PROBABILITIES), ("coding", CODINGS),
                              ("vector", VECTORS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r}: use one of {allowed}")
        if self.n_trees < 1 or self.inner_folds < 2:
            raise ValueError(f"n_trees={self.n_trees}, inner_folds={self.inner_folds}: need >= 1 and >= 2")

    def forest_settings(self) -> dict:
        """What the forests' outputs depend on (``vector`` does not)."""
        return {"oversample": self.oversample, "train_probabilities": self.train_probabilities,
                "coding": self.coding, "n_trees": self.n_trees, "inner_folds": self.inner_folds}


#: Each defect switched off in turn, and all at once.
DEFECTS = {
    "as recorded": Protocol(),
    "no oversampling before the RF": Protocol(oversample=False),
    "out-of-fold training probabilities": Protocol(train_probabilities="oof_grouped"),
    "one categorical coding (training split)": Protocol(coding="train"),
    "normalised RF vector": Protocol(vector="normalised"),
    "all four off": Protocol(oversample=False, train_probabilities="oof_grouped", coding="train", vector="normalised"),
}


def coded_labels(table: pd.DataFrame) -> np.ndarray:
    return table[LABEL].astype(str).map(CLASS_CODES).to_numpy().astype(int)


def _metadata_rows(table: pd.DataFrame) -> pd.DataFrame:
    out = table.drop(columns=[c for c in IMAGE_COLUMNS if c in table.columns])
    out[LABEL] = coded_labels(table)
    return out


def _fit_and_predict(train_rows: pd.DataFrame, targets: list[pd.DataFrame], weights, seed: int, protocol: Protocol):
    """Prepare and fit on ``train_rows``; probabilities ``(n, 2)`` for ``train_rows`` itself and each target."""
    prep = Preparation(protocol.coding).fit(train_rows)
    forests = fit_forests(prep.training_features(), train_rows[LABEL].to_numpy(), weights, seed, protocol.n_trees)
    out = [forest_probabilities(forests, prep.training_features())]
    out += [forest_probabilities(forests, prep.transform(t)) for t in targets]
    return out, prep.selected_


def forest_stage(data_dir: str, n_folds: int = 3, split_seed: int = FOLD_SEED, fold: int = 0,
                 protocol: dict | None = None, outputs: str = "full") -> dict[str, np.ndarray]:
    """The forests of one fold of the original protocol on the row table in ``data_dir``.

    ``protocol``: :meth:`Protocol.forest_settings` as a dict (default the original). Returns arrays:
    ``val_rows`` (row positions in the table), ``y_val``, ``p_val`` ``(n_val, 2)``; with ``outputs="full"`` also
    ``train_rows`` (positions, oversampling repeats included, in training order), ``y_train``, ``p_train``
    ``(n_train, 2)`` (in-sample or out-of-fold per ``protocol``), ``selected`` (the forests' columns) and
    ``train_patients`` / ``val_patients``. ``outputs="validation"`` keeps only the validation arrays.
    """
    p = Protocol(**(protocol or {}))
    rows = _rows_of(data_dir)
    table = _metadata_rows(rows.table)
    y_all = table[LABEL].to_numpy()
    folds = original_folds(table["Patient#"].to_numpy(), y_all, n_folds, split_seed)
    train_patients, val_patients = folds[fold]
    seed = fold_seed(fold)
    train_pos = np.flatnonzero(table["Patient#"].isin(train_patients).to_numpy())
    val_pos = np.flatnonzero(table["Patient#"].isin(val_patients).to_numpy())
    train = table.iloc[train_pos].reset_index(drop=True)
    val = table.iloc[val_pos].reset_index(drop=True)
    weights = unique_case_weights(train)
    order = oversample_indices(train[LABEL].to_numpy(), seed) if p.oversample else np.arange(len(train))
    train_rows = train.iloc[order].reset_index(drop=True)
    (p_train, p_val), selected = _fit_and_predict(train_rows, [val], weights, seed, p)
    if p.train_probabilities == "oof_grouped":
        p_train = np.full_like(p_train, np.nan)
        inner = original_folds(train_rows["Patient#"].to_numpy(), train_rows[LABEL].to_numpy(), p.inner_folds, seed)
        for inner_train, inner_val in inner:
            fit_mask = train_rows["Patient#"].isin(inner_train).to_numpy()
            held = np.flatnonzero(~fit_mask)
            part = train_rows.iloc[np.flatnonzero(fit_mask)].reset_index(drop=True)
            (_, p_held), _ = _fit_and_predict(part, [train_rows.iloc[held].reset_index(drop=True)],
                                              unique_case_weights(part), seed, p)
            p_train[held] = p_held
    out = {"val_rows": val_pos, "y_val": val[LABEL].to_numpy(), "p_val": p_val}
    if outputs == "full":
        out.update({"train_rows": train_pos[order], "y_train": train_rows[LABEL].to_numpy(), "p_train": p_train,
                    "selected": np.array(selected), "train_patients": np.asarray(train_patients),
                    "val_patients": np.asarray(val_patients)})
    elif outputs != "validation":
        raise ValueError(f"outputs={outputs!r}: use 'full' or 'validation'")
    return out


def forest_stages(jobs: list[dict], n_jobs: int = 1) -> list[dict]:
    """:func:`forest_stage` for each job (a dict of its keyword arguments), ``n_jobs`` processes at once
    (joblib; every forest single-threaded, so results do not depend on the scheduling)."""
    if n_jobs == 1 or len(jobs) < 2:
        return [forest_stage(**job) for job in jobs]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs)(delayed(forest_stage)(**job) for job in jobs)


# ---------------------------------------------------------------------------------------------------- engines
def pinned_python() -> Path | None:
    """The pinned environment's interpreter (``$FUSIONLIB_REPLAY_PYTHON`` or ``.venv-replay/bin/python``), or None."""
    env = os.environ.get(PINNED_ENV_VAR, "").strip()
    path = Path(env) if env else PINNED_VENV / "bin" / "python"
    return path if path.is_file() else None


def choose_engine(engine: str = "auto") -> str:
    """``"pinned"`` or ``"current"``: ``"auto"`` is the pinned environment where it exists."""
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r}: use one of {ENGINES}")
    if engine == "auto":
        return "pinned" if pinned_python() is not None else "current"
    if engine == "pinned" and pinned_python() is None:
        raise RuntimeError(f"no pinned replay environment: run `make replay-env` (creates {PINNED_VENV}) or set "
                           f"{PINNED_ENV_VAR} to a Python with the versions of {PINNED_REQUIREMENTS.name}")
    return engine


def library_versions() -> dict:
    """Python and the versions of the libraries the forests depend on, in this process."""
    import platform
    import scipy
    import sklearn

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "pandas": pd.__version__, "scipy": scipy.__version__}


@lru_cache(maxsize=4)
def _engine_versions(engine: str, python: str) -> tuple:
    if engine == "current":
        return tuple(library_versions().items())
    out = subprocess.run([python, "-m", "fusionstudy.replay.protocol", "--versions"], capture_output=True, text=True,
                         cwd=PROJECT, env=_child_env(), check=True)
    return tuple(json.loads(out.stdout).items())


def engine_info(engine: str = "auto") -> dict:
    """Which environment computes the forests: ``{"engine", "python" (interpreter), library versions}``."""
    engine = choose_engine(engine)
    python = str(pinned_python()) if engine == "pinned" else sys.executable
    return {"engine": engine, "interpreter": python, **dict(_engine_versions(engine, python))}


def _child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    return env


def _run_pinned(jobs: list[dict], n_jobs: int) -> list[dict]:
    python = pinned_python()
    with tempfile.TemporaryDirectory(prefix="replay-") as tmp:
        spec, out = Path(tmp) / "jobs.json", Path(tmp) / "out.npz"
        spec.write_text(json.dumps({"jobs": jobs, "n_jobs": n_jobs}))
        done = subprocess.run([str(python), "-m", "fusionstudy.replay.protocol", "--jobs", str(spec), "--out", str(out)],
                              capture_output=True, text=True, cwd=PROJECT, env=_child_env())
        if done.returncode != 0:
            raise RuntimeError(f"the pinned replay environment ({python}) failed:\n{done.stderr[-3000:]}")
        with np.load(out, allow_pickle=False) as f:
            flat = {k: f[k] for k in f.files}
    results = [{} for _ in jobs]
    for key, value in flat.items():
        i, name = key.split("/", 1)
        results[int(i)][name] = value
    return results


def stages(jobs: list[dict], engine: str = "auto", n_jobs: int = 1, chunk: int = 48) -> list[dict]:
    """:func:`forest_stage` for each job, computed by ``engine`` and cached on disk by content (the data's sha256,
    the job, the code :func:`forest_stage` reaches (:func:`fusionlib.cache.code_key`) and the engine's library versions); only missing entries are computed,
    ``chunk`` jobs per call of the engine, each chunk cached as soon as it is done (an interrupted run keeps them)."""
    engine = choose_engine(engine)
    versions = engine_info(engine)
    versions.pop("interpreter")
    src = code_key(forest_stage)
    keys = []
    for job in jobs:
        sha = _rows_of(job["data_dir"]).sha256
        args = {k: v for k, v in job.items() if k != "data_dir"}
        keys.append(content_key("replay-forest", sha, args, versions, src))
    results: list = [store.load("replay", key) for key in keys]
    todo = [i for i, res in enumerate(results) if res is None]
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        fresh = (forest_stages([jobs[i] for i in part], n_jobs) if engine == "current"
                 else _run_pinned([jobs[i] for i in part], n_jobs))
        for i, res in zip(part, fresh):
            results[i] = res
            store.save("replay", keys[i], res)
    return results


# ---------------------------------------------------------------------------------------------------- heads
def softmax_head(v: np.ndarray) -> np.ndarray:
    """e0ba25c's metadata head: softmax of the float32 RF vector (what Keras computed); ``(n, 3)``."""
    z = np.asarray(v, dtype=np.float32)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class ShuffleStream:
    """Row indices in the order tf.data's ``shuffle(buffer).repeat()`` yields them: on each pass over the ``n``
    rows a buffer of ``buffer`` rows is filled in order, each output is a uniformly drawn buffer slot that the next
    row then refills, and the buffer is emptied at random at the end of the pass. :meth:`take` continues the
    stream across passes (batches may straddle two passes, as there)."""

    def __init__(self, n: int, buffer: int, rng: np.random.Generator):
        self.n, self.buffer, self.rng = n, buffer, rng
        self._pending: list[int] = []

    def _one_pass(self) -> list[int]:
        out, order = [], iter(range(self.n))
        pool = [next(order) for _ in range(min(self.buffer, self.n))]
        for nxt in order:
            j = int(self.rng.integers(len(pool)))
            out.append(pool[j])
            pool[j] = nxt
        while pool:
            out.append(pool.pop(int(self.rng.integers(len(pool)))))
        return out

    def take(self, k: int) -> np.ndarray:
        while len(self._pending) < k:
            self._pending.extend(self._one_pass())
        out, self._pending = self._pending[:k], self._pending[k:]
        return np.asarray(out)


def weighted_f1(y: np.ndarray, pred: np.ndarray, alpha=(1.0, 1.0, 1.0)) -> float:
    """The original's ``WeightedF1Score``: per-class F1 (with 1e-7 in each ratio) averaged with weights alpha."""
    f1 = []
    for c in range(3):
        tp = np.sum((y == c) & (pred == c))
        fp = np.sum((y != c) & (pred == c))
        fn = np.sum((y == c) & (pred != c))
        precision, recall = tp / (tp + fp + 1e-7), tp / (tp + fn + 1e-7)
        f1.append(2 * precision * recall / (precision + recall + 1e-7))
    a = np.asarray(alpha, dtype=float)
    return float(np.sum(np.asarray(f1) * a) / a.sum())


def fit_bn_head(v_train: np.ndarray, y_train: np.ndarray, v_val: np.ndarray, y_val: np.ndarray, seed: int,
                recipe: dict | None = None) -> dict:
    """Train 1ea5ac0's metadata head (RF vector -> BatchNormalization -> softmax) as the original did
    (:data:`BN_RECIPE`; Keras, the project's environment). The validation rows drive early stopping, the
    learning-rate schedule and the restored checkpoint, as there.

    Returns ``{"p_train", "p_val"}`` (inference-mode probabilities, ``(n, 3)``), ``best_epoch`` (1-based),
    ``epochs`` run, ``val_f1`` per epoch and the final BatchNorm weights ``bn`` (gamma, beta, moving mean,
    moving variance; ``(4, 3)``).
    """
    import keras

    from fusionlib.models.train import set_determinism

    r = {**BN_RECIPE, **(recipe or {})}
    set_determinism(seed)
    inp = keras.Input((3,), name="rf")
    out = keras.layers.Activation("softmax")(keras.layers.BatchNormalization(name="bn")(inp))
    model = keras.Model(inp, out)
    alpha = np.asarray(r["alpha"], dtype="float32")

    def loss(y_true, y_pred):
        p = keras.ops.clip(y_pred, 1e-7, 1 - 1e-7)
        focal = keras.ops.sum(alpha * keras.ops.power(1 - p, r["gamma"]) * -y_true * keras.ops.log(p), axis=-1)
        gap = keras.ops.cast(keras.ops.argmax(y_true, -1) - keras.ops.argmax(y_pred, -1), "float32")
        return focal + r["ordinal_weight"] * keras.ops.square(gap)

    optimizer = keras.optimizers.Adam(r["learning_rate"], clipnorm=r["clipnorm"])
    model.compile(optimizer=optimizer, loss=loss)
    x_tr, x_val = np.asarray(v_train, "float32"), np.asarray(v_val, "float32")
    onehot = np.eye(3, dtype="float32")[np.asarray(y_train)]
    n, bs = len(x_tr), r["batch_size"]
    steps = int(np.ceil(n / bs))
    stream = ShuffleStream(n, r["shuffle_buffer"], np.random.default_rng(seed))
    best_f1, stop_best, wait, lr_best, lr_wait = -np.inf, -np.inf, 0, -np.inf, 0
    best_weights, best_epoch, history = model.get_weights(), 0, []
    lr = r["learning_rate"]
    for epoch in range(r["epochs"]):
        idx = stream.take(steps * bs)
        for s in range(steps):
            b = idx[s * bs:(s + 1) * bs]
            model.train_on_batch(x_tr[b], onehot[b])
        f1 = weighted_f1(np.asarray(y_val), model.predict(x_val, batch_size=bs, verbose=0).argmax(1), r["alpha"])
        history.append(f1)
        if f1 > best_f1:                       # the checkpoint: strict improvement
            best_f1, best_weights, best_epoch = f1, model.get_weights(), epoch + 1
        if f1 - r["lr_min_delta"] > lr_best:   # learning-rate schedule
            lr_best, lr_wait = f1, 0
        else:
            lr_wait += 1
            if lr_wait >= r["lr_patience"] and lr > r["min_lr"]:
                lr = max(lr * r["lr_factor"], r["min_lr"])
                optimizer.learning_rate.assign(lr)
                lr_wait = 0
        if f1 - r["stop_min_delta"] > stop_best:  # early stopping
            stop_best, wait = f1, 0
        else:
            wait += 1
            if wait >= r["stop_patience"] and epoch > 0:
                break
    model.set_weights(best_weights)
    bn = model.get_layer("bn")
    return {"p_train": np.asarray(model.predict(x_tr, batch_size=bs, verbose=0), dtype=float),
            "p_val": np.asarray(model.predict(x_val, batch_size=bs, verbose=0), dtype=float),
            "best_epoch": best_epoch, "epochs": len(history), "val_f1": np.asarray(history),
            "bn": np.stack([np.asarray(w) for w in bn.get_weights()])}


# ---------------------------------------------------------------------------------------------------- metrics
def fold_metrics(y_val, pred_val, y_train, pred_train, rf_val, rf_train) -> dict:
    """Per-fold numbers of one head: κ (quadratic, unweighted) on the validation rows and on the training rows,
    the confusion matrix (rows true I, P, R; columns predicted), the share predicted P, and the agreement of the
    head's predictions with the RF argmax on both."""
    labels = [0, 1, 2]
    cm = confusion_matrix(y_val, pred_val, labels=labels)
    return {"n_train_rows": int(len(y_train)), "n_val_rows": int(len(y_val)),
            "kappa_quadratic": float(cohen_kappa_score(y_val, pred_val, labels=labels, weights="quadratic")),
            "kappa_unweighted": float(cohen_kappa_score(y_val, pred_val, labels=labels)),
            "train_kappa_quadratic": float(cohen_kappa_score(y_train, pred_train, labels=labels, weights="quadratic")),
            "train_kappa_unweighted": float(cohen_kappa_score(y_train, pred_train, labels=labels)),
            "share_predicted_P": float(np.mean(pred_val == 1)),
            "agreement_with_rf_val": float(np.mean(pred_val == rf_val)),
            "agreement_with_rf_train": float(np.mean(pred_train == rf_train)),
            "confusion": cm.tolist()}


# ---------------------------------------------------------------------------------------------------- run
@dataclass
class Replay:
    """What :func:`run` returns. ``folds``: one row per (variant, head, fold) with :func:`fold_metrics`' numbers
    (``confusion`` a nested list), ``best_epoch`` / ``epochs`` for the trained head; ``stages``: the forests'
    outputs per (variant, fold) (:func:`forest_stage`); ``info``: the engine, versions, data and timings."""

    folds: pd.DataFrame
    stages: dict
    info: dict
    predictions: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean over folds per (variant, head) of κ, training κ and agreement."""
        cols = ["kappa_quadratic", "kappa_unweighted", "train_kappa_unweighted", "agreement_with_rf_val"]
        return self.folds.groupby(["variant", "head"], sort=False)[cols].mean().reset_index()

    def confusion(self, variant: str = "as recorded", head: str = "e0ba25c") -> dict[int, np.ndarray]:
        f = self.folds[(self.folds["variant"] == variant) & (self.folds["head"] == head)]
        return {int(r.fold): np.asarray(r.confusion) for r in f.itertuples()}


def variants_of(variants=("as recorded",), n_trees: int | None = None) -> dict:
    """The protocols of ``variants`` (names of :data:`DEFECTS`, or a dict of :class:`Protocol` s), with ``n_trees``
    trees per forest where given."""
    chosen = variants if isinstance(variants, dict) else {v: DEFECTS[v] for v in variants}
    return chosen if n_trees is None else {k: replace(p, n_trees=n_trees) for k, p in chosen.items()}


def run_jobs(folder: str, n_folds: int, chosen: dict, split_seed: int = FOLD_SEED) -> tuple[list[dict], dict]:
    """The forest stages :func:`run` computes: the distinct :func:`forest_stage` jobs (keyword dicts) of every
    variant of ``chosen`` (name -> :class:`Protocol`) on every fold, and ``(variant, fold) -> job index`` (variants
    with the same forests, e.g. one differing only in ``vector``, share a job)."""
    jobs, where = [], {}
    for name, p in chosen.items():
        for f in range(n_folds):
            job = {"data_dir": folder, "n_folds": n_folds, "split_seed": split_seed, "fold": f,
                   "protocol": p.forest_settings(), "outputs": "full"}
            if job not in jobs:
                jobs.append(job)
            where[(name, f)] = jobs.index(job)
    return jobs, where


def run(data_dir: str | Path | None = None, n_folds: int = 3, variants=("as recorded",),
        heads=("e0ba25c", "1ea5ac0"), engine: str = "auto", n_trees: int | None = None, bn_epochs: int | None = None,
        split_seed: int = FOLD_SEED, n_jobs: int = 1, progress=None) -> Replay:
    """Replay the original protocol on the row table: ``n_folds`` patient folds (seed ``split_seed``), each
    variant of :data:`DEFECTS` named in ``variants`` (or :class:`Protocol` objects in a dict), each head of
    :data:`HEADS`. ``n_trees`` / ``bn_epochs`` override the forests' size and the BN head's epoch budget (for
    quick runs; the recorded numbers need the defaults). ``engine``: where the forests run (see the module
    docstring); ``n_jobs``: folds computed at once.

    >>> r = run(n_folds=3, heads=("e0ba25c",))                      # doctest: +SKIP
    >>> r.folds[["fold", "kappa_quadratic", "confusion"]]           # doctest: +SKIP
    """
    t0 = time.perf_counter()
    rows = read_rows(data_dir)
    folder = str(rows.path.parent)
    for h in heads:
        if h not in HEADS:
            raise ValueError(f"head={h!r}: use one of {list(HEADS)}")
    chosen = variants_of(variants, n_trees)
    jobs, where = run_jobs(folder, n_folds, chosen, split_seed)
    t_forest = time.perf_counter()
    computed = stages(jobs, engine, n_jobs)
    forest_s = time.perf_counter() - t_forest
    recipe = {} if bn_epochs is None else {"epochs": bn_epochs}
    rows_out, preds, stage_of = [], {}, {}
    t_heads = time.perf_counter()
    for name, p in chosen.items():
        for f in range(n_folds):
            st = computed[where[(name, f)]]
            stage_of[(name, f)] = st
            rf_val = ordinal_vector(st["p_val"], "normalised").argmax(1)
            rf_train = ordinal_vector(st["p_train"], "normalised").argmax(1)
            for h in heads:
                v_tr, v_val = ordinal_vector(st["p_train"], p.vector), ordinal_vector(st["p_val"], p.vector)
                extra = {}
                if h == "e0ba25c":
                    p_tr, p_val = softmax_head(v_tr), softmax_head(v_val)
                else:
                    fit = _bn_cached(v_tr, st["y_train"], v_val, st["y_val"], fold_seed(f), recipe)
                    p_tr, p_val = fit["p_train"], fit["p_val"]
                    extra = {"best_epoch": int(fit["best_epoch"]), "epochs": int(fit["epochs"])}
                pred_tr, pred_val = p_tr.argmax(1), p_val.argmax(1)
                m = fold_metrics(st["y_val"], pred_val, st["y_train"], pred_tr, rf_val, rf_train)
                rows_out.append({"variant": name, "head": h, "fold": f + 1, **m, **extra})
                preds[(name, h, f)] = {"val": p_val, "train": p_tr}
            if progress:
                progress(f"{name}: fold {f + 1}/{n_folds} done")
    info = {"rows": rows.summary(), "forests": engine_info(engine), "n_folds": n_folds, "split_seed": split_seed,
            "variants": {k: asdict(v) for k, v in chosen.items()}, "heads": {h: HEADS[h] for h in heads},
            "forest_s": round(forest_s, 1), "heads_s": round(time.perf_counter() - t_heads, 1),
            "wall_s": round(time.perf_counter() - t0, 1)}
    return Replay(pd.DataFrame(rows_out), stage_of, info, preds)


def _bn_cached(v_tr, y_tr, v_val, y_val, seed, recipe) -> dict:
    """:func:`fit_bn_head`, cached on disk by its inputs, the recipe, the code it reaches and the Keras version."""
    import keras

    key = content_key("replay-bn", np.asarray(v_tr, "float32"), np.asarray(y_tr), np.asarray(v_val, "float32"),
                      np.asarray(y_val), seed, {**BN_RECIPE, **recipe},
                      code_key(fit_bn_head), keras.__version__)

    def compute():
        out = fit_bn_head(v_tr, y_tr, v_val, y_val, seed, recipe)
        return {k: np.asarray(v) for k, v in out.items()}

    return store.cached("replay-bn", key, compute)


# ---------------------------------------------------------------------------------------------------- child
def _child_main(argv: list[str] | None = None) -> int:
    """Entry point of the pinned environment: ``--versions``, or ``--jobs FILE --out FILE.npz``."""
    ap = argparse.ArgumentParser(prog="python -m fusionstudy.replay.protocol")
    ap.add_argument("--versions", action="store_true")
    ap.add_argument("--jobs", type=Path)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    if a.versions:
        print(json.dumps(library_versions()))
        return 0
    spec = json.loads(a.jobs.read_text())
    results = forest_stages(spec["jobs"], spec.get("n_jobs", 1))
    io.write_npz(a.out, {f"{i}/{k}": v for i, res in enumerate(results) for k, v in res.items()})
    return 0


if __name__ == "__main__":
    # run the importable module's functions (joblib's workers unpickle them by module name, not ``__main__``)
    from fusionstudy.replay.protocol import _child_main as main

    raise SystemExit(main())
