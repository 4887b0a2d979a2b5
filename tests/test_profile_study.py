"""benchmarks/profile_study.py's reading of a run (no py-spy needed): stacks to categories, the kernel's cell
thread only, kernels matched to the tasks that started them, idle core-seconds by how many tasks ran."""

import json

import pytest

from benchmarks import profile_study as ps

MAIN = ("thread (15798): MainThread;_run_module_as_main (<frozen runpy>:198);_run_code (<frozen runpy>:88);"
        "<module> (ipykernel_launcher.py:18)")


def test_a_stack_gets_the_first_category_that_matches():
    assert ps.categorise(MAIN + ";run_arms (fusionlib/arms/runner.py:300);_image_model (fusionlib/arms/runner.py:110);"
                         "fit (keras/src/backend/tensorflow/trainer.py:320)") == "CNN training"
    assert ps.categorise(MAIN + ";_rf_visit (fusionlib/arms/runner.py:131);fit (sklearn/ensemble/_forest.py:400)") \
        == "RF fitting and prediction"
    assert ps.categorise(MAIN + ";<module> (<cell>);_find_and_load (<frozen importlib._bootstrap>:1176);"
                         "<module> (keras/__init__.py:2)") == "imports"
    assert ps.categorise(MAIN + ";write_csv (fusionlib/io.py:66)") == "I/O"
    assert ps.categorise(MAIN + ";_run_folds (fusionstudy/chapters/metadata.py:440);__call__ (joblib/parallel.py:2007)"
                         ";_retrieve (joblib/parallel.py:1650)") == "waiting for worker processes"
    assert ps.categorise(MAIN + ";loop (<cell>)") == "other"


def test_only_the_kernels_cell_thread_counts(tmp_path):
    raw = tmp_path / "kernel-100.5.raw"
    raw.write_text("\n".join([MAIN + ";write_csv (fusionlib/io.py:66) 40",
                              MAIN + ";fit (sklearn/ensemble/_forest.py:400) 60",
                              "thread (15801);_bootstrap (threading.py:1002);run (ipykernel/iostream.py:90) 200"]))
    per, life = ps.kernel_profile(raw, rate=20)
    assert per == {"I/O": 2.0, "RF fitting and prediction": 3.0} and life == 5.0


def test_the_report_matches_kernels_to_tasks_and_counts_idle_cores(tmp_path):
    start = 1000.0
    (tmp_path / "run.json").write_text(json.dumps({"start": start, "end": start + 30, "scale": "smoke",
                                                   "root": "r", "rate": 10, "cpus": 2, "rc": 0}))
    (tmp_path / "study.log").write_text("\n".join([
        "[1/2      0s] a: running (1 after it)", "[2/2      5s] b: running (0 after it)",
        "[1/2     10s] a: done in 10s, peak 1 MiB", "[2/2     30s] b: done in 25s, peak 1 MiB"]))
    for begin, end, stack in ((start + 1, start + 10, ";fit (sklearn/ensemble/_forest.py:1) 80"),
                              (start + 6, start + 30, ";fit_bundle (fusionlib/models/bundle.py:229) 200")):
        kernel = tmp_path / f"kernel-{begin}.raw"                # named at its start, written at its end
        kernel.write_text(MAIN + stack)
        ps.os.utime(kernel, (end, end))
    hz = ps.os.sysconf("SC_CLK_TCK")
    lines, idle = [], 0                      # /proc/stat: user nice system idle iowait; 1 idle core from t=10 s
    for t in range(31):
        lines.append(f"{start + t} 0 0 0 {idle} 0 0 0")
        idle += hz if t >= 10 else 0
    (tmp_path / "cpu.txt").write_text("\n".join(lines))
    text = ps.report(tmp_path)
    assert "| a | 10 | 1 | 0 | 0 | 8 |" in text                             # kernel start 1 s, 8 s of RF
    assert "| b | 25 | 1 | 0 | 0 | 0 | 0 | 0 | 20 |" in text                  # 20 s of head training
    assert "All cores over 30 s: 0 core-seconds busy (user 0, system 0, other 0), 20 idle." in text
    assert "| 2 task(s) running | 5 | 0 |" in text and "| 1 task(s) running | 25 | 20 |" in text
