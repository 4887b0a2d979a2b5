"""One place for each fact (issue 13): a head added as one row of the head table plus its function reaches every
list of heads; an experiment added as one record reaches the plan, its page and the findings' reading; the results
layer, the analysis, the findings and the study import no TensorFlow (what an experiment depends on: tests/test_architecture.py)."""

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from fusionstudy.chapters import analysis, findings
from fusionstudy import experiments
from fusionstudy.build import pages, study
from fusionlib.arms import settings
from fusionlib.evaluation.metrics import PROBA, RF, tidy_metrics
from fusionlib.arms.results import ArmResult
from fusionlib.arms.settings import ArmSettings, Head

PROJECT_NOTEBOOKS = study.NOTEBOOKS


def fake_result(settings_: dict, seed: int) -> ArmResult:
    """An arm result with random predictions (60 visits, 3 folds; the same true labels in every arm, as in a
    real experiment): enough for the analysis tables."""
    visit = np.arange(60)
    y = np.random.default_rng(0).integers(0, 3, 60)
    p = np.random.default_rng(seed + 1).dirichlet([1, 1, 1], 60)
    pred = pd.concat([pd.DataFrame({"split": split, "repeat": 0, "fold": visit % 3, "image": visit, "visit": visit,
                                    "patient": visit // 2, "y": y, **{c: p[:, j] for j, c in enumerate(RF)},
                                    **{c: p[:, j] for j, c in enumerate(PROBA)}, "alpha": np.nan})
                      for split in ("val", "train")], ignore_index=True)
    s = ArmSettings.from_dict({**settings_, "n_repeats": 1})
    return ArmResult(s, tidy_metrics(pred), pred, [], {"wall_s": 0.0, "n_visits": 60})


def fake_experiment(name: str, scale: str = "smoke") -> dict:
    arms = experiments.experiment_arms(name, scale)
    return {ArmSettings.from_dict(a).label: fake_result(a, i) for i, a in enumerate(arms)}


@pytest.fixture
def toy_head(monkeypatch):
    """A toy Keras fusion head: one function in heads.py, one row in the head table — nothing else touched."""
    from fusionlib.models import heads

    def toy(rf, image_probs):
        """The plain average of the two probability vectors (no weights)."""
        return heads.Blend(name="output")([0.5 + 0.0 * rf[..., :1], rf, image_probs])

    monkeypatch.setattr(heads, "toy", toy, raising=False)
    monkeypatch.setattr(settings, "HEADS", (*settings.HEADS, Head("toy", "keras", in_report=True)))
    return "toy"


def test_a_head_in_one_row_reaches_the_grid_the_arm_pages_and_the_findings(toy_head):
    # the experiments that run every Keras head / every head run it
    assert any(a["head"] == toy_head for a in experiments.experiment_arms("grid", "smoke"))
    assert any(a["head"] == toy_head for a in experiments.experiment_arms("sweep", "smoke"))
    report = fake_experiment("report")
    assert {f"toy|{c['decomposition']}|{c['source']}" for c in settings.CONDITIONS.values()} <= set(report)
    # the arm pages' plan
    names = [t.name for t in study.plan("smoke")]
    assert {"toy__ordinal_original__in_sample", "toy__ordinal__oof_grouped"} <= set(names)
    # the grid table, in the head table's order (last)
    grid = analysis.grid_table(fake_experiment("grid"))
    assert list(grid.columns)[-1] == toy_head and grid[toy_head].notna().all()
    # the findings' expectations (one row per model of the report) and the comparisons against metadata-only
    table = findings.expectations_table(report)
    assert table["head"].tolist()[-1] == toy_head and table["report"].iloc[-1] == ""
    assert "toy|ordinal|oof_grouped" in analysis.against_metadata(report, weights=("quadratic",), n_boot=20)["arm"].tolist()


def test_the_toy_head_builds_as_a_keras_head_block(toy_head):
    from fusionlib.models.heads import build_model, head_block

    block = head_block(toy_head, 2)
    x = np.full((4, 2, 3), 1 / 3, "float32")
    out = np.asarray(block({"rf": x, "image": x})["output"])
    assert out.shape == (4, 2, 3) and np.allclose(out.sum(-1), 1)
    assert set(build_model(toy_head).input) == {"rf", "image"}


