"""Does a fusion copy its RF input? Tables of how often each arm predicts what the RF alone would.

For every arm with an RF input, the tidy metrics (:func:`fusionlib.evaluation.metrics.rf_agreement_metrics`) hold, per
fold and pooled, per image row and per visit: ``rf_agreement`` (share of rows whose predicted class is the RF
input's argmax), ``kappa_quadratic_rf`` (the RF alone's quadratic κ on the same rows) and
``kappa_quadratic_minus_rf``. A fusion that agrees with its RF input on (nearly) every row and scores the RF's
κ has *collapsed onto* it: its image branch changes nothing.

:func:`original_protocol_arms` runs the learned fusions under the original protocol (in-sample RF
probabilities, the ``ordinal_original`` vector, the original training recipe, 3 patient folds);
:func:`collapse_by_fold` sets their per-fold numbers beside the history's recorded 3-fold run
(:func:`fusionstudy.report.fusion_vs_rf_3fold`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fusionlib.arms import settings
from fusionlib.evaluation.metrics import AGREEMENT_METRICS, tidy_metrics
from fusionstudy.report import Record
from fusionlib.arms.results import ArmResult
from fusionlib.models.rf import ORIGINAL_TREES
from fusionlib.arms.settings import CONDITIONS, ORIGINAL_RECIPE
#: What we call a copy of the RF input: the prediction equals the RF argmax on at least this share of rows.
COPIES_AT = 0.95
#: The learned fusions checked under the original protocol, with metadata-only (the RF through its head).
ORIGINAL_PROTOCOL_HEADS = ("metadata_only", "baseline", "fix23")
#: Image rows per visit of the semi-real cohort for that check: the original's row table has 3,107 image-pair
#: rows of 517 visits (``best_matching.csv``), six per visit, and its forests saw each visit once per row.
ORIGINAL_ROWS_PER_VISIT = 6


def agreement_metrics(result: ArmResult) -> pd.DataFrame:
    """The agreement rows of ``result``'s tidy metrics (``split, repeat, fold, level, metric, value``); computed
    from its predictions for a result written before these metrics existed; empty without an RF input."""
    m = result.metrics
    if not m["metric"].isin(AGREEMENT_METRICS).any():
        m = tidy_metrics(result.predictions)
    return m[m["metric"].isin(AGREEMENT_METRICS)][["split", "repeat", "fold", "level", "metric", "value"]]


def _pooled(m: pd.DataFrame, metric: str, level: str, split: str = "val") -> float:
    """Mean over repeats of the value pooled over folds (validation) or of the per-fold values (training)."""
    sel = (m["metric"] == metric) & (m["level"] == level) & (m["split"] == split)
    sel &= (m["fold"] == "pooled") if split == "val" else (m["fold"] != "pooled")
    return float(m.loc[sel, "value"].mean()) if sel.any() else float("nan")


def agreement_table(results: dict[str, ArmResult] | list[ArmResult], heads=None) -> pd.DataFrame:
    """One row per arm (by its title) whose head is in ``heads`` (default: every fusion head of the head table, the report's and the
    robust ones): its quadratic κ per visit, the RF alone's κ on the same
    visits, the difference, and the share of predictions equal to the RF argmax per visit, per image row and on
    the training rows. Validation values are pooled over the folds of a repeat, then averaged over repeats
    (training rows: the mean over folds)."""
    results = list(results.values()) if isinstance(results, dict) else list(results)
    heads = settings.head_names(fusion=True) if heads is None else heads
    rows = []
    for r in results:
        if r.settings.head not in heads:
            continue
        a = agreement_metrics(r)
        if a.empty:
            continue
        k = r.metrics[(r.metrics["metric"] == "kappa_quadratic")]
        rows.append({"arm": r.settings.title,
                     "κ quad (visit)": _pooled(k, "kappa_quadratic", "visit"),
                     "RF alone κ (visit)": _pooled(a, "kappa_quadratic_rf", "visit"),
                     "κ − RF κ (visit)": _pooled(a, "kappa_quadratic_minus_rf", "visit"),
                     "agrees with RF (visit)": _pooled(a, "rf_agreement", "visit"),
                     "agrees with RF (row)": _pooled(a, "rf_agreement", "row"),
                     "agrees with RF (training rows)": _pooled(a, "rf_agreement", "row", "train")})
    return pd.DataFrame(rows)


def agreement_text(table: pd.DataFrame) -> str:
    """One sentence on an :func:`agreement_table`: how many arms copy their RF input (agreement per visit at
    least :data:`COPIES_AT`) and the range of agreement and of κ − RF κ."""
    if table.empty:
        return "No fusion arm with an RF input was run."
    ag, d = table["agrees with RF (visit)"], table["κ − RF κ (visit)"]
    copies = table.loc[ag >= COPIES_AT, "arm"].tolist()
    return (f"Agreement of the fusions' validation predictions with the RF alone: {ag.min():.0%}–{ag.max():.0%} of "
            f"visits; κ − RF κ from {d.min():+.3f} to {d.max():+.3f}. "
            + (f"{len(copies)} of {len(table)} arms predict the RF's class on at least {COPIES_AT:.0%} of visits: "
               f"{', '.join(f'`{c}`' for c in copies)}." if copies else
               f"None predicts the RF's class on {COPIES_AT:.0%} of visits or more."))


def original_protocol_arms(n_splits: int = 3, rf_trees: int = ORIGINAL_TREES, train: dict | None = None,
                           seed: int = 0, heads=ORIGINAL_PROTOCOL_HEADS) -> list[dict]:
    """Arm settings of the original protocol: the report's RF condition (``ordinal_original`` vector,
    ``in_sample`` training probabilities) with the original's forest (``forest="original"``: its settings, fit
    on visits repeated per image row and oversampled; :mod:`fusionlib.models.rf`), the original training recipe
    (:data:`fusionlib.arms.settings.ORIGINAL_RECIPE`, merged over ``train``: the scale's epochs and CNN width),
    ``n_splits`` patient folds, one repeat; named ``"<head> | original protocol"``."""
    recipe = {**(train or {}), **ORIGINAL_RECIPE}
    return [{"head": h, **CONDITIONS["report"], "forest": "original", "n_splits": n_splits, "n_repeats": 1,
             "rf_trees": rf_trees, "seed": seed, "train": recipe, "name": f"{h} | original protocol"}
            for h in heads]


def collapse_by_fold(results: dict[str, ArmResult] | list[ArmResult],
                     recorded: tuple[Record, Record] | None = None) -> pd.DataFrame:
    """Per fold and head (first repeat; index ``(fold, head)``): quadratic κ per image row and the RF alone's on the same rows, their
    difference, agreement with the RF argmax (rows and visits), the training rows' κ and the RF's in-sample κ on
    them; with ``recorded`` (``(fusion, rf)`` records, :func:`fusionstudy.report.fusion_vs_rf_3fold`), the history's fusion and RF-alone κ of
    the fold with the same number set beside them (different rows and folds: a scale, not a pairing)."""
    results = list(results.values()) if isinstance(results, dict) else list(results)
    rows = []
    for r in results:
        m = r.metrics[["split", "repeat", "fold", "level", "metric", "value"]]
        if not m["metric"].isin(AGREEMENT_METRICS).any():
            m = pd.concat([m, agreement_metrics(r)])
        m = m[(m["repeat"] == m["repeat"].min()) & (m["fold"] != "pooled")]
        v = m.pivot_table(index="fold", columns=["split", "level", "metric"], values="value")
        for fold in sorted(v.index, key=int):
            x = v.loc[fold]
            row = {"fold": int(fold) + 1, "head": r.settings.head,
                   "κ (rows)": x[("val", "row", "kappa_quadratic")],
                   "RF alone κ (rows)": x[("val", "row", "kappa_quadratic_rf")],
                   "κ − RF κ (rows)": x[("val", "row", "kappa_quadratic_minus_rf")],
                   "agrees with RF (rows)": x[("val", "row", "rf_agreement")],
                   "agrees with RF (visits)": x[("val", "visit", "rf_agreement")],
                   "training-row κ": x[("train", "row", "kappa_quadratic")],
                   "RF training-row κ": x[("train", "row", "kappa_quadratic_rf")]}
            if recorded is not None:
                k = int(fold)
                for col, rec in zip(("history: fusion κ", "history: RF alone κ"), recorded):
                    row[col] = rec.folds[k] if k < len(rec.folds) else np.nan
            rows.append(row)
    return pd.DataFrame(rows).sort_values(["fold", "head"], kind="stable").set_index(["fold", "head"])


def collapse_text(table: pd.DataFrame, recorded: tuple[Record, Record] | None = None) -> str:
    """What :func:`collapse_by_fold` shows, per learned fusion: in how many folds it copies its RF input
    (agreement per row at least :data:`COPIES_AT`), its agreement and κ − RF κ per fold, and the training-row
    κ; with ``recorded``, the history's fusion − RF differences per fold."""
    parts = []
    table = table.reset_index()
    fusions = table[table["head"] != "metadata_only"]
    for head, g in fusions.groupby("head", sort=False):
        n_copy = int((g["agrees with RF (rows)"] >= COPIES_AT).sum())
        per = ", ".join(f"fold {f}: {a:.0%} / {d:+.3f}" for f, a, d in
                        zip(g["fold"], g["agrees with RF (rows)"], g["κ − RF κ (rows)"]))
        parts.append(f"`{head}` copies its RF input (≥ {COPIES_AT:.0%} of rows) in {n_copy} of {len(g)} folds "
                     f"(agreement / κ − RF κ per fold: {per}; training-row κ "
                     f"{g['training-row κ'].min():.2f}–{g['training-row κ'].max():.2f}, the RF's in-sample "
                     f"{g['RF training-row κ'].min():.2f}–{g['RF training-row κ'].max():.2f}).")
    if recorded is not None:
        fusion, rf = recorded
        diffs = np.subtract(fusion.folds, rf.folds)
        parts.append(f"The history's 3-fold fusion run ({fusion.file.rsplit('/', 1)[-1]} at {fusion.commit}) "
                     f"minus the RF alone on its folds: {', '.join(f'{d:+.4f}' for d in diffs)}.")
    return " ".join(parts)


def history_line(recorded: tuple[Record, Record]) -> str:
    """Where the history records its 3-fold fusion run and the RF alone beside it: file, commit and lines."""
    fusion, rf = recorded
    return (f"History: `{fusion.file}` at {fusion.commit} (lines {fusion.lines} and "
            f"{rf.lines_in(fusion.commit, fusion.file)}).")
