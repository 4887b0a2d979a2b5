"""Pinned numbers and verdicts: the book's key results committed as expected values, and the check that a fresh
build reproduces them — exactly where the measurements say a number is the same on every machine, within a
measured tolerance where floating-point order differs, and every verdict always.

    python -m fusionstudy.build.pin --scale default            # compare book/generated/results with the pinned values
    python -m fusionstudy.build.pin --scale default --update   # pin the current results (``make pin``)

The expected values of a scale live in ``tests/expected/<scale>.json`` (:func:`expected_path`)::

    {"scale": "default", "values": {"<arm>": {"<metric>": 0.2671, ...}, ...},
     "verdicts": {"<name>": {"value": "no", "margin": 0.165, "groups": ["exp-report: image"]}, ...}}

``<arm>`` is a result folder under ``book/generated/results`` (``exp-report/baseline__ordinal_original__in_sample``),
``<metric>`` a pooled metric (``kappa_quadratic visit``: quadratic κ per visit on the pooled out-of-fold
predictions of a repeat, mean over repeats). Verdicts are :func:`fusionstudy.chapters.verdicts.collect`'s.

**Tolerances** are not in that file: each value belongs to a group (:func:`group_of`: its task and whether a
model trained on images feeds it), and the group's tolerance is the largest difference measured between builds
on different CPUs and numeric settings (:mod:`fusionstudy.build.tolerances`, written by ``python -m benchmarks.spread``).
A group that was never measured to differ has tolerance 0.

:func:`check` lists every value that differs by more than its tolerance, is missing from the fresh results, or is
new (not pinned); :func:`check_verdicts` every verdict that reads otherwise although its pinned margin exceeds its
groups' tolerances (a *decided* verdict). A verdict closer to its threshold than that is reported as undecided
across machines, not as a failure. ``make book`` ends with both and fails on any. A deliberate change of the
numbers updates the file (``make pin``) in the same commit.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fusionlib import io
from fusionstudy.build import tolerances

from fusionstudy import PROJECT  # noqa: E402
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


#: The real-data chapters whose facts are pinned beside the arms: result folder -> the
#: :class:`fusionstudy.records.Record` saved there as ``facts.json`` (dotted name, imported when read).
PAGE_FACTS = {"replay": "fusionstudy.replay.facts.ReplayFacts",
              "metadata": "fusionstudy.chapters.metadata_tables.MetadataFacts"}


def page_values(results: Path) -> dict[str, dict[str, float]]:
    """The pinned facts (:meth:`fusionstudy.records.Record.pinned`) of the chapters of :data:`PAGE_FACTS` found under
    ``results``, as ``{"<folder>/facts": {"<field>": value}}`` (a chapter that did not run has none)."""
    import importlib

    from fusionstudy.records import FACTS_JSON

    out = {}
    for folder, dotted in PAGE_FACTS.items():
        path = results / folder / FACTS_JSON
        if path.is_file():
            module, _, name = dotted.rpartition(".")
            record = getattr(importlib.import_module(module), name)
            out[f"{folder}/{Path(FACTS_JSON).stem}"] = {k: float(v) for k, v in record.load(path).pinned().items()}
    return out


#: The tasks whose pinned values are a page's facts (:data:`PAGE_FACTS`), not arms.
TABLE_TASKS = tuple(PAGE_FACTS)


def group_of(key: str) -> str:
    """The tolerance group of a pinned value's key (``"<task>/<arm folder>"``, or ``"<task>/<table>"``):
    ``"<task>: table"`` for a page's facts, else ``"<task>: image"`` when the arm's head reads the image CNN's
    probabilities (or is the CNN) and ``"<task>: rf"`` when it reads the RF's only. The head is the longest
    head name (:data:`fusionlib.arms.settings.HEADS`) the arm's folder starts with; an unknown one counts as image."""
    from fusionlib.arms.settings import IMAGE, head_names, head

    task, _, arm = key.partition("/")
    if task in TABLE_TASKS:
        return f"{task}: table"
    name = next((h for h in sorted(head_names(), key=len, reverse=True) if arm == h or arm.startswith(h + "_")), None)
    return f"{task}: " + ("image" if name is None or IMAGE in head(name).inputs else "rf")


def tolerance_of(scale: str, key: str) -> float:
    """The tolerance of a pinned value: its group's (:func:`group_of`) in :data:`fusionstudy.build.tolerances.GROUPS`
    for ``scale``; 0 for a group never measured to differ."""
    return float(tolerances.GROUPS.get(scale, {}).get(group_of(key), {}).get("tolerance", 0.0))


