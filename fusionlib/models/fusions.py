"""Fusions that respect the bar "never worse than the best single modality" (issue 4).

Each is fitted on the *inner validation* rows of a training fold — patients held out of the RF's and the
CNN's fits (the RF probabilities there are out-of-fold under ``source="oof_grouped"``; the CNN never trained
on them) — and never on the reporting fold. Inputs per row: ``rf`` and ``image`` probabilities ``(n, 3)``;
output ``(n, 3)`` probabilities. scikit-learn style: ``fit(rf, image, y)`` then ``predict_proba(rf, image)``.

``StackingFusion``
    multinomial logistic regression on ``[log rf, log image]`` (6 features).
``LogLinearFusion``
    log-linear pooling ``softmax((w log rf + (1 - w) log image) / T)``, ``w`` on a grid in [0, 1] and the
    temperature ``T`` chosen by the inner-validation log-loss; ``w = 1, T = 1`` is the RF itself.
``AlphaGridFusion``
    ``alpha rf + (1 - alpha) image`` with ``alpha`` on a grid that includes 1 (the RF alone), chosen by the
    inner-validation quadratic κ (ties go to the larger alpha).
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import cohen_kappa_score, log_loss

from fusionlib.arms import settings

EPS = 1e-6


def _log(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, None)
    return np.log(p / p.sum(axis=1, keepdims=True))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _check(rf, image, y=None):
    rf, image = np.asarray(rf, dtype=np.float64), np.asarray(image, dtype=np.float64)
    if rf.ndim != 2 or rf.shape[1] != 3 or rf.shape != image.shape:
        raise ValueError(f"rf {rf.shape} and image {image.shape}: need two (n, 3) arrays")
    if y is not None and len(y) != len(rf):
        raise ValueError(f"y has {len(y)} rows, rf has {len(rf)}")
    return rf, image


class StackingFusion:
    """Logistic regression on the log-probabilities of both modalities (balanced class weights)."""

    def __init__(self, C: float = 1.0):
        self.C = C

    def fit(self, rf, image, y):
        rf, image = _check(rf, image, y)
        self.model_ = LogisticRegression(C=self.C, class_weight="balanced", max_iter=1000)
        self.model_.fit(np.hstack([_log(rf), _log(image)]), y)
        return self

    def predict_proba(self, rf, image):
        rf, image = _check(rf, image)
        out = np.zeros((len(rf), 3))
        out[:, self.model_.classes_] = self.model_.predict_proba(np.hstack([_log(rf), _log(image)]))
        return out

    @property
    def params_(self) -> dict:
        return {"coef_rf": float(np.abs(self.model_.coef_[:, :3]).sum()),
                "coef_image": float(np.abs(self.model_.coef_[:, 3:]).sum())}


class LogLinearFusion:
    """``softmax((w log rf + (1 - w) log image) / T)`` with ``w`` and ``T`` chosen on the fitting rows."""

    def __init__(self, weights=tuple(np.linspace(0, 1, 11)), temperatures=(0.5, 0.75, 1.0, 1.5, 2.0, 3.0)):
        self.weights = weights
        self.temperatures = temperatures

    def _combine(self, rf, image, w, t):
        return _softmax((w * _log(rf) + (1 - w) * _log(image)) / t)

    def fit(self, rf, image, y):
        rf, image = _check(rf, image, y)
        best = None
        for w in self.weights:
            for t in self.temperatures:
                loss = log_loss(y, self._combine(rf, image, w, t), labels=[0, 1, 2])
                if best is None or loss < best[0] - 1e-12:
                    best = (loss, w, t)
        self.weight_, self.temperature_ = float(best[1]), float(best[2])
        return self

    def predict_proba(self, rf, image):
        rf, image = _check(rf, image)
        return self._combine(rf, image, self.weight_, self.temperature_)

    @property
    def params_(self) -> dict:
        return {"weight": self.weight_, "temperature": self.temperature_}


class AlphaGridFusion:
    """``alpha rf + (1 - alpha) image`` with ``alpha`` from a grid including 1, chosen by quadratic κ."""

    def __init__(self, alphas=tuple(np.linspace(0, 1, 11))):
        if not np.isclose(max(alphas), 1.0):
            raise ValueError("the alpha grid must include 1 (the metadata arm alone)")
        self.alphas = alphas

    def fit(self, rf, image, y):
        rf, image = _check(rf, image, y)
        scores = []
        for a in self.alphas:
            pred = (a * rf + (1 - a) * image).argmax(1)
            scores.append(cohen_kappa_score(y, pred, labels=[0, 1, 2], weights="quadratic"))
        scores = np.nan_to_num(np.array(scores), nan=-1.0)
        best = np.flatnonzero(scores >= scores.max() - 1e-12)
        self.alpha_ = float(max(np.asarray(self.alphas)[best]))
        return self

    def predict_proba(self, rf, image):
        rf, image = _check(rf, image)
        return self.alpha_ * rf + (1 - self.alpha_) * image

    @property
    def params_(self) -> dict:
        return {"alpha": self.alpha_}


def make_fusion(head: str):
    """A fresh robust fusion by head name: the class of this module that the head's row of
    :data:`fusionlib.arms.settings.HEADS` names (``kind="robust"``)."""
    h = settings.head(head)
    if h.kind != "robust":
        raise ValueError(f"head={head!r}: robust fusions are {settings.head_names(kind='robust')}")
    return globals()[h.builder]()
