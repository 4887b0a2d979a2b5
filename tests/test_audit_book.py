"""After a smoke build (``make test`` runs this file after building it): the audit page's reports of the
study's own arms reproduce the book's verdicts — the report's comparison is flagged for its in-sample RF input
and, where the own runs' partition is not the fusion's (the default scale's 5 x 3 against 3 folds; at the smoke
scale both are 3 folds with one seed), for its split; the corrected one has no protocol fault — and the audit's κ
are the real-data page's κ."""

import json
import os
from pathlib import Path

import pandas as pd
import pytest

PROJECT = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("FUSIONLIB_SMOKE_ROOT", PROJECT / "_build" / "smoke-book"))
GENERATED = ROOT / "book" / "generated"
AUDITS = GENERATED / "results" / "audit"
pytestmark = pytest.mark.skipif(not (AUDITS / "corrected" / "audit.json").exists(),
                                reason=f"no audit reports under {AUDITS} (a smoke build with the public files "
                                       "makes them)")


def report(name):
    return json.loads((AUDITS / name / "audit.json").read_text())


def _partition(arm):
    """Which visits share a fold, per repeat: the arm's partition, whatever its folds are called."""
    p = pd.read_csv(arm / "predictions.csv.gz")
    p = p[(p["split"] == "val") & (p["repeat"] == 0)].drop_duplicates("visit")
    return sorted(tuple(sorted(g["visit"])) for _, g in p.groupby("fold"))


def test_the_reports_comparison_is_flagged_for_its_in_sample_rf_input_and_for_its_split_where_it_differs():
    original = report("original-protocol")
    assert "in_sample" in original["findings"] and original["exit_code"] == 1
    assert original["checks"]["in_sample"]["numbers"]["named"] == ["RF input of the fusion"]
    res = GENERATED / "results" / "realdata"
    fusion = _partition(res / "original-protocol" / "baseline__original_protocol")
    other = sorted(m for m, arm in (("metadata", "metadata_only__ordinal__oof_grouped"), ("thermal", "image_only"))
                   if _partition(res / arm) != fusion)
    flagged = original["checks"]["split"]["numbers"]["models_other_partition"]
    assert sorted(m.split(" (")[0] for m in flagged) == other                      # flagged exactly where it differs
    assert ("split" in original["findings"]) == bool(other)
    if other:                               # the default scale: the report's 5 x 3 runs against the 3-fold fusion
        assert "not scored on one partition" in original["verdict"]


def test_the_corrected_comparison_has_no_protocol_fault():
    corrected = report("corrected")
    assert not {"split", "in_sample", "leakage"} & set(corrected["findings"])


def test_the_audits_kappa_is_the_real_data_pages_kappa():
    kappas = {r["model"]: r["κ quadratic"] for r in report("corrected")["checks"]["comparison"]["numbers"]["kappas"]}
    for model, arm in (("metadata", "metadata_only__ordinal__oof_grouped"), ("thermal", "image_only"),
                       ("fusion", "baseline__ordinal__oof_grouped")):
        m = pd.read_csv(GENERATED / "results" / "realdata" / arm / "metrics.csv")
        m = m[(m["split"] == "val") & (m["fold"] == "pooled") & (m["level"] == "visit")
              & (m["metric"] == "kappa_quadratic")]
        assert kappas[model] == pytest.approx(m["value"].mean(), abs=1e-12), model
