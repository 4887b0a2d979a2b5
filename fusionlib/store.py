"""Work done once: a content-keyed on-disk cache of arrays (RF probabilities, frozen CNN outputs).

Entries live in ``$FUSIONLIB_CACHE`` (default ``<project>/.cache/fusionlib``) as ``<kind>/<key>.npz``, where
the key hashes everything the entry depends on (data content, fold indices, settings, fusionlib's version
of the code that made it). Writes are atomic (temporary file + ``os.replace``); an unreadable entry is
recomputed and overwritten. ``FUSIONLIB_CACHE=off`` disables the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]


def cache_root() -> Path | None:
    """The cache folder (the cohort cache's: ``$FUSIONLIB_CACHE`` or ``<project>/.cache/fusionlib``), or
    ``None`` when disabled (``FUSIONLIB_CACHE=off`` or ``0``)."""
    from .cohort import cache_dir_of

    return cache_dir_of(None)


def content_key(*parts) -> str:
    """A hash of arrays (by bytes, shape and dtype), strings, numbers and JSON-able objects."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str((part.shape, part.dtype.str)).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"|")
    return h.hexdigest()[:24]


def source_hash(*modules: str) -> str:
    """Hash of fusionlib source files (``"rf"`` -> ``fusionlib/rf.py``): a cache entry made by other code
    is never reused."""
    h = hashlib.sha256()
    for m in modules:
        h.update((PROJECT / "fusionlib" / f"{m}.py").read_bytes())
    return h.hexdigest()[:12]


def write_npz_atomic(path: Path, arrays: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached(kind: str, key: str, compute) -> dict:
    """``compute()`` -> dict of arrays, stored under ``kind/key``; later calls with the same key load it."""
    root = cache_root()
    if root is None:
        return compute()
    path = root / kind / f"{key}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        except Exception:  # noqa: BLE001 - a damaged entry is recomputed below
            pass
    out = compute()
    write_npz_atomic(path, out)
    return out
