"""Figures of the study: confusion matrices, training curves, κ per arm with error bars, thermal crops."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .cohort import CLASSES


def confusion_heatmap(cm: np.ndarray, title: str = "", ax=None):
    """A 3 x 3 confusion matrix (rows true, columns predicted) as a row-normalised heat map with counts."""
    import seaborn as sns

    ax = ax or plt.subplots(figsize=(3.6, 3.2))[1]
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    sns.heatmap(share, annot=cm, fmt="d", cmap="Blues", vmin=0, vmax=1, cbar=False, ax=ax,
                xticklabels=CLASSES, yticklabels=CLASSES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return ax


def training_curves(history: list[dict], ax=None):
    """Training and inner-validation loss per epoch, one pair of lines per fold."""
    ax = ax or plt.subplots(figsize=(5, 3.2))[1]
    for h in history:
        ep = np.arange(1, len(h["loss"]) + 1)
        ax.plot(ep, h["loss"], color="tab:blue", alpha=0.35, lw=1)
        ax.plot(ep, h["val_loss"], color="tab:orange", alpha=0.35, lw=1)
    ax.plot([], [], color="tab:blue", label="training loss")
    ax.plot([], [], color="tab:orange", label="inner-validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(frameon=False)
    return ax


def kappa_by_arm(summary: pd.DataFrame, metric: str = "kappa_quadratic_visit", ax=None, reference: dict | None = None):
    """Mean κ per arm (bars) with the fold-to-fold sd (error bars), coloured by condition; optional reference
    markers ``{head: value}`` (e.g. the report's measured κ)."""
    ax = ax or plt.subplots(figsize=(8, 3.8))[1]
    colours = {"report": "tab:red", "corrected": "tab:green", "": "tab:grey"}
    x = np.arange(len(summary))
    ax.bar(x, summary[metric], yerr=summary[f"{metric}_fold_sd"], capsize=3,
           color=[colours.get(c, "tab:grey") for c in summary["condition"]], alpha=0.8)
    if reference:
        for i, head in enumerate(summary["head"]):
            if head in reference:
                ax.plot(i, reference[head], marker="D", color="black", ms=5, zorder=3)
        ax.plot([], [], "D", color="black", ms=5, label="report's measured κ")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, summary["arm"], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel(metric.replace("_", " "))
    for cond, c in colours.items():
        if cond and cond in set(summary["condition"]):
            ax.bar([], [], color=c, label=f"{cond} conditions")
    ax.legend(frameon=False, fontsize=8)
    return ax


def crop_grid(pixels: np.ndarray, labels: np.ndarray, per_class: int = 6, seed: int = 0):
    """Example preprocessed thermal crops, one row per class."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(3, per_class, figsize=(1.2 * per_class, 3.8))
    for c, row in enumerate(axes):
        idx = rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
        for ax, i in zip(row, idx):
            ax.imshow(pixels[i])
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(CLASSES[c])
    return fig


def train_vs_validation(summary: pd.DataFrame, ax=None):
    """Per arm, quadratic κ per image row on the model's own training rows beside the reporting fold's."""
    ax = ax or plt.subplots(figsize=(9, 3.8))[1]
    x = np.arange(len(summary))
    ax.bar(x - 0.2, summary["kappa_quadratic_train_row"], width=0.4, label="training rows")
    ax.bar(x + 0.2, summary["kappa_quadratic_row"], width=0.4, label="reporting fold")
    ax.set_xticks(x, summary["arm"], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("quadratic κ per image row")
    ax.legend(frameon=False)
    return ax