def verdict_tolerance(scale: str, verdict: dict) -> float:
    """How far a verdict's deciding number may move between machines: the sum of its groups' tolerances."""
    return float(sum(float(tolerances.GROUPS.get(scale, {}).get(g, {}).get("tolerance", 0.0))
                     for g in verdict.get("groups", [])))


def decided(scale: str, verdict: dict) -> bool:
    """A verdict the numbers decide on every machine measured: its margin exceeds :func:`verdict_tolerance`
    (a verdict without a margin — no number decides it — always is)."""
    m = verdict.get("margin")
    return m is None or m > verdict_tolerance(scale, verdict)


def collect(generated: str | Path) -> dict[str, dict[str, float]]:
    """The pinned values under ``<generated>/results``: every arm result's (``{arm: {metric: value}}``) and the
    real-data chapters' facts (:func:`page_values`)."""
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
    """The real-data chapters (:func:`fusionstudy.build.pages.real_data_pages`) with pinned values but no fresh ones:
    they did not run (no data), so their values cannot be checked — not a difference."""
    from fusionstudy.build.pages import real_data_pages

    def chapters(values):
        return {key.split("/")[0] for key in values}

    return (chapters(expected.get("values", {})) - chapters(got)) & set(real_data_pages())


def check(expected: dict, got: dict[str, dict[str, float]], scale: str | None = None) -> list[Difference]:
    """Compare fresh values (:func:`collect`) with an expected-values document (the JSON of the module
    docstring); returns the differences beyond tolerance (:func:`tolerance_of`; ``scale`` default the document's),
    the pinned values that are missing and the values that are not pinned, sorted by arm and metric. The values of
    a real-data chapter that did not run at all (:func:`skipped_chapters`) are left out."""
    scale = scale or expected.get("scale", "default")
    skipped = skipped_chapters(expected, got)
    pinned = {k: v for k, v in expected.get("values", {}).items() if k.split("/")[0] not in skipped}
    out = []
    for arm in sorted(set(pinned) | set(got)):
        tol = tolerance_of(scale, arm)
        for metric in sorted(set(pinned.get(arm, {})) | set(got.get(arm, {}))):
            e, g = pinned.get(arm, {}).get(metric), got.get(arm, {}).get(metric)
            if e is None or g is None:
                out.append(Difference(arm, metric, e, g, tol))
            elif not (abs(g - e) <= tol or (math.isnan(e) and math.isnan(g))):
                out.append(Difference(arm, metric, e, g, tol))
    return out


@dataclass
class VerdictChange:
    """A pinned verdict that reads otherwise in the fresh build (``got`` None: the fresh build has none).
    ``decided``: its pinned margin exceeded its tolerance, so the change is a failure."""

    name: str
    expected: str
    got: str | None
    margin: float | None
    tolerance: float
    decided: bool


def checked_verdicts(expected: dict, skipped: set[str] = frozenset()) -> dict[str, dict]:
    """The pinned verdicts that a build can check: all but those of the real-data chapters that did not run
    (``skipped``; the replay's feed the summary's and provenance's, :data:`fusionstudy.chapters.verdicts.REAL_DATA_SOURCES`)."""
    pinned = expected.get("verdicts", {})
    if not skipped:
        return pinned
    from fusionstudy.chapters.verdicts import REAL_DATA_SOURCES

    drop = tuple(p for chapter in skipped for p in REAL_DATA_SOURCES.get(chapter, (f"{chapter}:",)))
    return {k: v for k, v in pinned.items() if not k.startswith(drop)}


def check_verdicts(expected: dict, got: dict[str, dict], scale: str | None = None,
                   skipped: set[str] = frozenset()) -> list[VerdictChange]:
    """Every pinned verdict that the fresh ones (:func:`fusionstudy.chapters.verdicts.collect`) do not reproduce, and every
    fresh verdict that is not pinned (``expected`` ``""``), sorted by name. A verdict of a real-data chapter that
    did not run (``skipped``; the replay's feed the summary's and provenance's) is left out."""
    scale = scale or expected.get("scale", "default")
    pinned = checked_verdicts(expected, skipped)
    out = []
    for name in sorted(set(pinned) | set(got)):
        e, g = pinned.get(name), got.get(name)
        if e is None:
            out.append(VerdictChange(name, "", g["value"], g.get("margin"), verdict_tolerance(scale, g), True))
        elif g is None or g["value"] != e["value"]:
            out.append(VerdictChange(name, e["value"], None if g is None else g["value"], e.get("margin"),
                                     verdict_tolerance(scale, e), g is None or decided(scale, e)))
    return out


