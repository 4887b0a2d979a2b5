"""The book's verdicts as data: every categorical claim of the summary, findings and metadata pages, with the
number that decides it and how far that number is from deciding otherwise.

    >>> v = collect("book/generated")
    >>> v["findings: the reported collapse reproduced"]
    {'value': 'no', 'margin': 0.165, 'groups': ['exp-report: image']}

Each verdict is ``{"value": str, "margin": float | None, "groups": [str, ...]}``:

* ``value`` — what the page says (``"yes"``, ``"better"``, a configuration's name, ...), decided by the same
  function the page calls (:mod:`fusionstudy.chapters.findings`, :mod:`fusionstudy.chapters.analysis`) or read from the table it shows;
* ``margin`` — how far the deciding number is from the nearest point where the verdict would read otherwise, in
  the number's own units (κ, percentile points, a share); ``None`` where nothing numeric decides it (a fixed
  record of the original history);
* ``groups`` — the pinned-value groups (:func:`fusionstudy.build.pin.group_of`) whose tolerances bound how far that
  number can move between machines; a number that is a difference of two lists both.

:mod:`fusionstudy.build.pin` pins them beside the numbers: a verdict whose pinned margin exceeds the summed tolerances of
its groups must read the same on every machine, and a build where it does not fails, naming it; a verdict closer to
its threshold than that is *not decided by the numbers across machines*, and the pin file and the book say so.
"""

from __future__ import annotations

from pathlib import Path

from fusionstudy.records import FACTS_JSON

import numpy as np

#: The real-data chapters whose results decide verdicts, and the prefixes of those verdicts' names (a chapter
#: that did not run, for want of the data, leaves them out; :func:`fusionstudy.build.pin.check_verdicts` skips them).
REAL_DATA_SOURCES = {"replay": ("summary:", "provenance:"), "metadata": ("metadata:",)}


def _v(value, margin=None, groups=()) -> dict:
    """A verdict (see the module docstring); a yes/no question's ``bool`` reads ``"yes"`` / ``"no"``."""
    value = ("yes" if value else "no") if isinstance(value, (bool, np.bool_)) else value
    return {"value": str(value), "margin": None if margin is None else round(abs(float(margin)), 6),
            "groups": list(groups)}


def _group(task: str, label_or_key: str) -> str:
    from fusionstudy.build.pin import group_of

    return group_of(f"{task}/{label_or_key}")


def replay_verdicts(rep: dict) -> dict[str, dict]:
    """The summary's and the provenance table's verdicts that the replay chapter's tables decide
    (:class:`fusionstudy.replay.facts.ReplayFacts`)."""
    from fusionstudy.chapters import findings
    from fusionstudy.report import EXPECTED, HISTORY

    f = rep["facts"]
    table = ["replay: table"]
    cnn = ["realdata: image"]   # the replay's image probabilities: the semi-real cohort's CNN, as on the real-data page
    gap = findings.history_gap()
    out = {
        "summary: lead sentence": _v(findings.lead_sentence(gap), None),
        "summary: the recorded 3-fold split is": _v(findings.draw_word(f.splits.pct_metadata_3fold),
                                                    min(abs(f.splits.pct_metadata_3fold - b) for b in findings.DRAW_BOUNDS),
                                                    table),
        "provenance: confusion matrices identical to the log": _v(f"{f.recorded_split.n_identical} of 3", None, table),
        "provenance: recorded 5-fold folds reproduced": _v(f"{f.five_fold.equal_recorded} of 5", None, table),
        "provenance: the fused model tracks the RF fold by fold": _v(gap < findings.NEAR, findings.NEAR - gap),
        "provenance: Fix #2+#3 is the RF alone on fold 1": _v(round(f.fold_one.kappa, 4)
                                                              == HISTORY["fix23"].value, None, table),
        "provenance: BatchNorm head scores like the RF alone": _v(
            abs(f.five_fold.bn_mean - f.five_fold.rf_mean) < findings.NEAR,
            findings.NEAR - abs(f.five_fold.bn_mean - f.five_fold.rf_mean), table * 2),
    }
    if f.fixed is not None:
        d = abs(f.fixed.average[0] - f.fold_one.kappa)
        out["provenance: the fixed average is within 0.05 of the RF alone on fold 1"] = _v(
            d < findings.NEAR, findings.NEAR - d, cnn)
    if f.normalisation.average is not None:
        share = f.normalisation.average.changed / f.normalisation.rows
        out["provenance: normalising changes under 5 % of the fixed average's predictions"] = _v(
            share < findings.NEAR, findings.NEAR - share, cnn)
    for key, rec in EXPECTED.items():
        lo = rec.value[0]
        out[f"provenance: the RF alone on the fixes' split is below {key}'s expected range"] = _v(
            f.recorded_split.mean < lo, f.recorded_split.mean - lo, table)
    return out


