"""Pinned numbers (issue 14 item 6): the expected-values file, the check of fresh results against it, and the
readable diff when one value moves."""

import json

import pandas as pd
import pytest

from fusionstudy.build import pin


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
def book(tmp_path, monkeypatch):
    """A generated folder with three arms' metrics (no experiment the verdicts read: they are tested below)."""
    from fusionstudy.chapters import verdicts

    monkeypatch.setattr(verdicts, "collect", lambda generated: {})
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


def test_a_changed_pinned_value_fails_the_check_with_a_readable_diff(book, capsys, monkeypatch):
    monkeypatch.setattr(pin.tolerances, "GROUPS", {})
    expected = book / "expected.json"
    args = ["--scale", "smoke", "--root", str(book), "--file", str(expected)]
    assert pin.main([*args, "--update"]) == 0
    assert pin.main(args) == 0
    assert "all 6 pinned values reproduced (6 exactly, 0 within their measured tolerance)" in capsys.readouterr().out

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

    # within the measured tolerance of its group it passes, and is counted as such
    monkeypatch.setattr(pin.tolerances, "GROUPS", {"smoke": {"exp-report: image": {"tolerance": 0.02}}})
    assert pin.main(args) == 0
    assert "(5 exactly, 1 within their measured tolerance)" in capsys.readouterr().out


def test_missing_and_unpinned_arms_are_differences(book):
    got = pin.collect(book / "book" / "generated")
    doc = pin.document(got, "smoke")
    del doc["values"]["metadata_only__ordinal__oof_grouped"]
    doc["values"]["exp-report/gone"] = {"kappa_quadratic visit": 0.1}
    diffs = pin.check(doc, got, "smoke")
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
    """The replay's and the metadata chapter's facts, and one arm of the real-data page."""
    from replay_records import record as _record

    from fusionstudy.chapters.metadata_tables import Estimate, MetadataFacts

    (gen / "results" / "replay").mkdir(parents=True)
    _record().save(gen / "results" / "replay" / "facts.json")
    (gen / "results" / "metadata").mkdir()
    MetadataFacts(Estimate(0.407, 0.3, 0.5, 0.274, 0.2, 0.35, 0.01), None).save(
        gen / "results" / "metadata" / "facts.json")
    (gen / "results" / "realdata" / "baseline").mkdir(parents=True)
    _metrics("baseline", [0.1]).to_csv(gen / "results" / "realdata" / "baseline" / "metrics.csv", index=False)


