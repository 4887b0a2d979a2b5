"""Every figure of the study's pages: confusion matrices, training curves, κ per arm with error bars, thermal crops,
the grid, the hypotheses, the sweep, the replay's split distribution, the findings' fold evidence, the metadata
ablation. (The audit draws its own report: :mod:`fusionlib.audit.render`.)"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import Patch
import numpy as np
import pandas as pd

from fusionlib.data.cohort import CLASSES
from fusionlib.arms.settings import head_names


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
    """Mean κ per arm as horizontal bars (one row per arm, labels readable at any count) with the fold-to-fold
    sd (error bars), coloured by condition; optional reference markers ``{head: value}`` (e.g. the report's
    measured κ). Without ``ax``, the figure is 7 in wide and 0.28 in per arm high, laid out tight."""
    own = ax is None
    if own:
        ax = plt.subplots(figsize=(7, 0.28 * len(summary) + 1.3))[1]
    colours = {"report": "tab:red", "corrected": "tab:green", "": "tab:grey"}
    y = np.arange(len(summary))
    ax.barh(y, summary[metric], xerr=summary[f"{metric}_fold_sd"], capsize=2,
            color=[colours.get(c, "tab:grey") for c in summary["condition"]], alpha=0.8)
    if reference:
        for i, head in enumerate(summary["head"]):
            if head in reference:
                ax.plot(reference[head], i, marker="D", color="black", ms=5, zorder=3)
        ax.plot([], [], "D", color="black", ms=5, label="report's measured κ")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, summary["title"], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(metric.replace("_", " "))
    handles, labels = ax.get_legend_handles_labels()
    for cond, c in colours.items():
        if cond and cond in set(summary["condition"]):  # a patch of the bars' colour (an empty bar has none)
            handles.append(Patch(facecolor=c, alpha=0.8))
            labels.append(f"{cond} conditions")
    ax.legend(handles, labels, frameon=False, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3)
    if own:
        ax.figure.tight_layout()
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


def arm_evaluation(predictions: pd.DataFrame, history: list[dict]):
    """An arm's page: the confusion matrix per visit of its validation predictions (tidy, as
    :class:`fusionlib.arms.results.ArmResult` holds them) beside its training curves. Returns the figure."""
    from fusionlib.evaluation import metrics

    val = predictions[predictions["split"] == "val"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [1, 1.5]})
    confusion_heatmap(metrics.confusion(metrics.per_visit(val)), "per visit", ax=axes[0])
    training_curves(history, ax=axes[1])
    fig.tight_layout()
    return fig


def thermal_frame(seed: int = 0):
    """The cohort page: one rendered thermal frame (1/4 resolution) with its wound box, beside the 32 px crop the
    CNN sees (:mod:`fusionlib.data.thermal`). Returns the figure."""
    from fusionlib.data import thermal

    scene = thermal.Scene(wound=27.5, peri=30.5, skin=30.0, ambient=23.0, offset=0.0, cx=140, cy=200, rx=9, ry=11,
                          angle=0.3, gradient=0.8, foot=(135, 180, 113, 162), fov=0.72, noise=0.3)
    frame = thermal.render_frame(scene, (360, 270), np.random.default_rng(seed))
    fig, axes = plt.subplots(1, 2, figsize=(7, 4), gridspec_kw={"width_ratios": [1, 1]})
    axes[0].imshow(frame)
    axes[0].set_title("a frame (1/4 resolution)")
    x0, y0, x1, y1 = scene.box()
    axes[0].add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="red"))
    axes[1].imshow(thermal.crop_resize_pad(frame, scene.box(), 32, 8))
    axes[1].set_title("its 32 px crop")
    for ax in axes:
        ax.axis("off")
    return fig


def train_vs_validation(summary: pd.DataFrame, ax=None):
    """Per arm, quadratic κ per image row on the model's own training rows beside the reporting fold's (without
    ``ax``: a figure 10 in wide, laid out tight)."""
    own = ax is None
    ax = ax or plt.subplots(figsize=(10, 3.8))[1]
    x = np.arange(len(summary))
    ax.bar(x - 0.2, summary["kappa_quadratic_train_row"], width=0.4, label="training rows")
    ax.bar(x + 0.2, summary["kappa_quadratic_row"], width=0.4, label="reporting fold")
    ax.set_xticks(x, summary["title"], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("quadratic κ per image row")
    ax.legend(frameon=False)
    if own:
        ax.figure.tight_layout()
    return ax


def grid_heatmap(grid: pd.DataFrame, ax=None):
    """The root-cause grid: κ per (source, decomposition) row and head column, annotated."""
    import seaborn as sns

    ax = ax or plt.subplots(figsize=(7.5, 4.2))[1]
    labels = [f"{s} / {d}" for s, d in grid.index]
    sns.heatmap(grid.to_numpy(), annot=True, fmt=".3f", cmap="viridis", ax=ax, xticklabels=list(grid.columns),
                yticklabels=labels, cbar_kws={"label": "quadratic κ per visit"})
    ax.set_xlabel("head")
    ax.set_ylabel("RF source / decomposition")
    return ax


def comparison_forest(table: pd.DataFrame, tag: str = "quad", ax=None):
    """Differences in κ against the reference with their bootstrap 95 % CIs, one line per comparison (without
    ``ax``: a figure 7 in wide and 0.32 in per comparison high, laid out tight)."""
    own = ax is None
    ax = ax or plt.subplots(figsize=(7, 0.32 * len(table) + 1.2))[1]
    y = np.arange(len(table))[::-1]
    d = table[f"Δκ {tag}"].to_numpy()
    ax.errorbar(d, y, xerr=[d - table[f"_low {tag}"], table[f"_high {tag}"] - d], fmt="o", capsize=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, table["arm"], fontsize=8)
    ax.set_xlabel(f"Δκ ({'quadratic' if tag == 'quad' else 'unweighted'}) vs reference, 95 % patient-bootstrap CI")
    if own:
        ax.figure.tight_layout()
    return ax


def weights_by_fold(weights: dict[str, pd.DataFrame], ax=None):
    """H1: per head, the fitted Dense kernel's diagonal weight on the RF inputs vs on the image inputs, one
    point per fold."""
    ax = ax or plt.subplots(figsize=(6, 3.6))[1]
    for i, (name, w) in enumerate(weights.items()):
        ax.scatter(w["rf diagonal"], w["image diagonal"], label=name, alpha=0.7, s=18)
    ax.axhline(0, color="grey", lw=0.6)
    ax.axvline(0, color="grey", lw=0.6)
    ax.set_xlabel("sum of RF -> same-class weights")
    ax.set_ylabel("sum of image -> same-class weights")
    ax.legend(frameon=False, fontsize=7)
    return ax


def alpha_hist(alphas: dict[str, np.ndarray], expected=(0.6, 0.8), ax=None):
    """H1: the distribution of the learned alpha over reporting rows, with the report's expected range."""
    ax = ax or plt.subplots(figsize=(5.5, 3.2))[1]
    for name, a in alphas.items():
        ax.hist(a, bins=np.linspace(0, 1, 41), alpha=0.5, label=name, density=True)
    ax.axvspan(*expected, color="grey", alpha=0.2, label="report's expectation")
    ax.set_xlabel("alpha (weight of the RF branch)")
    ax.set_ylabel("density")
    ax.legend(frameon=False, fontsize=7)
    return ax


