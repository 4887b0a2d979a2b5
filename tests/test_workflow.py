"""The study through its workflow engine (Snakemake, ``workflow/Snakefile``): order, skipping, failures, the
thread count, one study per tree, clear errors, and the engine's plan of the real study (issue 18). Tiny
notebooks (``--plan-json``) run through the real engine and real kernels; the smoke plan only as a dry run."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from fusionstudy.build import engine, study, task

PROJECT = Path(__file__).resolve().parents[1]
needs_engine = pytest.mark.skipif(not (engine.WORKFLOW_VENV / "bin" / "snakemake").exists(),
                                  reason="Snakemake is not installed (make workflow-env)")

CODE = """\
import json, os, pathlib, time
out = pathlib.Path(out_dir)
out.mkdir(parents=True)
with open(events, "a") as f:
    f.write(f"start {name} {time.time()}\\n")
(out / "partial.txt").write_text("written before the block")
t0 = time.time()
while block_file and pathlib.Path(block_file).exists() and time.time() - t0 < 120:
    time.sleep(0.1)
if fail_file and pathlib.Path(fail_file).exists():
    raise RuntimeError(f"{name} was told to fail")
time.sleep(sleep)
(out / "info.json").write_text(json.dumps({"task": name, "threads": os.environ.get("TF_NUM_INTRAOP_THREADS"),
                                          "omp": os.environ.get("OMP_NUM_THREADS")}))
with open(events, "a") as f:
    f.write(f"end {name} {time.time()}\\n")
print("done", name)
"""


def tiny_plan(tmp_path: Path, tasks: dict) -> Path:
    """A ``--plan-json`` file of tiny notebooks: ``tasks`` maps a name to its ``depends`` and parameters
    (``block_file``: wait while it exists; ``fail_file``: raise if it exists; ``sleep``: seconds)."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('name = ""\nevents = ""\nblock_file = ""\nfail_file = ""\nsleep = 0.0\n'
                                       'out_dir = ""\ngenerated_dir = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# tiny task"), params, nbformat.v4.new_code_cell(CODE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    (tmp_path / "nb").mkdir(exist_ok=True)
    nbformat.write(nb, tmp_path / "nb" / "tiny.ipynb")
    spec = [{"name": n, "template": "tiny.ipynb", "kind": "arm", "depends": t.get("depends", []),
             "parameters": {"name": n, "events": str(tmp_path / "events.txt"), "block_file": t.get("block", ""),
                            "fail_file": t.get("fail", ""), "sleep": t.get("sleep", 0.0)}}
            for n, t in tasks.items()]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"notebooks_dir": "nb", "tasks": spec}))
    return path


def events(tmp_path: Path) -> dict:
    """``{(start|end, task): time}`` from the tiny notebooks' event file."""
    path = tmp_path / "events.txt"
    lines = path.read_text().split("\n") if path.exists() else []
    return {(w[0], w[1]): float(w[2]) for w in (ln.split() for ln in lines) if w}


def read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def lift_when(hold: Path, condition, timeout: float = 120.0) -> None:
    """Remove ``hold`` once ``condition()`` is true, or after ``timeout`` seconds."""
    t0 = time.monotonic()
    while not condition() and time.monotonic() - t0 < timeout:
        time.sleep(0.1)
    hold.unlink()


def run(tmp_path: Path, plan: Path, capfd=None, **kw):
    """Run the plan's study; returns its report and what it printed (the jobs print to the process's stdout)."""
    tasks, notebooks = study.load_plan(plan)
    lines: list = []
    r = study.run_study("smoke", tmp_path / "root", tasks=tasks, notebooks_dir=notebooks, log=lines.append, **kw)
    return r, "\n".join(lines) + "\n" + (capfd.readouterr().out if capfd is not None else "")


@needs_engine
def test_each_task_runs_after_what_it_reads_and_unchanged_ones_are_skipped(tmp_path, capfd):
    # a holds until c has started (a thread lifts the hold then, or after 120 s): with two jobs they overlap
    hold = tmp_path / "hold-a"
    hold.touch()
    plan = tiny_plan(tmp_path, {"a": {"block": str(hold)}, "b": {"depends": ["a"]}, "c": {}})
    lift = threading.Thread(target=lift_when, args=(hold, lambda: "start c " in read(tmp_path / "events.txt")),
                            daemon=True)
    lift.start()
    r, out = run(tmp_path, plan, capfd, jobs=2)
    lift.join()
    assert sorted(r.ran) == ["a", "b", "c"] and not r.failed and not r.skipped, out
    ev = events(tmp_path)
    assert ev[("end", "a")] < ev[("start", "b")]                # b reads a
    assert ev[("start", "c")] < ev[("end", "a")]                # two jobs at once: c did not wait for a
    gen = tmp_path / "root" / "book" / "generated"
    for name in "abc":
        assert json.loads((gen / "results" / name / "info.json").read_text())["task"] == name
        assert nbformat.read(gen / "arms" / f"{name}.ipynb", 4).cells[-1].metadata["tags"] == ["provenance"]
    assert "a: running" in out and "a: done in" in out
    assert (tmp_path / "root" / "_config.yml").exists() and (tmp_path / "root" / "book" / "intro.md").exists()
    state = json.loads((gen / "state.json").read_text())
    assert set(state["hashes"]) == set(state["wall_s"]) == {"a", "b", "c"} and state["last_full_run"]["ran"] == 3

    started = []
    real_run = engine.run
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "run", lambda *a, **k: started.append(a) or real_run(*a, **k))
        r, out = run(tmp_path, plan)
    assert r.ran == [] and sorted(r.skipped) == ["a", "b", "c"], out
    assert "a: unchanged, skipped" in out and len(events(tmp_path)) == 6       # nothing executed again
    assert started == [] and not (gen / ".staging").exists()                  # nor the engine started


