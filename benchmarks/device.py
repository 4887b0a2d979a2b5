"""Training throughput and a full-scale run on whatever device Keras sees: the lent GPU, or this CPU.

    python -m benchmarks.device --out benchmarks/records/cpu.json --epochs 2 --skip-arms   # this CPU
    KERAS_BACKEND=torch python -m benchmarks.device --out $OUT/gpu.json                    # a GPU machine

Two measurements, written as one JSON record (atomically) and printed:

* ``throughput``: the image CNN at the ``full`` scale (128 px crops, full width, batch 32) on the first fold's
  inner training rows of the full-scale synthetic cohort: wall seconds of each of ``--epochs`` epochs after a
  first (compile / warm-up) epoch, and images per second; with ``--mixed``, the same under Keras'
  ``mixed_bfloat16`` policy (the study itself trains in float32);
* ``arms``: the ``report`` experiment at the ``full`` scale with one repeat (five folds: the CNN to 100 epochs
  with patience 10, every head of the report under both conditions, the robust fusions), run in a child process
  with a wall-time limit (``--arms-budget-s``); its wall time, the device its ``info.json`` records and each
  arm's pooled quadratic κ per visit; or, when the limit is reached first, how many folds finished.

The study's backend is TensorFlow; a machine without it (the lent GPU machine has PyTorch but no TensorFlow and
no network) runs the same fusionlib code on Keras 3's PyTorch backend (``KERAS_BACKEND=torch``), which the
record names. Timings from different backends or machines are not comparable as code speed-ups; they say what
a full-scale build costs where.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:  # `python benchmarks/device.py` from anywhere
    sys.path.insert(0, str(PROJECT))


def throughput(epochs: int = 5, mixed: bool = False, seed: int = 0, scale: str = "full") -> dict:
    """Per-epoch wall seconds of the image CNN at ``scale`` (see the module docstring)."""
    import keras
    import numpy as np

    from fusionstudy.scales import SCALES
    from fusionlib.arms.runner import ArmSettings, _Data
    from fusionlib.models.heads import build_model
    from fusionlib.models.train import set_determinism

    s = ArmSettings.from_dict({"head": "image_only", **SCALES[scale]["common"], "n_repeats": 1})
    t0 = time.perf_counter()
    from fusionlib.data.cohort import make_synthetic_cohort

    cohort = make_synthetic_cohort(s.cohort_params())
    cohort_s = time.perf_counter() - t0
    data = _Data(cohort, s)
    rows = data.rows(data.folds[0])["train"]
    x = cohort.pixels[rows].astype("float32")
    y = np.eye(3, dtype="float32")[data.y_row[rows]]
    if mixed:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        set_determinism(seed)
        model = build_model("image_only", image_size=x.shape[1], width=s.cnn_config().width)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
        times: list[float] = []

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.t)

        batch = s.cnn_config().batch_size
        model.fit({"image": x}, y, epochs=epochs + 1, batch_size=batch, verbose=0, callbacks=[Timer()])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    steady = times[1:]
    return {"policy": "mixed_bfloat16" if mixed else "float32", "image_size": int(x.shape[1]),
            "width": s.cnn_config().width, "batch_size": batch, "train_rows": int(len(x)),
            "cohort_build_s": round(cohort_s, 2), "first_epoch_s": round(times[0], 3),
            "epoch_s": [round(t, 3) for t in steady], "mean_epoch_s": round(float(np.mean(steady)), 3),
            "images_per_s": round(len(x) / float(np.mean(steady)), 1)}


def _arms_child(out: str, scale: str = "full") -> None:
    """Child process: the report experiment at ``scale`` with one repeat, results into ``out``."""
    from fusionstudy.experiments import experiment_arms
    from fusionlib.io import write_json
    from fusionlib.arms.results import summary_table
    from fusionlib.arms.runner import run_arms

    arms = [{**a, "n_repeats": 1} for a in experiment_arms("report", scale)]
    t0 = time.perf_counter()
    results = run_arms(arms, progress=True)
    wall = time.perf_counter() - t0
    table = summary_table(results)
    record = {"wall_s": round(wall, 1), "arms": len(arms), "folds": arms[0]["n_splits"], "scale": scale, "device": results[0].info["device"],
              "kappa_quadratic_visit": dict(zip(table["arm"], table["kappa_quadratic_visit"].round(4)))}
    write_json(out, record)


def arms(budget_s: float, scale: str = "full") -> dict:
    """Run :func:`_arms_child` in a child process for at most ``budget_s`` seconds."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "arms.json"
        cmd = [sys.executable, "-c", f"from benchmarks.device import _arms_child; _arms_child({str(out)!r}, {scale!r})"]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=PROJECT, timeout=budget_s, capture_output=True, text=True)
        except subprocess.TimeoutExpired as exc:
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            return {"finished": False, "budget_s": budget_s, "progress": _last_progress(err)}
        if proc.returncode != 0:
            return {"finished": False, "error": proc.stderr.strip().splitlines()[-1:],
                    "wall_s": round(time.perf_counter() - t0, 1)}
        return {"finished": True, **json.loads(out.read_text())}


def _last_progress(stderr: str) -> str:
    """The last progress-bar state in a child's stderr (e.g. ``3/5 [04:10<02:47, 83.4s/fold]``)."""
    parts = [p.strip() for p in stderr.replace("\r", "\n").splitlines() if "fold" in p]
    return parts[-1] if parts else ""


def machine() -> dict:
    """CPU model, core count, the vector instruction sets TensorFlow's kernels may pick, and the GPU (if
    ``nvidia-smi`` answers)."""
    info = {"cpu_count": os.cpu_count()}
    try:
        text = Path("/proc/cpuinfo").read_text()
        lines = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        info["cpu_model"] = lines.get("model name\t", "").strip()
        flags = set(lines.get("flags\t\t", "").split())
        info["cpu_flags"] = sorted(f for f in flags if f.startswith(("avx", "amx", "fma", "sse4")))
    except OSError:
        pass
    try:
        info["gpu"] = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                                      "--format=csv,noheader"], capture_output=True, text=True,
                                     timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.device", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="JSON record to write")
    ap.add_argument("--epochs", type=int, default=5, help="timed epochs after the warm-up epoch")
    ap.add_argument("--mixed", action="store_true", help="also time the mixed_bfloat16 policy")
    ap.add_argument("--skip-arms", action="store_true", help="throughput only")
    ap.add_argument("--arms-budget-s", type=float, default=400.0)
    ap.add_argument("--scale", default="full", help="fusionstudy.experiments scale (smoke: a quick check of the script)")
    a = ap.parse_args(argv)
    from fusionlib.models.train import environment

    record = {"date": time.strftime("%Y-%m-%d"), "environment": environment(), "machine": machine(),
              "scale": a.scale,
              "throughput": [throughput(a.epochs, scale=a.scale)]}
    if a.mixed:
        record["throughput"].append(throughput(a.epochs, mixed=True, scale=a.scale))
    print(json.dumps(record["throughput"], indent=1), flush=True)
    if not a.skip_arms:
        record["arms"] = arms(a.arms_budget_s, a.scale)
        print(json.dumps(record["arms"], indent=1), flush=True)
    from fusionlib.io import write_json

    write_json(a.out, record, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
