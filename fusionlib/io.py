"""Writing files so that no reader ever sees half of one: every file and result folder of the project is written
through this module.

* :func:`atomic_file` — a temporary file beside the target (``.<name>.<random>.tmp<suffixes>``, so that pandas
  and NumPy still see the target's extension), moved onto the target with one ``os.replace`` on success and
  removed on failure; :func:`write_text`, :func:`write_bytes`, :func:`write_json`, :func:`write_csv` and
  :func:`write_npz` are its common uses;
* :func:`atomic_folder` — a temporary folder beside the target, filled by the caller, then swapped in by
  :func:`replace` (the old folder moved aside as ``.<name>.old-<random>``, the new one renamed into place, the
  old one removed);
* :func:`clean_leftovers` — what a killed process can leave of either (``.*.tmp*``, ``.*.old-*``).

Imports only the standard library at import time (the replay's pinned environment uses it too).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

#: Names an interrupted :func:`atomic_file` / :func:`atomic_folder` / :func:`replace` can leave behind.
LEFTOVERS = (".*.tmp*", ".*.old-*")


@contextmanager
def atomic_file(path: str | Path):
    """``with atomic_file(path) as tmp:`` write ``tmp``; on leaving the block ``tmp`` replaces ``path`` (its
    folder is created), or is removed if the block raised."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + "".join(path.suffixes[-2:]),
                                dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_file(path) as tmp:
        with open(tmp, "w", newline="") as f:
            f.write(text)
    return Path(path)


def write_json(path: str | Path, obj, **dumps) -> Path:
    """``json.dumps(obj, **dumps)`` written atomically."""
    return write_text(path, json.dumps(obj, **dumps))


def write_csv(path: str | Path, table, **to_csv) -> Path:
    """A DataFrame written atomically (``index=False`` unless given; compression from ``path``'s extension)."""
    with atomic_file(path) as tmp:
        table.to_csv(tmp, **{"index": False, **to_csv})
    return Path(path)


def write_npz(path: str | Path, arrays: dict) -> Path:
    """``numpy.savez`` of ``arrays`` written atomically."""
    import numpy as np

    with atomic_file(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return Path(path)


def replace(src: str | Path, dst: str | Path) -> Path:
    """Move ``src`` (a file or a folder) onto ``dst``, replacing it: a file (or a folder onto nothing) in one
    ``os.replace``; a folder onto a folder by moving the old one aside, renaming ``src`` into place and removing
    the old one (a reader sees the old folder or the new one, never a mixture)."""
    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.is_dir():
        os.replace(src, dst)
        return dst
    old = dst.with_name(f".{dst.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(dst, old)
    os.replace(src, dst)
    shutil.rmtree(old, ignore_errors=True)
    return dst


@contextmanager
def atomic_folder(path: str | Path):
    """``with atomic_folder(path) as tmp:`` fill the new folder ``tmp``; on leaving the block it replaces
    ``path`` (:func:`replace`), or is removed if the block raised."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def clean_leftovers(folder: str | Path) -> list[Path]:
    """Remove what an interrupted write left directly in ``folder`` (:data:`LEFTOVERS`); returns the paths."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    gone = [p for pattern in LEFTOVERS for p in folder.glob(pattern)]
    for p in gone:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return gone