def format_verdict_changes(changes: list[VerdictChange]) -> str:
    """One line per changed verdict: its name, the pinned and the fresh reading, margin and tolerance."""
    def line(c):
        got = "missing" if c.got is None else repr(c.got)
        exp = "not pinned" if c.expected == "" else repr(c.expected)
        margin = "" if c.margin is None else f" (pinned margin {c.margin:g}, tolerance {c.tolerance:g})"
        return f"  {c.name}: pinned {exp}, got {got}{margin}"
    return "\n".join(line(c) for c in changes)


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


def document(values: dict[str, dict[str, float]], scale: str, verdicts: dict[str, dict] | None = None) -> dict:
    """An expected-values document for ``values`` and ``verdicts``, with the CPU that made them (the tolerances
    live in :mod:`fusionstudy.build.tolerances`)."""
    from fusionlib.environment import cpu_info

    return {"scale": scale,
            "about": "expected values and verdicts of the book's results (python -m fusionstudy.build.pin --update); "
                     "tolerances: fusionstudy/build/tolerances.py; see fusionstudy/build/pin.py",
            "machine": cpu_info(),
            "values": {arm: dict(v) for arm, v in values.items()},
            "verdicts": dict(sorted((verdicts or {}).items()))}


def promise(generated: str | Path, scale: str) -> dict:
    """What this build promises on another machine, for the book's appendix: ``groups`` (one row per tolerance
    group of this build's values: how many, the tolerance, the largest spread measured, over how many builds and
    machines), ``verdicts`` (every verdict with its margin, tolerance and whether the numbers decide it on every
    machine measured), ``builds`` (the builds measured, :data:`fusionstudy.build.tolerances.BUILDS`) and the counts."""
    from fusionstudy.chapters.verdicts import collect as collect_verdicts

    values = collect(generated)
    measured = tolerances.GROUPS.get(scale, {})
    counts: dict[str, int] = {}
    for key, ms in values.items():
        counts[group_of(key)] = counts.get(group_of(key), 0) + len(ms)
    groups = pd.DataFrame([{"group": g, "values": n, "tolerance": measured.get(g, {}).get("tolerance", 0.0),
                            "largest spread measured": measured.get(g, {}).get("max_spread"),
                            "builds": measured.get(g, {}).get("builds", 0),
                            "machines": measured.get(g, {}).get("machines", 0)} for g, n in sorted(counts.items())])
    verdicts = collect_verdicts(generated)
    vt = pd.DataFrame([{"verdict": name, "reads": v["value"], "margin": v["margin"],
                        "tolerance": verdict_tolerance(scale, v), "decided": decided(scale, v)}
                       for name, v in verdicts.items()], columns=["verdict", "reads", "margin", "tolerance", "decided"])
    exact = int(groups.loc[groups["tolerance"] == 0, "values"].sum()) if len(groups) else 0
    return {"groups": groups, "verdicts": vt, "builds": tolerances.BUILDS.get(scale, []), "n_values": int(groups["values"].sum()) if len(groups) else 0,
            "n_exact": exact, "n_verdicts": len(vt), "n_decided": int(vt["decided"].sum())}


def promise_markdown(p: dict) -> str:
    """The promise of :func:`promise` in words (every number from it)."""
    exact = int((p["groups"]["tolerance"] == 0).sum()) if len(p["groups"]) else 0
    n_undecided = p["n_verdicts"] - p["n_decided"]
    return (f"Of the {p['n_values']} numbers pinned in this book, **{p['n_exact']} are checked exactly** (the "
            f"{exact} group{'s' if exact != 1 else ''} with tolerance 0 below: identical in every build measured), and "
            f"**{p['n_values'] - p['n_exact']} within the tolerance of their group**, the largest difference measured "
            f"between {len(p['builds'])} builds on different processors and numeric settings. "
            f"Of the {p['n_verdicts']} verdicts pinned, **{p['n_decided']} are decided by numbers farther from their "
            f"threshold than that tolerance**: they read the same on every machine, and a build where one reads "
            f"otherwise fails. "
            + (f"**{n_undecided} are not decided across machines**: their deciding number is within the tolerance "
               "of the point where they would read otherwise, so another processor may read them otherwise "
               "(the second table)." if n_undecided else "None is closer to its threshold than that."))


