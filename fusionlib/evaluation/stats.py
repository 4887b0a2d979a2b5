"""Statistics for comparing arms evaluated on the same folds.

* :func:`paired_bootstrap` — a patient-level paired bootstrap confidence interval for the difference in κ
  between two arms: patients are resampled with replacement (all their visits come along), the same draw is
  applied to both arms and to every repeat, and κ of each arm is recomputed on the pooled out-of-fold
  predictions of the draw;
* :func:`corrected_ttest` — the Nadeau–Bengio corrected resampled t-test over the folds of repeated K-fold
  CV (variance inflated by ``n_test / n_train`` for the overlap of training sets).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from fusionlib.evaluation.metrics import PROBA, kappa_of_confusion, per_visit


@dataclass(frozen=True)
class Difference:
    """``a - b`` with its interval ``(low, high)`` at ``level`` confidence, and a two-sided p-value."""

    estimate: float
    low: float
    high: float
    p_value: float
    level: float
    method: str


def _patient_confusion(rows: pd.DataFrame, patients: np.ndarray, pred: str, n_classes: int = 3) -> np.ndarray:
    """Confusion counts of each patient's rows (true ``y_a`` against ``pred``), flattened: ``(n_patients, k * k)``."""
    at = np.searchsorted(patients, rows["patient_a"].to_numpy())
    cells = (at * n_classes + rows["y_a"].to_numpy()) * n_classes + rows[pred].to_numpy()
    return np.bincount(cells, minlength=len(patients) * n_classes ** 2).reshape(len(patients), n_classes ** 2)


def _validation_visits(predictions: pd.DataFrame) -> pd.DataFrame:
    p = predictions[predictions["split"] == "val"] if "split" in predictions.columns else predictions
    v = per_visit(p)
    v["pred"] = v[PROBA].to_numpy().argmax(axis=1)
    return v[["repeat", "visit", "patient", "y", "pred"]]


def paired_bootstrap(pred_a: pd.DataFrame, pred_b: pd.DataFrame, weights: str | None = "quadratic",
                     n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> Difference:
    """Patient-level paired bootstrap of ``κ(a) - κ(b)`` per visit, averaged over repeats.

    ``pred_a`` / ``pred_b``: prediction tables of two arms (:func:`fusionlib.arms.runner.run_arm`) over the same
    visits and repeats. The estimate is the mean over repeats of the difference of pooled κ; the interval is
    the percentile interval of the same statistic over ``n_boot`` resamples of patients; the p-value is the
    two-sided bootstrap share of resamples on the other side of 0 (doubled, at most 1).

    Raises ``ValueError`` when the two arms were not evaluated on the same visits.
    """
    a, b = _validation_visits(pred_a), _validation_visits(pred_b)
    key = ["repeat", "visit"]
    merged = a.merge(b, on=key, suffixes=("_a", "_b"), validate="one_to_one")
    if len(merged) != len(a) or len(merged) != len(b):
        raise ValueError(f"arms differ in their evaluated visits ({len(a)} vs {len(b)}, {len(merged)} shared)")
    if not (merged["y_a"] == merged["y_b"]).all():
        raise ValueError("arms disagree on the true label of some visits")
    patients = np.sort(merged["patient_a"].unique())
    rng = np.random.default_rng(seed)
    draws = [patients] + [rng.choice(patients, size=len(patients), replace=True) for _ in range(n_boot)]
    # how often each patient is in each draw, (1 + n_boot, n_patients): a draw's confusion counts are these
    # times each patient's counts, so each κ comes from its counts (the value of κ on the drawn rows, exactly)
    drawn = np.stack([np.bincount(np.searchsorted(patients, d), minlength=len(patients)) for d in draws])
    diffs = []
    for _, g in merged.groupby("repeat", sort=True):
        kappas = [kappa_of_confusion((drawn @ _patient_confusion(g, patients, f"pred_{arm}")).reshape(len(draws), 3, 3),
                                     weights) for arm in ("a", "b")]
        diffs.append(kappas[0] - kappas[1])
    stat = [float(np.mean(d)) for d in np.ascontiguousarray(np.transpose(diffs))]   # mean over repeats, per draw
    estimate, boots = stat[0], np.array(stat[1:])
    alpha = (1 - level) / 2
    low, high = np.quantile(boots, [alpha, 1 - alpha])
    p = min(1.0, 2 * min((boots <= 0).mean(), (boots >= 0).mean()))
    return Difference(estimate, float(low), float(high), float(p), level, f"patient bootstrap ({n_boot})")


def corrected_ttest(differences: np.ndarray, n_train: float, n_test: float, level: float = 0.95) -> Difference:
    """Nadeau & Bengio's corrected resampled t-test of per-fold differences over repeated K-fold CV.

    ``differences``: one value per fold (``J = K x repeats``); ``n_train`` / ``n_test``: the (mean) size of a
    training and a reporting fold. Variance ``(1/J + n_test/n_train) * s^2`` with ``s^2`` the sample variance of
    the differences; ``t`` with ``J - 1`` degrees of freedom.
    """
    d = np.asarray(differences, dtype=float)
    if d.size < 2:
        raise ValueError("the corrected t-test needs at least two folds")
    j = d.size
    se = np.sqrt((1 / j + n_test / n_train) * d.var(ddof=1))
    mean = float(d.mean())
    if se == 0:
        return Difference(mean, mean, mean, 0.0 if mean else 1.0, level, "corrected t-test")
    t = mean / se
    p = float(2 * sps.t.sf(abs(t), df=j - 1))
    half = float(sps.t.ppf(0.5 + level / 2, df=j - 1) * se)
    return Difference(mean, mean - half, mean + half, p, level, "corrected t-test")


def fold_differences(metrics_a: pd.DataFrame, metrics_b: pd.DataFrame, metric: str = "kappa_quadratic",
                     level: str = "visit") -> np.ndarray:
    """Per-fold ``a - b`` of a validation metric, matched on (repeat, fold); shape ``(n_folds,)``."""
    def per_fold(m):
        m = m[(m["split"] == "val") & (m["fold"] != "pooled") & (m["level"] == level) & (m["metric"] == metric)]
        return m.set_index(["repeat", "fold"])["value"]

    a, b = per_fold(metrics_a), per_fold(metrics_b)
    if not a.index.equals(b.index):
        raise ValueError("the two arms were not evaluated on the same folds")
    return (a - b).to_numpy()
