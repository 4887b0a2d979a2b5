"""The architecture's contracts (ARCHITECTURE.md): the library imports nothing of the study, its layers import only
downwards, and the tree ARCHITECTURE.md draws is the tree on disk."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fusionlib.cache import dependencies

PROJECT = Path(__file__).resolve().parents[1]
LIBRARY = PROJECT / "fusionlib"
#: fusionlib's layers, lowest first (ARCHITECTURE.md): a module may import its own layer and those below, never one
#: above. The most specific prefix decides: ``fusionlib.arms.settings`` (what an arm is: the head table, the training
#: recipe) sits below the models, which read it; the rest of ``fusionlib.arms`` (running arms) above them.
LAYERS = (("fusionlib", "fusionlib.io", "fusionlib.environment", "fusionlib.cache"),
          ("fusionlib.data",),
          ("fusionlib.evaluation", "fusionlib.arms.settings"),
          ("fusionlib.models",),
          ("fusionlib.arms",),
          ("fusionlib.audit",))


def module_name(path: Path, root: Path = PROJECT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_modules() -> list[Path]:
    return sorted(LIBRARY.rglob("*.py"))


def imports_of(path: Path, root: Path = PROJECT) -> set[str]:
    """Every module ``path`` imports (absolute dotted names, relative imports resolved), wherever the import stands,
    and every ``importlib.import_module("...")`` string."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            subs = {f"{base}.{a.name}" for a in node.names}
            modules = {m for m in subs if dependencies.module_file(m, root) is not None}
            found |= modules | ({base} if subs - modules else set())     # ``from pkg import module``: the module
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"fusion\w+(\.\w+)+", node.value):
            found.add(node.value)
    return found


def layer_of(module: str) -> int:
    """The layer of the longest prefix in :data:`LAYERS` that ``module`` is or is inside."""
    matches = [(len(p), i) for i, prefixes in enumerate(LAYERS) for p in prefixes
               if module == p or module.startswith(p + ".")]
    return max(matches)[1]


@pytest.mark.parametrize("path", library_modules(), ids=lambda p: str(p.relative_to(PROJECT)))
def test_the_library_imports_nothing_of_the_study(path):
    study = sorted(m for m in imports_of(path) if m.split(".")[0] == "fusionstudy")
    assert not study, f"{path.relative_to(PROJECT)} imports the study: {study}"


@pytest.mark.parametrize("path", library_modules(), ids=lambda p: str(p.relative_to(PROJECT)))
def test_library_layers_import_only_downwards(path):
    own = layer_of(module_name(path))
    above = sorted(m for m in imports_of(path) if m.startswith("fusionlib.") and layer_of(m) > own)
    assert not above, f"{module_name(path)} (layer {own}) imports a higher layer: {above}"


def test_no_library_module_reaches_the_study_when_imported():
    """Importing every library module loads no study module (what the static check above implies, checked live)."""
    code = ("import importlib, pkgutil, sys, fusionlib\n"
            "for m in pkgutil.walk_packages(fusionlib.__path__, 'fusionlib.'):\n"
            "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'fusionstudy'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT)
    assert out.stdout.strip() == "[]"


def test_the_contract_check_sees_a_back_edge(tmp_path):
    """The checks above fail on a library module that imports the study (in a function, or by name) or a layer
    above its own (relatively)."""
    data = tmp_path / "fusionlib" / "data"
    data.mkdir(parents=True)
    for src in ("def f():\n    from fusionstudy.build import console\n",
                "import importlib\nm = importlib.import_module('fusionstudy.report')\n"):
        (data / "planted.py").write_text(src)
        assert any(m.startswith("fusionstudy") for m in imports_of(data / "planted.py", tmp_path))
    (tmp_path / "fusionlib" / "models").mkdir()
    (tmp_path / "fusionlib" / "models" / "train.py").write_text("")
    (data / "planted.py").write_text("from ..models import train\n")
    found = imports_of(data / "planted.py", tmp_path)
    assert "fusionlib.models.train" in found and layer_of("fusionlib.models.train") > layer_of("fusionlib.data.planted")


def test_the_dependency_walk_follows_both_packages_and_relative_imports(tmp_path):
    lib = tmp_path / "fusionlib"
    (lib / "data").mkdir(parents=True)
    (lib / "__init__.py").write_text("")
    (lib / "data" / "__init__.py").write_text("")
    (lib / "data" / "rows.py").write_text("from . import helper\n")
    (lib / "data" / "helper.py").write_text("def f():\n    from ..brand_new import g\n")   # in a function
    (lib / "brand_new.py").write_text("g = 2\n")
    (lib / "plots.py").write_text("import numpy\n")
    study = tmp_path / "fusionstudy"
    study.mkdir()
    (study / "__init__.py").write_text("")
    (study / "chapter.py").write_text("from fusionlib.data.rows import f\n")
    nb = '{"cells": [{"cell_type": "code", "source": "%matplotlib inline\\nfrom fusionstudy import chapter\\n"}]}'
    (tmp_path / "page.ipynb").write_text(nb)
    mods = dependencies.notebook_modules(tmp_path / "page.ipynb", ("fusionlib", "fusionstudy"), tmp_path)
    assert mods == {"fusionstudy", "fusionstudy.chapter", "fusionlib", "fusionlib.data", "fusionlib.data.rows",
                    "fusionlib.data.helper", "fusionlib.brand_new"}
    before = dependencies.source_digest(mods, tmp_path)
    (lib / "brand_new.py").write_text("g = 3\n")
    assert dependencies.source_digest(mods, tmp_path) != before


def test_architecture_md_draws_the_tree_on_disk():
    """Every package and module ARCHITECTURE.md names exists, and every module of both packages is named there."""
    text = (PROJECT / "ARCHITECTURE.md").read_text()
    tree = text[text.index("```text"): text.index("```", text.index("```text") + 3)]
    named = set(re.findall(r"(?<![/.\w])([a-z_]+\.py)\b", tree))
    on_disk = {p.name for pkg in ("fusionlib", "fusionstudy") for p in (PROJECT / pkg).rglob("*.py")
               if p.name != "__init__.py"}
    assert on_disk - named == set(), f"modules missing from ARCHITECTURE.md: {sorted(on_disk - named)}"
    assert named - on_disk == set(), f"ARCHITECTURE.md names modules that do not exist: {sorted(named - on_disk)}"