def findings_verdicts(res: dict) -> dict[str, dict]:
    """The findings' verdicts on the synthetic experiments (``res``: experiment name -> results by arm label;
    the verdicts of an experiment that is absent are left out)."""
    out = {}
    if "report" in res:
        out.update(_report_verdicts(res["report"]))
    if "mechanisms" in res:
        out.update(_mechanism_verdicts(res["mechanisms"]))
    if "grid" in res:
        from fusionstudy.chapters import analysis, findings

        (top, first), (_, second) = list(findings.factor_ranges(analysis.grid_table(res["grid"])).items())[:2]
        out["findings: the factor that moves κ most in the root-cause grid"] = _v(top, first - second,
                                                                                 ["exp-grid: image"] * 2)
    return out


def _report_verdicts(rep: dict) -> dict[str, dict]:
    """The collapse, each fusion against metadata-only (95 % CI) and each fix against the report's range."""
    from fusionstudy.chapters import analysis, findings
    from fusionstudy.report import EXPECTED
    from fusionlib.arms.results import safe_name

    r = findings._Report(rep)

    def group(label):
        return _group("exp-report", safe_name(label))

    k_base = r.kappa("baseline", findings.REPORT)
    out = {"findings: the reported collapse reproduced": _v(
        k_base < analysis.COLLAPSE_BELOW, k_base - analysis.COLLAPSE_BELOW,
        [group(analysis.arm_label("baseline", findings.REPORT))])}
    robust = analysis.rows_of(r.comps, rep, kind="robust")
    for c, weights in [(c, "quadratic") for c in r.comps] + [(c, "unweighted")
                                                             for c in findings.robust_unweighted(r, robust)]:
        d = c.by(weights)
        out[f"findings: {c.arm} against metadata-only ({weights} κ, 95 % CI)"] = _v(
            d.verdict, ci_margin(d.low, d.high), [group(c.arm), group(c.reference)])
    for head, rec in EXPECTED.items():
        lo, hi = rec.value
        for cond in (findings.REPORT, findings.CORRECTED):
            k = r.kappa(head, cond)
            out[f"findings: {head} inside the report's expected range, {cond} conditions"] = _v(
                lo <= k <= hi, min(abs(k - lo), abs(k - hi)), [group(analysis.arm_label(head, cond))])
    return out


def _mechanism_verdicts(mech_results: dict) -> dict[str, dict]:
    """Per candidate mechanism and fusion head: does it bring the fusion below the collapse threshold."""
    from fusionstudy.chapters import analysis
    from fusionstudy.experiments import NO_MECHANISM

    mech = analysis.mechanism_table(mech_results)
    out = {}
    for m, row in mech[analysis.fusion_columns(mech)].iterrows():
        for head, k in row.items():
            what = "the report's conditions alone" if m == NO_MECHANISM else m
            out[f"findings: {what} bring {head} below κ {analysis.COLLAPSE_BELOW:.2f}"] = _v(
                k < analysis.COLLAPSE_BELOW, k - analysis.COLLAPSE_BELOW, ["exp-mechanisms: image"])
    return out


def ci_margin(low: float, high: float) -> float:
    """How far a 95 % CI is from changing its verdict (:func:`fusionstudy.chapters.analysis.verdict`): the distance of the
    nearer bound from 0."""
    return min(abs(low), abs(high))


def metadata_verdicts(facts) -> dict[str, dict]:
    """The metadata chapter's selected configuration per outer fold (the inner cross-validation's argmax, margin:
    its lead over the runner-up) and the ablation's largest single change (margin: its lead over the next), from
    its facts (:class:`fusionstudy.chapters.metadata_tables.MetadataFacts`)."""
    out = {f"metadata: configuration chosen in repeat {c.repeat}, fold {c.fold}": _v(c.chosen, c.lead,
                                                                                      ["metadata: table"] * 2)
           for c in facts.choices}
    if facts.largest_change is not None:
        out["metadata: the largest single change from the report's arm"] = _v(
            facts.largest_change.change, facts.largest_change.lead, ["metadata: table"] * 2)
    return out


def collect(generated: str | Path) -> dict[str, dict]:
    """Every verdict whose results exist under ``<generated>/results`` (a page that did not run has none), by
    name, sorted."""
    from fusionstudy.chapters import findings

    generated = Path(generated)
    results = generated / "results"
    out: dict[str, dict] = {}
    rep = findings.load_replay(generated)
    if rep is not None:
        out.update(replay_verdicts(rep))
    from fusionstudy.chapters.analysis import load_experiment
    from fusionstudy.experiments import read_by

    res = {}
    for name in read_by(findings.PAGE):
        try:
            res[name] = load_experiment(generated, name)
        except FileNotFoundError:
            pass
    out.update(findings_verdicts(res))
    facts = results / "metadata" / FACTS_JSON
    if facts.is_file():
        from fusionstudy.chapters.metadata_tables import MetadataFacts

        out.update(metadata_verdicts(MetadataFacts.load(facts)))
    return dict(sorted(out.items()))