def max_probability_hist(tables: dict[str, pd.DataFrame], ax=None):
    """H2: the RF input's top probability on training rows vs reporting rows, per RF source."""
    n = len(tables)
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3), sharey=True) if ax is None else (None, [ax])
    for a, (name, t) in zip(np.atleast_1d(axes), tables.items()):
        for split, colour in (("train", "tab:blue"), ("val", "tab:orange")):
            a.hist(t.loc[t["split"] == split, "max probability"], bins=np.linspace(0.3, 1.1, 41), density=True,
                   alpha=0.5, color=colour, label="training rows" if split == "train" else "reporting rows")
        a.set_title(name, fontsize=9)
        a.set_xlabel("largest RF probability")
    np.atleast_1d(axes)[0].legend(frameon=False, fontsize=7)
    return fig


def bn_stats_plot(stats: pd.DataFrame, ax=None):
    """H2: per class, BN's moving sd against the sd of the RF input on training and on reporting rows."""
    ax = ax or plt.subplots(figsize=(5.5, 3.2))[1]
    g = stats.groupby("class")[["moving sd", "train sd", "val sd"]].mean()
    g.plot.bar(ax=ax, rot=0)
    ax.set_ylabel("sd of the RF probability")
    ax.legend(frameon=False, fontsize=7)
    return ax


