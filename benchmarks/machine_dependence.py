"""What makes the CPU results machine-dependent: run the same arms under TensorFlow settings that differ
between machines (oneDNN kernels on/off, the intra-op thread count) and compare the results bit for bit.

    python -m benchmarks.machine_dependence --out _build/machdep                  # every setting below
    python -m benchmarks.machine_dependence --out _build/machdep --compare-only   # re-read and compare
    python -m benchmarks.machine_dependence --out _build/machdep-mid --preset mid \
        --settings "onednn=1 threads=default" "onednn=1 threads=1" "onednn=0 threads=default"

Each setting runs ``experiment_arms(--experiment, --scale)`` in its own Python process with its own empty
content cache (``FUSIONLIB_CACHE``; the cache key does not include these settings, so a shared cache would hand
every setting the first one's CNN outputs and hide the differences). The comparison table has, per setting and
against the reference setting (the first): how many arms have bit-identical predicted probabilities, the
largest absolute difference of a probability, how many predicted classes changed, and the largest absolute
difference of the pooled quadratic κ per visit (mean over repeats). It is written to ``<out>/comparison.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fusionlib.io import write_json, write_text

#: (name, environment) — the first is the reference (this machine's defaults: oneDNN on, one thread per core).
SETTINGS = [
    ("onednn=1 threads=default", {}),
    ("onednn=1 threads=1", {"TF_NUM_INTRAOP_THREADS": "1"}),
    ("onednn=1 threads=2", {"TF_NUM_INTRAOP_THREADS": "2"}),
    ("onednn=1 threads=4", {"TF_NUM_INTRAOP_THREADS": "4"}),
    ("onednn=0 threads=default", {"TF_ENABLE_ONEDNN_OPTS": "0"}),
    ("onednn=0 threads=1", {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_NUM_INTRAOP_THREADS": "1"}),
    ("onednn=0 threads=2", {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_NUM_INTRAOP_THREADS": "2"}),
    ("onednn=0 threads=4", {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_NUM_INTRAOP_THREADS": "4"}),
]
PROBA = ["p_I", "p_P", "p_R"]

_RUN = """
import json, sys
from fusionstudy.experiments import experiment_arms
from fusionlib.arms.runner import run_arms
arms = json.loads(sys.argv[1]) if sys.argv[1].startswith("[") else experiment_arms(sys.argv[1], sys.argv[2])
run_arms(arms, progress=False, out_dir=sys.argv[3])
"""
#: ``--preset mid``: the default scale's cohort, CNN and training (early stopping over up to 30 epochs), four of
#: the report's arms under its conditions, one repeat of 5 folds: closer to the book than the smoke scale.
MID = [{"head": h, "decomposition": "ordinal_original", "source": "in_sample", "n_splits": 5, "n_repeats": 1}
       for h in ("image_only", "metadata_only", "baseline", "fix23")]


def _slug(name: str) -> str:
    return name.replace("=", "").replace(" ", "_")


def run_setting(name: str, env: dict, out: Path, experiment: str, scale: str) -> float:
    """(``experiment`` may be a JSON list of arm settings instead of an experiment's name.)"""
    """Run the experiment under ``env`` into ``out/<slug>/results``; returns the wall time in seconds."""
    folder = out / _slug(name)
    folder.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **env, "FUSIONLIB_CACHE": str(folder / "cache"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", _RUN, experiment, scale, str(folder / "results")], env=full_env,
                   check=True)
    wall = time.perf_counter() - t0
    write_json(folder / "setting.json", {"name": name, "env": env, "wall_s": wall})
    return wall


def _pooled_kappa(metrics: pd.DataFrame) -> float:
    m = metrics[(metrics["split"] == "val") & (metrics["fold"].astype(str) == "pooled")
                & (metrics["level"] == "visit") & (metrics["metric"] == "kappa_quadratic")]
    return float(m["value"].mean())


def compare(out: Path, names: list[str]) -> pd.DataFrame:
    """One row per setting: comparison of every arm's results with the first setting's (see the docstring)."""
    ref_dir = out / _slug(names[0]) / "results"
    arms = sorted(p.name for p in ref_dir.iterdir() if (p / "info.json").exists())
    rows = []
    for name in names:
        folder = out / _slug(name) / "results"
        if not folder.exists():
            continue
        identical, max_p, changed, max_k = 0, 0.0, 0, 0.0
        for arm in arms:
            a = pd.read_csv(ref_dir / arm / "predictions.csv.gz")
            b = pd.read_csv(folder / arm / "predictions.csv.gz")
            pa, pb = a[PROBA].to_numpy(), b[PROBA].to_numpy()
            identical += int(np.array_equal(pa, pb))
            max_p = max(max_p, float(np.abs(pa - pb).max()))
            changed += int((pa.argmax(1) != pb.argmax(1)).sum())
            ka = _pooled_kappa(pd.read_csv(ref_dir / arm / "metrics.csv", dtype={"fold": str}))
            kb = _pooled_kappa(pd.read_csv(folder / arm / "metrics.csv", dtype={"fold": str}))
            max_k = max(max_k, abs(ka - kb))
        setting = json.loads((out / _slug(name) / "setting.json").read_text())
        rows.append({"setting": name, "arms bit-identical": f"{identical}/{len(arms)}",
                     "max |Δp|": f"{max_p:.2e}", "rows with another class": changed,
                     "max |Δκ| (visit, pooled)": f"{max_k:.4f}", "wall s": round(setting["wall_s"])})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.machine_dependence", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--experiment", default="report")
    ap.add_argument("--scale", default="smoke")
    ap.add_argument("--settings", nargs="*", help="names from SETTINGS (default: all)")
    ap.add_argument("--preset", choices=["mid"], help="run the MID arms instead of --experiment at --scale")
    ap.add_argument("--compare-only", action="store_true")
    a = ap.parse_args(argv)
    if a.preset == "mid":
        a.experiment = json.dumps(MID)
    chosen = [s for s in SETTINGS if not a.settings or s[0] in a.settings]
    if not a.compare_only:
        for name, env in chosen:
            wall = run_setting(name, env, a.out, a.experiment, a.scale)
            print(f"{name}: {wall:.0f} s", flush=True)
    names = [SETTINGS[0][0], *[n for n, _ in chosen if n != SETTINGS[0][0]]]
    table = compare(a.out, names)
    text = table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False)
    write_text(a.out / "comparison.md", text + "\n")
    print(text)
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
        return True
    except ImportError:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
