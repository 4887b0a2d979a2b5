"""How far the book's pinned numbers and verdicts move between machines and numeric settings, and the tolerances
that follow from it (``fusionstudy/build/tolerances.py``).

    # one build: these tasks, this scale, under a numeric setting, in a fresh root with an empty cache
    python -m benchmarks.spread run --scale default --name native --only cohort exp-mechanisms
    python -m benchmarks.spread run --scale default --name threads1 --only cohort exp-mechanisms \\
        --env TF_NUM_INTRAOP_THREADS=1
    python -m benchmarks.spread record --scale default --name native --root .   # an existing build (make book)
    python -m benchmarks.spread import-reference ../shared/reference            # another machine's builds
    python -m benchmarks.spread record-file PINS.json --scale smoke --name NAME --cpu-model M --cpu-isa "avx2 ..."
    python -m benchmarks.spread report --scale default          # the spread tables (printed, Markdown)
    python -m benchmarks.spread report --scale default --write  # ... and the tolerances into fusionstudy/build/tolerances.py

A *build* is one record under ``benchmarks/records/spread/<scale>/``: the machine (CPU model and instruction
sets), the numeric setting (environment variables), the tasks, and every pinned value
(:func:`fusionstudy.build.pin.collect`) and verdict (:func:`fusionstudy.chapters.verdicts.collect`) it gave. ``report`` sets all
builds of a scale side by side:

* per tolerance group (:func:`fusionstudy.build.pin.group_of`: task, and whether a model trained on images feeds the
  value), the number of values, of builds, the largest and the median spread (max - min over the builds) and the
  share of values identical in every build;
* per numeric setting, against the same machine's default setting on the same tasks;
* every verdict that reads differently in some build, with its margins;
* leave one machine out: the tolerances the other machines' builds give, and how many of the left-out machine's
  values exceed them (does a tolerance measured without a CPU cover it?).

The tolerance of a group is its largest spread, rounded up to 1e-4 (κ is reported to three decimals): the
largest difference measured between any two builds of the group, on any machine and setting. A group with no
difference measured has tolerance 0 (checked exactly).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from fusionstudy.build import pin
from fusionlib.io import write_json, write_text

PROJECT = Path(__file__).resolve().parents[1]
RECORDS = PROJECT / "benchmarks" / "records" / "spread"
TOLERANCES = PROJECT / "fusionlib" / "tolerances.py"


# --- builds ------------------------------------------------------------------------------------------------------

def machine() -> dict:
    """This machine's CPU model and the instruction sets the numeric libraries choose kernels by."""
    from fusionlib.environment import cpu_info

    return {**cpu_info(), "cpu_count": str(os.cpu_count())}


def record_path(scale: str, name: str) -> Path:
    return RECORDS / scale / f"{name}.json"


def write_record(scale: str, name: str, generated: Path, env: dict, tasks: list[str], seconds: float | None,
                 source: str) -> Path:
    """Collect a build's values and verdicts from ``generated`` and write its record."""
    from fusionstudy.chapters.verdicts import collect as collect_verdicts

    rec = {"name": name, "scale": scale, "machine": machine(), "setting": env, "tasks": tasks,
           "seconds": seconds, "source": source, "values": pin.collect(generated),
           "verdicts": collect_verdicts(generated)}
    path = record_path(scale, name)
    write_json(path, rec)
    return path


def run(scale: str, name: str, only: list[str], env: dict, root: Path | None = None) -> Path:
    """Build ``only`` (all tasks when empty) at ``scale`` under ``env`` in a fresh root with an empty content
    cache (the cache is keyed by content, not by machine or setting: a shared one would hide the differences)."""
    import shutil

    root = root or PROJECT / "_build" / "spread" / scale / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    cmd = [sys.executable, "-m", "fusionstudy.build.study", "--scale", scale, "--root", str(root)]
    if only:
        cmd += ["--only", *only]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env={**os.environ, **env, "FUSIONLIB_CACHE": str(root / "cache")}, cwd=PROJECT)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"spread: the build {name!r} failed (exit {proc.returncode}); nothing recorded")
    return write_record(scale, name, root / "book" / "generated", env, only, round(seconds, 1),
                        "python -m benchmarks.spread run")