@needs_engine
def test_the_engine_starts_the_task_at_the_head_of_the_longest_chain_first(tmp_path):
    # one job at a time; "long" comes last in the plan, but the last run says it takes the longest
    plan = tiny_plan(tmp_path, {"s1": {}, "s2": {}, "long": {"sleep": 4.0}})
    run(tmp_path, plan, jobs=1)
    gen = tmp_path / "root" / "book" / "generated"
    first = json.loads((gen / "plan.json").read_text())
    assert {t["name"]: t["priority"] for t in first["tasks"]} == {"s1": 1, "s2": 1, "long": 1}   # nothing known
    # the records' wall times are measured (a busy machine stretches the 1 s tasks); set them, so the order is known
    recorded = sorted((gen / "tasks").glob("*.json"))
    assert sorted(p.name.split(".")[0] for p in recorded) == ["long", "s1", "s2"]
    for p in recorded:
        rec = json.loads(p.read_text())
        assert rec["wall_s"] > 0
        p.write_text(json.dumps({**rec, "wall_s": {"s1": 2.0, "s2": 1.0, "long": 30.0}[p.name.split(".")[0]]}))
    (tmp_path / "events.txt").unlink()
    r, out = run(tmp_path, plan, jobs=1, force=True)
    assert sorted(r.ran) == ["long", "s1", "s2"], out
    prio = {t["name"]: t["priority"] for t in json.loads((gen / "plan.json").read_text())["tasks"]}
    assert prio == {"s1": 2, "s2": 1, "long": 30}, prio
    ev = events(tmp_path)
    assert ev[("end", "long")] < min(ev[("start", "s1")], ev[("start", "s2")]), ev


@needs_engine
def test_a_failed_task_keeps_its_earlier_results_and_stops_only_what_reads_it(tmp_path, monkeypatch, capfd):
    fail = tmp_path / "fail"
    plan = tiny_plan(tmp_path, {"a": {"fail": str(fail)}, "b": {"depends": ["a"]}, "c": {}})
    run(tmp_path, plan)
    gen = tmp_path / "root" / "book" / "generated"
    first = (gen / "results" / "a" / "info.json").read_text()
    fail.touch()
    monkeypatch.setattr(study, "code_hash", lambda modules, lock=None: "changed code")
    r, out = run(tmp_path, plan, capfd)
    assert r.failed == ["a", "b"] and r.ran == ["c"], out
    assert "a: FAILED: RuntimeError: a was told to fail" in out and "b: NOT RUN, it depends on failed task(s) a" in out
    assert (gen / "failed" / "a.ipynb").exists() and (gen / "results" / "a" / "info.json").read_text() == first
    assert not (gen / ".staging").exists()
    assert set(json.loads((gen / "state.json").read_text())["hashes"]) == {"c"}

    fail.unlink()                                                # the next run retries a and what reads it
    r, out = run(tmp_path, plan)
    assert r.ran == ["a", "b"] and r.skipped == ["c"] and not r.failed, out
    assert not (gen / "failed" / "a.ipynb").exists()


@needs_engine
def test_kernels_get_a_fixed_intra_op_thread_count_and_another_count_reruns_the_study(tmp_path, monkeypatch):
    plan = tiny_plan(tmp_path, {"a": {}})
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    info = tmp_path / "root" / "book" / "generated" / "results" / "a" / "info.json"
    run(tmp_path, plan)
    # the kernel computes under the study's settings, not the engine's (Snakemake sets OMP_NUM_THREADS=1 in a job)
    assert json.loads(info.read_text()) == {"task": "a", "threads": str(study.INTRA_OP_THREADS), "omp": None}
    assert run(tmp_path, plan)[0].ran == []
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "4")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert run(tmp_path, plan)[0].ran == ["a"]
    assert json.loads(info.read_text()) == {"task": "a", "threads": "4", "omp": "3"}


def _study_cli(plan: Path, root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "fusionstudy.build.study", "--scale", "smoke", "--root", str(root),
            "--plan-json", str(plan), *extra]


