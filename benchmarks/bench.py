"""Speed, memory and reproducibility numbers of the study (issue 6), as a small table for the book.

    python -m benchmarks.bench                       # study state of this project + training-path ratio
    python -m benchmarks.bench --noop --scale default  # also time a no-op rebuild (every task skipped)
    python -m benchmarks.bench --from-scratch --noop   # the issue-6 numbers: a full rebuild (empty cache), a no-op
    python -m benchmarks.bench --root _build/smoke-book --skip-training
    python -m benchmarks.bench --skip-training --noop --root /tmp/r --plan-json plan.json   # another plan

Writes ``book/generated/benchmarks/benchmark.csv`` and ``benchmark.md`` (atomically; ``--out`` elsewhere)
and prints the table. Rows (``section, name, metric, value, unit``):

* ``study``: per task, wall seconds and peak RSS (MiB) of the kernel's process tree, from the study's
  ``state.json`` under ``--root``; ``total`` = the sum of the tasks' wall times (a full build from scratch);
* ``training``: :func:`fusionlib.models.train.fit_head` (``image_only``, inner validation, early stopping with a
  patience larger than the epochs, sample weights) against a bare ``model.fit`` of the same model (same
  compile, arrays, epochs and batch size; no callbacks, no validation, no weights), each timed once after a
  warm-up, on one fold of a default-params cohort; ``ratio`` = fit_head / bare in wall time (target <= 1.2),
  ``ratio_cpu`` the same in CPU time of this process (less disturbed by other load on the machine). With
  ``--breakdown``, the bare fit plus each ingredient alone (sample weights, validation data, the callback);
* ``rebuild``: wall seconds of ``python -m fusionstudy.build.study --scale S --root R --force --build`` with an empty
  cache (``--from-scratch``), and of the same command without ``--force`` run again (``--noop``);
* ``environment``: device, core count and versions (:func:`fusionlib.models.train.environment`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:  # `python benchmarks/bench.py` from anywhere
    sys.path.insert(0, str(PROJECT))

COLUMNS = ["section", "name", "metric", "value", "unit"]


def study_rows(root: str | Path = PROJECT) -> list[dict]:
    """Per-task wall seconds and peak RSS from ``<root>/book/generated/state.json`` (none if it is missing)."""
    path = Path(root) / "book" / "generated" / "state.json"
    if not path.exists():
        return []
    state = json.loads(path.read_text())
    walls, peaks = state.get("wall_s", {}), state.get("peak_rss_mib", {})
    rows = []
    for task in sorted(set(walls) | set(peaks), key=lambda t: (-(walls.get(t) or 0), t)):
        if task in walls:
            rows.append({"section": "study", "name": task, "metric": "wall", "value": walls[task], "unit": "s"})
        if task in peaks:
            rows.append({"section": "study", "name": task, "metric": "peak_rss", "value": peaks[task], "unit": "MiB"})
    if walls:
        rows.append({"section": "study", "name": "sum over tasks", "metric": "wall",
                     "value": round(sum(walls.values()), 1), "unit": "s"})
    if peaks:
        rows.append({"section": "study", "name": "total", "metric": "peak_rss", "value": max(peaks.values()),
                     "unit": "MiB"})
    for key, name in (("last_full_run", "last run of every task (elapsed)"), ("last_run", "last run (elapsed)")):
        if key in state:
            run = state[key]
            rows.append({"section": "study", "name": name, "metric": "wall", "value": run["wall_s"], "unit": "s"})
            rows.append({"section": "study", "name": name, "metric": "jobs", "value": run.get("jobs", 1), "unit": ""})
    return rows


def training_fold(n_patients: int | None = None, image_size: int = 32, seed: int = 0):
    """Inner-train and inner-validation image rows of the first fold of a synthetic cohort (default knobs
    unless given), as the runner feeds them: ``(x_train, y_train, x_stop, y_stop)``."""
    import numpy as np

    from fusionlib.data.cohort import make_synthetic_cohort
    from fusionlib.data.features import labels
    from fusionlib.data.splits import patient_folds

    knobs = {"image_size": image_size, **({"n_patients": n_patients} if n_patients else {})}
    c = make_synthetic_cohort(**knobs)
    y_visit = labels(c.visits)
    fold = patient_folds(y_visit, c.groups_visit, 5, 1, seed=seed)[0]
    img_visit = c.image_visit
    pixels = c.pixels.astype("float32")
    tr = np.flatnonzero(np.isin(img_visit, fold.inner_train))
    st = np.flatnonzero(np.isin(img_visit, fold.inner_val))
    y_row = y_visit[img_visit]
    return {"image": pixels[tr]}, y_row[tr], {"image": pixels[st]}, y_row[st]


def _bare_fit(head: str, x: dict, y, config, seed: int, sample_weight=None, validation_data=None,
              callbacks=None) -> tuple[float, float]:
    """Wall and CPU seconds (all threads of this process) to build, compile and ``fit`` the head like
    :func:`fusionlib.models.train.fit_head` does, with only the ingredients given."""
    import keras
    import numpy as np

    from fusionlib.models.heads import build_model
    from fusionlib.models.train import make_loss, set_determinism

    t0, c0 = time.perf_counter(), time.process_time()
    set_determinism(seed)
    model = build_model(head, image_size=x["image"].shape[1], width=config.width)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm),
                  loss=make_loss(config), steps_per_execution=8)
    onehot = np.eye(3, dtype="float32")
    model.fit(x, onehot[y], sample_weight=sample_weight, validation_data=validation_data, epochs=config.epochs,
              batch_size=config.batch_size, shuffle=True, verbose=0, callbacks=callbacks)
    return time.perf_counter() - t0, time.process_time() - c0


def training_ratio(epochs: int = 5, n_patients: int | None = None, image_size: int = 32,
                   breakdown: bool = False, seed: int = 0, repeats: int = 1, **train) -> dict:
    """Time :func:`fusionlib.models.train.fit_head` (``image_only``) and a bare ``model.fit`` of the same model on
    one fold (see the module docstring); returns seconds, rows and ``ratio`` (+ the breakdown if asked).
    With ``repeats > 1`` every timing is repeated (interleaved) and the fastest is kept: on a shared machine
    the minimum is the least disturbed measurement."""
    import keras
    import numpy as np

    from fusionlib.models.train import TrainConfig, fit_head, inverse_frequency_weights

    x, y, xs, ys = training_fold(n_patients, image_size, seed)
    config = TrainConfig(epochs=epochs, patience=epochs + 100, **train)

    def timed_fit_head(cfg) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        fit_head("image_only", x, y, xs, ys, cfg, seed)
        return time.perf_counter() - t0, time.process_time() - c0

    warm = TrainConfig(**{**config.__dict__, "epochs": 1})
    timed_fit_head(warm)                                   # warm-up: TensorFlow's one-off start-up costs
    _bare_fit("image_only", x, y, warm, seed)
    out = {"epochs": epochs, "train_rows": int(len(y)), "stop_rows": int(len(ys)), "batch_size": config.batch_size,
           "width": config.width, "image_size": image_size}
    onehot = np.eye(3, dtype="float32")
    val = (xs, onehot[ys], inverse_frequency_weights(ys))
    runs = {"fit_head_s": lambda: timed_fit_head(config), "bare_fit_s": lambda: _bare_fit("image_only", x, y, config, seed),
            "bare_fit_with_validation_s": lambda: _bare_fit("image_only", x, y, config, seed, validation_data=val)}
    if breakdown:
        runs["bare+sample_weight_s"] = lambda: _bare_fit("image_only", x, y, config, seed,
                                                         sample_weight=inverse_frequency_weights(y))
        runs["bare+validation_s"] = lambda: _bare_fit("image_only", x, y, config, seed, validation_data=val)
        runs["bare+early_stopping_s"] = lambda: _bare_fit(
            "image_only", x, y, config, seed,
            callbacks=[keras.callbacks.EarlyStopping("loss", patience=config.patience, restore_best_weights=True)])
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
    for _ in range(max(1, repeats)):
        for k, run in runs.items():
            times[k].append(run())
    for k, v in times.items():
        out[k] = min(w for w, _ in v)
        out[k.removesuffix("_s") + "_cpu_s"] = min(c for _, c in v)
    out["ratio"] = out["fit_head_s"] / out["bare_fit_s"]
    out["ratio_cpu"] = out["fit_head_cpu_s"] / out["bare_fit_cpu_s"]
    # the input path alone: fit_head against a bare fit that also evaluates the inner-validation rows each
    # epoch (which early stopping needs, so it is work, not overhead)
    out["ratio_input_path"] = out["fit_head_s"] / out["bare_fit_with_validation_s"]
    out["ratio_input_path_cpu"] = out["fit_head_cpu_s"] / out["bare_fit_with_validation_cpu_s"]
    return out


def training_rows(result: dict) -> list[dict]:
    units = {"ratio": "x", "ratio_cpu": "x", "ratio_input_path": "x", "ratio_input_path_cpu": "x", "train_rows": "rows", "stop_rows": "rows", "epochs": "", "batch_size": "",
             "width": "", "image_size": "px"}
    return [{"section": "training", "name": "image_only", "metric": k.removesuffix("_s"),
             "value": round(v, 3) if isinstance(v, float) else v, "unit": units.get(k, "s")}
            for k, v in result.items()]


def noop_rebuild(scale: str = "default", root: str | Path = PROJECT, extra: list[str] | None = None) -> float:
    """Wall seconds of ``python -m fusionstudy.build.study --scale scale --root root`` (a second run: every task
    should be skipped). Raises ``RuntimeError`` when it fails."""
    cmd = [sys.executable, "-m", "fusionstudy.build.study", "--scale", scale, "--root", str(root), *(extra or [])]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (rc {r.returncode}):\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return wall


def from_scratch_build(scale: str = "default", root: str | Path = PROJECT) -> float:
    """Wall seconds of ``python -m fusionstudy.build.study --scale scale --root root --force --build`` with an empty
    cache (a fresh ``FUSIONLIB_CACHE``): every task, every CNN and RF fit, and the HTML build, as on a fresh
    machine with the environment already installed. Raises ``RuntimeError`` when it fails."""
    cmd = [sys.executable, "-m", "fusionstudy.build.study", "--scale", scale, "--root", str(root), "--force", "--build"]
    with tempfile.TemporaryDirectory(prefix="fusionlib-cache-") as cache:
        t0 = time.perf_counter()
        r = subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True, env={**os.environ, "FUSIONLIB_CACHE": cache})
        wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (rc {r.returncode}):\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return wall


def environment_rows() -> list[dict]:
    from fusionlib.models.train import environment

    return [{"section": "environment", "name": k, "metric": "", "value": v, "unit": ""}
            for k, v in environment().items()]


def to_markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(c, "")) for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def write_table(rows: list[dict], out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``benchmark.csv`` and ``benchmark.md`` into ``out_dir``, each atomically."""
    import csv
    import io

    from fusionlib.io import write_text

    out_dir = Path(out_dir)
    buf = io.StringIO()
    w = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows({c: r.get(c, "") for c in COLUMNS} for r in rows)
    csv_path, md_path = out_dir / "benchmark.csv", out_dir / "benchmark.md"
    write_text(csv_path, buf.getvalue())
    write_text(md_path, to_markdown(rows))
    return csv_path, md_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=PROJECT, help="study root whose state.json is read")
    ap.add_argument("--scale", default="default", help="scale of the no-op rebuild")
    ap.add_argument("--noop", action="store_true", help="time a second `python -m fusionstudy.build.study` (no-op rebuild)")
    ap.add_argument("--plan-json", type=Path, default=None, help="passed to the no-op rebuild's study run")
    ap.add_argument("--from-scratch", action="store_true",
                    help="first rebuild every task and the HTML with an empty cache, and time it (minutes)")
    ap.add_argument("--skip-training", action="store_true", help="no fit_head vs bare fit timing")
    ap.add_argument("--breakdown", action="store_true", help="also time each fit_head ingredient alone")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=1, help="time each fit this many times, keep the fastest")
    ap.add_argument("--n-patients", type=int, default=None, help="cohort size for the training timing")
    ap.add_argument("--out", type=Path, default=None, help="folder (default <project>/book/generated/benchmarks)")
    a = ap.parse_args(argv)
    scratch = round(from_scratch_build(a.scale, a.root), 1) if a.from_scratch else None
    rows = study_rows(a.root)
    if scratch is not None:
        rows.append({"section": "rebuild", "name": f"from scratch ({a.scale}, empty cache, with the HTML build)",
                     "metric": "wall", "value": scratch, "unit": "s"})
    if not a.skip_training:
        rows += training_rows(training_ratio(a.epochs, a.n_patients, breakdown=a.breakdown, repeats=a.repeats))
    if a.noop:
        extra = ["--plan-json", str(a.plan_json)] if a.plan_json else []
        name = f"no-op ({a.plan_json.name if a.plan_json else a.scale})"
        rows.append({"section": "rebuild", "name": name, "metric": "wall",
                     "value": round(noop_rebuild(a.scale, a.root, extra), 2), "unit": "s"})
    rows += environment_rows()
    csv_path, _ = write_table(rows, a.out or PROJECT / "book" / "generated" / "benchmarks")
    print(to_markdown(rows), end="")
    print(f"written: {csv_path} (+ benchmark.md)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
