"""Which modules a piece of code reaches: the modules its source imports, and theirs, transitively — and one hash of
their source.

This is how every cache key and task hash of the project names the code it depends on (nothing is listed by hand):
a cache entry (:func:`fusionlib.cache.code_key`) or a task of the study is recomputed when a module its code
reaches changes, and never for one it does not reach; a new module is classified by the imports that reach it.

Modules are dotted names (``"fusionlib.data.cohort"``) of the *packages* given (default: ``fusionlib``), found
under ``root`` (the folder that holds the packages). Imports are read from the source (:mod:`ast`), wherever they
stand (a function's own import counts): ``import p.x``, ``from p import x``, ``from p.x import y`` and relative
imports. Importing ``p.a.b`` runs ``p/__init__.py`` and ``p/a/__init__.py`` too, so those count.
Standard library only (the replay's pinned environment uses it too).
"""

from __future__ import annotations

import ast
import hashlib
import json
from functools import lru_cache
from pathlib import Path

#: The folder that holds the ``fusionlib`` package (a checkout or site-packages).
ROOT = Path(__file__).resolve().parents[2]
#: The packages followed by default.
PACKAGES = ("fusionlib",)


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The source file of module ``name`` under ``root`` (a package's ``__init__.py``), or ``None``."""
    base = Path(root).joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _is_package(name: str, root: Path) -> bool:
    return (Path(root).joinpath(*name.split(".")) / "__init__.py").is_file()


def imported_modules(source: str, module: str | None = None, packages=PACKAGES, root: Path = ROOT) -> set[str]:
    """The modules of ``packages`` that ``source`` imports directly, with the packages above each.
    ``module``: the dotted name of the module ``source`` belongs to (needed for its relative imports).
    Each distinct ``(source, module, packages, root)`` is parsed once per process (the study hashes dozens of
    notebooks that reach the same modules)."""
    return set(_imported(source, module, tuple(packages), Path(root)))


@lru_cache(maxsize=4096)
def _imported(source: str, module: str | None, packages: tuple, root: Path) -> frozenset[str]:
    found: set[str] = set()

    def add(name: str) -> bool:
        parts = name.split(".")
        if parts[0] not in packages or module_file(name, root) is None:
            return False
        for i in range(1, len(parts) + 1):
            if module_file(".".join(parts[:i]), root) is not None:
                found.add(".".join(parts[:i]))
        return True

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if module is None:
                    continue
                here = module.split(".") if _is_package(module, root) else module.split(".")[:-1]
                base = ".".join(here[: len(here) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if add(base):
                for alias in node.names:
                    add(f"{base}.{alias.name}")          # ``from p import x``: x may be a module
    return frozenset(found)


def _notebook_source(path: Path) -> str:
    """The code cells of a notebook as one Python source (IPython magics and shell lines left out)."""
    nb = json.loads(Path(path).read_text())
    cells = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        cells.append("\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!"))))
    return "\n\n".join(cells)


def closure(modules, packages=PACKAGES, root: Path = ROOT) -> frozenset[str]:
    """``modules`` (dotted names) and every module of ``packages`` they import, transitively."""
    return _closure(frozenset(modules), tuple(packages), Path(root))


@lru_cache(maxsize=None)
def _closure(start: frozenset, packages: tuple, root: Path) -> frozenset[str]:
    seen: set[str] = set()
    todo = [m for m in start if module_file(m, root) is not None]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo += imported_modules(module_file(m, root).read_text(), m, packages, root) - seen
    return frozenset(seen)


def notebook_modules(path: str | Path, packages=PACKAGES, root: Path = ROOT) -> frozenset[str]:
    """Every module of ``packages`` the notebook at ``path`` reaches: those its code imports, transitively."""
    return closure(imported_modules(_notebook_source(Path(path)), None, packages, root), packages, root)


def source_digest(modules, root: Path = ROOT) -> str:
    """SHA-256 (hex) of the modules' source, each by its dotted name and its file's bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(modules):
        h.update(name.encode() + b"\0")
        h.update(module_file(name, root).read_bytes())
        h.update(b"\0")
    return h.hexdigest()
