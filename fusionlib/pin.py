"""Pinned numbers: the book's key results committed as expected values, and the check that a fresh build
reproduces them.

    python -m fusionlib.pin --scale default            # compare book/generated/results with the pinned values
    python -m fusionlib.pin --scale default --update   # pin the current results (``make pin``)

The expected values of a scale live in ``tests/expected/<scale>.json`` (:func:`expected_path`)::

    {"scale": "default", "tolerance": 0.0, "tolerances": {"<arm> <metric>": 0.001},
     "values": {"<arm>": {"<metric>": 0.2671, ...}, ...}}

``<arm>`` is a result folder under ``book/generated/results`` (``exp-report/baseline__ordinal_original__in_sample``),
``<metric>`` a pooled metric (``kappa_quadratic visit``: quadratic κ per visit on the pooled out-of-fold
predictions of a repeat, mean over repeats). ``tolerance`` is the largest absolute difference accepted for every
value, ``tolerances`` overrides it per value. :func:`check` lists every value that differs by more, is missing
from the fresh results, or is new (not pinned); ``make book`` ends with it and fails on any. A deliberate change
of the numbers updates the file (``make pin``) in the same commit.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import io

PROJECT = Path(__file__).resolve().parents[1]
EXPECTED_DIR = PROJECT / "tests" / "expected"
#: The metrics pinned for every arm: (metric, level) pooled over the folds of a repeat, mean over repeats.
PINNED_METRICS = (("kappa_quadratic", "visit"), ("kappa_quadratic", "row"))


def expected_path(scale: str) -> Path:
    """``tests/expected/<scale>.json``."""
    return EXPECTED_DIR / f"{scale}.json"


def _arm_folders(results: Path):
    """Every arm result folder under ``results`` (``<task>/<arm>`` or, for an arm page that ran its arm,
    ``<task>``), as (key, folder), sorted."""
    for task in sorted(p for p in results.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (task / "metrics.csv").exists():
            yield task.name, task
            continue
        for arm in sorted(p for p in task.iterdir() if p.is_dir() and (p / "metrics.csv").exists()):
            yield f"{task.name}/{arm.name}", arm


def arm_values(metrics: pd.DataFrame) -> dict[str, float]:
    """The :data:`PINNED_METRICS` of one arm's tidy ``metrics.csv``: ``{"kappa_quadratic visit": value, ...}``."""
    m = metrics[(metrics["split"] == "val") & (metrics["fold"].astype(str) == "pooled")]
    out = {}
    for metric, level in PINNED_METRICS:
        v = m[(m["metric"] == metric) & (m["level"] == level)]["value"]
        if len(v):
            out[f"{metric} {level}"] = float(v.mean())
    return out


#: The real-data chapters' key tables, pinned beside the arms: (result folder, table file, the column naming a
#: row, the columns pinned). A row ``r`` and column ``c`` of ``<folder>/<file>`` is the value ``"<c> | <r>"`` of
#: the key ``"<folder>/<file stem>"``.
PAGE_TABLES = (
    ("replay", "three_fold.csv", "fold", ("κ replay", "unweighted κ replay")),
    ("replay", "five_fold.csv", "fold", ("this replay: RF -> BN -> softmax", "this replay: RF alone")),
    ("metadata", "headline.csv", "arm", ("κ quad", "κ unw")),
)


def page_values(results: Path) -> dict[str, dict[str, float]]:
    """The :data:`PAGE_TABLES` values found under ``results`` (a chapter that did not run has none)."""
    out = {}
    for folder, name, row_col, cols in PAGE_TABLES:
        path = results / folder / name
        if not path.is_file():
            continue
        table = pd.read_csv(path, dtype={row_col: str})
        missing = {row_col, *cols} - set(table.columns)
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
        out[f"{folder}/{Path(name).stem}"] = {f"{c} | {r}": float(v) for _, row in table.iterrows()
                                               for c in cols for r, v in [(row[row_col], row[c])]
                                               if pd.notna(pd.to_numeric(v, errors="coerce"))}
    return out


def collect(generated: str | Path) -> dict[str, dict[str, float]]:
    """The pinned values under ``<generated>/results``: every arm result's (``{arm: {metric: value}}``) and the
    real-data chapters' key tables (:func:`page_values`)."""
    results = Path(generated) / "results"
    if not results.is_dir():
        raise FileNotFoundError(f"{results}: no results (run the study first: make book)")
    out = page_values(results)
    for key, folder in _arm_folders(results):
        metrics = pd.read_csv(folder / "metrics.csv", dtype={"fold": str}, keep_default_na=False,
                              na_values={"value": ["", "nan"]})
        missing = {"split", "fold", "level", "metric", "value"} - set(metrics.columns)
        if missing:
            raise ValueError(f"{folder / 'metrics.csv'}: missing column(s) {sorted(missing)}")
        values = arm_values(metrics)
        if values:
            out[key] = values
    return out


@dataclass
class Difference:
    """One pinned value that the fresh results do not reproduce (``got`` or ``expected`` is ``None`` for a
    value missing on that side)."""

    arm: str
    metric: str
    expected: float | None
    got: float | None
    tolerance: float

    @property
    def difference(self) -> float | None:
        if self.expected is None or self.got is None:
            return None
        return self.got - self.expected