def import_reference(folder: Path) -> list[Path]:
    """Records of the builds another machine made (``shared/reference``): its default build's pinned values
    (``default-build-*/default.json`` with ``environment.json``) and one experiment under several numeric
    settings (``exp-mechanisms-*-by-setting/<setting>.json``; the settings as its README states them)."""
    settings = {"native": {}, "avx512core": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
                "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"}, "noonednn": {"TF_ENABLE_ONEDNN_OPTS": "0"},
                "threads1": {"TF_NUM_INTRAOP_THREADS": "1"}}
    out = []
    for build in sorted(folder.glob("default-build-*")):
        env = json.loads((build / "environment.json").read_text())
        mach = {"cpu_model": env.get("cpu_model", ""), "cpu_isa": env.get("cpu_isa", ""),
                "cpu_count": env.get("cpu_count", "")}
        tag = build.name.removeprefix("default-build-")
        doc = json.loads((build / "default.json").read_text())
        rec = {"name": f"{tag}--native", "scale": "default", "machine": mach, "setting": {}, "tasks": [],
               "seconds": None, "source": f"shared/reference/{build.name} (make book, commit {env.get('commit', '')})",
               "values": doc["values"], "verdicts": {}}
        out.append(record_path("default", rec["name"]))
        write_json(out[-1], rec)
        for sub in sorted(folder.glob("exp-mechanisms-*-by-setting")):
            for f in sorted(sub.glob("*.json")):
                doc = json.loads(f.read_text())
                rec = {"name": f"{tag}--mechanisms-{f.stem}", "scale": "default", "machine": mach,
                       "setting": settings.get(f.stem, {"?": f.stem}), "tasks": ["cohort", "exp-mechanisms"],
                       "seconds": None, "source": f"shared/reference/{sub.name}/{f.name}", "values": doc["values"],
                       "verdicts": {}}
                out.append(record_path("default", rec["name"]))
                write_json(out[-1], rec)
    return out


def load_builds(scale: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((RECORDS / scale).glob("*.json"))]


def machine_label(rec: dict) -> str:
    """A short name for a build's CPU: vendor and the widest vector instruction set (AVX-512 or AVX2)."""
    m = rec["machine"]
    vendor = "Intel" if "Intel" in m["cpu_model"] else "AMD" if "AMD" in m["cpu_model"] else m["cpu_model"]
    isa = m["cpu_isa"].split()
    width = "AVX-512" if "avx512f" in isa else "AVX2" if "avx2" in isa else "SSE"
    return f"{vendor} {width}" + (" AMX" if any(i.startswith("amx") for i in isa) else "")


# --- the spread ----------------------------------------------------------------------------------------------------

def long_values(builds: list[dict]) -> pd.DataFrame:
    """One row per (build, key, metric, value) with the key's group and the build's machine."""
    rows = [{"build": b["name"], "machine": machine_label(b), "key": key, "metric": metric, "value": v,
             "group": pin.group_of(key)}
            for b in builds for key, ms in b["values"].items() for metric, v in ms.items()]
    return pd.DataFrame(rows)


def spread_by_value(long: pd.DataFrame) -> pd.DataFrame:
    """Per (group, key, metric): builds, spread (max - min), identical in all builds."""
    g = long.groupby(["group", "key", "metric"])["value"]
    return pd.DataFrame({"builds": g.size(), "spread": g.max() - g.min(),
                         "identical": g.nunique(dropna=False) == 1}).reset_index()


