import json
import os
import shutil

import nbformat
import pytest

from fusionstudy.build import study


def test_plan_runs_experiments_then_the_pages_that_read_them():
    tasks = study.plan("smoke")
    names = [t.name for t in tasks]
    assert len(names) == len(set(names))
    assert names[0] == "cohort" and names[-1] == "appendix"
    exps = [t for t in tasks if t.kind == "experiment"]
    assert [t.name for t in exps] == [f"exp-{e}" for e in study.EXPERIMENTS]
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


class FakePapermill:
    """Stands in for papermill.execute_notebook: writes the notebook and a result, or fails for chosen tasks."""

    def __init__(self, fail=()):
        self.fail = set(fail)
        self.calls = []

    def __call__(self, template, output, parameters, **kw):
        name = output.rsplit("/", 1)[-1].removesuffix(".ipynb")
        self.calls.append(name)
        nb = nbformat.read(template, as_version=4)
        nbformat.write(nb, output)
        if name in self.fail:
            raise RuntimeError(f"cell raised in {name}")
        from pathlib import Path
        out = Path(parameters["out_dir"])
        out.mkdir(parents=True)
        (out / "info.json").write_text(json.dumps({"task": name, "run": len(self.calls)}))


@pytest.fixture
def fake(monkeypatch):
    import papermill

    f = FakePapermill()
    monkeypatch.setattr(papermill, "execute_notebook", f)
    return f


def test_unchanged_tasks_are_skipped_and_failures_keep_earlier_results(tmp_path, fake, monkeypatch):
    root = tmp_path / "book-root"
    plan = study.plan("smoke")
    n = len(plan)
    r1 = study.run_study("smoke", root, log=lambda m: None)
    assert len(r1.ran) == n and not r1.failed
    gen = root / "book" / "generated"
    assert (gen / "arms" / "image_only.ipynb").exists() and (gen / "pages" / "results.ipynb").exists()
    assert (gen / "experiments" / "exp-report.ipynb").exists()
    first = json.loads((gen / "results" / "exp-report" / "info.json").read_text())
    # pages are retitled with their titles
    assert nbformat.read(gen / "arms" / "image_only.ipynb", 4).cells[0].source.startswith("# image_only")

    r2 = study.run_study("smoke", root, log=lambda m: None)
    assert r2.ran == [] and len(r2.skipped) == n

    # a changed code base re-runs; a failed experiment keeps its executed notebook and the old result, and
    # nothing that reads it runs over the partial results
    monkeypatch.setattr(study, "code_hash", lambda modules, lock=None: "changed")
    fake.fail = {"exp-report"}
    r3 = study.run_study("smoke", root, log=lambda m: None)
    readers = {t.name for t in plan if "exp-report" in t.depends}
    assert set(r3.failed) == {"exp-report", *readers, "findings", "appendix"}
    assert len(r3.ran) == n - len(r3.failed)
    assert (gen / "failed" / "exp-report.ipynb").exists()
    assert json.loads((gen / "results" / "exp-report" / "info.json").read_text()) == first
    assert not (gen / ".staging").exists()
    state = json.loads((gen / "state.json").read_text())
    assert "exp-report" not in state["hashes"]

    # the next run retries only the failed experiment and what depends on it
    fake.fail = set()
    calls_before = len(fake.calls)
    r4 = study.run_study("smoke", root, log=lambda m: None)
    assert set(r4.ran) == set(r3.failed)
    assert not (gen / "failed" / "exp-report.ipynb").exists()
    assert len(fake.calls) - calls_before == len(r3.failed)


def test_book_sources_are_copied_into_a_separate_root(tmp_path, fake):
    root = tmp_path / "r"
    study.run_study("smoke", root, only=["cohort"], log=lambda m: None)
    assert (root / "_config.yml").exists() and (root / "_toc.yml").exists() and (root / "book" / "intro.md").exists()