def test_the_head_table_is_the_only_list_of_heads():
    from fusionlib.models import fusions, heads

    assert settings.head_names(kind="robust") == ("stacking", "loglinear", "alpha_grid")
    assert settings.head_names(kind="keras") == ("metadata_only", "baseline", "fix1", "fix2", "fix3", "fix23")
    assert settings.head_names(learns_alpha=True) == ("fix2", "fix23")
    for h in settings.heads(kind="keras"):                       # each names a function of heads.py
        assert callable(getattr(heads, h.builder))
    for h in settings.heads(kind="robust"):                      # ... or a class of fusions.py
        assert type(fusions.make_fusion(h.name)).__name__ == h.builder
    for name in ("FUSION_HEADS", "KERAS_HEADS", "ALPHA_HEADS", "ROBUST_HEADS", "REALDATA_HEADS", "FUSIONS"):
        assert not any(hasattr(m, name) for m in (heads, fusions, analysis, findings, study))
    with pytest.raises(ValueError, match=r"head='fix4': use one of \('metadata_only'"):
        ArmSettings.from_dict({"head": "fix4"})


def test_an_experiment_is_one_record_plus_its_page(monkeypatch, tmp_path):
    new = experiments.Experiment(
        "toy", "A toy experiment", "Metadata-only under both conditions.",
        lambda c, knobs: [{"head": "metadata_only", **cond, **c} for cond in settings.CONDITIONS.values()],
        repeats={"default": 1}, pages=("toy_page", "findings"))
    monkeypatch.setitem(experiments.EXPERIMENTS, "toy", new)
    tasks = {t.name: t for t in study.plan("smoke")}
    exp = tasks["exp-toy"]
    assert exp.kind == "experiment" and exp.title == "A toy experiment" and exp.parameters["experiment"] == "toy"
    assert experiments.describe("toy") == new.description and experiments.common("default", "toy")["n_repeats"] == 1
    page = tasks["toy_page"]                                    # its page: the default record, run after it
    assert page.template == "toy_page.ipynb" and page.depends == ["exp-toy"] and page.kind == "page"
    assert "exp-toy" in tasks["findings"].depends and experiments.read_by("findings")[-1] == "toy"
    assert "exp-toy" in tasks["appendix"].depends
    assert experiments.scale_settings("default")["repeats"]["toy"] == 1


def test_every_page_an_experiment_names_has_its_notebook():
    for e in experiments.EXPERIMENTS.values():
        for name in e.pages:
            assert (PROJECT_NOTEBOOKS / pages.page(name).notebook).is_file(), (e.name, name)
    assert pages.real_data_pages() == ("replay", "metadata", "realdata")


def test_analysis_reads_the_design_from_settings_not_from_names():
    stab = fake_experiment("stability")
    renamed = {f"arm {i}": replace_name(r, f"arm {i}") for i, r in enumerate(stab.values())}   # names say nothing
    seeds, batches = analysis.seed_table(renamed), analysis.batch_sweep(renamed)
    knobs = experiments.SCALES["smoke"]
    assert sorted(set(seeds["level"])) == [f"seed {s}" for s in range(knobs["seeds"])]
    assert sorted(set(batches["batch size"])) == list(knobs["batch_sizes"])
    assert analysis.seed_table(stab).equals(seeds)
    mech = fake_experiment("mechanisms")
    table = analysis.mechanism_table({f"m{i}": replace_name(r, f"m{i}") for i, r in enumerate(mech.values())})
    assert set(table.index) == set(experiments.MECHANISMS) and list(table.columns) == list(experiments.MECHANISM_HEADS)
    sweep = analysis.sweep_table({f"s{i}": replace_name(r, f"s{i}") for i, r in enumerate(fake_experiment("sweep").values())})
    assert set(sweep["thermal signal"]) == set(knobs["thermal_levels"])
    assert "baseline (report's conditions)" in set(sweep["head"]) and "image_only" in set(sweep["head"])


def replace_name(r: ArmResult, name: str) -> ArmResult:
    return ArmResult(replace(r.settings, name=name), r.metrics, r.predictions, r.history, r.info)


def test_results_analysis_findings_and_study_import_no_tensorflow():
    code = ("import sys; import fusionlib.arms.results, fusionstudy.chapters.analysis, fusionstudy.chapters.findings, fusionstudy.build.study, "
            "fusionstudy.experiments, fusionlib.arms.settings, fusionstudy.chapters.agreement, fusionstudy.report; "
            "print([m for m in ('tensorflow', 'keras') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().replace("'", '"')) == []


def test_the_results_page_numbers_read_the_report_records():
    from fusionstudy.report import REPORTED

    report = fake_experiment("report")
    comp = analysis.against_metadata(report, weights=("quadratic",), n_boot=20)
    nums = analysis.results_numbers(report, comp)
    assert (nums["rep_md"], nums["rep_img"], nums["rep_base"]) == tuple(
        REPORTED[h].value for h in ("metadata_only", "image_only", "baseline"))
    assert nums["n_comparisons"] == len(comp) == nums["n_better"] + nums["n_worse"] + nums["n_undecided"]
