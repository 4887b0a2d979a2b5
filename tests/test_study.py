import json
import shutil

import nbformat
import pytest

from fusionlib import study


def test_plan_has_every_arm_once_and_pages_after_them():
    tasks = study.plan("smoke")
    names = [t.name for t in tasks]
    assert len(names) == len(set(names)) == 16
    assert names[0] == "cohort" and names[-2:] == ["results", "appendix"]
    arms = [t for t in tasks if t.kind == "arm"]
    assert len(arms) == 13
    assert "baseline__ordinal_original__in_sample" in names and "fix23__ordinal__oof_grouped" in names
    assert set(tasks[-2].depends) == {t.name for t in arms}
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
    assert study.task_hash(page, "c", {"image_only": "a"}) != study.task_hash(page, "c", {"image_only": "b"})


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
    r1 = study.run_study("smoke", root, log=lambda m: None)
    assert len(r1.ran) == 16 and not r1.failed
    gen = root / "book" / "generated"
    assert (gen / "arms" / "image_only.ipynb").exists() and (gen / "pages" / "results.ipynb").exists()
    first = json.loads((gen / "results" / "image_only" / "info.json").read_text())
    # the arm page is retitled with the arm's name
    assert nbformat.read(gen / "arms" / "image_only.ipynb", 4).cells[0].source.startswith("# image_only")

    r2 = study.run_study("smoke", root, log=lambda m: None)
    assert r2.ran == [] and len(r2.skipped) == 16

    # a changed code base re-runs; an arm that fails keeps its executed notebook and the old result
    monkeypatch.setattr(study, "code_hash", lambda: "changed")
    fake.fail = {"image_only"}
    r3 = study.run_study("smoke", root, log=lambda m: None)
    assert r3.failed == ["image_only", "results", "appendix"] and len(r3.ran) == 13   # pages not run on partial results
    assert (gen / "failed" / "image_only.ipynb").exists()
    assert json.loads((gen / "results" / "image_only" / "info.json").read_text()) == first
    assert not (gen / ".staging").exists()
    state = json.loads((gen / "state.json").read_text())
    assert "image_only" not in state["hashes"]

    # the next run retries only the failed arm and the pages that depend on it
    fake.fail = set()
    calls_before = len(fake.calls)
    r4 = study.run_study("smoke", root, log=lambda m: None)
    assert r4.ran == ["image_only", "results", "appendix"]
    assert not (gen / "failed" / "image_only.ipynb").exists()
    assert len(fake.calls) - calls_before == 3


def test_book_sources_are_copied_into_a_separate_root(tmp_path, fake):
    root = tmp_path / "r"
    study.run_study("smoke", root, only=["cohort"], log=lambda m: None)
    assert (root / "_config.yml").exists() and (root / "_toc.yml").exists() and (root / "book" / "intro.md").exists()
