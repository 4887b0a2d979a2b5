import json

import pytest

from fusionstudy.build import study


def test_plan_runs_experiments_then_the_pages_that_read_them():
    tasks = study.plan("smoke")
    names = [t.name for t in tasks]
    assert len(names) == len(set(names))
    assert names[0] == "cohort" and names[-1] == "appendix"
    exps = [t for t in tasks if t.kind == "experiment" and "part" not in t.parameters]
    assert [t.name for t in exps] == [f"exp-{e}" for e in study.EXPERIMENTS]
    # the smoke scale splits each experiment's folds over two shards, merged by the experiment's task
    for e in exps:
        shards = [f"{e.name}-part1of2", f"{e.name}-part2of2"]
        assert e.depends == shards and json.loads(e.parameters["parts"]) == shards
        assert [t.parameters["part"] for t in tasks if t.name in shards] == ["1/2", "2/2"]
        assert [study.resources(t)["gpu"] for t in tasks if t.name in shards] == [1, 1]
        assert study.resources(e)["gpu"] == 0                     # merging trains nothing
    assert [t.name for t in study.plan("default") if t.kind == "experiment"] == [f"exp-{e}" for e in study.EXPERIMENTS]
    assert sum("part" in t.parameters for t in study.plan("full")) == 15 * len(study.EXPERIMENTS)
    arms = [t for t in tasks if t.kind == "arm"]
    assert len(arms) == 13 and all(t.depends == ["exp-report"] for t in arms)
    assert "baseline__ordinal_original__in_sample" in names and "fix23__ordinal__oof_grouped" in names
    for t in tasks:                                                 # everything a task reads runs before it
        assert all(names.index(d) < names.index(t.name) for d in t.depends), t.name
    assert set(tasks[-1].depends) == set(names[:-1])
    with pytest.raises(ValueError, match="scale='huge'"):
        study.plan("huge")


def test_task_hash_changes_with_parameters_code_and_dependencies():
    t = study.plan("smoke")[1]
    h = study.task_hash(t, "code", {})
    assert h == study.task_hash(t, "code", {})
    assert h != study.task_hash(t, "other code", {})
    t2 = study.Task(t.name, t.template, {**t.parameters, "scale": "default"})
    assert h != study.task_hash(t2, "code", {})
    page = study.plan("smoke")[-1]
    assert study.task_hash(page, "c", {"exp-report": "a"}) != study.task_hash(page, "c", {"exp-report": "b"})


def test_the_appendix_reruns_when_the_benchmark_table_changes(tmp_path):
    page = study.plan("smoke")[-1]
    assert page.name == "appendix" and page.inputs == ["benchmarks/benchmark.md"]
    absent = study.task_hash(page, "c", {}, generated=tmp_path)
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "benchmark.md").write_text("| a |")
    first = study.task_hash(page, "c", {}, generated=tmp_path)
    (tmp_path / "benchmarks" / "benchmark.md").write_text("| b |")
    assert len({absent, first, study.task_hash(page, "c", {}, generated=tmp_path)}) == 3


def test_an_experiment_reaches_the_training_code_but_no_presentation_module():
    # a presentation module is not one an experiment reaches; the training code is
    exp = next(t for t in study.plan("smoke") if t.kind == "experiment")
    assert {f"fusionlib.{m}" for m in ("arms.runner", "models.bundle", "models.heads", "models.rf", "arms.settings")} \
        <= study.task_modules(exp)
    assert not {f"fusionstudy.{m}" for m in ("plots", "chapters.analysis", "chapters.findings", "build.study",
                                             "build.publish", "build.pin")} & study.task_modules(exp)
    # presentation and provenance modules it does reach are left out of its hash (a change re-runs pages only)
    from fusionlib.cache.dependencies import notebook_modules

    assert "fusionstudy.present" in study.PRESENTATION
    assert {"fusionstudy.build.console", "fusionstudy.build.provenance"} <= notebook_modules(
        study.NOTEBOOKS / exp.template, study.PACKAGES, study.PROJECT)
    assert not set(study.PRESENTATION) & study.task_modules(exp)
