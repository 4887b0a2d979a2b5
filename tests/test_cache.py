"""The on-disk cache of the synthetic cohort (issue 6): same cohort, read back, keyed by every knob, robust."""

import pickle

import numpy as np
import pandas as pd
import pytest

from fusionlib import cohort as cohort_mod
from fusionlib import store
from fusionlib.cohort import CohortParams, make_synthetic_cohort

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
    # the key covers the generator's source: an edited thermal.py (here: a stand-in file) is a miss
    fake = tmp_path / "thermal_edit.py"
    fake.write_text("# edited\n")
    monkeypatch.setattr(cohort_mod.thermal, "__file__", str(fake))
    assert cohort_mod.cache_key(p) != key


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
