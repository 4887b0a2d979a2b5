"""A study killed mid-way (SIGKILL of its process group: the study, Snakemake and the running task's job) resumes: finished tasks are not redone and no
half-written result is ever presented. Real papermill and kernels, on a plan of three tiny notebooks
(``python -m fusionstudy.build.study --plan-json``); the second one blocks while a marker file exists."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from fusionstudy.build import study, task
from fusionstudy.build.memory import PeakMemory

PROJECT = Path(__file__).resolve().parents[1]

CODE = """\
import json, pathlib, time
out = pathlib.Path(out_dir)
out.mkdir(parents=True)
(out / "partial.txt").write_text("written before the block")
t0 = time.time()
while block_file and pathlib.Path(block_file).exists() and time.time() - t0 < 120:
    time.sleep(0.1)
(out / "info.json").write_text(json.dumps({"task": name}))
print("done", name)
"""


def _write_plan(tmp_path: Path, block: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('name = ""\nblock_file = ""\nout_dir = ""\ngenerated_dir = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# tiny task"), params, nbformat.v4.new_code_cell(CODE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    (tmp_path / "nb").mkdir()
    nbformat.write(nb, tmp_path / "nb" / "tiny.ipynb")
    tasks = [{"name": n, "template": "tiny.ipynb", "kind": "arm", "depends": before,
              "parameters": {"name": n, "block_file": str(block) if n == "second" else ""}}
             for n, before in (("first", []), ("second", ["first"]), ("third", ["second"]))]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"notebooks_dir": "nb", "tasks": tasks}))
    return plan


def _study_cmd(plan: Path, root: Path) -> list[str]:
    return [sys.executable, "-m", "fusionstudy.build.study", "--scale", "smoke", "--root", str(root), "--plan-json", str(plan),
            "--jobs", "1"]


def _wait_for(cond, timeout: float, what: str, proc=None) -> None:
    t0 = time.monotonic()
    while not cond():
        if proc is not None and proc.poll() is not None:
            log = Path(proc.args[proc.args.index("--root") + 1]).parent / "run1.log"
            raise AssertionError(f"the study exited (rc {proc.returncode}) before {what}:\n"
                                 + (log.read_text()[-3000:] if log.exists() else ""))
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def _hidden(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


@pytest.mark.slow
def test_a_killed_study_resumes_without_redoing_finished_tasks(tmp_path):
    block = tmp_path / "block"
    block.touch()
    plan = _write_plan(tmp_path, block)
    root = tmp_path / "root"
    gen = root / "book" / "generated"
    log = open(tmp_path / "run1.log", "w")
    proc = subprocess.Popen(_study_cmd(plan, root), cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    kernels: list[psutil.Process] = []
    try:
        # the second task is running (its half-written result is in staging) once the first is published
        _wait_for(lambda: (gen / ".staging" / "second" / "result" / "partial.txt").exists(), 180,
                  "the second task to start", proc)
        assert json.loads((gen / "results" / "first" / "info.json").read_text()) == {"task": "first"}
        kernels = psutil.Process(proc.pid).children(recursive=True)
        assert kernels, "no kernel process under the study"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        # the kernel runs in its own session; it notices its parent died and exits (ipykernel's parent poller)
        _, alive = psutil.wait_procs(kernels, timeout=15)
        assert not alive, f"kernel(s) still running after the study was killed: {alive}"
    finally:
        log.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        for k in kernels:
            try:
                k.kill()
            except psutil.Error:
                pass

    # what the kill left: the finished task intact and recorded, the interrupted one nowhere but in staging
    recs = task.records(gen)
    assert set(recs) == {"first"}
    assert recs["first"]["peak_rss_mib"] > 10            # a kernel's resident memory, in MiB
    nb = nbformat.read(gen / "arms" / "first.ipynb", as_version=4)
    nbformat.validate(nb)
    assert any("done first" in o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert sorted(p.name for p in (gen / "results").iterdir()) == ["first"]
    assert sorted(p.name for p in (gen / "arms").iterdir()) == ["first.ipynb"]
    assert not (gen / "failed" / "second.ipynb").exists()
    first_info = (gen / "results" / "first" / "info.json").stat().st_mtime_ns

    # resume: the first task is skipped, the others run, nothing temporary is left
    block.unlink()
    r = subprocess.run(_study_cmd(plan, root), cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "first: unchanged, skipped" in r.stdout
    assert "engine: removed the lock a killed run left in" in r.stdout          # Snakemake's, stale: it was killed
    assert "second: done" in r.stdout and "third: done" in r.stdout
    assert "1 ran" not in r.stdout and "2 ran, 1 skipped, 0 failed" in r.stdout
    assert (gen / "results" / "first" / "info.json").stat().st_mtime_ns == first_info
    for name in ("second", "third"):
        assert json.loads((gen / "results" / name / "info.json").read_text()) == {"task": name}
        assert (gen / "arms" / f"{name}.ipynb").exists()
    state = json.loads((gen / "state.json").read_text())
    assert set(state["hashes"]) == set(state["wall_s"]) == set(state["peak_rss_mib"]) == {"first", "second", "third"}
    assert state["last_run"]["ran"] == 2 and state["last_run"]["skipped"] == 1
    assert _hidden(gen) == []      # no .staging, no .<name>.old, no .state.json.tmp


def test_peak_memory_sees_a_child_process_allocation():
    with PeakMemory(interval=0.05) as mem:
        subprocess.run([sys.executable, "-c", "import time; x = bytearray(200 * 2**20); x[::4096] = b'1' * len(x[::4096]); time.sleep(0.5)"],
                       check=True)
    assert mem.peak_mib is not None and mem.peak_mib >= 200
    with PeakMemory() as idle:
        pass
    assert idle.peak_mib is not None and idle.peak_mib < 200


def test_a_plan_file_lists_its_tasks(tmp_path, capsys):
    plan = _write_plan(tmp_path, tmp_path / "block")
    tasks, notebooks = study.load_plan(plan)
    assert [t.name for t in tasks] == ["first", "second", "third"] and notebooks == tmp_path / "nb"
    assert study.main(["--plan-json", str(plan), "--list"]) == 0
    assert capsys.readouterr().out.split() == ["first", "second", "third"]