def tolerance_from(spread: float) -> float:
    """The largest spread rounded up to 1e-4 (0 stays 0)."""
    return 0.0 if not spread > 0 else math.ceil(round(spread * 1e4, 6)) / 1e4


def group_table(long: pd.DataFrame) -> pd.DataFrame:
    """Per tolerance group: values, builds, machines, largest and median spread, share identical, tolerance."""
    per = spread_by_value(long)
    rows = []
    for group, p in per.groupby("group"):
        sub = long[long["group"] == group]
        rows.append({"group": group, "values": len(p), "builds": sub["build"].nunique(),
                     "machines": sub["machine"].nunique(), "max spread": p["spread"].max(),
                     "median spread": float(p["spread"].median()), "identical": float(p["identical"].mean()),
                     "tolerance": tolerance_from(p["spread"].max())})
    return pd.DataFrame(rows)


def setting_table(builds: list[dict]) -> pd.DataFrame:
    """Each build with a numeric setting against the same machine's build without one, on the keys both have:
    values compared, identical, largest |difference|."""
    rows = []
    for b in builds:
        if not b["setting"]:
            continue
        bases = sorted((a for a in builds if not a["setting"] and machine_label(a) == machine_label(b)),
                       key=lambda a: a["tasks"] != b["tasks"])
        for a in bases[:1]:
            diffs = [abs(v - a["values"][k][m]) for k, ms in b["values"].items() for m, v in ms.items()
                     if m in a["values"].get(k, {})]
            if diffs:
                rows.append({"machine": machine_label(b), "setting": " ".join(f"{k}={v}" for k, v in b["setting"].items()),
                             "against": a["name"], "values": len(diffs),
                             "identical": sum(d == 0 for d in diffs), "max |Δ|": max(diffs)})
    return pd.DataFrame(rows)


def verdict_table(builds: list[dict]) -> pd.DataFrame:
    """Every verdict that reads differently in some build: its readings and margins by build."""
    by = defaultdict(dict)
    for b in builds:
        for name, v in b.get("verdicts", {}).items():
            by[name][b["name"]] = v
    rows = []
    for name, vs in sorted(by.items()):
        if len({v["value"] for v in vs.values()}) > 1:
            rows.append({"verdict": name, "readings": "; ".join(f"{b}: {v['value']} (margin {v['margin']})"
                                                                 for b, v in vs.items())})
    return pd.DataFrame(rows, columns=["verdict", "readings"])


def threshold_readings(b: dict) -> dict[str, str]:
    """The verdicts a build's pinned values decide by themselves (for builds recorded without verdicts, like
    the reference's): the collapse (κ below :data:`fusionstudy.chapters.analysis.COLLAPSE_BELOW`) and each fix inside the
    report's expected range, per condition — named as :mod:`fusionstudy.chapters.verdicts` names them."""
    from fusionstudy.chapters.analysis import COLLAPSE_BELOW, arm_label
    from fusionstudy.report import EXPECTED
    from fusionlib.arms.results import safe_name

    def k(head, cond):
        return b["values"].get(f"exp-report/{safe_name(arm_label(head, cond))}", {}).get("kappa_quadratic visit")

    out = {}
    if k("baseline", "report") is not None:
        out["findings: the reported collapse reproduced"] = "yes" if k("baseline", "report") < COLLAPSE_BELOW else "no"
    for head, rec in EXPECTED.items():
        lo, hi = rec.value
        for cond in ("report", "corrected"):
            if k(head, cond) is not None:
                out[f"findings: {head} inside the report's expected range, {cond} conditions"] = (
                    "yes" if lo <= k(head, cond) <= hi else "no")
    return out


def threshold_table(builds: list[dict]) -> pd.DataFrame:
    """:func:`threshold_readings` of every build that has the report experiment: one row per verdict, one
    column per build, and whether all builds agree."""
    cols = {b["name"]: threshold_readings(b) for b in builds}
    cols = {n: r for n, r in cols.items() if r}
    t = pd.DataFrame(cols)
    if t.empty:
        return t
    t.insert(0, "agree", t.nunique(axis=1) == 1)
    return t.rename_axis("verdict").reset_index()