@needs_engine
def test_a_second_study_on_the_same_tree_refuses_while_the_first_runs(tmp_path):
    block = tmp_path / "block"
    block.touch()
    plan = tiny_plan(tmp_path, {"a": {"block": str(block)}})
    root = tmp_path / "root"
    first = subprocess.Popen(_study_cli(plan, root), cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    try:
        t0 = time.monotonic()
        while not (root / "book" / "generated" / ".staging" / "a" / "result" / "partial.txt").exists():
            assert first.poll() is None and time.monotonic() - t0 < 120, "the first study did not start its task"
            time.sleep(0.1)
        second = subprocess.run(_study_cli(plan, root), cwd=PROJECT, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert second.stderr.strip().startswith(f"error: another study is running on {root} (pid {first.pid}")
        assert len(second.stderr.strip().splitlines()) == 1 and "Traceback" not in second.stderr
        assert (root / "book" / "generated" / ".staging" / "a").exists()         # the second touched nothing
    finally:
        block.unlink()
        out = first.communicate(timeout=120)[0]
    assert first.returncode == 0 and "1 ran, 0 skipped, 0 failed" in out, out


def test_an_unknown_profile_or_a_missing_engine_or_plugin_is_one_line(tmp_path, monkeypatch, capsys):
    plan = tiny_plan(tmp_path, {"a": {}})
    assert study.main(["--root", str(tmp_path / "root"), "--plan-json", str(plan), "--profile", "cloud"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: unknown profile 'cloud': use one of {', '.join(engine.profiles())} (workflow/profiles)"
    assert {"laptop", "slurm"} <= set(engine.profiles())
    assert study.main(["--root", str(tmp_path / "root"), "--scale", "huge"]) == 2
    assert capsys.readouterr().err.strip() == "error: unknown scale 'huge': use one of smoke, default, full"
    assert not (tmp_path / "root").exists()                      # nothing written

    # no Snakemake anywhere
    monkeypatch.setattr(engine, "WORKFLOW_VENV", tmp_path / "none")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("FUSION_SNAKEMAKE", raising=False)
    with pytest.raises(engine.EngineError, match=r"^Snakemake is not installed: `make workflow-env`"):
        engine.check_profile("laptop")
    # a Snakemake whose interpreter lacks the SLURM executor plugin
    fake = tmp_path / "venv" / "bin"
    fake.mkdir(parents=True)
    (fake / "snakemake").write_text("#!/bin/sh\n")
    (fake / "snakemake").chmod(0o755)
    (fake / "python").symlink_to(sys.executable)                 # the study's interpreter: no executor plugin
    monkeypatch.setenv("FUSION_SNAKEMAKE", str(fake / "snakemake"))
    assert engine.check_profile("laptop") == fake / "snakemake"  # the local profile needs no plugin
    with pytest.raises(engine.EngineError, match=r"profile 'slurm' needs the slurm executor plugin "
                                                 r"\(snakemake-executor-plugin-slurm\)"):
        engine.check_profile("slurm")


@needs_engine
def test_the_engine_plans_the_studys_tasks_and_reruns_exactly_what_a_change_reaches(tmp_path, monkeypatch):
    """Issue 18 item 5, on the smoke plan without running it: Snakemake's graph is the study's (same tasks, each
    waiting for what it reads); with every task recorded it would run nothing; after a change to one module it
    would run exactly the tasks whose notebook reaches it and what reads those."""
    root = tmp_path / "root"
    gen = study._prepare_root(root)
    tasks = study.plan("smoke")
    hashes = study.hashes_of(tasks, study.NOTEBOOKS, gen, "2")
    plan = study.write_run_plan(gen, tasks, hashes, scale="smoke", root=root, notebooks=study.NOTEBOOKS, threads="2")
    graph = engine.dag(plan, root)
    assert graph == {t.name: set(t.depends) for t in tasks}
    assert sorted(engine.dry_run(plan, root)) == sorted(t.name for t in tasks)   # nothing recorded: all of it
    for t in tasks:                                              # every task done at its current hash
        task.record_path(gen, t.name, hashes[t.name]).parent.mkdir(parents=True, exist_ok=True)
        task.record_path(gen, t.name, hashes[t.name]).write_text(json.dumps({"task": t.name, "hash": hashes[t.name]}))
    assert engine.dry_run(plan, root) == []

    real = study.code_hash
    for changed, experiments_rerun in (("fusionstudy.plots", False), ("fusionlib.models.bundle", True)):
        monkeypatch.setattr(study, "code_hash",
                            lambda modules, lock=None, m=changed: real(modules) + (m if m in modules else ""))
        new = study.hashes_of(tasks, study.NOTEBOOKS, gen, "2")
        plan = study.write_run_plan(gen, tasks, new, scale="smoke", root=root, notebooks=study.NOTEBOOKS,
                                    threads="2")
        would = set(engine.dry_run(plan, root))
        reach = {t.name for t in tasks if changed in study.task_modules(t)}
        readers = set(reach)
        for t in tasks:                                           # plan order: what reads a re-run task re-runs
            if set(t.depends) & readers:
                readers.add(t.name)
        assert reach and would == readers, changed
        assert bool({t for t in would if t.startswith("exp-")}) == experiments_rerun, changed
