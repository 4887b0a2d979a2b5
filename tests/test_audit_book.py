"""After a smoke build (``make test`` runs this file after building it): the audit page's reports of the
study's own arms reproduce the book's verdicts — the report's comparison is flagged for its split and its
in-sample RF input, the corrected one is not — and the audit's κ are the real-data page's κ."""

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


def test_the_reports_comparison_is_flagged_for_its_split_and_its_in_sample_rf_input():
    original = report("original-protocol")
    assert {"split", "in_sample"} <= set(original["findings"]) and original["exit_code"] == 1
    assert original["checks"]["in_sample"]["numbers"]["named"] == ["RF input of the fusion"]
    assert set(original["checks"]["split"]["numbers"]["models_other_partition"]) == {
        "metadata (own 5-fold run)", "thermal (own 5-fold run)"}
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