def leave_one_machine_out(long: pd.DataFrame) -> pd.DataFrame:
    """For each machine: the tolerances that the other machines' builds give (only groups with at least two of
    their builds), and how many of this machine's values lie farther than them from the other builds' range —
    does a tolerance measured without a CPU cover it?"""
    rows = []
    for m in sorted(long["machine"].unique()):
        rest, mine = long[long["machine"] != m], long[long["machine"] == m]
        per = spread_by_value(rest)
        per = per[per["builds"] >= 2]
        if per.empty:
            continue
        tol = {g: tolerance_from(s) for g, s in per.groupby("group")["spread"].max().items()}
        rng = rest.groupby(["key", "metric"])["value"].agg(["min", "max"])
        mine = mine[mine["group"].isin(tol)]
        j = mine.join(rng, on=["key", "metric"], how="inner")
        j["beyond"] = np.maximum(j["min"] - j["value"], j["value"] - j["max"]).clip(lower=0) - j["group"].map(tol).fillna(0)
        out = j[j["beyond"] > 1e-12]
        rows.append({"left out": m, "values": len(j), "beyond the others' tolerance": len(out),
                     "largest excess": float(out["beyond"].max()) if len(out) else 0.0,
                     "groups": ", ".join(sorted(out["group"].unique()))})
    return pd.DataFrame(rows)