def batch_sweep_plot(table: pd.DataFrame, ax=None):
    """H2: κ against batch size, one line per (head, condition)."""
    ax = ax or plt.subplots(figsize=(5.5, 3.4))[1]
    for (cond, head), g in table.groupby(["condition", "head"]):
        ax.plot(g["batch size"], g["κ quad"], marker="o", label=f"{head} ({cond})",
                ls="-" if cond == "report" else "--")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size")
    ax.set_ylabel("quadratic κ per visit")
    ax.legend(frameon=False, fontsize=7)
    return ax


def seed_strip(results: pd.DataFrame, ax=None):
    """H3: κ per initialisation seed, one column per (condition, head)."""
    import seaborn as sns

    ax = ax or plt.subplots(figsize=(8, 3.4))[1]
    t = results.assign(arm=results["head"] + " (" + results["condition"] + ")")
    sns.stripplot(data=t, x="arm", y="κ quad", hue="condition", ax=ax, size=5, legend=False)
    ax.tick_params(axis="x", rotation=60, labelsize=8)
    ax.set_xlabel("")
    return ax


def fix1_plot(table: pd.DataFrame, cap: float, ax=None):
    """Fix #1: the RF's top probability before vs after the softmax, with the ceiling e/(e+2)."""
    ax = ax or plt.subplots(figsize=(4.8, 3.4))[1]
    ax.scatter(table["rf max"], table["softmax(rf) max"], s=6, alpha=0.4)
    ax.axhline(cap, color="tab:red", lw=1, label=f"ceiling e/(e+2) = {cap:.3f}")
    ax.plot([1 / 3, 1], [1 / 3, 1], color="grey", lw=0.8, ls="--", label="unchanged")
    ax.set_xlabel("RF top probability")
    ax.set_ylabel("after softmax")
    ax.legend(frameon=False, fontsize=7)
    return ax


def sweep_plot(table: pd.DataFrame, ax=None):
    """Fusion gain over metadata-only against the thermal signal strength, one line per head."""
    ax = ax or plt.subplots(figsize=(6.5, 3.8))[1]
    for head, g in table[~table["head"].isin(head_names(fusion=False))].groupby("head"):
        ax.plot(g["thermal signal"], g["gain over metadata-only"], marker="o", label=head)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("thermal signal (1.2 = the default cohort)")
    ax.set_ylabel("κ gain over metadata-only")
    ax.legend(frameon=False, fontsize=7, ncol=2)
    return ax


def mechanism_plot(table: pd.DataFrame, collapse: float = 0.022, ax=None):
    """κ per candidate mechanism and head, with the report's collapsed κ as a line."""
    ax = ax or plt.subplots(figsize=(8, 4))[1]
    table.plot.barh(ax=ax)
    ax.axvline(collapse, color="tab:red", lw=1, ls="--", label="the report's fusion κ")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("quadratic κ per visit")
    ax.set_ylabel("")
    ax.legend(frameon=False, fontsize=7)
    return ax


