"""Which ready task the engine starts first: the one at the head of the longest chain of expected seconds.

On two cores the study's wall time is set by its longest tasks (the replay, the report experiment, the real-data
chapter). Started in plan order, they ran last, alone, one core idle. Each task's job therefore gets a Snakemake
``priority``: the seconds expected for the task itself plus those of the longest chain of tasks that read it,
directly or not (:func:`chain_seconds`) — the critical-path rule of list scheduling. Priorities only order the
ready jobs: they change no task, hash or result.

Expected seconds (:func:`expected_seconds`) are the task's own last wall time in this tree (its newest record,
whatever its hash), else the hints in ``workflow/task-seconds.json`` — the wall times of a from-scratch build per
scale, written from that build's records by ``python -m fusionstudy.build.schedule --scale S --write``, so a fresh
clone schedules well too — else the median of the known tasks of the same kind, else one second.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from fusionlib import io
from fusionstudy import PROJECT
from fusionstudy.build.task import Task, records

#: Measured wall times (s) of a from-scratch build, per scale and task: the scheduling hints of a fresh clone.
HINTS = PROJECT / "workflow" / "task-seconds.json"


def load_hints(scale: str, path: str | Path | None = None) -> dict[str, float]:
    """The hints of ``scale`` (task -> seconds) in ``path`` (default :data:`HINTS`); empty when the file or the
    scale is absent."""
    path = Path(path or HINTS)
    return json.loads(path.read_text()).get(scale, {}) if path.is_file() else {}


def expected_seconds(tasks: list[Task], last: dict[str, float], hints: dict[str, float]) -> dict[str, float]:
    """Seconds expected per task: ``last`` (its last wall time here), else ``hints``, else the median of the
    known tasks of its kind, else 1."""
    known = {t.name: last.get(t.name, hints.get(t.name)) for t in tasks}
    by_kind: dict[str, list[float]] = {}
    for t in tasks:
        if known[t.name] is not None:
            by_kind.setdefault(t.kind, []).append(known[t.name])
    return {t.name: float(known[t.name] if known[t.name] is not None
                          else statistics.median(by_kind[t.kind]) if t.kind in by_kind else 1.0) for t in tasks}


def chain_seconds(tasks: list[Task], seconds: dict[str, float]) -> dict[str, float]:
    """Per task: its ``seconds`` plus the longest chain of ``seconds`` through the tasks that read it (``depends``),
    i.e. the least time from its start to the end of the study. ``tasks`` in plan order (each after what it reads)."""
    names = {t.name for t in tasks}
    readers: dict[str, list[str]] = {t.name: [] for t in tasks}
    for t in tasks:
        for d in t.depends:
            if d in names:
                readers[d].append(t.name)
    chain: dict[str, float] = {}
    for t in reversed(tasks):
        chain[t.name] = seconds[t.name] + max((chain[r] for r in readers[t.name]), default=0.0)
    return chain


def last_wall_times(generated: str | Path) -> dict[str, float]:
    """Each task's wall time (s) in its newest record under ``generated`` (:func:`fusionstudy.build.task.records`)."""
    return {n: r["wall_s"] for n, r in records(generated).items() if r.get("wall_s") is not None}


def priorities(tasks: list[Task], generated: str | Path, scale: str, hints_path: str | Path | None = None
               ) -> dict[str, int]:
    """The engine's priority of each task: :func:`chain_seconds` of :func:`expected_seconds`, in whole seconds."""
    chain = chain_seconds(tasks, expected_seconds(tasks, last_wall_times(generated), load_hints(scale, hints_path)))
    return {name: int(round(s)) for name, s in chain.items()}


def write_hints(scale: str, generated: str | Path, path: str | Path | None = None) -> dict[str, float]:
    """Replace the hints of ``scale`` in ``path`` (default :data:`HINTS`) by the wall times of the records under
    ``generated`` (rounded to a second); the other scales' are kept. Written atomically; returns the new hints."""
    path = Path(path or HINTS)
    walls = last_wall_times(generated)
    if not walls:
        raise ValueError(f"no task records under {Path(generated) / 'tasks'}: build the study first")
    doc = json.loads(path.read_text()) if path.is_file() else {}
    doc[scale] = {n: round(s) for n, s in sorted(walls.items())}
    io.write_json(path, doc, indent=1, sort_keys=True)
    return doc[scale]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fusionstudy.build.schedule",
                                 description="Write a scale's scheduling hints from a finished build's records.")
    ap.add_argument("--scale", required=True)
    ap.add_argument("--generated", type=Path, default=PROJECT / "book" / "generated")
    ap.add_argument("--write", action="store_true", help=f"write them into {HINTS.relative_to(PROJECT)}")
    a = ap.parse_args(argv)
    from fusionstudy.scales import SCALES

    if a.scale not in SCALES:
        print(f"error: unknown scale {a.scale!r}; use one of {', '.join(SCALES)}")
        return 2
    try:
        hints = (write_hints(a.scale, a.generated) if a.write
                 else {n: round(s) for n, s in last_wall_times(a.generated).items()})
    except ValueError as e:
        print(f"error: {e}")
        return 2
    print(json.dumps(hints, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