def markdown(t: pd.DataFrame) -> str:
    def cell(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    if t.empty:
        return "(none)"
    lines = ["| " + " | ".join(t.columns) + " |", "|" + "---|" * len(t.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in t.itertuples(index=False)]
    return "\n".join(lines)


def report(scale: str) -> tuple[str, pd.DataFrame]:
    builds = load_builds(scale)
    if not builds:
        raise SystemExit(f"spread: no builds recorded for {scale!r} under {RECORDS / scale}")
    long = long_values(builds)
    groups = group_table(long)
    parts = [f"## Spread of the {scale} book's pinned values over {len(builds)} builds on "
             f"{long['machine'].nunique()} machines ({', '.join(sorted(long['machine'].unique()))})",
             "Builds: " + "; ".join(f"`{b['name']}` ({machine_label(b)}"
                                    + (", " + " ".join(f"{k}={v}" for k, v in b["setting"].items()) if b["setting"] else "")
                                    + (f", {len(b['tasks'])} tasks" if b["tasks"] else ", whole book") + ")"
                                    for b in builds),
             "### Per experiment and arm kind (tolerance group)", markdown(groups),
             "### Numeric settings against the same machine's default", markdown(setting_table(builds)),
             "### Verdicts that read differently in some build", markdown(verdict_table(builds)),
             "### Verdicts decided by the pinned values alone, in every build with the report experiment",
             markdown(threshold_table(builds)),
             "### Leave one machine out", markdown(leave_one_machine_out(long))]
    return "\n\n".join(parts), groups


def write_tolerances(scale: str, groups: pd.DataFrame, builds: list[dict]) -> None:
    """Rewrite :mod:`fusionstudy.build.tolerances` with ``scale``'s groups (the other scales' kept)."""
    import importlib

    from fusionstudy.build import tolerances

    importlib.reload(tolerances)
    all_groups = dict(getattr(tolerances, "GROUPS", {}))
    all_builds = dict(getattr(tolerances, "BUILDS", {}))
    all_groups[scale] = {r["group"]: {"tolerance": r["tolerance"], "max_spread": round(float(r["max spread"]), 6),
                                      "values": int(r["values"]), "builds": int(r["builds"]),
                                      "machines": int(r["machines"])} for _, r in groups.iterrows()}
    all_builds[scale] = [f"{b['name']}: {machine_label(b)}"
                         + (", " + " ".join(f"{k}={v}" for k, v in b["setting"].items()) if b["setting"] else "")
                         for b in builds]
    text = (f'''"""The measured tolerances of the pinned values — written by ``python -m benchmarks.spread report --write``
from the builds recorded under ``benchmarks/records/spread/`` (do not edit by hand).

``GROUPS[scale][group]``: for each tolerance group (:func:`fusionstudy.build.pin.group_of`) the ``tolerance`` — the
largest spread (max - min) of any of its values over every recorded build of that scale, on every machine and
numeric setting, rounded up to 1e-4 — with that spread, the number of values, builds and machines behind it.
A group absent here, or with tolerance 0, was never measured to differ: it is checked exactly.
``BUILDS[scale]``: the builds measured (record name: machine, numeric setting).
"""

GROUPS = {json.dumps(all_groups, indent=4, sort_keys=True)}

BUILDS = {json.dumps(all_builds, indent=4, sort_keys=True)}
''')
    write_text(TOLERANCES, text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.spread", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--scale", default="default")
    r.add_argument("--name", required=True)
    r.add_argument("--only", nargs="*", default=[])
    r.add_argument("--env", nargs="*", default=[], help="NAME=VALUE settings for the build's processes")
    rec = sub.add_parser("record")
    rec.add_argument("--scale", default="default")
    rec.add_argument("--name", required=True)
    rec.add_argument("--root", type=Path, default=PROJECT)
    rec.add_argument("--env", nargs="*", default=[], help="the setting the build was made under")
    rec.add_argument("--source", default="an existing build (python -m benchmarks.spread record)")
    imp = sub.add_parser("import-reference")
    imp.add_argument("folder", type=Path)
    rf = sub.add_parser("record-file", help="a pinned-values file made elsewhere (pin --update --file)")
    rf.add_argument("file", type=Path)
    rf.add_argument("--scale", default="default")
    rf.add_argument("--name", required=True)
    rf.add_argument("--cpu-model", required=True)
    rf.add_argument("--cpu-isa", required=True)
    rf.add_argument("--env", nargs="*", default=[])
    rf.add_argument("--source", required=True)
    rp = sub.add_parser("report")
    rp.add_argument("--scale", default="default")
    rp.add_argument("--write", action="store_true", help="write the tolerances into fusionstudy/build/tolerances.py")
    a = ap.parse_args(argv)
    if a.cmd == "run":
        env = dict(e.split("=", 1) for e in a.env)
        print(f"recorded {run(a.scale, a.name, a.only, env)}")
    elif a.cmd == "record":
        env = dict(e.split("=", 1) for e in a.env)
        gen = a.root.resolve() / "book" / "generated"
        tasks = sorted(json.loads((gen / "state.json").read_text()).get("wall_s", {})) if (gen / "state.json").exists() else []
        print(f"recorded {write_record(a.scale, a.name, gen, env, tasks, None, a.source)}")
    elif a.cmd == "record-file":
        doc = json.loads(a.file.read_text())
        rec = {"name": a.name, "scale": a.scale, "machine": {"cpu_model": a.cpu_model, "cpu_isa": a.cpu_isa,
                                                             "cpu_count": ""},
               "setting": dict(e.split("=", 1) for e in a.env), "tasks": [], "seconds": None, "source": a.source,
               "values": doc["values"], "verdicts": doc.get("verdicts", {})}
        write_json(record_path(a.scale, a.name), rec)
        print(f"recorded {record_path(a.scale, a.name)}")
    elif a.cmd == "import-reference":
        for p in import_reference(a.folder):
            print(f"recorded {p}")
    else:
        text, groups = report(a.scale)
        print(text)
        if a.write:
            write_tolerances(a.scale, groups, load_builds(a.scale))
            print(f"\nwrote the {a.scale} tolerances into {TOLERANCES}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