def skipped_chapters(expected: dict, got: dict[str, dict[str, float]]) -> set[str]:
    """The real-data chapters (:func:`fusionlib.pages.real_data_pages`) with pinned values but no fresh ones:
    they did not run (no data), so their values cannot be checked — not a difference."""
    from .pages import real_data_pages

    def chapters(values):
        return {key.split("/")[0] for key in values}

    return (chapters(expected.get("values", {})) - chapters(got)) & set(real_data_pages())


def check(expected: dict, got: dict[str, dict[str, float]]) -> list[Difference]:
    """Compare fresh values (:func:`collect`) with an expected-values document (the JSON of the module
    docstring); returns the differences beyond tolerance, the pinned values that are missing and the values
    that are not pinned, sorted by arm and metric. The values of a real-data chapter that did not run at all
    (:func:`skipped_chapters`) are left out."""
    tol_default = float(expected.get("tolerance", 0.0))
    tols = expected.get("tolerances", {})
    skipped = skipped_chapters(expected, got)
    pinned = {k: v for k, v in expected.get("values", {}).items() if k.split("/")[0] not in skipped}
    out = []
    for arm in sorted(set(pinned) | set(got)):
        for metric in sorted(set(pinned.get(arm, {})) | set(got.get(arm, {}))):
            e, g = pinned.get(arm, {}).get(metric), got.get(arm, {}).get(metric)
            tol = float(tols.get(f"{arm} {metric}", tol_default))
            if e is None or g is None:
                out.append(Difference(arm, metric, e, g, tol))
            elif not (abs(g - e) <= tol or (math.isnan(e) and math.isnan(g))):
                out.append(Difference(arm, metric, e, g, tol))
    return out


def format_differences(diffs: list[Difference]) -> str:
    """A readable table: arm, metric, expected, got, difference, tolerance."""
    def num(x):
        return "—" if x is None else f"{x:.6f}"

    rows = [(d.arm, d.metric, num(d.expected) if d.expected is not None else "not pinned",
             num(d.got) if d.got is not None else "missing", num(d.difference) if d.difference is not None else "—",
             f"{d.tolerance:g}") for d in diffs]
    head = ("arm", "metric", "expected", "got", "difference", "tolerance")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def document(values: dict[str, dict[str, float]], scale: str, previous: dict | None = None) -> dict:
    """An expected-values document for ``values``, keeping the tolerances of ``previous``."""
    previous = previous or {}
    return {"scale": scale,
            "about": "expected values of the book's results (python -m fusionlib.pin --update); see fusionlib/pin.py",
            "tolerance": previous.get("tolerance", 0.0), "tolerances": previous.get("tolerances", {}),
            "values": {arm: dict(v) for arm, v in values.items()}}


def write_expected(path: str | Path, doc: dict) -> None:
    """Write an expected-values document atomically."""
    io.write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fusionlib.pin", description=__doc__.split("\n")[0])
    ap.add_argument("--scale", default="default")
    ap.add_argument("--root", type=Path, default=PROJECT, help="book root whose book/generated is checked")
    ap.add_argument("--file", type=Path, default=None, help="expected values (default tests/expected/<scale>.json)")
    ap.add_argument("--update", action="store_true", help="pin the current results")
    a = ap.parse_args(argv)
    gen = a.root.resolve() / "book" / "generated"
    path = a.file or expected_path(a.scale)
    state_path = gen / "state.json"
    built = json.loads(state_path.read_text()).get("scale") if state_path.exists() else None
    if built is not None and built != a.scale:
        print(f"pin: {gen} holds the {built!r} book, not {a.scale!r}", file=sys.stderr)
        return 2
    try:
        got = collect(gen)
    except (FileNotFoundError, ValueError) as e:
        print(f"pin: {e}", file=sys.stderr)
        return 2
    previous = json.loads(path.read_text()) if path.exists() else None
    if a.update:
        write_expected(path, document(got, a.scale, previous))
        print(f"pinned {sum(len(v) for v in got.values())} values of {len(got)} arms in {path}")
        return 0
    if previous is None:
        print(f"pin: no pinned values for scale {a.scale!r} ({path} is absent; `make pin SCALE={a.scale}` "
              f"writes them): nothing checked")
        return 0
    if previous.get("scale") not in (None, a.scale):
        print(f"pin: {path} pins the {previous.get('scale')!r} book, not {a.scale!r}", file=sys.stderr)
        return 2
    diffs = check(previous, got)
    skipped = skipped_chapters(previous, got)
    values = previous.get("values", {})
    n = sum(len(v) for k, v in values.items() if k.split("/")[0] not in skipped)
    if skipped:
        n_skip = sum(len(v) for k, v in values.items() if k.split("/")[0] in skipped)
        print(f"pin: {n_skip} pinned values of the real-data chapter(s) {', '.join(sorted(skipped))} not checked: "
              "they did not run (no data; see the study's log)")
    if diffs:
        print(f"pin: {len(diffs)} of {n} pinned values differ from {path} (tolerance "
              f"{previous.get('tolerance', 0.0):g} unless stated):\n{format_differences(diffs)}")
        return 1
    print(f"pin: all {n} pinned values reproduced ({path}, tolerance {previous.get('tolerance', 0.0):g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
