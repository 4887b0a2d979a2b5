"""Work done once: the project's content-keyed disk cache (RF probabilities, frozen CNN outputs, the synthetic
cohort, the replay's forests, the metadata chapter's folds).

Entries live in ``$FUSIONLIB_CACHE`` (default :data:`DEFAULT_CACHE_DIR`) as ``<kind>/<key>.npz``, where
the key hashes everything the entry depends on (data content, fold indices, settings, fusionlib's version
of the code that made it; :func:`fusionlib.cache.hashing.content_key`). Writes are atomic
(:func:`fusionlib.io.write_npz`); an unreadable entry is recomputed and overwritten. ``FUSIONLIB_CACHE=off``
(or ``0``) disables the cache.

An entry is computed once even when several processes ask for it at the same time (the study runs two tasks at
once, and experiments share the folds' CNNs and forests): :func:`cached` holds a lock on the entry
(``<kind>/<key>.lock``, ``flock``, released when the process ends however it ends) while computing it, and a process
that had to wait loads what the first one wrote. Where no lock can be taken (a read-only folder, a file system
without ``flock``) it computes as before. A process holds one entry's lock at a time: a ``compute`` that itself asks
for another entry computes that one unlocked, so two processes can never wait on each other.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from fusionlib import io

#: The environment variable naming the cache folder (``off``, ``0``, ``false`` or ``no``: no cache).
CACHE_ENV = "FUSIONLIB_CACHE"
#: The cache folder when neither a folder nor :data:`CACHE_ENV` is given: the user's cache folder
#: (``$XDG_CACHE_HOME/fusionlib``, else ``~/.cache/fusionlib``). The study sets :data:`CACHE_ENV` to its checkout's
#: ``.cache/fusionlib`` (:mod:`fusionstudy`).
DEFAULT_CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fusionlib"


def cache_dir_of(cache_dir: str | Path | bool | None = None) -> Path | None:
    """The cache folder: ``cache_dir``, else ``$FUSIONLIB_CACHE``, else :data:`DEFAULT_CACHE_DIR`; ``None`` when
    caching is off (``cache_dir=False`` or ``FUSIONLIB_CACHE=0``)."""
    if cache_dir is False:
        return None
    if cache_dir is None or cache_dir is True:
        env = os.environ.get(CACHE_ENV, "").strip()
        if env.lower() in ("0", "off", "false", "no"):
            return None
        return Path(env) if env else DEFAULT_CACHE_DIR
    return Path(cache_dir)


def cache_root() -> Path | None:
    """The cache folder (:func:`cache_dir_of` with nothing given), or ``None`` when disabled."""
    return cache_dir_of(None)


def load(kind: str, key: str) -> dict | None:
    """The arrays stored under ``kind/key``, or ``None`` when the cache is off, the entry absent or damaged."""
    root = cache_root()
    path = None if root is None else root / kind / f"{key}.npz"
    if path is None or not path.exists():
        return None
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except Exception:  # noqa: BLE001 - a damaged entry is a miss: recomputed and overwritten
        return None


def save(kind: str, key: str, arrays: dict) -> None:
    """Store ``arrays`` under ``kind/key`` (nothing when the cache is off)."""
    root = cache_root()
    if root is not None:
        io.write_npz(root / kind / f"{key}.npz", arrays)


#: Whether this process holds an entry's lock now (then a nested :func:`cached` computes unlocked).
_holding = False


@contextmanager
def _entry_lock(kind: str, key: str):
    """Hold the lock of entry ``kind/key`` (wait for it while another process holds it); yields whether it is held
    (``False``: cache off, a lock already held by this process, or no lock could be taken)."""
    global _holding
    handle = _lock_file(kind, key) if not _holding else None
    if handle is None:
        yield False
        return
    with handle:
        _holding = True
        try:
            yield True
        finally:
            _holding = False


def _lock_file(kind: str, key: str):
    """The entry's lock file, opened and locked (``flock``, waiting as long as it takes); ``None`` when the cache is
    off or the lock cannot be taken. Closing the file releases the lock."""
    import fcntl

    root = cache_root()
    if root is None:
        return None
    try:
        (root / kind).mkdir(parents=True, exist_ok=True)
        handle = open(root / kind / f"{key}.lock", "a")
    except OSError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
    except OSError:
        handle.close()
        return None
    return handle


def cached(kind: str, key: str, compute) -> dict:
    """``compute()`` -> dict of arrays, stored under ``kind/key``; later calls with the same key load it, and a call
    made while another process computes the same entry waits for it and loads it (see the module docstring)."""
    out = load(kind, key)
    if out is not None:
        return out
    with _entry_lock(kind, key) as locked:
        out = load(kind, key) if locked else None     # computed by another process while this one waited
        if out is None:
            out = compute()
            save(kind, key, out)
    return out
