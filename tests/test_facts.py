"""Typed facts (issue 17 item 4): the replay's and the metadata chapter's claims as records the findings, the verdicts
and the pins read by field, built from the runs' tidy tables, saved and loaded whole."""

import json
import math

import numpy as np
import pytest

from fusionstudy import records
from fusionstudy.chapters import metadata_tables as mt
from fusionstudy.replay import facts, studies
from replay_records import record as _record
from fusionstudy.report import EVIDENCE_REPLAY_5FOLD, HISTORY


def test_the_replay_facts_are_computed_from_the_tidy_per_fold_tables():
    f = _record()
    assert f.recorded_split.kappa == (0.0136, 0.067, 0.1884)
    assert f.recorded_split.identical == (True, False, True) and f.recorded_split.n_identical == 2
    assert f.fold_one == facts.FoldOne(0.0136, 0.0068, 0.91, 0.6)
    assert f.five_fold.recorded == HISTORY["metadata_5fold"].folds and f.five_fold.evidence == EVIDENCE_REPLAY_5FOLD
    assert f.five_fold.equal_recorded == 4                       # the fifth fold differs
    assert f.five_fold.bn_mean == pytest.approx(np.mean(f.five_fold.bn)) and f.five_fold.rf_mean == pytest.approx(0.24)
    assert f.bn_agreement == pytest.approx(0.82)                # the BN head, as recorded, on the 3 folds
    assert f.defect("all four off", facts.RF_ALONE).kappa == pytest.approx(0.3)
    assert f.defect("all four off", facts.BN_HEAD) is None
    assert (f.splits.n3, f.splits.n5, f.splits.trees) == (4, 4, 40)
    # 3-fold split means 0.01, 0.06, 0.11, 0.16: the recorded 0.0897 is above two of four
    assert f.splits.pct_metadata_3fold == 50.0 and f.splits.median3 == pytest.approx(0.085)


def test_facts_survive_a_save_and_load_whole_and_a_missing_field_is_named(tmp_path):
    for fixed in (True, False):
        f = _record(fixed)
        f.save(tmp_path / "facts.json")
        assert facts.ReplayFacts.load(tmp_path / "facts.json") == f
    doc = json.loads((tmp_path / "facts.json").read_text())
    del doc["five_fold"]["bn"]
    (tmp_path / "facts.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"facts.json: FiveFold has no field 'bn'"):
        facts.ReplayFacts.load(tmp_path / "facts.json")


def test_the_chapter_tables_come_from_the_records_and_the_pins_name_fields():
    f = _record()
    five = f.five_fold.table(best_epoch=[10, 20, 30, 40, 50])
    assert five["fold"].tolist() == [1, 2, 3, 4, 5, "mean"] and five["best epoch"].iloc[-1] == ""
    assert five.iloc[-1, 3] == pytest.approx(f.five_fold.bn_mean)
    assert f.fixed.table().shape == (3, 5)
    norm = f.normalisation.table()
    assert norm["model"].tolist()[0] == "RF alone" and norm["predictions changed"].tolist() == [0, 7]
    assert math.isnan(norm["κ normalised"].iloc[-1])
    pinned = f.pinned()
    assert pinned["recorded_split.kappa[3]"] == 0.1884 and pinned["five_fold.rf_mean"] == pytest.approx(0.24)
    assert len(pinned) == 3 + 3 + 5 + 5 + 2


def test_the_normalisation_record_never_changes_the_rf_alone_and_rarely_a_fixed_average():
    rng = np.random.default_rng(0)
    stages = {0: {"p_val": rng.uniform(size=(300, 2)), "y_val": rng.integers(0, 3, 300)}}
    n = studies.normalisation_effect(stages, {0: rng.dirichlet([1, 1, 1], 300)}, grid_step=0.05)
    assert n.rf.changed == 0 and n.rf.kappa_raw == n.rf.kappa_normalised
    assert n.any_image_changed >= n.average.changed               # the bound covers the CNN's case
    assert n.image.changed == 0 and n.rows == 300 and n.grid_points == 231


def test_the_metadata_headline_is_a_record_and_its_table_is_drawn_from_it(tmp_path):
    est = mt.Estimate(0.4, 0.3, 0.5, 0.2, 0.1, 0.3, 0.01)
    f = mt.MetadataFacts(nested=est, report_arm=None)
    assert f.pinned() == {"nested.kappa_quadratic": 0.4, "nested.kappa_unweighted": 0.2}
    row = f.table().iloc[0]
    assert row["arm"] == mt.BEST_LABEL and row["κ quad"] == 0.4 and row["95% CI unw"] == "[0.100, 0.300]"
    f.save(tmp_path / records.FACTS_JSON)
    assert mt.MetadataFacts.load(tmp_path / records.FACTS_JSON) == f


@pytest.mark.parametrize("module", ["fusionstudy/chapters/findings.py", "fusionstudy/chapters/verdicts.py",
                                    "fusionstudy/build/pin.py"])
def test_the_findings_the_verdicts_and_the_pins_read_no_table_by_its_header(module):
    """No value is read by a subscript whose key is a display header (any string that is not a plain identifier:
    ``row["κ quad"]``, ``t["this replay: RF alone"]``); names written (verdict names, pin keys) are not reads."""
    import ast

    from fusionstudy import PROJECT

    tree = ast.parse((PROJECT / module).read_text())
    headers = [(n.lineno, c.value) for n in ast.walk(tree) if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Load)
               for c in ast.walk(n.slice) if isinstance(c, ast.Constant) and isinstance(c.value, str)
               and not c.value.isidentifier()]
    assert headers == [], f"{module} reads by display header: {headers}"