def test_concurrent_jobs_start_a_task_only_after_what_it_reads(tmp_path, monkeypatch):
    import threading
    import time as _time

    import papermill

    log, lock = [], threading.Lock()

    def slow(template, output, parameters, **kw):
        name = output.rsplit("/", 1)[-1].removesuffix(".ipynb")
        with lock:
            log.append(("start", name))
        _time.sleep(0.2 if name.startswith("exp-") else 0.01)
        nbformat.write(nbformat.read(template, as_version=4), output)
        with lock:
            log.append(("end", name))

    monkeypatch.setattr(papermill, "execute_notebook", slow)
    plan = study.plan("smoke")
    r = study.run_study("smoke", tmp_path / "root", log=lambda m: None, jobs=2)
    assert sorted(r.ran) == sorted(t.name for t in plan) and not r.failed
    pos = {(kind, name): i for i, (kind, name) in enumerate(log)}
    for t in plan:
        for d in t.depends:
            assert pos[("end", d)] < pos[("start", t.name)], (d, t.name)
    # two experiments overlapped: the second started before the first ended
    assert pos[("start", "exp-sweep")] < pos[("end", "exp-report")]


def test_concurrent_jobs_leave_the_working_directory_where_it_was(tmp_path, monkeypatch):
    """papermill chdirs the process for each notebook; overlapping runs must not leave it elsewhere."""
    import os
    import threading
    import time as _time

    import papermill

    lock = threading.Lock()

    def chdiring(template, output, parameters, cwd=None, **kw):
        with lock:
            old = os.getcwd()
            os.chdir(cwd)                                    # what papermill does, without its restore order
        _time.sleep(0.05)
        nbformat.write(nbformat.read(template, as_version=4), output)
        return old

    monkeypatch.setattr(papermill, "execute_notebook", chdiring)
    monkeypatch.chdir(tmp_path)
    study.run_study("smoke", tmp_path / "root", log=lambda m: None, jobs=2)
    assert os.getcwd() == str(tmp_path)


def test_a_change_reruns_exactly_the_tasks_whose_notebook_reaches_the_module(tmp_path, fake, monkeypatch):
    root = tmp_path / "root"
    study.run_study("smoke", root, log=lambda m: None)
    real = study.code_hash
    for changed, expect_experiments in (("fusionstudy.plots", False), ("fusionlib.models.bundle", True)):
        monkeypatch.setattr(study, "code_hash",
                            lambda modules, lock=None, m=changed: real(modules) + (m if m in modules else ""))
        r = study.run_study("smoke", root, log=lambda m: None)
        readers = {t.name for t in study.plan("smoke") if changed in study.task_modules(t)}
        assert readers and set(r.ran) >= readers, changed
        assert bool([t for t in r.ran if t.startswith("exp-")]) == expect_experiments, changed
        assert not set(r.ran) & {t.name for t in study.plan("smoke") if t.kind == "arm"} - readers
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


def test_kernels_get_a_fixed_intra_op_thread_count_and_another_count_reruns_the_study(tmp_path, monkeypatch):
    import papermill

    seen = []

    def record(template, output, parameters, **kw):
        seen.append(os.environ.get("TF_NUM_INTRAOP_THREADS"))
        nbformat.write(nbformat.read(template, as_version=4), output)

    monkeypatch.setattr(papermill, "execute_notebook", record)
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    root = tmp_path / "r"
    study.run_study("smoke", root, only=["cohort", "exp-report"], log=lambda m: None)
    assert seen == [str(study.INTRA_OP_THREADS)] * 2
    assert "TF_NUM_INTRAOP_THREADS" not in os.environ            # restored after the study
    r = study.run_study("smoke", root, only=["cohort", "exp-report"], log=lambda m: None)
    assert r.ran == []
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "4")
    r = study.run_study("smoke", root, only=["cohort", "exp-report"], log=lambda m: None)
    assert sorted(r.ran) == ["cohort", "exp-report"] and seen[-2:] == ["4", "4"]
