import numpy as np
import pandas as pd
import pytest

from fusionstudy.chapters import analysis, findings
from fusionstudy import experiments
from fusionlib.arms.settings import ArmSettings


def test_factor_effects_find_the_factor_that_moves_kappa():
    idx = pd.MultiIndex.from_product([["in_sample", "oof", "oof_grouped"], ["ordinal", "multiclass"]],
                                     names=["source", "decomposition"])
    # kappa depends on the source only (+0.2 for in_sample), a little on the head
    grid = pd.DataFrame({"metadata_only": [0.4, 0.4, 0.2, 0.2, 0.2, 0.2],
                         "baseline": [0.41, 0.41, 0.21, 0.21, 0.21, 0.21]}, index=idx)
    eff = analysis.factor_effects(grid)
    ranges = eff.groupby("factor")["range of the factor"].first()
    assert ranges.idxmax() == "source" and ranges["source"] == pytest.approx(0.2)
    assert ranges["decomposition"] == pytest.approx(0.0)
    gain = analysis.fusion_gain(grid)
    assert np.allclose(gain["baseline"], 0.01)
    nums = analysis.grid_numbers(grid, eff)
    assert nums["top_factor"] == "`source`" and nums["max_k"] == pytest.approx(0.41)


def test_softmax_caps_a_probability_vector_at_e_over_e_plus_two():
    assert analysis.softmax_cap() == pytest.approx(np.e / (np.e + 2))
    t = analysis.fix1_arithmetic(np.array([[1.0, 0, 0], [0.2, 0.5, 0.3]]))
    assert t["softmax(rf) max"].iloc[0] == pytest.approx(np.e / (np.e + 2))
    assert t["same argmax"].all()
    assert (t["softmax max - min"] < t["rf max - min"]).all()


@pytest.mark.parametrize("scale", list(experiments.SCALES))
@pytest.mark.parametrize("name", experiments.EXPERIMENTS)
def test_every_experiment_has_valid_uniquely_named_arms(name, scale):
    arms = experiments.experiment_arms(name, scale)
    labels = [ArmSettings.from_dict(a).label for a in arms]
    assert len(labels) == len(set(labels)) > 0
    assert experiments.describe(name)


def test_experiments_cover_the_issue():
    grid = experiments.experiment_arms("grid", "default")
    assert {(a["source"], a["decomposition"]) for a in grid} == {(s, d) for s in ("in_sample", "oof", "oof_grouped")
                                                                 for d in ("ordinal_original", "ordinal", "multiclass")}
    stab = experiments.labels_of("stability", "default")
    assert len({l.split(" | seed ")[1] for l in stab if "| seed" in l}) >= 5                   # H3: >= 5 seeds
    sweep = experiments.experiment_arms("sweep", "default")
    assert min(a["cohort"]["thermal_signal"] for a in sweep) == 0.0                             # from none...
    report = experiments.labels_of("report", "default")
    assert {"stacking|ordinal|oof_grouped", "loglinear|ordinal|oof_grouped", "alpha_grid|ordinal|oof_grouped"} <= set(report)
    with pytest.raises(ValueError, match="experiment='nope'"):
        experiments.experiment_arms("nope", "smoke")


def test_sweep_numbers_speak_of_fusions_only():
    rows = []
    for level, img in ((0.0, 0.05), (2.4, 0.35)):
        rows += [{"thermal signal": level, "head": "metadata_only", "gain over metadata-only": 0.0},
                 {"thermal signal": level, "head": "image_only", "gain over metadata-only": img - 0.25},
                 {"thermal signal": level, "head": "stacking", "gain over metadata-only": -0.05 if level == 0 else 0.1}]
    text = analysis.sweep_numbers(pd.DataFrame(rows))["sweep_text"]
    assert "image_only" not in text and "-0.050 to -0.050" in text and "+0.100 to +0.100" in text


def test_records_carry_the_numbers_the_findings_read():
    d = analysis.Difference("quadratic", 0.3, 0.25, 0.05, 0.01, 0.09, 0.02, -0.01, 0.1, 0.2)
    c = analysis.Comparison("fix23", "metadata_only", (d,))
    assert c.by("quadratic").verdict == "better" and d.ci == "[+0.010, +0.090]"
    row = c.row()
    assert row["Δκ quad"] == 0.05 and row["95% CI quad"] == d.ci and analysis.verdict(pd.Series(row)) == "better"
    points = [analysis.SweepPoint("metadata_only", 0.0, 0.2, 0.1, 0.0), analysis.SweepPoint("fix23", 1.0, 0.5, 0.3, 0.2),
              analysis.SweepPoint("fix23", 0.0, 0.1, 0.0, -0.1)]
    assert analysis.fusion_gains(points) == {"fix23": {0.0: -0.1, 1.0: 0.2}}     # single modalities left out
    idx = pd.MultiIndex.from_product([["a", "b"], ["o"]], names=["source", "decomposition"])
    effects = analysis.factor_effect_records(pd.DataFrame({"metadata_only": [0.1, 0.3]}, index=idx))
    assert effects[0].factor == "source" and effects[0].range == pytest.approx(0.2)
