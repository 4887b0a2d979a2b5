"""Clinical features: one pipeline for the synthetic cohort and the real clinical CSV.

:func:`clinical_features` is stateless: it drops identifiers, label restatements and free text, applies the
codings written in the real column names (``Sex (F:0, M:1)`` holds F/M, ...) and returns numeric columns
plus nominal string columns. :func:`make_imputer` is the fitted part (imputation, one-hot encoding), and is
always fitted on a training split only — :class:`fusionlib.models.rf.MetadataForest` does that inside each fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import KNNImputer, SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from fusionlib.data.cohort import CLASSES, LABEL, TEMPERATURE_COLUMNS
from fusionlib.data.schema import CODINGS, FREE_TEXT, IDENTIFIERS, LABEL_RESTATEMENTS, NUMERIC, code_key  # noqa: F401

#: Temperature columns (and their normalised versions in the real CSV): the thermal image's information.
TEMPERATURES = TEMPERATURE_COLUMNS + (
    "Wound Centre Temperature Normalized (°C)", "Peri-Ulcer Temperature Normalized (°C)")
def labels(visits: pd.DataFrame) -> np.ndarray:
    """Integer labels (0 = I, 1 = P, 2 = R) from ``Healing Phase Abs``, shape ``(n_visits,)``.

    Raises ``ValueError`` naming the rows whose label is missing or not one of I, P, R.
    """
    if LABEL not in visits.columns:
        raise ValueError(f"missing required column {LABEL!r}")
    codes = visits[LABEL].map({c: i for i, c in enumerate(CLASSES)})
    bad = codes.isna()
    if bad.any():
        rows = list(visits.index[bad][:10])
        raise ValueError(f"column {LABEL!r}: missing or unknown label (not one of {CLASSES}) in rows {rows}"
                         + (f" and {bad.sum() - 10} more" if bad.sum() > 10 else ""))
    return codes.to_numpy(dtype=np.int64)


def clinical_features(visits: pd.DataFrame, include_temperatures: bool = False) -> pd.DataFrame:
    """Feature columns of a visit table, before imputation.

    Drops ``IDENTIFIERS``, ``LABEL_RESTATEMENTS``, ``FREE_TEXT`` and (unless ``include_temperatures``)
    ``TEMPERATURES``; maps the ``CODINGS`` to numbers; leaves other string columns as nominal strings
    (one-hot encoded by :func:`make_imputer`). Missing values stay NaN.

    Raises ``ValueError`` naming the column and rows of a value outside a column's coding, or of text in a
    column the schema (:mod:`fusionlib.data.schema`) says is numeric (instead of encoding it as a category).
    """
    drop = set(IDENTIFIERS) | set(LABEL_RESTATEMENTS) | set(FREE_TEXT)
    if not include_temperatures:
        drop |= set(TEMPERATURES)
    out = visits.drop(columns=[c for c in visits.columns if c in drop])
    for col, coding in CODINGS.items():
        if col not in out.columns:
            continue
        raw = out[col]
        keys = raw.map(code_key)
        mapped = keys.map(lambda k: np.nan if pd.isna(k) else coding.get(k, -1))
        bad = mapped == -1
        if bad.any():
            rows = list(out.index[bad][:10])
            raise ValueError(f"column {col!r}: value(s) {sorted(set(raw[bad].astype(str)))[:5]} outside the "
                             f"coding {sorted(coding)} in rows {rows}")
        out[col] = mapped.astype(float)
    for col in out.columns:
        if out[col].dtype.kind in "iufb":
            out[col] = out[col].astype(float)
        else:
            numeric = pd.to_numeric(out[col], errors="coerce")
            if numeric.notna().sum() == out[col].notna().sum():
                out[col] = numeric.astype(float)
            elif col in NUMERIC:
                bad = numeric.isna() & out[col].notna()
                raise ValueError(f"column {col!r} must hold numbers (fusionlib.data.schema), got "
                                 f"{sorted(set(out[col][bad].astype(str)))[:5]} in rows {list(out.index[bad][:10])}")
            else:
                out[col] = out[col].astype(object).where(out[col].notna(), np.nan)
    return out


def nominal_columns(features: pd.DataFrame) -> list[str]:
    """Columns of ``features`` that are nominal strings (object dtype)."""
    return [c for c in features.columns if features[c].dtype == object]


def make_imputer(features: pd.DataFrame, imputer: str = "knn") -> ColumnTransformer:
    """The fitted half of the pipeline for the columns of ``features``.

    Numeric columns: standardised then KNN-imputed (k = 5, as the original) or median-imputed
    (``imputer="median"``); nominal columns: most-frequent imputed then one-hot encoded (unknown categories
    at prediction time encode as all zeros). Output: a dense float array.
    """
    nominal = nominal_columns(features)
    numeric = [c for c in features.columns if c not in nominal]
    if imputer == "knn":
        num = make_pipeline(StandardScaler(), KNNImputer(n_neighbors=5))
    elif imputer == "median":
        num = SimpleImputer(strategy="median")
    else:
        raise ValueError(f"imputer={imputer!r}: use 'knn' or 'median'")
    cat = make_pipeline(SimpleImputer(strategy="most_frequent"),
                        OneHotEncoder(handle_unknown="ignore", sparse_output=False))
    return ColumnTransformer([("num", num, numeric), ("cat", cat, nominal)], verbose_feature_names_out=False)