def split_distribution(dist: pd.DataFrame, marks: tuple | None = None):
    """The replay chapter: histograms of fold κ and split-mean κ per design (:func:`fusionstudy.replay.studies.
    split_distribution`), with the recorded numbers as vertical lines. Returns the figure."""
    from fusionstudy.replay.studies import recorded_marks, split_means

    marks = marks or recorded_marks()
    designs = sorted(dist["n_folds"].unique())
    means = split_means(dist)
    fig, axes = plt.subplots(1, len(designs), figsize=(4.5 * len(designs), 3.4), squeeze=False)
    bins = np.linspace(min(-0.2, dist["kappa_quadratic"].min()), max(0.7, dist["kappa_quadratic"].max()), 40)
    for ax, k in zip(axes[0], designs):
        ax.hist(dist[dist["n_folds"] == k]["kappa_quadratic"], bins=bins, alpha=0.5, label="single folds", density=True)
        ax.hist(means[means["n_folds"] == k]["mean"], bins=bins, alpha=0.6, label="split means", density=True)
        colours = iter(["black", "tab:red", "tab:purple", "tab:green"])
        for label, x, where in marks:
            if int(where[0]) == k:
                ax.axvline(x, color=next(colours), ls="--" if where.endswith("fold") else ":", lw=1.2,
                           label=label.split(" (")[0])
        n = means[means["n_folds"] == k].shape[0]
        ax.set(title=f"{k}-fold patient splits ({n} seeds), RF alone", xlabel="quadratic κ", ylabel="density")
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def fold_evidence(rep: dict | None = None, ax=None):
    """The findings chapter: the collapse fold by fold on the seeded 3-fold split (bars, one group per fold): the history's metadata arm
    (softmax of the RF vector), its fused model, Fix #2+#3's recorded κ (fold 1 only: the one number the history
    gives) and, with ``rep`` (the replay chapter's tables), the replay of the metadata arm on the public rows.
    Equal bars within a fold are the fusion copying its RF input. Returns the axes."""
    from fusionstudy.report import HISTORY

    series = [("metadata arm, recorded (" + HISTORY["metadata_3fold"].commit + ")", HISTORY["metadata_3fold"].folds),
              ("fused model, recorded (" + HISTORY["fusion_3fold_log"].commit + ")", HISTORY["fusion_3fold_log"].folds),
              ("Fix #2+#3, recorded", [HISTORY["fix23"].value, np.nan, np.nan])]
    if rep is not None:
        series.insert(1, ("metadata arm, replayed here", list(rep["facts"].recorded_split.kappa)))
    if ax is None:
        ax = plt.subplots(figsize=(7, 3.2))[1]
    folds = np.arange(1, 4)
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series):
        ax.bar(folds + (i - (len(series) - 1) / 2) * width, np.asarray(values, float), width, label=label)
    ax.axhline(0, color="black", lw=0.8)
    ax.set(xticks=folds, xticklabels=[f"fold {k}" for k in folds], ylabel="quadratic κ (validation)")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return ax