def test_the_real_data_chapters_facts_are_pinned_by_field(book):
    gen = book / "book" / "generated"
    _real_data_chapters(gen)
    got = pin.collect(gen)
    assert {k: v for k, v in got["replay/facts"].items() if k.startswith("recorded_split")} == {
        "recorded_split.kappa[1]": 0.0136, "recorded_split.kappa[2]": 0.067, "recorded_split.kappa[3]": 0.1884,
        "recorded_split.unweighted[1]": 0.0068, "recorded_split.unweighted[2]": 0.0335,
        "recorded_split.unweighted[3]": 0.0942}
    assert len(got["replay/facts"]) == 18
    assert got["metadata/facts"] == {"nested.kappa_quadratic": 0.407, "nested.kappa_unweighted": 0.274}
    assert got["realdata/baseline"]["kappa_quadratic visit"] == 0.1
    # facts without a pinned field are named with their file
    doc = json.loads((gen / "results" / "metadata" / "facts.json").read_text())
    del doc["nested"]
    (gen / "results" / "metadata" / "facts.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="metadata/facts.json: MetadataFacts has no field 'nested'"):
        pin.collect(gen)


def test_real_data_chapters_that_did_not_run_are_not_checked_but_said(book, capsys, monkeypatch):
    monkeypatch.setattr(pin.tolerances, "GROUPS", {})
    gen = book / "book" / "generated"
    _real_data_chapters(gen)
    expected = book / "expected.json"
    args = ["--scale", "smoke", "--root", str(book), "--file", str(expected)]
    assert pin.main([*args, "--update"]) == 0
    capsys.readouterr()
    # without the data the three chapters did not run: their 22 values are said to be unchecked, the rest passes
    import shutil
    for chapter in ("replay", "metadata", "realdata"):
        shutil.rmtree(gen / "results" / chapter)
    assert pin.main(args) == 0
    out = capsys.readouterr().out
    assert "22 pinned values of the real-data chapter(s) metadata, realdata, replay not checked" in out
    assert "all 6 pinned values reproduced" in out
    # an experiment's arm that vanished is still a difference
    shutil.rmtree(gen / "results" / "metadata_only__ordinal__oof_grouped")
    assert pin.main(args) == 1


def test_verdicts_of_a_chapter_that_did_not_run_are_not_counted_as_checked():
    expected = {"verdicts": {k: {"value": "yes"} for k in ("summary: a", "provenance: b", "findings: c", "metadata: d")}}
    assert set(pin.checked_verdicts(expected, {"replay"})) == {"findings: c", "metadata: d"}
    assert set(pin.checked_verdicts(expected, {"replay", "metadata"})) == {"findings: c"}
    assert pin.checked_verdicts(expected) == expected["verdicts"]


# --- tolerances: groups and the measured values -------------------------------------------------------------------

def test_every_value_belongs_to_a_group_by_its_task_and_whether_images_feed_it():
    assert pin.group_of("exp-report/baseline__ordinal_original__in_sample") == "exp-report: image"
    assert pin.group_of("exp-report/image_only") == "exp-report: image"
    assert pin.group_of("exp-report/metadata_only__ordinal__oof_grouped") == "exp-report: rf"
    assert pin.group_of("exp-sweep/baseline_report_s_conditions__thermal_0") == "exp-sweep: image"
    assert pin.group_of("exp-sweep/fix23__thermal_1") == "exp-sweep: image"
    assert pin.group_of("replay/facts") == "replay: table"
    assert pin.group_of("metadata/facts") == "metadata: table"
    assert pin.group_of("exp-x/no_such_head") == "exp-x: image"   # unknown: not assumed exact


def _doc(path):
    return json.loads(path.read_text())


EXPECTED_DEFAULT = pin.expected_path("default")
REFERENCE = pin.PROJECT / "benchmarks" / "records" / "spread" / "default" / "intel-xeon--native.json"


def test_the_reference_build_on_another_cpu_passes_the_default_check():
    """The Intel Xeon build of shared/reference (its values, recorded by benchmarks/spread.py) against the pinned
    default values: every value within its group's measured tolerance, none missing or new."""
    expected, ref = _doc(EXPECTED_DEFAULT), _doc(REFERENCE)
    assert pin.check(expected, ref["values"], "default") == []
    # and it is not passing because nothing is checked: the image arms differ, the RF-only ones are equal
    diff = [(k, m) for k, ms in ref["values"].items() for m, v in ms.items() if v != expected["values"][k][m]]
    assert len(diff) > 300
    assert all(pin.group_of(k).endswith(": image") or pin.tolerance_of("default", k) > 0 for k, _ in diff)


def test_a_perturbed_value_still_fails_and_an_exact_group_is_checked_exactly():
    expected, ref = _doc(EXPECTED_DEFAULT), _doc(REFERENCE)
    key = "exp-report/fix23__ordinal__oof_grouped"
    tol = pin.tolerance_of("default", key)
    assert 0 < tol < 0.1
    bad = json.loads(json.dumps(ref["values"]))
    bad[key]["kappa_quadratic visit"] = expected["values"][key]["kappa_quadratic visit"] + tol + 1e-4
    diffs = pin.check(expected, bad, "default")
    assert [(d.arm, d.metric) for d in diffs] == [(key, "kappa_quadratic visit")]
    exact = [k for k in expected["values"] if pin.tolerance_of("default", k) == 0]
    assert exact, "no group measured exact"
    bad = json.loads(json.dumps(expected["values"]))
    metric = next(iter(bad[exact[0]]))
    bad[exact[0]][metric] += 1e-9
    assert [(d.arm, d.metric) for d in pin.check(expected, bad, "default")] == [(exact[0], metric)]


@pytest.mark.parametrize("scale", ["smoke", "default"])
def test_the_tolerances_are_the_ones_the_recorded_builds_give(scale):
    """fusionstudy/build/tolerances.py is derived (benchmarks/spread.py report --write), never edited: re-deriving it
    from the committed records gives the same groups and tolerances."""
    from benchmarks import spread

    groups = spread.group_table(spread.long_values(spread.load_builds(scale)))
    derived = {r["group"]: r["tolerance"] for _, r in groups.iterrows()}
    assert derived == {g: v["tolerance"] for g, v in pin.tolerances.GROUPS[scale].items()}
    # every pinned value of the scale has a measured group
    assert {pin.group_of(k) for k in _doc(pin.expected_path(scale))["values"]} <= set(derived)


# --- verdicts -------------------------------------------------------------------------------------------------------

def _verdict_doc():
    return {"scale": "smoke", "values": {}, "verdicts": {
        "findings: far from its threshold": {"value": "no", "margin": 0.2, "groups": ["exp-report: image"]},
        "findings: close to its threshold": {"value": "yes", "margin": 0.004, "groups": ["exp-report: image"]},
        "provenance: decided by a record": {"value": "yes", "margin": None, "groups": []}}}


def test_a_verdict_that_flips_fails_naming_it_unless_its_margin_is_within_tolerance(monkeypatch, capsys):
    monkeypatch.setattr(pin.tolerances, "GROUPS", {"smoke": {"exp-report: image": {"tolerance": 0.01}}})
    doc = _verdict_doc()
    same = json.loads(json.dumps(doc["verdicts"]))
    assert pin.check_verdicts(doc, same) == []
    assert pin.report(doc, {}, same, "smoke") == 0
    assert "3 of 3 verdicts as pinned" in capsys.readouterr().out

    flipped = json.loads(json.dumps(same))
    flipped["findings: far from its threshold"]["value"] = "yes"
    flipped["findings: close to its threshold"]["value"] = "no"
    changes = {c.name: c for c in pin.check_verdicts(doc, flipped)}
    assert changes["findings: far from its threshold"].decided
    assert not changes["findings: close to its threshold"].decided    # margin 0.004 <= tolerance 0.01
    assert pin.report(doc, {}, flipped, "smoke") == 1
    out = capsys.readouterr().out
    assert "1 of 3 pinned verdicts changed:\n  findings: far from its threshold: pinned 'no', got 'yes'" in out
    assert "undecided across machines" in out and "findings: close to its threshold" in out

    # a verdict no number decides, or one missing from the fresh build, always fails
    gone = json.loads(json.dumps(same))
    gone["provenance: decided by a record"]["value"] = "no"
    del gone["findings: close to its threshold"]
    assert {c.name for c in pin.check_verdicts(doc, gone) if c.decided} == {
        "provenance: decided by a record", "findings: close to its threshold"}


def test_verdicts_of_a_chapter_that_did_not_run_are_not_checked():
    doc = {"verdicts": {"summary: lead": {"value": "a", "margin": None, "groups": []},
                        "metadata: chosen": {"value": "b", "margin": None, "groups": []},
                        "findings: collapse": {"value": "c", "margin": None, "groups": []}}}
    assert [c.name for c in pin.check_verdicts(doc, {}, "smoke", skipped={"replay", "metadata"})] == [
        "findings: collapse"]


@pytest.mark.parametrize("scale", ["smoke", "default"])
def test_every_recorded_build_passes_the_check_on_the_values_it_has(scale):
    """Each build measured on another machine or setting (benchmarks/records/spread/<scale>/) reproduces the
    pinned values within their tolerances: the policy holds for every build it was derived from."""
    from benchmarks import spread

    expected = _doc(pin.expected_path(scale))
    builds = spread.load_builds(scale)
    assert len({spread.machine_label(b) for b in builds}) >= 2
    for b in builds:
        own = {k: v for k, v in expected["values"].items() if k in b["values"]}
        assert own, b["name"]
        assert pin.check({**expected, "values": own}, b["values"], scale) == [], b["name"]
