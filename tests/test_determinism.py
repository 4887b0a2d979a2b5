"""Bit-identical results from two separate processes (issue 6: reproducibility).

Each arm runs twice, in two fresh Python processes (``python -c``: run :func:`fusionlib.arms.runner.run_arm`,
write it with :func:`fusionlib.arms.runner.write_result`), and the written files are compared byte for byte:
``metrics.csv``, the decompressed ``predictions.csv.gz`` (gzip stamps the time in its header) and
``history.json``; ``info.json`` must match except for its timings (``wall_s`` and the like). The first
process generates the synthetic cohort and stores it in the on-disk cache, the second reads it back, so this
also checks that a cached cohort gives the same results as a generated one.

What makes it hold: :func:`fusionlib.models.train.set_determinism` seeds Python, NumPy and Keras per fold and turns
on ``tf.config.experimental.enable_op_determinism()``; the RF is seeded (its thread count does not change
its trees); and both processes get the same TensorFlow **intra-op** thread pool (by default one thread per
core, so: same machine or same core count). Measured on a 2-core CPU (TensorFlow 2.21, image_only, 40
patients, 32 px, 2 epochs): ``TF_NUM_INTRAOP_THREADS=1`` or ``=4`` changed the predicted probabilities and the
training history (not the metrics: the predicted classes were the same) against the default pool, while ``=2``
(the core count) gave the same bytes; ``TF_NUM_INTEROP_THREADS=1`` changed nothing. So pin
``TF_NUM_INTRAOP_THREADS`` to compare runs across machines with different core counts; ``info.json`` records
the core count.
"""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]

ARMS = {
    "image_only": {"head": "image_only", "n_splits": 2, "n_repeats": 1, "rf_trees": 10,
                   "cohort": {"n_patients": 24, "image_size": 16}, "train": {"epochs": 2, "width": 0.0625}},
    "metadata_only": {"head": "metadata_only", "n_splits": 2, "n_repeats": 1, "rf_trees": 10,
                      "cohort": {"n_patients": 24, "image_size": 16}, "train": {"epochs": 2}},
}

RUN = ("import json, sys; from fusionlib.arms import runner; "
       "r = runner.run_arm(json.loads(sys.argv[1]), progress=False); runner.write_result(r, sys.argv[2])")


def run_in_subprocess(settings: dict, out: Path, cache: Path, extra_env: dict | None = None) -> None:
    env = {**os.environ, "FUSIONLIB_CACHE": str(cache), "TF_CPP_MIN_LOG_LEVEL": "3", **(extra_env or {})}
    r = subprocess.run([sys.executable, "-c", RUN, json.dumps(settings), str(out)], cwd=PROJECT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]


TIMING_SUFFIXES = ("wall_s", "cpu_s", "_seconds", "_time")


def without_timings(obj):
    """``obj`` with every timing field (a key ending in one of :data:`TIMING_SUFFIXES`) removed, recursively."""
    if isinstance(obj, dict):
        return {k: without_timings(v) for k, v in obj.items() if not k.endswith(TIMING_SUFFIXES)}
    if isinstance(obj, list):
        return [without_timings(v) for v in obj]
    return obj


def written(folder: Path) -> dict[str, bytes]:
    info = without_timings(json.loads((folder / "info.json").read_text()))
    return {
        "metrics.csv": (folder / "metrics.csv").read_bytes(),
        "predictions.csv": gzip.decompress((folder / "predictions.csv.gz").read_bytes()),
        "history.json": (folder / "history.json").read_bytes(),
        "info.json": json.dumps(info, sort_keys=True).encode(),
    }


@pytest.mark.slow
@pytest.mark.parametrize("arm", list(ARMS))
def test_two_processes_write_identical_results(tmp_path, arm):
    cache = tmp_path / "cache"
    run_in_subprocess(ARMS[arm], tmp_path / "a", cache)
    assert any(cache.glob("cohort-*.pkl")), "the first process did not cache the cohort"
    run_in_subprocess(ARMS[arm], tmp_path / "b", cache)
    a, b = written(tmp_path / "a"), written(tmp_path / "b")
    for name in a:
        assert a[name] == b[name], f"{arm}: {name} differs between two processes"
    assert len(a["predictions.csv"].splitlines()) > 50
