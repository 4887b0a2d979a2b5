"""A seeded synthetic audit input, clean or with one planted fault: the shipped example file and the tests'
cases (each check must catch its fault, and the clean case must raise nothing).

    python -m fusionlib.audit.example > example.csv      # the shipped fusionlib/audit/example.csv

The cohort: ``n_groups`` patients with 3 samples each; an ordinal label (I < P < R) from a latent severity; two
modalities (``metadata``, ``thermal``) that each see the severity through independent noise, and a fusion that
averages what both see (so it truly helps). Grouped 5-fold partition, one repeat; the metadata branch's
outputs on the fusion's training rows are given (role ``train``), out-of-fold as they should be.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

CLASSES = ("I", "P", "R")
FAULTS = (None, "split", "in_sample", "leakage", "copy", "rules")


def _proba(position: np.ndarray, sharpness: float = 1.5) -> np.ndarray:
    """Class probabilities peaked at ``position`` on the ordinal scale 0..2, shape ``(n, 3)``."""
    scores = -sharpness * (np.arange(3)[None, :] - position[:, None]) ** 2
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def example_frame(fault: str | None = None, n_groups: int = 80, seed: int = 0, folds: int = 5) -> pd.DataFrame:
    """The example input (see the module's description); ``fault`` plants one of :data:`FAULTS`:
    ``"split"`` (the modalities scored under another partition than the fusion), ``"in_sample"`` (the metadata
    branch's training-row outputs in-sample, and a fusion that trusts it), ``"leakage"`` (folds drawn per sample,
    splitting patients), ``"copy"`` (the fusion repeats the metadata branch), ``"rules"`` (a fusion worse than a
    plain average of its inputs)."""
    if fault not in FAULTS:
        raise ValueError(f"fault={fault!r}: use one of {FAULTS}")
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(n_groups), 3)
    severity = np.clip(np.repeat(rng.normal(1.0, 0.55, n_groups), 3) + rng.normal(0, 0.35, group.size), 0, 2)
    y = np.digitize(severity, [0.7, 1.3])
    seen = {m: severity + rng.normal(0, 0.45, group.size) for m in ("metadata", "thermal")}
    fused = (seen["metadata"] + seen["thermal"]) / 2
    if fault == "rules":
        fused = severity + rng.normal(0, 0.9, group.size)
    if fault == "copy":
        fused = seen["metadata"]
    if fault == "in_sample":
        fused = 0.9 * seen["metadata"] + 0.1 * seen["thermal"]
    probas = {"metadata": _proba(seen["metadata"]), "thermal": _proba(seen["thermal"]), "fusion": _proba(fused)}

    def partition(generator):
        by_group = generator.permutation(n_groups) % folds
        return by_group[group] if fault != "leakage" else generator.permutation(group.size) % folds

    fold = partition(rng)
    other = partition(np.random.default_rng(seed + 1)) if fault == "split" else fold
    sample = np.array([f"s{i:04d}" for i in range(group.size)])
    rows = []
    for model, p in probas.items():
        f = other if model != "fusion" else fold
        rows.append(_rows(sample, group, y, model, f, "test", p))
    train_p = _proba(seen["metadata"] + rng.normal(0, 0.1, group.size))        # out-of-fold: as good as on test
    if fault == "in_sample":
        train_p = _proba(y + rng.normal(0, 0.15, group.size), sharpness=4.0)     # the forest remembers its rows
    for k in range(folds):
        train = fold != k
        rows.append(_rows(sample[train], group[train], y[train], "metadata", np.full(train.sum(), k), "train",
                          train_p[train]))
    return pd.concat(rows, ignore_index=True)


def _rows(sample, group, y, model, fold, role, p) -> pd.DataFrame:
    out = pd.DataFrame({"sample": sample, "group": [f"patient{g:03d}" for g in group],
                        "label": np.array(CLASSES)[y], "model": model, "fold": fold, "repeat": 0, "role": role})
    for k, c in enumerate(CLASSES):
        out[f"p_{c}"] = np.round(p[:, k], 6)
    out[f"p_{CLASSES[-1]}"] = np.round(1 - out[[f"p_{c}" for c in CLASSES[:-1]]].sum(axis=1), 6)
    return out


if __name__ == "__main__":
    example_frame().to_csv(sys.stdout, index=False)
