"""Work done once, keyed by content: hashes (:mod:`.hashing`), what code reaches (:mod:`.dependencies`) and the
disk cache (:mod:`.store`).

Every cache key of the project is ``content_key(<the data>, <the settings>, code_key(<the function computing it>))``:
:func:`code_key` hashes the source of every module that function's module reaches (derived from the imports,
never listed by hand), so an edit to any code an entry depends on makes a new key.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fusionlib.cache.dependencies import closure, source_digest
from fusionlib.cache.hashing import ContentHash, content_key, file_sha256
from fusionlib.cache.store import cached

__all__ = ["ContentHash", "cached", "code_key", "content_key", "file_sha256"]


def code_key(*objects) -> str:
    """A 12-character hash of the source of every module that the modules defining ``objects`` (functions,
    classes or modules) reach through their imports, within ``fusionlib`` and the object's own top-level package."""
    modules, roots = set(), set()
    for obj in objects:
        name = obj.__name__ if isinstance(obj, type(sys)) else obj.__module__
        packages = tuple(sorted({"fusionlib", name.split(".")[0]}))
        roots |= {Path(sys.modules[p].__file__).resolve().parents[1] for p in packages}
        modules |= closure([name], packages, Path(sys.modules[name.split(".")[0]].__file__).resolve().parents[1])
    if len(roots) != 1:
        raise ValueError(f"code_key: objects from packages in different folders {sorted(map(str, roots))}")
    return source_digest(modules, roots.pop())[:12]
