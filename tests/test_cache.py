"""The on-disk cache of the synthetic cohort (issue 6): same cohort, read back, keyed by every knob, robust."""

import pickle

import numpy as np
import pandas as pd
import pytest

from fusionlib.data import cohort as cohort_mod
from fusionlib.cache import store
from fusionlib.data.cohort import CohortParams, make_synthetic_cohort

SMALL = {"n_patients": 12, "image_size": 8, "seed": 5}


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def _assert_same(a, b):
    np.testing.assert_array_equal(a.pixels, b.pixels)
    assert a.pixels.dtype == b.pixels.dtype
    pd.testing.assert_frame_equal(a.visits, b.visits)
    pd.testing.assert_frame_equal(a.images, b.images)
    assert a.fingerprint() == b.fingerprint()
    assert a.params == b.params and a.name == b.name


def _no_render(*a, **k):
    raise AssertionError("rendered although the cohort is cached")


def test_cached_cohort_equals_the_generated_one_and_is_read_back(tmp_path, monkeypatch):
    fresh = make_synthetic_cohort(cache_dir=False, **SMALL)
    first = make_synthetic_cohort(cache_dir=tmp_path, **SMALL)      # miss: generates and stores
    _assert_same(fresh, first)
    assert len(_files(tmp_path)) == 1 and _files(tmp_path)[0].startswith("cohort-")
    monkeypatch.setattr(cohort_mod, "_render_images", _no_render)
    second = make_synthetic_cohort(CohortParams(**SMALL), cache_dir=tmp_path)   # hit: no rendering
    _assert_same(fresh, second)
    # the environment variable names the folder when cache_dir is not given; FUSIONLIB_CACHE=0 disables
    monkeypatch.setenv(store.CACHE_ENV, str(tmp_path))
    _assert_same(fresh, make_synthetic_cohort(**SMALL))
    monkeypatch.setenv(store.CACHE_ENV, "0")
    with pytest.raises(AssertionError, match="rendered"):
        make_synthetic_cohort(**SMALL)


def test_a_changed_knob_or_generator_source_misses(tmp_path, monkeypatch):
    make_synthetic_cohort(cache_dir=tmp_path, **SMALL)
    other = make_synthetic_cohort(cache_dir=tmp_path, **{**SMALL, "seed": 6})
    assert len(_files(tmp_path)) == 2
    assert other.fingerprint() != make_synthetic_cohort(cache_dir=False, **SMALL).fingerprint()
    p = CohortParams(**SMALL)
    key = cohort_mod.cache_key(p)
    assert key != cohort_mod.cache_key(CohortParams(**{**SMALL, "pixel_noise": 0.31}))


#: Prints the code keys of the cohort generator, the replay's forests, the image CNN's fit and the metadata
#: chapter's folds, in a process that imports the packages from the folder on its path (a copy, edited by the test).
KEYS = """
from fusionlib.cache import code_key
from fusionlib.data.cohort import make_synthetic_cohort
from fusionlib.models.train import fit_head
from fusionstudy.chapters import metadata
from fusionstudy.replay import protocol
print(code_key(make_synthetic_cohort), code_key(protocol.forest_stage), code_key(fit_head),
      code_key(metadata._fit_predict))
"""


def test_every_cache_key_follows_the_code_its_function_reaches(tmp_path):
    """Cache keys are derived, not listed: editing the replay's row reader (``read_rows``), the thermal renderer or
    the feature pipeline changes the keys of exactly the entries whose code reaches it."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    project = Path(__file__).resolve().parents[1]
    for pkg in ("fusionlib", "fusionstudy"):
        shutil.copytree(project / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))

    def keys():
        out = subprocess.run([sys.executable, "-c", KEYS], capture_output=True, text=True, check=True,
                             cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
        return dict(zip(("cohort", "forests", "cnn", "metadata"), out.stdout.split()))

    def edit(rel, old, new):
        path = tmp_path / rel
        text = path.read_text()
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new, 1))

    before = keys()
    edit("fusionstudy/replay/protocol.py", "def read_rows(", "def read_rows(  # edited\n    ")
    after_rows = keys()
    assert after_rows["forests"] != before["forests"]                     # the row reader: the forests recompute
    assert {k: after_rows[k] for k in ("cohort", "cnn", "metadata")} == {k: before[k] for k in ("cohort", "cnn", "metadata")}
    edit("fusionlib/data/thermal.py", '"""Thermal maps', '"""Thermal maps (edited)')
    after_thermal = keys()
    assert after_thermal["cohort"] != after_rows["cohort"]                  # the generator reaches thermal.py
    plots = tmp_path / "fusionstudy" / "plots.py"                      # reached by none of them
    plots.write_text(plots.read_text() + "\n# edited\n")
    assert keys() == after_thermal


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong_key", "empty"])
def test_a_corrupt_cache_file_is_regenerated_and_overwritten(tmp_path, damage):
    good = make_synthetic_cohort(cache_dir=tmp_path, **SMALL)
    (path,) = tmp_path.iterdir()
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00not a pickle" * 10)
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        d = pickle.loads(data)
        d["key"] = "0" * 64
        path.write_bytes(pickle.dumps(d))
    again = make_synthetic_cohort(cache_dir=tmp_path, **SMALL)
    _assert_same(good, again)
    assert path.read_bytes() == data or pickle.loads(path.read_bytes())["key"] == cohort_mod.cache_key(
        CohortParams(**SMALL))
    assert cohort_mod._read_cache(path, cohort_mod.cache_key(CohortParams(**SMALL))) is not None
    assert _files(tmp_path) == [path.name]          # no temporary files left behind


def test_an_unwritable_cache_folder_still_returns_the_cohort(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    c = make_synthetic_cohort(cache_dir=blocker / "cache", **SMALL)
    _assert_same(c, make_synthetic_cohort(cache_dir=False, **SMALL))
    assert _files(tmp_path) == ["not-a-folder"]


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def broken_dump(obj, f, protocol=None):
        f.write(b"half a pickle")
        raise OSError("disk full")

    monkeypatch.setattr(cohort_mod.pickle, "dump", broken_dump)
    c = make_synthetic_cohort(cache_dir=tmp_path, **SMALL)
    assert len(c.pixels) == len(c.images) and _files(tmp_path) == []


# ------------------------------------------------------------------------------ an entry computed once across processes
_ASKER = """
import json, sys, time
from pathlib import Path
import numpy as np
from fusionlib.cache import store