def promise_tables(p: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`promise`'s groups, and its verdicts not decided across machines, as the appendix shows them
    (tolerances and margins to four decimals)."""
    def four(x):
        return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"

    groups = p["groups"].assign(**{c: p["groups"][c].map(four) for c in ("tolerance", "largest spread measured")})
    und = p["verdicts"][~p["verdicts"]["decided"]].drop(columns="decided")
    und = und.assign(margin=und["margin"].map(four), tolerance=und["tolerance"].map(four))
    return groups, und


def write_expected(path: str | Path, doc: dict) -> None:
    """Write an expected-values document atomically."""
    io.write_text(path, json.dumps(doc, indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fusionstudy.build.pin", description=__doc__.split("\n")[0])
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
    from fusionstudy.chapters.verdicts import collect as collect_verdicts

    verdicts = collect_verdicts(gen)
    if a.update:
        write_expected(path, document(got, a.scale, verdicts))
        print(f"pinned {sum(len(v) for v in got.values())} values of {len(got)} arms and {len(verdicts)} verdicts "
              f"in {path}")
        return 0
    if previous is None:
        print(f"pin: no pinned values for scale {a.scale!r} ({path} is absent; `make pin SCALE={a.scale}` "
              f"writes them): nothing checked")
        return 0
    if previous.get("scale") not in (None, a.scale):
        print(f"pin: {path} pins the {previous.get('scale')!r} book, not {a.scale!r}", file=sys.stderr)
        return 2
    return report(previous, got, verdicts, a.scale, path)


def report(expected: dict, got: dict[str, dict[str, float]], verdicts: dict[str, dict], scale: str,
           path: str | Path = "the pinned file") -> int:
    """Check fresh values and verdicts against ``expected`` and print what reproduced: exactly, within the
    measured tolerance, verdicts decided and undecided across machines; and every failure. Returns 0 when all
    reproduced, 1 otherwise."""
    diffs = check(expected, got, scale)
    skipped = skipped_chapters(expected, got)
    if "verdicts" not in expected:
        print(f"pin: {path} pins no verdicts (made before they were pinned; `make pin` adds them): none checked")
    changes = check_verdicts(expected, verdicts, scale, skipped) if "verdicts" in expected else []
    checked = checked_verdicts(expected, skipped)
    values = {k: v for k, v in expected.get("values", {}).items() if k.split("/")[0] not in skipped}
    n = sum(len(v) for v in values.values())
    if skipped:
        n_skip = sum(len(v) for k, v in expected.get("values", {}).items() if k.split("/")[0] in skipped)
        print(f"pin: {n_skip} pinned values of the real-data chapter(s) {', '.join(sorted(skipped))} not checked: "
              "they did not run (no data; see the study's log)")
    exact = sum(1 for arm, ms in values.items() for m, e in ms.items()
                if (g := got.get(arm, {}).get(m)) is not None and (g == e or (math.isnan(e) and math.isnan(g))))
    failed = [c for c in changes if c.decided]
    undecided = [c for c in changes if not c.decided]
    n_verdicts = len(checked)
    if skipped and n_verdicts < len(expected.get("verdicts", {})):
        print(f"pin: {len(expected['verdicts']) - n_verdicts} pinned verdicts of the real-data chapter(s) "
              f"{', '.join(sorted(skipped))} not checked: their numbers did not run")
    if undecided:
        print(f"pin: {len(undecided)} verdict(s) read otherwise here, but their pinned margin is within the measured "
              f"tolerance of their numbers (undecided across machines; the book's appendix lists them):\n"
              f"{format_verdict_changes(undecided)}")
    if diffs:
        print(f"pin: {len(diffs)} of {n} pinned values differ from {path} by more than their tolerance "
              f"(fusionstudy/build/tolerances.py):\n{format_differences(diffs)}")
    if failed:
        print(f"pin: {len(failed)} of {n_verdicts} pinned verdicts changed:\n{format_verdict_changes(failed)}")
    if diffs or failed:
        return 1
    print(f"pin: all {n} pinned values reproduced ({exact} exactly, {n - exact} within their measured tolerance) "
          f"and {n_verdicts - len(undecided)} of {n_verdicts} verdicts as pinned ({path})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
