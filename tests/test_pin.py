"""Pinned numbers (issue 14 item 6): the expected-values file, the check of fresh results against it, and the
readable diff when one value moves."""

import json

import pandas as pd
import pytest

from fusionlib import pin


def _metrics(arm: str, kappas: list[float]) -> pd.DataFrame:
    rows = []
    for r, k in enumerate(kappas):
        for level, value in (("visit", k), ("row", k / 2)):
            rows.append((arm, "val", r, "pooled", level, "kappa_quadratic", value))
            rows.append((arm, "val", r, "pooled", level, "accuracy", 0.5))
            rows.append((arm, "val", r, "0", level, "kappa_quadratic", 0.99))      # a fold, not pooled
            rows.append((arm, "train", r, "pooled", level, "kappa_quadratic", 0.98))  # training rows
    return pd.DataFrame(rows, columns=["arm", "split", "repeat", "fold", "level", "metric", "value"])


@pytest.fixture
def book(tmp_path):
    gen = tmp_path / "book" / "generated"
    for folder, kappas in (("exp-report/baseline__ordinal_original__in_sample", [0.02, 0.04]),
                           ("exp-report/fix23__ordinal__oof_grouped", [0.30, 0.32, 0.31]),
                           ("metadata_only__ordinal__oof_grouped", [0.25])):     # an arm page that ran its arm
        (gen / "results" / folder).mkdir(parents=True)
        _metrics(folder, kappas).to_csv(gen / "results" / folder / "metrics.csv", index=False)
    (gen / "results" / "exp-report" / "not-an-arm").mkdir()
    (gen / "state.json").write_text(json.dumps({"scale": "smoke"}))
    return tmp_path


def test_collect_takes_the_pooled_validation_kappa_mean_over_repeats(book):
    got = pin.collect(book / "book" / "generated")
    assert set(got) == {"exp-report/baseline__ordinal_original__in_sample", "exp-report/fix23__ordinal__oof_grouped",
                        "metadata_only__ordinal__oof_grouped"}
    assert got["exp-report/baseline__ordinal_original__in_sample"]["kappa_quadratic visit"] == pytest.approx(0.03)
    assert got["exp-report/fix23__ordinal__oof_grouped"]["kappa_quadratic row"] == pytest.approx(0.155)
    assert got["metadata_only__ordinal__oof_grouped"] == {"kappa_quadratic visit": 0.25, "kappa_quadratic row": 0.125}


def test_a_changed_pinned_value_fails_the_check_with_a_readable_diff(book, capsys):
    expected = book / "expected.json"
    args = ["--scale", "smoke", "--root", str(book), "--file", str(expected)]
    assert pin.main([*args, "--update"]) == 0
    assert pin.main(args) == 0
    assert "all 6 pinned values reproduced" in capsys.readouterr().out

    doc = json.loads(expected.read_text())
    doc["values"]["exp-report/fix23__ordinal__oof_grouped"]["kappa_quadratic visit"] = 0.3
    expected.write_text(json.dumps(doc))
    assert pin.main(args) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "1 of 6 pinned values differ" in lines[0]
    assert lines[1].split() == ["arm", "metric", "expected", "got", "difference", "tolerance"]
    row = lines[3].split()
    assert row[0] == "exp-report/fix23__ordinal__oof_grouped" and " ".join(row[1:3]) == "kappa_quadratic visit"
    assert row[3:7] == ["0.300000", "0.310000", "0.010000", "0"]

    # within a tolerance stated for that value it passes; the tolerance survives an update
    doc["tolerances"] = {"exp-report/fix23__ordinal__oof_grouped kappa_quadratic visit": 0.02}
    expected.write_text(json.dumps(doc))
    assert pin.main(args) == 0
    assert pin.main([*args, "--update"]) == 0
    assert json.loads(expected.read_text())["tolerances"] == doc["tolerances"]


