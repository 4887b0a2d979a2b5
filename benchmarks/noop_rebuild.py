"""The no-op rebuild: what ``make book`` costs on a book that is already built and unchanged.

    python -m benchmarks.noop_rebuild --checkout <a checkout> --scale default [--root <its built book>] [--repeat 3]
    python -m benchmarks.noop_rebuild --checkout X --root X/_build/smoke-book --scale smoke   # after make test

``make book`` runs three steps; each is run here as it runs them on the book root ``--root`` (default the
checkout itself), in a child process with the checkout's own interpreter (``<checkout>/.venv/bin/python``) and
working directory, and timed (wall seconds); the environment is this process's (``DFU_DATA_DIR`` as for the build):

* ``study`` — ``python -m fusionstudy.build.study --scale S`` (hash every task, ask the engine, skip);
* ``html`` — the HTML book (:func:`fusionstudy.build.publish.build_html`: ``jupyter-book build -W``);
* ``pin`` — ``python -m fusionstudy.build.pin --scale S`` (read every result, recompute the values and verdicts).

The study must say ``0 ran`` (otherwise the tree was not built or has changed, and this is not a no-op: exit 1).
Prints one row per repeat and the median; issue 21's target is at most 15 s in all.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path


def steps(scale: str, root: Path) -> dict[str, list[str]]:
    """The commands of ``make book``'s steps on the book root ``root``, by name (arguments after the interpreter)."""
    return {"study": ["-m", "fusionstudy.build.study", "--scale", scale, "--root", str(root)],
            "html": ["-c", f"import sys; from fusionstudy.build.publish import build_html; sys.exit(build_html({str(root)!r}))"],
            "pin": ["-m", "fusionstudy.build.pin", "--scale", scale, "--root", str(root)]}


def run_once(checkout: Path, root: Path, python: Path, scale: str) -> dict[str, float]:
    """Wall seconds of each step on ``root``; ``RuntimeError`` when a step fails or the study ran a task."""
    out = {}
    for name, args in steps(scale, root).items():
        t0 = time.perf_counter()
        done = subprocess.run([str(python), *args], cwd=checkout, capture_output=True, text=True)
        out[name] = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-2000:]}")
        if name == "study" and not re.search(r"\): 0 ran,", done.stdout):
            raise RuntimeError(f"not a no-op: the study ran tasks on {root}:\n{done.stdout[-2000:]}")
    out["total"] = sum(out.values())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.noop_rebuild", description=__doc__.split("\n")[0])
    ap.add_argument("--checkout", type=Path, required=True, help="the checkout whose code runs the steps")
    ap.add_argument("--root", type=Path, default=None, help="the built book's root (default: the checkout)")
    ap.add_argument("--scale", default="default")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--python", type=Path, default=None, help="interpreter (default <checkout>/.venv/bin/python)")
    a = ap.parse_args(argv)
    checkout = a.checkout.resolve()
    root = (a.root or checkout).resolve()
    python = a.python or checkout / ".venv" / "bin" / "python"
    if not python.is_file():
        print(f"no interpreter at {python}: run `make env` in {checkout} or pass --python", file=sys.stderr)
        return 2
    try:
        runs = [run_once(checkout, root, python, a.scale) for _ in range(a.repeat)]
    except RuntimeError as e:
        print(f"noop_rebuild: {e}", file=sys.stderr)
        return 1
    names = list(runs[0])
    print(f"no-op rebuild of {root} ({a.scale}), wall seconds per step:")
    print("| run | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for i, r in enumerate(runs, 1):
        print(f"| {i} | " + " | ".join(f"{r[n]:.1f}" for n in names) + " |")
    print("| median | " + " | ".join(f"{statistics.median(r[n] for r in runs):.1f}" for n in names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