folder = Path(sys.argv[1])
def compute():
    with open(folder / "computed.log", "a") as log:
        log.write(sys.argv[2] + "\\n")
    (folder / ("started-" + sys.argv[2])).touch()
    deadline = time.time() + 60
    while not (folder / "go").exists() and time.time() < deadline:
        time.sleep(0.05)
    return {"p": np.arange(6.0).reshape(2, 3) + 0.1}
out = store.cached("fit", "k1", compute)
print(json.dumps(out["p"].tolist()))
"""


def _waiters_on(lock_file) -> int:
    """Processes waiting for an flock on ``lock_file`` (Linux: the ``->`` lines of /proc/locks)."""
    import os

    inode = f":{os.stat(lock_file).st_ino} "
    return sum(1 for line in open("/proc/locks") if "->" in line and inode in line)


@pytest.mark.skipif(not __import__("os").path.exists("/proc/locks"), reason="needs Linux's /proc/locks")
def test_two_processes_asking_for_one_entry_compute_it_once_and_get_the_same_arrays(tmp_path):
    import os
    import subprocess
    import sys
    import time

    env = {**os.environ, "FUSIONLIB_CACHE": str(tmp_path / "cache")}
    first = subprocess.Popen([sys.executable, "-c", _ASKER, str(tmp_path), "first"], env=env, stdout=subprocess.PIPE,
                             text=True)
    deadline = time.time() + 60
    while not (tmp_path / "started-first").exists() and time.time() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "started-first").exists(), "the first process never started computing"
    second = subprocess.Popen([sys.executable, "-c", _ASKER, str(tmp_path), "second"], env=env,
                              stdout=subprocess.PIPE, text=True)
    lock = tmp_path / "cache" / "fit" / "k1.lock"
    while time.time() < deadline and not (lock.exists() and _waiters_on(lock) == 1):
        time.sleep(0.05)                         # the second waits on the first's lock (not on a sleep of ours)
    waiting = lock.exists() and _waiters_on(lock) == 1
    (tmp_path / "go").touch()
    outs = [p.communicate(timeout=120)[0] for p in (first, second)]
    assert waiting, "the second process did not wait for the entry's lock"
    assert first.returncode == second.returncode == 0
    assert (tmp_path / "computed.log").read_text().split() == ["first"]
    assert outs[0] == outs[1] and outs[0].strip() == "[[0.1, 1.1, 2.1], [3.1, 4.1, 5.1]]"


def test_a_compute_asking_for_another_entry_and_a_file_system_without_locks_still_compute(tmp_path, monkeypatch):
    import fcntl

    monkeypatch.setenv("FUSIONLIB_CACHE", str(tmp_path))
    calls = []

    def inner():
        calls.append("inner")
        return {"x": np.ones(2)}

    def outer():
        calls.append("outer")
        return {"y": store.cached("k", "inner", inner)["x"] * 2}

    assert store.cached("k", "outer", outer)["y"].tolist() == [2.0, 2.0]
    assert store.cached("k", "outer", outer)["y"].tolist() == [2.0, 2.0] and calls == ["outer", "inner"]
    assert store.load("k", "inner")["x"].tolist() == [1.0, 1.0] and not store._holding

    def no_flock(*a):
        raise OSError("no locks on this file system")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    assert store.cached("k", "other", lambda: {"z": np.zeros(1)})["z"].tolist() == [0.0]
    assert store.load("k", "other")["z"].tolist() == [0.0]
