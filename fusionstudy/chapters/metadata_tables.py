"""The metadata chapter's tables, figure and text, and the real-data page's bar, from :mod:`fusionstudy.chapters.metadata`.

κ is per visit, pooled over the folds of a repeat and averaged over repeats; intervals are 95 % patient-bootstrap
intervals (patients resampled with all their visits, the same draw for every repeat, as in
:func:`fusionlib.evaluation.stats.paired_bootstrap`, which gives the paired differences). Kept apart from
:mod:`fusionstudy.chapters.metadata` so that a change to the presentation does not invalidate the cached fits (their cache
key hashes that module's source).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Iterable

import numpy as np
import pandas as pd

from fusionlib import io
from fusionstudy.chapters.base import DataChapter
from fusionstudy.records import FACTS_JSON, Record
from fusionstudy.scales import SCALES
from fusionstudy.chapters.metadata import (BEST_LABEL, LEAK_CHANGES, LEAKS, REPORT, SELECTION_ENCODINGS, SELECTION_MODELS,
                       LeakRefused, NestedResult, check_leak, evaluate, nested_cv)
from fusionlib.evaluation.metrics import PROBA, kappa_columns


# --- κ with patient-bootstrap intervals ----------------------------------------------------------------

def _visit_preds(pred: pd.DataFrame) -> pd.DataFrame:
    p = pred[pred["split"] == "val"] if "split" in pred.columns else pred
    keys = ["repeat", "visit", "patient", "y"]
    v = p.groupby(keys, as_index=False, sort=True)[PROBA].mean()
    v["pred"] = v[PROBA].to_numpy().argmax(axis=1)
    return v


def _kappa_of_confusion(O: np.ndarray, weights: str | None) -> np.ndarray:
    """κ of confusion matrices ``(B, 3, 3)`` (rows true), ``(B,)``; equals :func:`fusionlib.evaluation.metrics.kappa_columns`."""
    n = O.sum(axis=(1, 2))
    E = O.sum(axis=2)[:, :, None] * O.sum(axis=1)[:, None, :] / n[:, None, None]
    i, j = np.meshgrid(np.arange(3), np.arange(3), indexing="ij")
    w = (i - j) ** 2 if weights == "quadratic" else (i != j).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = 1 - (w * O).sum(axis=(1, 2)) / (w * E).sum(axis=(1, 2))
    return np.nan_to_num(k)


def bootstrap_kappa(pred: pd.DataFrame, weights: str | None = "quadratic", n_boot: int = 1000, level: float = 0.95,
                    seed: int = 0) -> tuple[float, float, float]:
    """κ per visit pooled per repeat, mean over repeats, with a patient-bootstrap percentile interval:
    ``(estimate, low, high)``. Patients are resampled with replacement (all their visits come along, the same
    draw for every repeat), as in :func:`fusionlib.evaluation.stats.paired_bootstrap`."""
    v = _visit_preds(pred)
    patients = np.sort(v["patient"].unique())
    pidx = np.searchsorted(patients, v["patient"].to_numpy())
    cell = v["y"].to_numpy() * 3 + v["pred"].to_numpy()
    repeats = np.sort(v["repeat"].unique())
    rng = np.random.default_rng(seed)
    draws = np.ones((n_boot + 1, len(patients)))                       # row 0: the data itself
    for b in range(1, n_boot + 1):
        draws[b] = np.bincount(rng.choice(len(patients), len(patients), replace=True), minlength=len(patients))
    ks = []
    for r in repeats:
        m = (v["repeat"] == r).to_numpy()
        onehot = np.zeros((m.sum(), 9))
        onehot[np.arange(m.sum()), cell[m]] = 1.0
        ks.append(_kappa_of_confusion((draws[:, pidx[m]] @ onehot).reshape(-1, 3, 3), weights))
    k = np.mean(ks, axis=0)
    if n_boot == 0:
        return float(k[0]), np.nan, np.nan
    alpha = (1 - level) / 2
    low, high = np.quantile(k[1:], [alpha, 1 - alpha])
    return float(k[0]), float(low), float(high)


@dataclass(frozen=True)
class Estimate:
    """κ per visit (pooled over the folds of a repeat, mean over repeats) with its 95 % patient-bootstrap interval
    (NaN without a bootstrap), quadratic and unweighted, and the sd of the quadratic κ over repeats."""
    kappa_quadratic: float
    low_quadratic: float
    high_quadratic: float
    kappa_unweighted: float
    low_unweighted: float
    high_unweighted: float
    sd_repeats: float

    def row(self) -> dict:
        """The estimate as the chapter's table columns."""
        row = {}
        for tag, (est, low, high) in (("quad", (self.kappa_quadratic, self.low_quadratic, self.high_quadratic)),
                                      ("unw", (self.kappa_unweighted, self.low_unweighted, self.high_unweighted))):
            row.update({f"κ {tag}": est, f"95% CI {tag}": f"[{low:.3f}, {high:.3f}]", f"_low {tag}": low,
                        f"_high {tag}": high})
        row["sd over repeats (κ quad)"] = self.sd_repeats
        return row


