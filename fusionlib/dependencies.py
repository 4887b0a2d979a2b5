"""Which of fusionlib's modules a notebook depends on: the modules its code imports, and theirs, transitively.

The study hashes exactly these modules' source into a task's hash (:func:`fusionlib.study.task_hash`): an
experiment re-runs when a module its notebook reaches changes, and never for one it does not reach. Nothing is
listed by hand, so a new module is classified by the imports that reach it.

Imports are read from the source (:mod:`ast`), wherever they stand (a function's own import counts): ``import
fusionlib.x``, ``from fusionlib import x``, ``from fusionlib.x import y`` and, inside the package, ``from . import
x`` and ``from .x import y``. The package itself (``__init__``) counts whenever any module of it is imported.
"""

from __future__ import annotations

import ast
import json
from functools import lru_cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE = PACKAGE_DIR.name


def imported_modules(source: str, package_dir: Path = PACKAGE_DIR, inside: bool = False) -> set[str]:
    """The package's modules (file stems) that ``source`` imports directly; ``inside``: the source is a module of
    the package (its relative imports count)."""
    package = package_dir.name
    found: set[str] = set()

    def add(name: str) -> None:
        if (package_dir / f"{name}.py").is_file():
            found.add(name)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == package:
                    found.add("__init__")
                    if len(parts) > 1:
                        add(parts[1])
        elif isinstance(node, ast.ImportFrom):
            parts = (node.module or "").split(".")
            if node.level == 0 and parts[0] == package or node.level == 1 and inside:
                found.add("__init__")
                sub = parts[1:] if node.level == 0 else [p for p in parts if p]
                if sub:
                    add(sub[0])
                else:
                    for alias in node.names:
                        add(alias.name)
    return found


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


def closure(modules, package_dir: Path = PACKAGE_DIR) -> frozenset[str]:
    """``modules`` and every module of the package they import, transitively."""
    return _closure(frozenset(modules), Path(package_dir))


@lru_cache(maxsize=None)
def _closure(start: frozenset, package_dir: Path) -> frozenset[str]:
    seen: set[str] = set()
    todo = [m for m in start if (package_dir / f"{m}.py").is_file()]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo += imported_modules((package_dir / f"{m}.py").read_text(), package_dir, inside=True) - seen
    return frozenset(seen)


def notebook_modules(path: str | Path, package_dir: Path = PACKAGE_DIR) -> frozenset[str]:
    """Every module of the package the notebook at ``path`` reaches: those its code imports, transitively."""
    return closure(imported_modules(_notebook_source(Path(path)), package_dir), package_dir)