def ablation(table: pd.DataFrame):
    """The metadata chapter's ablation (:func:`fusionstudy.chapters.metadata_tables.ablation`): Δκ quad with its 95 % CI per ablation row: the honest choices on top (blue), the leaks below on their
    own scale (red, titled as leaks). Returns the figure."""
    honest, leaks = table[~table["leak"]], table[table["leak"]]
    parts = [(honest, "tab:blue", "each choice, honest (paired with its reference on the same outer folds)")]
    if len(leaks):
        parts.append((leaks, "tab:red", "LEAKS, for contrast only (against the modal choice, same visits)"))
    heights = [max(len(p), 1) for p, _, _ in parts]
    fig, axes = plt.subplots(len(parts), 1, figsize=(9, 0.3 * sum(heights) + 1.2 * len(parts)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    for a, (part, colour, title) in zip(axes[:, 0], parts):
        y = np.arange(len(part))[::-1]
        est = part["Δκ quad"].to_numpy()
        err = np.vstack([est - part["_low Δquad"].to_numpy(), part["_high Δquad"].to_numpy() - est])
        a.errorbar(est, y, xerr=err, fmt="o", color=colour, capsize=3, ms=4)
        a.axvline(0, color="black", lw=0.8)
        names = [c if f == "LEAK" else f"{f.replace(' (from the ', ', from the ').removesuffix(')')}: {c}"
                 for f, c in zip(part["factor"], part["change"])]
        a.set_yticks(y, names, fontsize=8)
        a.set_ylim(-0.7, len(part) - 0.3)
        a.set_title(title, fontsize=9, color=colour, loc="left")
        a.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel("Δκ quadratic per visit, 95 % patient-bootstrap CI")
    fig.tight_layout()
    return fig


#: Colours of the task graph's kinds of task (:func:`task_graph`).
TASK_COLOURS = {"experiment": "#f4c06b", "arm": "#9ecae1", "page": "#c7e9c0"}


def task_graph(tasks, collapse: str = "arm"):
    """The study's tasks as the workflow engine runs them (the Reproducibility appendix): one box per task
    (``tasks``: :func:`fusionstudy.build.study.plan`, each with ``name``, ``kind`` and ``depends``), placed in
    columns by the longest chain of tasks before it, an arrow from each task to every task that reads it. The tasks
    of kind ``collapse`` (the arm pages) are drawn as one box with their count; a task that reads every other one
    (the appendix) gets no arrows, its box says so. Returns the figure."""
    every = {t.name for t in tasks}
    reads_all = {t.name for t in tasks if len(t.depends) and set(t.depends) >= every - {t.name}}
    folded = [t.name for t in tasks if t.kind == collapse]
    group = f"{len(folded)} {collapse} pages"

    def node(name: str) -> str:
        return group if name in folded else name

    kinds, deps = {}, {}
    for t in tasks:
        kinds[node(t.name)] = t.kind
        deps.setdefault(node(t.name), set()).update(
            set() if t.name in reads_all else {node(d) for d in t.depends if d in every})
    depth: dict = {}
    for name in deps:                              # plan order: what a task reads comes before it
        depth[name] = 1 + max((depth[d] for d in deps[name]), default=-1)
    for name in reads_all:
        depth[name] = max(depth.values()) + 1
    columns: dict = {}
    for name in deps:
        columns.setdefault(depth[name], []).append(name)
    tallest = max(len(c) for c in columns.values())
    fig, ax = plt.subplots(figsize=(2.2 * len(columns) + 0.5, 0.42 * tallest + 1.0))
    pos = {}
    for col, names in columns.items():
        for row, name in enumerate(names):
            pos[name] = (col, (tallest - 1) / 2 - row + (len(names) - 1) / 2 - (tallest - 1) / 2)
    boxes = {}
    for name, (x, y) in pos.items():
        label = name + ("\n(reads every task)" if name in reads_all else "")
        boxes[name] = ax.text(x, y, label, ha="center", va="center", fontsize=8, zorder=3,
                              bbox={"boxstyle": "round,pad=0.3", "fc": TASK_COLOURS.get(kinds[name], "white"),
                                    "ec": "0.4"})
    for name, before in deps.items():
        for d in before:                           # from the right edge of what is read to the reader's left edge
            ax.annotate("", xy=(0, 0.5), xycoords=boxes[name], xytext=(1, 0.5), textcoords=boxes[d], zorder=1,
                        arrowprops={"arrowstyle": "-|>", "color": "0.55", "lw": 0.7, "shrinkA": 3, "shrinkB": 3})
    ax.set(xlim=(-0.6, len(columns) - 0.4), ylim=(-tallest / 2 - 0.2, tallest / 2 - 0.3))
    ax.axis("off")
    ax.legend(handles=[Patch(fc=c, ec="0.4", label=k) for k, c in TASK_COLOURS.items()], loc="lower right",
              fontsize=8, frameon=False, ncol=3, bbox_to_anchor=(1.0, -0.02))
    fig.tight_layout()
    return fig
