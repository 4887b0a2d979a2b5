"""Where a study build's time goes (issue 21, "profile first"): every kernel sampled by py-spy, the cores' idle
time from /proc/stat, the tasks' times from the study's log. Nothing in the study is changed to measure it.

    python -m benchmarks.profile_study run --scale default --root /tmp/prof/root --out /tmp/prof/run
    python -m benchmarks.profile_study report /tmp/prof/run > profile.md

``run`` builds the study into a fresh ``--root`` (an empty content cache: ``--cache`` defaults to a new folder
under ``--out``) with every papermill kernel started through py-spy (a kernelspec named ``python3`` in a private
``JUPYTER_PATH`` whose command is ``py-spy record --idle --threads -r RATE -- python -m ipykernel_launcher``), and
samples /proc/stat every second. ``report`` matches each kernel's profile to its task (the task that started
nearest in start and end), splits each task's wall time into kernel start (task start to the kernel's first
sample), the kernel's main thread by what it was doing (categories below, from its sampled Python stacks) and
the rest (papermill, staging, page post-processing), and says how many core-seconds sat idle while one and
while two tasks ran. A kernel is matched to the task whose start and end are nearest its own.

Categories (the first rule that matches a sample's stack): imports; waiting for a subprocess (the replay's
pinned environment); RF fitting and prediction (scikit-learn forests, wherever called from); waiting for worker
processes (joblib's, e.g. the metadata chapter's folds of forests); CNN training (the
image model of a fold, the joint arms); head training (the Keras heads, bundled or alone); other Keras/TensorFlow; I/O (fusionlib.io/store/results, pandas and NumPy file
I/O); data preparation (cohort, rendering, readers, features, splits); statistics; tables and figures; other.
py-spy samples Python stacks: time in native threads (TensorFlow's and scikit-learn's pools) is attributed to
the main-thread frame that waits for them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

CATEGORIES = (
    ("imports", ("_find_and_load", "_call_with_frames_removed")),
    ("waiting for a subprocess", ("subprocess.py",)),
    ("RF fitting and prediction", ("sklearn/ensemble", "fusionlib/models/rf.py", "sklearn/tree")),
    ("waiting for worker processes", ("joblib/parallel.py",)),
    ("CNN training", ("_image_model (fusionlib/arms/runner.py", "joint (fusionlib/arms/runner.py", "image_branch")),
    ("head training", ("train_bundle (fusionlib/arms/runner.py", "fit_bundle", "predict_bundle", "fit_head",
                       "keras (fusionlib/arms/runner.py", "robust (fusionlib/arms/runner.py")),
    ("other Keras/TensorFlow", ("keras/", "tensorflow/")),
    ("I/O", ("fusionlib/io.py", "fusionlib/cache/store.py", "fusionlib/arms/results.py", "pandas/io/", "numpy/lib/_npyio",
             "gzip.py", "json/")),
    ("data preparation", ("fusionlib/data/cohort.py", "fusionlib/data/thermal.py", "fusionlib/data/dfu.py", "fusionlib/data/features.py",
                          "fusionlib/data/splits.py", "fusionlib/data/datasets.py")),
    ("statistics", ("fusionlib/evaluation/stats.py", "fusionstudy/chapters/analysis.py", "fusionstudy/chapters/agreement.py", "fusionlib/evaluation/metrics.py",
                    "sklearn/metrics", "fusionstudy/replay/studies.py")),
    ("tables and figures", ("matplotlib/", "seaborn/", "fusionstudy/plots.py", "fusionstudy/present.py",
                            "IPython/core/formatters", "IPython/core/display", "pandas/io/formats")),
)
KERNEL_SCRIPT = """#!/bin/sh
exec {pyspy} record --idle --threads --nonblocking -r {rate} -f raw -o {out}/kernel-$(date +%s.%N).raw -- \\
    {python} -m ipykernel_launcher -f "$1"
"""


def _cpu_sampler(path: Path, stop: threading.Event) -> None:
    with open(path, "w") as f:
        while not stop.is_set():
            with open("/proc/stat") as s:
                fields = s.readline().split()[1:]
            f.write(f"{time.time():.3f} {' '.join(fields)}\n")
            f.flush()
            stop.wait(1.0)


def run(scale: str, root: Path, out: Path, rate: int, pyspy: str, cache: Path | None) -> int:
    out.mkdir(parents=True, exist_ok=True)
    spec = out / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    script = out / "spy-kernel.sh"
    script.write_text(KERNEL_SCRIPT.format(pyspy=pyspy, rate=rate, out=out, python=sys.executable))
    script.chmod(0o755)
    (spec / "kernel.json").write_text(json.dumps({"argv": [str(script), "{connection_file}"],
                                                  "display_name": "Python 3 (py-spy)", "language": "python"}))
    env = {**os.environ, "JUPYTER_PATH": str(out / "jupyter"),
           "FUSIONLIB_CACHE": str(cache or out / "cache")}
    stop = threading.Event()
    sampler = threading.Thread(target=_cpu_sampler, args=(out / "cpu.txt", stop), daemon=True)
    sampler.start()
    t0 = time.time()
    with open(out / "study.log", "w") as log:
        rc = subprocess.call([sys.executable, "-m", "fusionstudy.build.study", "--scale", scale, "--root", str(root)],
                             cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT)
    stop.set()
    sampler.join()
    (out / "run.json").write_text(json.dumps({"start": t0, "end": time.time(), "scale": scale, "root": str(root),
                                              "rate": rate, "cpus": os.cpu_count(), "rc": rc}))
    return rc


def categorise(stack: str) -> str:
    for name, marks in CATEGORIES:
        if any(m in stack for m in marks):
            return name
    return "other"


def kernel_profile(path: Path, rate: int) -> tuple[dict, float]:
    """Seconds of the kernel's main thread per category, and its sampled life in seconds."""
    per = defaultdict(float)
    total = 0.0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "<module> (ipykernel_launcher.py" not in stack or not count.isdigit():
            continue                          # the kernel's other threads (IOPub, control): not the cells' thread
        seconds = int(count) / rate
        per[categorise(stack)] += seconds
        total += seconds
    return dict(per), total