def test_missing_and_unpinned_arms_are_differences(book):
    got = pin.collect(book / "book" / "generated")
    doc = pin.document(got, "smoke")
    del doc["values"]["metadata_only__ordinal__oof_grouped"]
    doc["values"]["exp-report/gone"] = {"kappa_quadratic visit": 0.1}
    diffs = pin.check(doc, got)
    kinds = {(d.arm, d.expected is None, d.got is None) for d in diffs}
    assert kinds == {("metadata_only__ordinal__oof_grouped", True, False), ("exp-report/gone", False, True)}
    text = pin.format_differences(diffs)
    assert "not pinned" in text and "missing" in text


def test_the_check_refuses_another_scales_book(book, capsys):
    assert pin.main(["--scale", "default", "--root", str(book), "--file", str(book / "x.json")]) == 2
    assert "holds the 'smoke' book" in capsys.readouterr().err


def test_no_pinned_file_is_said_not_passed_silently(book, capsys):
    assert pin.main(["--scale", "smoke", "--root", str(book), "--file", str(book / "absent.json")]) == 0
    assert "no pinned values" in capsys.readouterr().out


def test_a_metrics_file_without_its_columns_is_named(book):
    bad = book / "book" / "generated" / "results" / "exp-bad" / "arm"
    bad.mkdir(parents=True)
    pd.DataFrame({"value": [1.0]}).to_csv(bad / "metrics.csv", index=False)
    with pytest.raises(ValueError, match="exp-bad/arm/metrics.csv: missing column"):
        pin.collect(book / "book" / "generated")


def _real_data_chapters(gen):
    """The replay's and the metadata chapter's key tables, and one arm of the real-data page."""
    (gen / "results" / "replay").mkdir(parents=True)
    pd.DataFrame({"fold": [1, 2, 3], "κ replay": [0.0136, 0.067, 0.1884], "unweighted κ replay": [-0.02, 0.08, 0.1],
                  "other": ["a", "b", "c"]}).to_csv(gen / "results" / "replay" / "three_fold.csv", index=False)
    (gen / "results" / "metadata").mkdir()
    pd.DataFrame({"arm": ["best", "report's"], "κ quad": [0.407, 0.263], "κ unw": [0.274, 0.173]}).to_csv(
        gen / "results" / "metadata" / "headline.csv", index=False)
    (gen / "results" / "realdata" / "baseline").mkdir(parents=True)
    _metrics("baseline", [0.1]).to_csv(gen / "results" / "realdata" / "baseline" / "metrics.csv", index=False)


def test_the_real_data_chapters_key_tables_are_pinned(book):
    gen = book / "book" / "generated"
    _real_data_chapters(gen)
    got = pin.collect(gen)
    assert got["replay/three_fold"] == {"κ replay | 1": 0.0136, "κ replay | 2": 0.067, "κ replay | 3": 0.1884,
                                        "unweighted κ replay | 1": -0.02, "unweighted κ replay | 2": 0.08,
                                        "unweighted κ replay | 3": 0.1}
    assert got["metadata/headline"]["κ quad | best"] == 0.407
    assert got["realdata/baseline"]["kappa_quadratic visit"] == 0.1
    # a table without a pinned column is named
    pd.DataFrame({"fold": [1]}).to_csv(gen / "results" / "replay" / "three_fold.csv", index=False)
    with pytest.raises(ValueError, match="three_fold.csv: missing column"):
        pin.collect(gen)


def test_real_data_chapters_that_did_not_run_are_not_checked_but_said(book, capsys):
    gen = book / "book" / "generated"
    _real_data_chapters(gen)
    expected = book / "expected.json"
    args = ["--scale", "smoke", "--root", str(book), "--file", str(expected)]
    assert pin.main([*args, "--update"]) == 0
    capsys.readouterr()
    # without the data the three chapters did not run: their 12 values are said to be unchecked, the rest passes
    import shutil
    for chapter in ("replay", "metadata", "realdata"):
        shutil.rmtree(gen / "results" / chapter)
    assert pin.main(args) == 0
    out = capsys.readouterr().out
    assert "12 pinned values of the real-data chapter(s) metadata, realdata, replay not checked" in out
    assert "all 6 pinned values reproduced" in out
    # an experiment's arm that vanished is still a difference
    shutil.rmtree(gen / "results" / "metadata_only__ordinal__oof_grouped")
    assert pin.main(args) == 1
