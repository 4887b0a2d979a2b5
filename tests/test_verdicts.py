"""The book's verdicts as data (fusionstudy.chapters.verdicts): each with the number that decides it and its margin."""

import pandas as pd
import pytest

from fusionstudy.chapters import findings, verdicts


def test_a_ci_verdict_is_as_far_from_changing_as_its_nearer_bound_is_from_zero():
    assert verdicts.ci_margin(0.03, 0.2) == pytest.approx(0.03)      # better, by 0.03
    assert verdicts.ci_margin(-0.2, -0.01) == pytest.approx(0.01)    # worse, by 0.01
    assert verdicts.ci_margin(-0.02, 0.05) == pytest.approx(0.02)    # undecided: 0.02 from "better"


def test_the_metadata_chapters_choices_carry_their_lead_over_the_runner_up(tmp_path):
    from types import SimpleNamespace

    from fusionstudy.chapters import metadata_tables as mt

    result = SimpleNamespace(
        choices=pd.DataFrame({"repeat": [0, 0], "fold": [0, 1], "chosen": ["rf | a", "hgb | b"],
                              "inner κ quad (chosen)": [0.40, 0.35]}),
        inner=pd.DataFrame({"repeat": [0, 0, 0, 0], "fold": [0, 0, 1, 1],
                            "candidate": ["rf | a", "hgb | b", "rf | a", "hgb | b"],
                            "inner κ quad": [0.40, 0.3999, 0.30, 0.35]}))
    ablation = pd.DataFrame({"factor": ["selection", "model (from the report's arm)", "encoding (from the report's arm)",
                                        "temperatures (x) (from the report's arm)"],
                             "change": ["nested", "a -> b", "c -> d", "t"], "Δκ quad": [0.2, 0.05, 0.08, 0.3]})
    est = mt.Estimate(0.4, 0.3, 0.5, 0.2, 0.1, 0.3, 0.01)
    facts = mt.MetadataFacts(est, None, mt.choices_of(result), mt.largest_change(ablation))
    facts.save(tmp_path / "facts.json")                                 # the verdicts read the saved record
    v = verdicts.metadata_verdicts(mt.MetadataFacts.load(tmp_path / "facts.json"))
    assert v["metadata: configuration chosen in repeat 0, fold 0"] == {
        "value": "rf | a", "margin": pytest.approx(1e-4), "groups": ["metadata: table"] * 2}
    assert v["metadata: configuration chosen in repeat 0, fold 1"]["margin"] == pytest.approx(0.05)
    # the temperatures are not a single change from the report's arm; the largest one leads by 0.03
    assert v["metadata: the largest single change from the report's arm"]["value"] == "c -> d"
    assert v["metadata: the largest single change from the report's arm"]["margin"] == pytest.approx(0.03)


def test_yes_no_verdicts_read_as_words_and_margins_are_distances():
    assert verdicts._v(True, -0.02, ["g"]) == {"value": "yes", "margin": 0.02, "groups": ["g"]}
    import numpy as np

    assert verdicts._v(np.float64(0.05) < 0.1)["value"] == "yes"


def test_the_words_of_the_answer_are_chosen_by_the_same_functions_the_verdicts_read():
    assert findings.draw_word(9.9) == "an unlucky draw"
    assert findings.draw_word(10) == "a below-median draw"
    assert findings.draw_word(50) == "not an unusual draw"
    assert findings.lead_sentence(findings.NEAR - 1e-9).startswith("The collapse was a comparison across splits")
    assert findings.lead_sentence(findings.NEAR).startswith("The report compared")


def test_nothing_is_collected_from_a_book_that_has_not_run(tmp_path):
    (tmp_path / "results").mkdir()
    assert verdicts.collect(tmp_path) == {}
