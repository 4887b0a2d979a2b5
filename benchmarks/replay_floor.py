"""The replay chapter's forest work: how many core-seconds its forests alone cost at a scale (issue 21).

    python -m benchmarks.replay_floor --scale default [--data DIR] [--sample 24] [--json OUT]

The forests of the replay chapter are fixed by the study's rigor: the exact replay's are the original's (646 trees,
its folds, pinned with tolerance 0 because scikit-learn's trees are exact on every CPU), and the split distribution's
splits and trees are the scale's (:data:`fusionstudy.scales.SCALES` ``["replay"]``). No scheduling or caching can
make them cheaper than computing each distinct stage once, one core each, in the environment that computes them;
that cost is a floor under the whole book's core-seconds. This measures it.

Every stage the chapter computes comes from the chapter itself (:meth:`fusionstudy.chapters.replay.ReplayChapter.
forest_jobs`: the same specifications its sections run, each distinct stage once). Per section, up to ``--sample``
stages (evenly spaced; every stage where there are no more) are computed here with the disk cache bypassed — in the
pinned environment (``.venv-replay``) for the sections the chapter runs there, in this process for the one it runs
with the project's scikit-learn — one at a time, single-threaded (``OMP_NUM_THREADS=1`` as the chapter's), and timed
(wall and CPU seconds of each stage). The section's cost is its mean CPU seconds per stage times its stages.

Prints a table per section and the total against a budget of ``--minutes`` on ``--cores`` cores (default 20 on 2:
issue 21's target for the whole book). Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def time_stages(jobs: list[dict]) -> list[dict]:
    """Compute each :func:`fusionstudy.replay.protocol.forest_stage` job in this process, one after the other (the
    row table read once first, untimed); ``[{"wall_s", "cpu_s"}]`` per job."""
    from fusionstudy.replay import protocol as replay

    if jobs:
        replay.read_rows(jobs[0]["data_dir"])
    out = []
    for job in jobs:
        w0, c0 = time.perf_counter(), time.process_time()
        replay.forest_stage(**job)
        out.append({"wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0})
    return out


def time_in_engine(engine: str, jobs: list[dict]) -> list[dict]:
    """:func:`time_stages` in the environment ``engine`` names (``"pinned"``: a child process of the replay's
    pinned interpreter, with the environment the chapter gives it; ``"current"``: this process)."""
    from fusionstudy.replay import protocol as replay

    if engine == "current":
        return time_stages(jobs)
    with tempfile.TemporaryDirectory(prefix="replay-floor-") as tmp:
        spec, out = Path(tmp) / "jobs.json", Path(tmp) / "times.json"
        spec.write_text(json.dumps(jobs))
        done = subprocess.run([str(replay.pinned_python()), "-m", "benchmarks.replay_floor", "--time-jobs", str(spec),
                               "--json", str(out)], cwd=replay.PROJECT, env=replay._child_env(),
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"the pinned environment failed:\n{done.stderr[-3000:]}")
        return json.loads(out.read_text())


def sample(items: list, k: int) -> list:
    """At most ``k`` items of ``items``, evenly spaced from the first (all of them when there are no more)."""
    if k >= len(items):
        return list(items)
    step = len(items) / k
    return [items[int(i * step)] for i in range(k)]


def measure(scale: str, data_dir: str, per_section: int) -> list[dict]:
    """One row per section of the replay chapter at ``scale``: its distinct forest stages, how many were timed,
    their mean wall and CPU seconds, and the section's estimated CPU seconds."""
    from fusionstudy.chapters.replay import ReplayChapter

    chapter = ReplayChapter(data_dir, "", scale)
    if not chapter.enabled:
        raise RuntimeError(f"the replay chapter has no data: {chapter.skipped}")
    sections: dict = {}
    for section, engine, job in chapter.forest_jobs():
        sections.setdefault((section, engine), []).append(job)
    rows = []
    for (section, engine), jobs in sections.items():
        chosen = sample(jobs, per_section)
        times = time_in_engine(engine, chosen)
        cpu = sum(t["cpu_s"] for t in times) / len(times)
        wall = sum(t["wall_s"] for t in times) / len(times)
        trees = sorted({j["protocol"]["n_trees"] for j in jobs})
        rows.append({"section": section, "engine": engine, "trees": "/".join(map(str, trees)), "stages": len(jobs),
                     "timed": len(chosen), "wall_s_per_stage": wall, "cpu_s_per_stage": cpu,
                     "cpu_s": cpu * len(jobs)})
        print(f"  {section} ({engine}): {len(chosen)} of {len(jobs)} stages timed, {cpu:.2f} CPU s each",
              file=sys.stderr, flush=True)
    return rows


def render(rows: list[dict], scale: str, minutes: float, cores: int) -> str:
    budget = minutes * 60 * cores
    total = sum(r["cpu_s"] for r in rows)
    lines = [f"Replay chapter's forests at scale {scale}: each distinct stage once, one core each.",
             "", "| section | engine | trees | stages | timed | wall s/stage | CPU s/stage | est. CPU s |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['section']} | {r['engine']} | {r['trees']} | {r['stages']} | {r['timed']} | "
              f"{r['wall_s_per_stage']:.2f} | {r['cpu_s_per_stage']:.2f} | {r['cpu_s']:.0f} |" for r in rows]
    lines += [f"| **all** | | | {sum(r['stages'] for r in rows)} | {sum(r['timed'] for r in rows)} | | | "
              f"**{total:.0f}** |", "",
              f"Budget: {minutes:g} min on {cores} cores = {budget:.0f} core-seconds for the whole book; the replay's "
              f"forests alone take {total:.0f} ({100 * total / budget:.0f} %), i.e. {total / cores / 60:.1f} min of "
              f"the {cores} cores."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.replay_floor", description=__doc__.split("\n")[0])
    ap.add_argument("--scale", default="default")
    ap.add_argument("--data", default=os.environ.get("DFU_DATA_DIR", ""),
                    help="folder of the public DFU files (default $DFU_DATA_DIR)")
    ap.add_argument("--sample", type=int, default=24, help="stages timed per section at most")
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here (JSON)")
    ap.add_argument("--time-jobs", type=Path, default=None, help=argparse.SUPPRESS)   # the pinned child
    a = ap.parse_args(argv)
    if a.time_jobs is not None:
        a.json.write_text(json.dumps(time_stages(json.loads(a.time_jobs.read_text()))))
        return 0
    if a.sample < 1:
        ap.error("--sample must be at least 1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        rows = measure(a.scale, a.data, a.sample)
    except (RuntimeError, ValueError) as e:
        print(f"replay_floor: {e}", file=sys.stderr)
        return 1
    print(render(rows, a.scale, a.minutes, a.cores))
    if a.json is not None:
        from fusionlib import io

        io.write_json(a.json, {"scale": a.scale, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