def kappa_estimate(pred: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> Estimate:
    """:class:`Estimate` of a model's predictions (``pred``: the tidy out-of-fold predictions of :func:`nested_cv`)."""
    q = bootstrap_kappa(pred, "quadratic", n_boot, seed=seed)
    u = bootstrap_kappa(pred, None, n_boot, seed=seed)
    v = _visit_preds(pred)
    per_repeat = [float(kappa_columns(g["y"].to_numpy(), g["pred"].to_numpy()[:, None], "quadratic")[0])
                  for _, g in v.groupby("repeat")]
    sd = float(np.std(per_repeat, ddof=1)) if len(per_repeat) > 1 else np.nan
    return Estimate(*q, *u, sd)


def kappa_row(pred: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> dict:
    """:func:`kappa_estimate` as table columns: κ quadratic and unweighted per visit with 95 % patient-bootstrap
    intervals, and the sd of the pooled κ over repeats."""
    return kappa_estimate(pred, n_boot, seed).row()


@dataclass(frozen=True)
class Choice:
    """The configuration the inner cross-validation chose in one outer fold, and its ``lead`` in inner κ quad over
    the runner-up (None: a single candidate)."""
    repeat: int
    fold: int
    chosen: str
    lead: float | None


@dataclass(frozen=True)
class LargestChange:
    """The ablation's largest single change from the report's arm (temperatures aside) and its ``lead`` in Δκ quad
    over the next (None: a single row)."""
    change: str
    lead: float | None


@dataclass(frozen=True)
class MetadataFacts(Record):
    """The chapter's claims: the nested-CV arm and the report's arm (None when not among the candidates), the
    configuration chosen in each outer fold, and the ablation's largest single change (None before the ablation ran
    or without one)."""
    nested: Estimate
    report_arm: Estimate | None
    choices: tuple[Choice, ...] = ()
    largest_change: LargestChange | None = None

    def pinned(self) -> dict[str, float]:
        """κ quadratic and unweighted of both arms (``"nested.kappa_quadratic"``, ...)."""
        return {f"{name}.{k}": getattr(e, k) for name in ("nested", "report_arm")
                for e in [getattr(self, name)] if e is not None for k in ("kappa_quadratic", "kappa_unweighted")}

    def table(self) -> pd.DataFrame:
        """The headline table, one row per arm."""
        rows = [{"arm": BEST_LABEL, **self.nested.row()}]
        if self.report_arm is not None:
            rows.append({"arm": f"the report's arm ({REPORT.label})", **self.report_arm.row()})
        return pd.DataFrame(rows)


def paired_row(a: pd.DataFrame, b: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> dict:
    """``κ(a) - κ(b)`` per visit, quadratic and unweighted, with the patient-level paired bootstrap of
    :func:`fusionlib.evaluation.stats.paired_bootstrap` (same visits and repeats; folds may differ, e.g. for a leak)."""
    from fusionlib.evaluation.stats import paired_bootstrap

    row = {}
    for w, tag in (("quadratic", "quad"), (None, "unw")):
        d = paired_bootstrap(a, b, weights=w, n_boot=n_boot, seed=seed)
        row.update({f"Δκ {tag}": d.estimate, f"95% CI Δ{tag}": f"[{d.low:+.3f}, {d.high:+.3f}]",
                    f"p {tag}": d.p_value, f"_low Δ{tag}": d.low, f"_high Δ{tag}": d.high})
    return row


# --- the chapter's tables ----------------------------------------------------------------------------

def choices_of(result: NestedResult) -> tuple[Choice, ...]:
    """:class:`Choice` per outer fold of ``result``."""
    out = []
    for _, c in result.choices.iterrows():
        scores = result.inner[(result.inner["repeat"] == c["repeat"]) & (result.inner["fold"] == c["fold"])]
        others = scores[scores["candidate"] != c["chosen"]]["inner κ quad"]
        lead = float(c["inner κ quad (chosen)"] - others.max()) if len(others) else None
        out.append(Choice(int(c["repeat"]), int(c["fold"]), str(c["chosen"]), lead))
    return tuple(out)


def largest_change(table: pd.DataFrame) -> LargestChange | None:
    """The largest single change from the report's arm in an :func:`ablation` table (temperatures aside)."""
    single = table[table["factor"].str.endswith("(from the report's arm)")
                   & ~table["factor"].str.startswith("temp")].sort_values("Δκ quad", ascending=False)
    if not len(single):
        return None
    lead = float(single["Δκ quad"].iloc[0] - single["Δκ quad"].iloc[1]) if len(single) > 1 else None
    return LargestChange(str(single["change"].iloc[0]), lead)


def headline_facts(result: NestedResult, n_boot: int = 1000) -> MetadataFacts:
    """The nested arm and the report's arm (when among the candidates): κ with CIs; the choice per outer fold."""
    report = result.candidates.get(REPORT.label)
    return MetadataFacts(kappa_estimate(result.nested, n_boot),
                         None if report is None else kappa_estimate(report, n_boot), choices_of(result))


def headline(result: NestedResult, n_boot: int = 1000) -> pd.DataFrame:
    """:func:`headline_facts` as the chapter's table, one row per arm."""
    return headline_facts(result, n_boot).table()


def candidate_table(result: NestedResult) -> pd.DataFrame:
    """Every candidate as a fixed arm on the outer folds (κ per visit, mean over repeats, no CI), its mean
    inner κ and how many outer folds chose it. Descriptive: the nested arm never chooses by these κ."""
    rows = []
    counts = result.choices["chosen"].value_counts()
    inner = result.inner.groupby("candidate")[["inner κ quad", "inner κ unw"]].mean()
    for c in result.configs:
        v = _visit_preds(result.candidates[c.label])
        kq = np.mean([kappa_columns(g["y"].to_numpy(), g["pred"].to_numpy()[:, None], "quadratic")[0]
                      for _, g in v.groupby("repeat")])
        ku = np.mean([kappa_columns(g["y"].to_numpy(), g["pred"].to_numpy()[:, None], None)[0]
                      for _, g in v.groupby("repeat")])
        rows.append({"candidate": c.label, "model": c.model, "encoding": c.encoding,
                     "chosen in folds": int(counts.get(c.label, 0)), "mean inner κ quad": inner.loc[c.label, "inner κ quad"],
                     "outer κ quad": float(kq), "outer κ unw": float(ku)})
    return pd.DataFrame(rows)


def ablation_plan(result: NestedResult) -> list[dict]:
    """The ablation's rows: ``{"factor", "change", "arm": config or "nested", "reference": config,
    "leak": bool}``. One factor at a time from the report's arm; then from the modal choice (when it
    differs): all choices together, each factor back, temperatures; the leaks against the modal choice."""
    best = result.modal_choice()
    labels_ = {c.label for c in result.configs}
    rows = [{"factor": "selection", "change": "nested CV choice per outer fold", "arm": "nested",
             "reference": REPORT, "leak": False}]

    def add(factor, change, arm, ref, leak=False):
        if arm.temperatures or arm.leak or arm.label in labels_:
            rows.append({"factor": factor, "change": change, "arm": arm, "reference": ref, "leak": leak})

    for anchor, where in ((REPORT, "from the report's arm"), (best, "from the modal choice")):
        if where == "from the modal choice":
            if best == REPORT:
                break
            add("all choices", "the report's arm -> the modal choice", best, REPORT)
        for m in SELECTION_MODELS:
            if m != anchor.model:
                add(f"model ({where})", f"{anchor.model} -> {m}", replace(anchor, model=m), anchor)
        for e in SELECTION_ENCODINGS:
            if e != anchor.encoding:
                add(f"encoding ({where})", f"{anchor.encoding} -> {e}", replace(anchor, encoding=e), anchor)
        add(f"temperatures ({where})", "+ temperature columns", replace(anchor, temperatures=True), anchor)
    for leak in LEAKS:
        add("LEAK", LEAK_CHANGES[leak], replace(best, leak=leak), best, leak=True)
    return rows


def ablation(visits: pd.DataFrame, result: NestedResult, n_boot: int = 1000,
             allow_leak: str | Iterable[str] | None = None, n_jobs: int = 1) -> pd.DataFrame:
    """The ablation table (:func:`ablation_plan`): per row, both arms' κ per visit and the paired
    patient-bootstrap Δκ (quadratic and unweighted) with 95 % CIs, on the same outer folds (a leak arm on its
    own folds but the same visits). Leak rows are computed only for the leaks named in ``allow_leak``."""
    s = result.settings
    preds = {**result.candidates, "nested": result.nested}

    def predictions(arm):
        if arm == "nested":
            return preds["nested"]
        if arm.label not in preds:
            preds[arm.label] = evaluate(visits, arm, None if arm.leak == "ungrouped" else result.folds,
                                        s["n_splits"], s["n_repeats"], s["seed"], s["n_estimators"], allow_leak,
                                        n_jobs)
        return preds[arm.label]

    rows = []
    for r in ablation_plan(result):
        if r["leak"]:
            try:
                check_leak(r["arm"].leak, allow_leak)
            except LeakRefused:
                continue
        a, b = predictions(r["arm"]), predictions(r["reference"])
        ka, kb = kappa_row(a, 0), kappa_row(b, 0)
        rows.append({"factor": r["factor"], "change": r["change"],
                     "arm": BEST_LABEL if r["arm"] == "nested" else r["arm"].label, "reference": r["reference"].label,
                     "leak": r["leak"], "κ quad": ka["κ quad"], "ref κ quad": kb["κ quad"],
                     "κ unw": ka["κ unw"], "ref κ unw": kb["κ unw"], **paired_row(a, b, n_boot)})
    return pd.DataFrame(rows)


#: The columns of an ablation table shown on the page (the arms are named by ``factor`` and ``change``).
SHOWN = ["factor", "change", "κ quad", "ref κ quad", "Δκ quad", "95% CI Δquad", "p quad", "κ unw", "ref κ unw",
         "Δκ unw", "95% CI Δunw", "p unw"]


def comparison_text(result: NestedResult, head: pd.DataFrame) -> str:
    """The chapter's sentence setting the nested estimate beside the report's and the original code base's
    numbers (all from :mod:`fusionstudy.report`; the filtered ones named as filtered)."""
    from fusionstudy.report import HISTORY, REPORTED

    best = head.iloc[0]
    lo, hi = HISTORY["metadata_later"].value
    f = HISTORY["label_filtered"]
    s = result.settings
    return (f"**Best honest metadata arm (nested CV, {s['n_splits']} outer folds x {s['n_repeats']} repeats, "
            f"{s['inner_splits']} inner folds): κ quadratic {best['κ quad']:.3f} (95 % CI {best['95% CI quad']}), "
            f"κ unweighted {best['κ unw']:.3f} (95 % CI {best['95% CI unw']}) per visit.** For comparison: the "
            f"report's metadata arm {REPORTED['metadata_only'].value:.3f} (its own data and folds); the original code "
            f"base after its RF fixes {lo:.2f}–{hi:.2f}; and, on **label-filtered** data ({f.extra['filter']}), "
            f"metadata alone {f.value[0]:.3f} and its best fusion {f.value[1]:.3f} — filtered numbers, not "
            "estimates for the unfiltered population.")


def prediction_shares(result: NestedResult, labels_: Iterable[str] | None = None) -> pd.DataFrame:
    """Share of visits predicted I, P and R (argmax, all repeats) by the nested arm and by candidates
    (default: the report's arm and the modal choice), beside the true shares; one row per arm."""
    from fusionlib.data.cohort import CLASSES

    labels_ = list(labels_) if labels_ is not None else list(dict.fromkeys([REPORT.label,
                                                                            result.modal_choice().label]))
    preds = {BEST_LABEL: result.nested, **{k: result.candidates[k] for k in labels_ if k in result.candidates}}
    v = _visit_preds(result.nested)
    rows = [{"arm": "true labels", **{f"share {c}": float(np.mean(v["y"] == i)) for i, c in enumerate(CLASSES)}}]
    for name, pred in preds.items():
        p = _visit_preds(pred)["pred"]
        rows.append({"arm": name, **{f"share {c}": float(np.mean(p == i)) for i, c in enumerate(CLASSES)}})
    return pd.DataFrame(rows)


def reading_text(result: NestedResult, table: pd.DataFrame) -> str:
    """The ablation's reading, generated from the tables: what the inner CV chose, the largest single change
    from the report's arm, the temperatures, and the leaks (every number from ``table``)."""
    def d(r):
        return f"Δκ quad {r['Δκ quad']:+.3f} (95 % CI {r['95% CI Δquad']})"

    counts = result.choices["chosen"].value_counts()
    chosen = "; ".join(f"`{label}` in {n}" for label, n in counts.items())
    parts = [f"The inner cross-validation chose {chosen} of the {len(result.choices)} outer folds."]
    rows = {r["factor"]: r for _, r in table.iterrows()}
    if "selection" in rows:
        parts.append(f"The nested arm against the report's arm: {d(rows['selection'])}.")
    single = table[table["factor"].str.endswith("(from the report's arm)") & ~table["factor"].str.startswith("temp")]
    if len(single):
        top = single.loc[single["Δκ quad"].idxmax()]
        parts.append(f"The largest single change from the report's arm is {top['change']} ({d(top)}).")
    temps = table[table["factor"].str.startswith("temperatures")]
    if len(temps):
        parts.append("Adding the temperature columns: " + "; ".join(
            f"{r['factor'].split('(')[1].rstrip(')')} {d(r)}" for _, r in temps.iterrows()) + ".")
    leaks = table[table["leak"]]
    if len(leaks):
        parts.append("The leaks, for contrast: " + "; ".join(
            f"{r['change']} κ quad {r['κ quad']:.3f}, {d(r)}" for _, r in leaks.iterrows())
            + ". They are not estimates: they show what a leaky protocol would report on the same visits.")
    return " ".join(parts)


def reference_table(head: pd.DataFrame, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """This chapter's κ beside the recorded ones (:mod:`fusionstudy.report`): one row per number, with where it
    comes from and what kind of number it is (measured here, recorded elsewhere, label-filtered, leak)."""
    from fusionstudy.report import HISTORY, REPORTED

    lo, hi = HISTORY["metadata_later"].value
    f = HISTORY["label_filtered"]
    filtered = f"recorded, FILTERED ({f.extra['filter']})"
    rows = [
        ("the report: metadata only (its data, 5 folds)", f"{REPORTED['metadata_only'].value:.3f}", "recorded"),
        ("original code base after its RF fixes: metadata only", f"{lo:.2f}–{hi:.2f}", "recorded"),
        ("original code base, label-filtered data: metadata only", f"{f.value[0]:.3f}", filtered),
        ("original code base, label-filtered data: best fusion", f"{f.value[1]:.3f}", filtered),
    ]
    for _, r in head.iterrows():
        rows.append((f"this chapter: {r['arm']}", f"{r['κ quad']:.3f} {r['95% CI quad']}",
                     "measured here, public CSV, per visit, 95 % patient-bootstrap CI"))
    if table is not None:
        for _, r in table[table["leak"]].iterrows():
            rows.append((f"this chapter, LEAK: {r['change']}", f"{r['κ quad']:.3f}",
                         "measured here; a leak, not an estimate"))
    return pd.DataFrame(rows, columns=["number", "κ quadratic", "kind"])


def write_tables(out_dir, result: NestedResult, head: pd.DataFrame, table: pd.DataFrame,
                 facts: MetadataFacts | None = None) -> None:
    """Write the chapter's results into ``out_dir`` atomically (:func:`fusionlib.io.atomic_folder`): ``nested_predictions.csv.gz``, ``choices.csv``, ``inner_scores.csv``, ``headline.csv``,
    ``ablation.csv``, ``settings.json`` and the headline's facts (``facts.json``, :class:`MetadataFacts`)."""
    with io.atomic_folder(out_dir) as tmp:
        result.nested.to_csv(tmp / "nested_predictions.csv.gz", index=False)
        result.choices.to_csv(tmp / "choices.csv", index=False)
        result.inner.to_csv(tmp / "inner_scores.csv", index=False)
        head.to_csv(tmp / "headline.csv", index=False)
        table.to_csv(tmp / "ablation.csv", index=False)
        if facts is not None:
            facts.save(tmp / FACTS_JSON)
        (tmp / "settings.json").write_text(json.dumps({**result.settings, "wall_s": result.wall_s,
                                                       "candidates": [c.label for c in result.configs]}, indent=2))


# --- the bar of the real-data page --------------------------------------------------------------------

def as_arm_result(pred: pd.DataFrame, name: str, n_splits: int, n_repeats: int, seed: int = 0, rf_trees: int = 300,
                  visits: np.ndarray | None = None, info: dict | None = None):
    """A per-visit predictions table as a :class:`fusionlib.arms.results.ArmResult` (head ``metadata_only``, label
    ``name``), so :func:`fusionstudy.chapters.analysis.comparison_table` can pair it with the runner's arms. ``visits``
    restricts it to those visit indices (e.g. the visits that have image rows)."""
    from fusionlib.evaluation.metrics import tidy_metrics
    from fusionlib.arms.results import ArmResult
    from fusionlib.arms.settings import ArmSettings

    if visits is not None:
        pred = pred[pred["visit"].isin(visits)]
    pred = pred.drop(columns=["arm"], errors="ignore").assign(image=lambda d: d["visit"]).reset_index(drop=True)
    s = ArmSettings.from_dict({"head": "metadata_only", "n_splits": n_splits, "n_repeats": n_repeats, "seed": seed,
                               "rf_trees": rf_trees, "name": name})
    metrics = tidy_metrics(pred)
    for col, value in (("source", ""), ("decomposition", ""), ("head", "metadata_only"), ("arm", name)):
        metrics.insert(0, col, value)
    return ArmResult(s, metrics, pred, [], {"settings": {"name": name}, "n_visits": int(pred["visit"].nunique()),
                                            "wall_s": 0.0, **(info or {})})


def best_metadata_arm(cohort, n_splits: int, n_repeats: int, rf_trees: int, seed: int = 0, scale: str = "default",
                      n_jobs: int = 1):
    """The nested-CV best metadata arm (no temperatures) of ``cohort`` on the outer folds that
    :func:`fusionlib.arms.runner.run_arms` uses for the same settings, as an ``ArmResult`` over the visits that
    have image rows (the visits the fusion arms are scored on); ``info["choices"]`` holds the choice per
    outer fold. Shares the disk cache with the metadata chapter at the same scale."""
    knobs = SCALES[scale]["metadata"]
    result = nested_cv(cohort.visits, n_splits=n_splits, n_repeats=n_repeats, seed=seed,
                       inner_splits=knobs["inner_splits"], n_estimators=rf_trees,
                       inner_estimators=min(rf_trees, knobs["inner_estimators"]), n_jobs=n_jobs)
    return as_arm_result(result.nested, BEST_LABEL, n_splits, n_repeats, seed, rf_trees,
                         visits=np.unique(cohort.image_visit),
                         info={"choices": result.choices.to_dict("records"), "wall_s": result.wall_s})


def bar_pairs(results: dict, best_label: str = BEST_LABEL, report_label: str = "metadata_only|ordinal|oof_grouped",
              heads: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """Every fusion arm of ``results`` (runner labels, e.g. the real-data page's) paired with the new bar
    (``best_label``) and with the report's metadata arm (``report_label``)."""
    pairs = []
    for label, r in results.items():
        if label in (best_label, report_label) or not r.settings.spec.is_fusion:
            continue
        if heads is not None and r.settings.head not in heads:
            continue
        pairs += [(label, best_label), (label, report_label)]
    return [p for p in pairs if p[1] in results]


class MetadataChapter(DataChapter):
    """The metadata chapter at ``scale`` on the public clinical CSV of ``data_dir`` (``data_unavailable``: why the
    study could not get it), section by section: each method returns what one cell of ``notebooks/metadata.ipynb``
    shows (:func:`fusionstudy.present.show`); without the file every section returns nothing. ``n_jobs``: outer
    folds in parallel processes (0: up to 2; the results do not depend on it)."""

    def __init__(self, data_dir: str, data_unavailable: str, scale: str, n_jobs: int = 0):
        import os

        from fusionlib.data import dfu

        super().__init__(data_dir, data_unavailable, require=[dfu.CLINICAL_CSV])
        self.scale, self.knobs = scale, SCALES[scale]["metadata"]
        self.jobs = n_jobs or min(2, os.cpu_count() or 1)

    def estimate(self) -> list:
        """The nested-CV estimate beside the report's arm, and the sentence that sets it beside the history."""
        if not self.enabled:
            return []
        import time

        from fusionlib.data import dfu
        from fusionstudy import present
        from fusionstudy.chapters.metadata import nested_cv

        k = self.knobs
        self.visits = dfu.read_clinical(dfu.data_dir_from(self.data.folder) / dfu.CLINICAL_CSV, on_duplicate="first")
        self.t0 = time.perf_counter()
        self.result = nested_cv(self.visits, n_splits=k["n_splits"], n_repeats=k["n_repeats"],
                                inner_splits=k["inner_splits"], n_estimators=k["n_estimators"],
                                inner_estimators=k["inner_estimators"], n_jobs=self.jobs)
        self.facts = headline_facts(self.result, k["n_boot"])
        self.head = self.facts.table()
        return [f"Scale `{self.scale}`: {len(self.visits)} visits, {self.visits['Patient#'].nunique()} patients; "
                f"{len(self.result.configs)} candidates; {self.result.settings}.",
                present.table(self.head), comparison_text(self.result, self.head)]

    def choices(self) -> list:
        """What the inner cross-validation chose in each outer fold."""
        if not self.enabled:
            return []
        from fusionstudy import present

        return [present.table(self.result.choices, columns=[
            "repeat", "fold", "model", "encoding", "inner κ quad (chosen)", "inner κ quad (report's arm)",
            "training visits", "reporting visits"])]

    def candidates(self) -> list:
        """Every candidate as one fixed arm on the same outer folds, and the shares of its predictions."""
        if not self.enabled:
            return []
        from fusionstudy import present

        return [present.table(candidate_table(self.result), columns=[
                    "model", "encoding", "chosen in folds", "mean inner κ quad", "outer κ quad", "outer κ unw"]),
                present.table(prediction_shares(self.result))]

    def ablation(self) -> list:
        """What each honest choice is worth (one changed at a time), with its figure and reading."""
        if not self.enabled:
            return []
        from fusionstudy import plots, present

        self.table = ablation(self.visits, self.result, self.knobs["n_boot"], allow_leak=tuple(LEAKS), n_jobs=self.jobs)
        return [present.table(self.table[~self.table["leak"]], columns=SHOWN), plots.ablation(self.table),
                reading_text(self.result, self.table)]

    def leaks(self) -> list:
        """What a leak adds on the same visits (for contrast, not an estimate)."""
        if not self.enabled:
            return []
        from fusionstudy import present

        return [present.table(self.table[self.table["leak"]], columns=SHOWN[1:])]

    def reference(self, out_dir: str = "") -> list:
        """The chapter's numbers beside the recorded ones; its tables written to ``out_dir`` (for the pins)."""
        if not self.enabled:
            return []
        import time

        from fusionstudy import present

        if out_dir:
            write_tables(out_dir, self.result, self.head, self.table,
                         replace(self.facts, largest_change=largest_change(self.table)))
        return [present.table(reference_table(self.head, self.table)),
                f"This page's computation: {time.perf_counter() - self.t0:.0f} s with {self.jobs} process(es)."]