def _tasks(log: str, start: float) -> list[dict]:
    tasks, open_ = [], {}
    for line in log.splitlines():
        m = re.match(r"\[\d+/\d+\s+(\d+)s\] (\S+): (running|done in (\d+)s)", line)
        if not m:
            continue
        t, name = start + int(m.group(1)), m.group(2)
        if m.group(3) == "running":
            open_[name] = {"task": name, "start": t}
        elif name in open_:
            open_[name]["end"] = t
            tasks.append(open_.pop(name))
    return tasks


def _idle(cpu_file: Path, tasks: list[dict], cpus: int) -> dict:
    rows = [list(map(float, ln.split())) for ln in cpu_file.read_text().splitlines() if ln.strip()]
    out = defaultdict(float)
    hz = os.sysconf("SC_CLK_TCK")
    for a, b in zip(rows, rows[1:]):
        idle = ((b[4] + b[5]) - (a[4] + a[5])) / hz                     # idle + iowait jiffies, all cores
        mid = (a[0] + b[0]) / 2
        n = sum(1 for t in tasks if t["start"] <= mid < t.get("end", float("inf")))
        out[f"{min(n, 2)} task(s) running"] += idle
        out["wall with " + f"{min(n, 2)} task(s)"] += b[0] - a[0]
    return dict(out)


def _cpu_totals(cpu_file: Path) -> str:
    """The machine's core-seconds over the run: busy (user, system) and idle, from the first and last sample."""
    rows = [list(map(float, ln.split())) for ln in cpu_file.read_text().splitlines() if ln.strip()]
    hz = os.sysconf("SC_CLK_TCK")
    a, b = rows[0], rows[-1]
    d = [(y - x) / hz for x, y in zip(a[1:], b[1:])]
    idle = d[3] + d[4]
    return (f"All cores over {b[0] - a[0]:.0f} s: {sum(d) - idle:.0f} core-seconds busy (user {d[0] + d[1]:.0f}, "
            f"system {d[2]:.0f}, other {sum(d) - idle - d[0] - d[1] - d[2]:.0f}), {idle:.0f} idle.")


def report(folder: Path) -> str:
    info = json.loads((folder / "run.json").read_text())
    tasks = _tasks((folder / "study.log").read_text(), info["start"])
    # A kernel belongs to the task whose start and end are nearest its own (the file is named at the kernel's
    # start and written when it exits); tasks starting in the same second are told apart by their ends.
    kernels = [(float(k.name[7:-4]), k.stat().st_mtime, k) for k in folder.glob("kernel-*.raw")]
    pairs = sorted((abs(ks - t["start"]) + abs(ke - t["end"]), i, j) for i, (ks, ke, _) in enumerate(kernels)
                   for j, t in enumerate(tasks) if "end" in t)
    used_k, used_t = set(), set()
    for _, i, j in pairs:
        if i not in used_k and j not in used_t:
            used_k.add(i), used_t.add(j)
            tasks[j]["kernel"], tasks[j]["kernel_start"] = kernels[i][2], kernels[i][0]
    cats = [c for c, _ in CATEGORIES] + ["other"]
    lines = [f"Scale {info['scale']}, {info['cpus']} cores, py-spy at {info['rate']} Hz; study wall "
             f"{info['end'] - info['start']:.0f} s.", "",
             "| task | wall s | kernel start s | " + " | ".join(cats) + " | outside the kernel s |",
             "|---|" + "---|" * (len(cats) + 3)]
    totals = defaultdict(float)
    for t in tasks:
        wall = t["end"] - t["start"]
        per, life = kernel_profile(t["kernel"], info["rate"]) if "kernel" in t else ({}, 0.0)
        start = t.get("kernel_start", t["start"]) - t["start"]
        for c in cats:
            totals[c] += per.get(c, 0.0)
        totals["wall"] += wall
        totals["start"] += start
        totals["outside"] += max(0.0, wall - start - life)
        lines.append(f"| {t['task']} | {wall:.0f} | {start:.0f} | " + " | ".join(f"{per.get(c, 0):.0f}" for c in cats)
                     + f" | {max(0.0, wall - start - life):.0f} |")
    lines.append(f"| **all tasks** | {totals['wall']:.0f} | {totals['start']:.0f} | "
                 + " | ".join(f"{totals[c]:.0f}" for c in cats) + f" | {totals['outside']:.0f} |")
    idle = _idle(folder / "cpu.txt", tasks, info["cpus"])
    lines += ["", _cpu_totals(folder / "cpu.txt")]
    lines += ["", "| while | wall s | idle core-seconds |", "|---|---|---|"]
    for n in (0, 1, 2):
        w = idle.get(f"wall with {n} task(s)", 0.0)
        if w:
            lines.append(f"| {n} task(s) running | {w:.0f} | {idle.get(f'{n} task(s) running', 0.0):.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.profile_study", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--scale", default="default")
    r.add_argument("--root", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--rate", type=int, default=20)
    r.add_argument("--pyspy", default="py-spy")
    r.add_argument("--cache", type=Path, default=None)
    p = sub.add_parser("report")
    p.add_argument("folder", type=Path)
    a = ap.parse_args(argv)
    if a.cmd == "run":
        return run(a.scale, a.root, a.out, a.rate, a.pyspy, a.cache)
    print(report(a.folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
