"""What `make book` prints (issue 14 item 7): the study's progress, per task and per fold from inside a kernel,
no kernel or TensorFlow chatter, and on a failure the failed notebook's path and the cell's exception. Real
papermill kernels on a plan of tiny notebooks (``python -m fusionstudy.build.study --plan-json``)."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from fusionstudy.build import console

PROJECT = Path(__file__).resolve().parents[1]

CODE = """\
import sys
from fusionstudy.build import console
print("ordinary stderr output stays in the notebook", file=sys.stderr)
console.progress(f"{name}: halfway there")
if fail:
    raise ValueError(f"{name} failed on purpose")
"""


def _plan(tmp_path: Path, fail: set) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('name = ""\nfail = False\nout_dir = ""\ngenerated_dir = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# tiny task"), params, nbformat.v4.new_code_cell(CODE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    (tmp_path / "nb").mkdir()
    nbformat.write(nb, tmp_path / "nb" / "tiny.ipynb")
    tasks = [{"name": n, "template": "tiny.ipynb", "kind": "arm", "parameters": {"name": n, "fail": n in fail}}
             for n in ("good", "bad")]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"notebooks_dir": "nb", "tasks": tasks}))
    return plan


def _run(tmp_path: Path, fail: set) -> subprocess.CompletedProcess:
    root = tmp_path / "root"
    cmd = [sys.executable, "-m", "fusionstudy.build.study", "--scale", "smoke", "--root", str(root),
           "--plan-json", str(_plan(tmp_path, fail)), "--jobs", "1"]
    return subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_failing_task_prints_its_notebook_and_error_and_the_console_has_no_kernel_noise(tmp_path):
    r = _run(tmp_path, fail={"bad"})
    assert r.returncode == 1
    out = r.stdout
    # progress lines come out of the kernel, prefixed with the task
    assert "good: good: halfway there" in out and "bad: bad: halfway there" in out
    # the failure: the cell's exception and where the executed notebook is kept
    failed_nb = tmp_path / "root" / "book" / "generated" / "failed" / "bad.ipynb"
    assert "bad: FAILED: ValueError: bad failed on purpose" in out
    assert str(failed_nb) in out and failed_nb.exists()
    # no kernel chatter on the console; it is all in the log
    both = r.stdout + r.stderr
    for noise in ("Kernel is running over TCP", "KeyboardInterrupt caught in kernel", "absl::InitializeLog",
                  "ordinary stderr output"):
        assert noise not in both, noise
    log = (tmp_path / "root" / "_build" / "logs" / "stderr.log").read_text()
    assert str(tmp_path / "root" / "_build" / "logs" / "stderr.log") in out
    # what the filter dropped is kept in the log (TensorFlow's start-up lines, the kernels' transport warning)
    assert "absl::InitializeLog" in log or "Kernel is running over TCP" in log
    assert all(console.is_noise(line) for line in log.splitlines())
    # the executed page keeps the cell's own stderr but not the progress lines (they went to the console)
    page = nbformat.read(tmp_path / "root" / "book" / "generated" / "arms" / "good.ipynb", as_version=4)
    stderr = "".join(o.get("text", "") for c in page.cells if c.cell_type == "code" for o in c.outputs
                     if o.get("name") == "stderr")
    assert "ordinary stderr output stays in the notebook" in stderr
    assert console.MARK not in stderr


def test_strip_progress_drops_marked_lines_and_empty_streams_only():
    outputs = [nbformat.v4.new_output("stream", name="stderr", text=console.MARK + "fold 1/3 done\n"),
               nbformat.v4.new_output("stream", name="stderr", text="a warning\n" + console.MARK + "x\nmore\n"),
               nbformat.v4.new_output("stream", name="stdout", text=console.MARK + "printed on stdout\n")]
    kept = console.strip_progress(outputs)
    assert [o["text"] for o in kept] == ["a warning\nmore\n", console.MARK + "printed on stdout\n"]
    assert outputs[1]["text"].count(console.MARK) == 1  # the input is not modified


def test_the_noise_filter_drops_known_noise_and_keeps_the_rest():
    noise = [
        "[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All communication ...",
        "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel",
        "ERROR | KeyboardInterrupt caught in kernel",
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1795672154.278898    8735 port.cc:153] oneDNN custom operations are on. You may see ...",
        "E0000 00:00:1795672688.407296   18836 node_def_util.cc:682] NodeDef mentions attribute use_unbounded",
        "W0000 00:00:1795672688.407296   18836 gpu_device.cc:2344] Cannot dlopen some GPU libraries.",
        "WARNING:tensorflow:5 out of the last 7 calls to <function ...> triggered tf.function retracing.",
        "",
    ]
    keep = [
        "Traceback (most recent call last):",
        "ValueError: the settings are wrong",
        "MemoryError",
        "[IPKernelApp] CRITICAL | the kernel died",
        "[3/28   98s] exp-report: done in 98s",
    ]
    assert all(console.is_noise(x) for x in noise)
    assert not any(console.is_noise(x) for x in keep)


def test_progress_lines_reach_the_log_only_when_the_study_asks(monkeypatch, capsys):
    monkeypatch.delenv(console.ENV, raising=False)
    console.progress("not shown")
    assert capsys.readouterr().err == ""
    monkeypatch.setenv(console.ENV, "1")
    console.progress("fold 2/5")
    err = capsys.readouterr().err
    assert err == console.MARK + "fold 2/5\n"
    got = []
    sink = console.ProgressSink(got.append)
    sink.write("TF says hello\n" + err[:10])          # a marked line split across two writes
    sink.write(err[10:] + "partial line without newline")
    assert got == ["fold 2/5"]


def test_the_fold_message_estimates_what_is_left():
    msg = console.fold_message(1, 2, 13, fold=2, n_folds=5, elapsed_context=20.0, folds_done=2, folds_total=10,
                               elapsed_total=20.0)
    # 10 s per fold: 3 folds left in the context, 8 in the experiment
    assert "context 1/2 (13 arms), fold 2/5 done" in msg
    assert "about 30 s left in this context" in msg and "80 s in the experiment" in msg


def test_filtered_stderr_passes_errors_and_logs_everything(tmp_path):
    log = tmp_path / "stderr.log"
    script = (
        "import sys\nfrom fusionstudy.build import console\n"
        f"with console.filtered_stderr({str(log)!r}):\n"
        "    print('[IPKernelApp] WARNING | Kernel is running over TCP without encryption.', file=sys.stderr)\n"
        "    print('ValueError: shown', file=sys.stderr)\n"
        "    import subprocess\n"
        "    subprocess.run([sys.executable, '-c', \"import sys; print('I0000 00:00:1.2  7 port.cc:153] oneDNN', "
        "file=sys.stderr); print('child error', file=sys.stderr)\"])\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    assert r.stderr.splitlines() == ["ValueError: shown", "child error"]
    text = log.read_text()
    assert "Kernel is running over TCP" in text and "oneDNN" in text and "child error" in text

