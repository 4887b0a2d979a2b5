"""Metrics from pooled out-of-fold predictions, per image row and per visit, with scikit-learn's implementations.

The predictions table (one row per image row and repeat; see :func:`fusionlib.arms.runner.run_arm`) has columns
``repeat, fold, visit, patient, y, p_I, p_P, p_R`` and, for an arm with an RF input, ``rf_I, rf_P, rf_R``.
Per-visit predictions average the probabilities of a visit's image rows. The primary metric is
quadratic-weighted Cohen's κ, as in the report.

Where the table has the RF input, three more metrics say how much the prediction copies it
(:func:`rf_agreement_metrics`): ``rf_agreement``, ``kappa_quadratic_rf`` and ``kappa_quadratic_minus_rf``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix, f1_score

from fusionlib.data.cohort import CLASSES

PROBA = ["p_I", "p_P", "p_R"]
#: The RF input of a row (what the metadata branch of a head received; NaN for the image-only arm).
RF = ["rf_I", "rf_P", "rf_R"]
METRICS = ("kappa_quadratic", "kappa_unweighted", "accuracy", "macro_f1", "f1_I", "f1_P", "f1_R")
AGREEMENT_METRICS = ("rf_agreement", "kappa_quadratic_rf", "kappa_quadratic_minus_rf")


def classification_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """``METRICS`` for integer labels ``(n,)`` and probabilities ``(n, 3)`` (prediction = argmax).

    ``macro_f1`` averages the F1 of the classes present in ``y_true``; a class absent from it has an undefined
    F1 (``f1_<class>`` is NaN) and is left out of the average, with a warning naming it by its letter. When
    every class is present this is scikit-learn's macro average over I, P and R.
    """
    y_pred = np.asarray(proba).argmax(axis=1)
    labels = [0, 1, 2]
    present = [c for c in labels if np.any(np.asarray(y_true) == c)]
    f1 = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    out = {
        "kappa_quadratic": cohen_kappa_score(y_true, y_pred, labels=labels, weights="quadratic"),
        "kappa_unweighted": cohen_kappa_score(y_true, y_pred, labels=labels),
        "accuracy": accuracy_score(y_true, y_pred),
        "macro_f1": f1_score(y_true, y_pred, labels=present or labels, average="macro", zero_division=0),
    }
    out.update({f"f1_{c}": f for c, f in zip(CLASSES, f1)})
    out = {k: float(np.nan_to_num(v)) for k, v in out.items()}
    absent = [CLASSES[c] for c in labels if c not in present]
    if absent and present:
        for c in absent:
            out[f"f1_{c}"] = float("nan")
        kept, nan = ", ".join(CLASSES[c] for c in present), ", ".join("f1_" + c for c in absent)
        warnings.warn(f"class {', '.join(absent)} absent from the {len(y_true)} true labels: macro_f1 averages the "
                      f"F1 of {kept} only, and {nan} {'is' if len(absent) == 1 else 'are'} NaN (undefined)",
                      UserWarning, stacklevel=2)
    return out


def rf_agreement_metrics(y_true: np.ndarray, proba: np.ndarray, rf: np.ndarray,
                         kappa_quadratic: float | None = None) -> dict[str, float]:
    """How much predictions copy their RF input, for labels ``(n,)``, probabilities ``(n, 3)`` and the RF input
    ``(n, 3)`` of the same rows (rows need not sum to 1; prediction = argmax, ties to the first class):

    * ``rf_agreement`` — share of rows whose predicted class equals the RF input's argmax (1.0: the head
      predicts exactly what the RF alone would);
    * ``kappa_quadratic_rf`` — quadratic κ of the RF alone (its argmax) on these rows;
    * ``kappa_quadratic_minus_rf`` — the predictions' quadratic κ minus that (``kappa_quadratic``: the
      predictions' κ when already computed, e.g. by :func:`classification_metrics`; else computed here).
    """
    y_pred = np.asarray(proba).argmax(axis=1)
    rf_pred = np.asarray(rf).argmax(axis=1)
    labels = [0, 1, 2]
    if kappa_quadratic is None:
        kappa_quadratic = float(np.nan_to_num(cohen_kappa_score(y_true, y_pred, labels=labels, weights="quadratic")))
    k_rf = float(np.nan_to_num(cohen_kappa_score(y_true, rf_pred, labels=labels, weights="quadratic")))
    return {"rf_agreement": float(np.mean(y_pred == rf_pred)), "kappa_quadratic_rf": k_rf,
            "kappa_quadratic_minus_rf": kappa_quadratic - k_rf}


def kappa_columns(y_true: np.ndarray, pred: np.ndarray, weights: str | None = "quadratic",
                  n_classes: int = 3) -> np.ndarray:
    """Cohen's κ of integer labels ``(n,)`` against each column of integer predictions ``(n, H)``, ``(H,)`` —
    the value of scikit-learn's ``cohen_kappa_score(weights=weights)`` (``"quadratic"`` or ``None``),
    vectorised; 0 where κ is undefined."""
    y_true, pred = np.asarray(y_true), np.asarray(pred)
    h = pred.shape[1]
    cells = (np.arange(h)[None, :] * n_classes * n_classes + y_true[:, None] * n_classes + pred).ravel()
    observed = np.bincount(cells, minlength=h * n_classes ** 2).reshape(h, n_classes, n_classes)
    return kappa_of_confusion(observed, weights)


def kappa_of_confusion(observed: np.ndarray, weights: str | None = "quadratic") -> np.ndarray:
    """Cohen's κ of confusion matrices of counts ``(h, k, k)`` (rows true, columns predicted), ``(h,)`` — the
    value :func:`kappa_columns` gives for the rows counted (it calls this), so a κ can be computed from counts
    summed over groups of rows; 0 where κ is undefined (no rows, or one class only)."""
    observed = np.asarray(observed).astype(float)
    k_classes = observed.shape[-1]
    n = observed.sum((1, 2))[:, None, None]           # counts: an exact sum in any order
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = observed.sum(2, keepdims=True) * observed.sum(1, keepdims=True) / n
    i, j = np.meshgrid(np.arange(k_classes), np.arange(k_classes), indexing="ij")
    w = (i - j) ** 2 if weights == "quadratic" else (i != j).astype(float)
    denom = (w * expected).sum((1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        k = 1 - (w * observed).sum((1, 2)) / denom
    return np.nan_to_num(k)


def quadratic_kappa_columns(y_true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """:func:`kappa_columns` with quadratic weights."""
    return kappa_columns(y_true, pred, "quadratic")


def per_visit(predictions: pd.DataFrame) -> pd.DataFrame:
    """Average the probabilities (and the RF input, where present) of each visit's image rows, per repeat; one
    row per (repeat, visit)."""
    keys = [c for c in ("split", "repeat", "fold", "visit", "patient", "y") if c in predictions.columns]
    cols = PROBA + [c for c in RF if c in predictions.columns]
    return predictions.groupby(keys, as_index=False, sort=True)[cols].mean()


def confusion(predictions: pd.DataFrame) -> np.ndarray:
    """3 x 3 confusion matrix (rows true I/P/R, columns predicted) of a predictions table."""
    return confusion_matrix(predictions["y"], predictions[PROBA].to_numpy().argmax(1), labels=[0, 1, 2])


def tidy_metrics(predictions: pd.DataFrame) -> pd.DataFrame:
    """Metrics per repeat, per fold and pooled over the folds of a repeat (``fold = "pooled"``), at
    ``level`` ``"row"`` and ``"visit"``; columns ``split, repeat, fold, level, metric, value``. :data:`METRICS`
    always; :data:`AGREEMENT_METRICS` too for the rows that have an RF input (no NaN in ``rf_I/P/R``)."""
    if "split" not in predictions.columns:
        predictions = predictions.assign(split="val")
    rows = []
    for level, table in (("row", predictions), ("visit", per_visit(predictions))):
        for (split, repeat), rep in table.groupby(["split", "repeat"], sort=True):
            parts = [(str(f), g) for f, g in rep.groupby("fold", sort=True)]
            if split == "val":
                parts.append(("pooled", rep))
            for fold, g in parts:
                y, proba = g["y"].to_numpy(), g[PROBA].to_numpy()
                values = classification_metrics(y, proba)
                if set(RF) <= set(g.columns) and len(g) and g[RF].notna().all(axis=None):
                    values.update(rf_agreement_metrics(y, proba, g[RF].to_numpy(), values["kappa_quadratic"]))
                for metric, value in values.items():
                    rows.append((split, int(repeat), fold, level, metric, value))
    return pd.DataFrame(rows, columns=["split", "repeat", "fold", "level", "metric", "value"])


def summarise(metrics: pd.DataFrame, fold: str = "pooled") -> pd.DataFrame:
    """Mean, sd, min and max over repeats (``fold="pooled"``) or over all folds (``fold="each"``) of the
    validation metrics; index ``(level, metric)``."""
    m = metrics[metrics["split"] == "val"]
    m = m[m["fold"] == "pooled"] if fold == "pooled" else m[m["fold"] != "pooled"]
    return m.groupby(["level", "metric"])["value"].agg(["mean", "std", "min", "max", "count"])


def fold_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per (repeat, fold) of the reporting folds: quadratic and unweighted κ per visit and per row,
    accuracy and macro-F1 per visit, and the training rows' quadratic κ (per row)."""
    m = metrics[metrics["fold"] != "pooled"]
    val = m[m["split"] == "val"].pivot_table(index=["repeat", "fold"], columns=["level", "metric"], values="value")
    cols = [("visit", "kappa_quadratic"), ("visit", "kappa_unweighted"), ("row", "kappa_quadratic"),
            ("row", "kappa_unweighted"), ("visit", "accuracy"), ("visit", "macro_f1")]
    out = val[cols].copy()
    out.columns = [f"{metric} ({level})" for level, metric in cols]
    train = m[(m["split"] == "train") & (m["level"] == "row") & (m["metric"] == "kappa_quadratic")]
    out["kappa_quadratic (train rows)"] = train.set_index(["repeat", "fold"])["value"]
    return out
