"""The study: its tasks (every experiment, arm page and chapter), their content hashes, and the run of the stale ones
through the workflow engine (Snakemake, :mod:`fusionstudy.build.engine`).

    python -m fusionstudy.build.study --scale default            # every stale task, on this machine
    python -m fusionstudy.build.study --scale smoke --root _build/smoke-book --build   # a test book elsewhere
    python -m fusionstudy.build.study --scale full --profile slurm                     # a job per task on SLURM

A run of the study

* lists the tasks (:func:`plan`) and computes each one's content hash (:func:`task_hash`: its parameters, its
  notebook template, the source of every module the notebook reaches, the locked environment, the numeric
  settings and the hashes of the tasks it reads); a task whose record (``<generated>/tasks/<task>.<hash>.json``)
  exists is unchanged and skipped (``--force`` re-runs everything);
* writes the run plan (``<generated>/plan.json``: :func:`write_run_plan`) and hands it to Snakemake with a profile
  (``laptop``: this machine, two tasks at a time; ``slurm``: a cluster job per task): ``workflow/Snakefile`` has
  one job per task whose output is that record, so the engine runs exactly the stale tasks, each after the
  tasks it reads, and none whose input failed;
* each job (:mod:`fusionstudy.build.task`) executes its notebook with papermill in a staging folder and moves the
  page and results into ``<root>/book/generated/`` only on success; a failed notebook is kept in
  ``generated/failed/``; a job killed at any point leaves no record and re-runs next time;
* prints progress only: per task, and per fold from inside an experiment's kernel (:mod:`fusionstudy.build.console`);
  the kernels' and TensorFlow's messages go to ``<root>/_build/logs/stderr.log``, Snakemake's to
  ``<root>/_build/logs/snakemake.log``. The kernels get a fixed intra-op thread count (:data:`INTRA_OP_THREADS`);
* writes ``<generated>/state.json``, the summary (per task hash, wall time and peak memory; the run's counts).

One study at a time on a tree: a second one refuses at once (:class:`StudyLocked`). ``--plan-json FILE`` runs
another list of tasks (tests use it for a plan of tiny notebooks): a JSON object
``{"notebooks_dir": "...", "tasks": [{"name": ..., "template": ..., "parameters": {...}}, ...]}``
(``notebooks_dir`` relative to the file; default ``notebooks/``).

Scales (:data:`SCALES`): ``smoke`` (seconds per arm, for CI), ``default`` (the book on a 2-core CPU) and
``full`` (the original's scale: 128 px crops, the full-width CNN, more epochs; meant for a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fusionstudy.build import console, provenance
from fusionlib import io
from fusionlib.environment import numeric_env

if __name__ == "__main__":   # python -m fusionstudy.build.study: TensorFlow's import chatter (below) stays off the console
    _STDERR = console.StderrFilter().start()

from fusionlib.cache.dependencies import closure, notebook_modules, source_digest  # noqa: E402
from fusionstudy.experiments import EXPERIMENTS, experiment_arms, n_parts  # noqa: E402
from fusionstudy.scales import SCALES  # noqa: E402
from fusionlib.cache.hashing import ContentHash  # noqa: E402
from fusionstudy.build.pages import PAGES, Page, page  # noqa: E402
from fusionlib.arms.results import safe_name  # noqa: E402
from fusionlib.arms.settings import ArmSettings, heads  # noqa: E402
from fusionstudy.build.task import FOLDERS, RECORDS, Task, record_path, study_environment  # noqa: E402
from fusionstudy.build.task import records as task_records  # noqa: E402
from fusionstudy.build import schedule  # noqa: E402

from fusionstudy import PROJECT  # noqa: E402
NOTEBOOKS = PROJECT / "notebooks"
#: Book sources copied into a separate ``--root`` (the generated part is made there).
BOOK_SOURCES = ("_config.yml", "_toc.yml", "references.bib", "book")


def experiment_tasks(scale: str) -> list[Task]:
    """One task per experiment of :data:`fusionstudy.experiments.EXPERIMENTS`; results in ``results/exp-<name>``.
    Where the scale splits an experiment's folds (:func:`fusionstudy.experiments.n_parts`), its shards come first,
    ``exp-<name>-part<k>of<n>`` (each trains on its run of the folds), and the experiment's task merges them."""
    tasks = []
    for e in EXPERIMENTS.values():
        n = n_parts(e.name, scale)
        shards = [f"exp-{e.name}-part{k}of{n}" for k in range(1, n + 1)] if n > 1 else []
        tasks += [Task(name, "experiment.ipynb", {"experiment": e.name, "scale": scale, "part": f"{k}/{n}"},
                       "experiment", title=f"{e.title} (part {k} of {n})") for k, name in enumerate(shards, start=1)]
        merge = {"parts": json.dumps(shards)} if shards else {}
        tasks.append(Task(f"exp-{e.name}", "experiment.ipynb", {"experiment": e.name, "scale": scale, **merge},
                          "experiment", depends=shards, title=e.title))
    return tasks


#: The experiment whose arms get a page each (the report's models, :data:`fusionlib.arms.settings.HEADS`).
ARM_PAGES_FROM = "report"


def arm_tasks(scale: str) -> list[Task]:
    """One page per arm of the report's models (the ``in_report`` heads, image-only once), read from the
    ``report`` experiment's results (the arm notebook runs the arm itself when they are absent)."""
    reported = {h.name for h in heads(in_report=True)}
    tasks = []
    for arm in experiment_arms(ARM_PAGES_FROM, scale):
        s = ArmSettings.from_dict(arm)
        if s.head not in reported:
            continue
        title = s.head if not s.condition else f"{s.head} ({s.condition}: {s.decomposition}, {s.source})"
        tasks.append(Task(safe_name(s.label), "arm.ipynb", {"settings": json.dumps(arm), "scale": scale,
                                                             "from_experiment": f"exp-{ARM_PAGES_FROM}"},
                          depends=[f"exp-{ARM_PAGES_FROM}"], title=title))
    return tasks


def real_data_parameters(data) -> dict:
    """The papermill parameters of a real-data page from a :class:`fusionlib.data.datasets.DataStatus`: the folder
    the study resolved (``data_dir``), or why there is none (``data_unavailable``), and the files' content hash
    (``data_sha256``: the page re-runs when the files change)."""
    return {"data_dir": str(data.folder) if data.available else "", "data_unavailable": data.reason,
            "data_sha256": data.fingerprint()}


def _data_without_download():
    """Where the public files are without downloading anything (for listing a plan): a folder you gave, or a
    complete cache; otherwise the reason."""
    from fusionlib.data import datasets

    try:
        return datasets.locate(download=False)
    except datasets.DFUDataError as e:
        return datasets.DataStatus(None, "", str(e))


def _page_task(p: Page, scale: str, data, before: list[str]) -> Task:
    """The task of page record ``p``: it reads the experiments that name it and the tasks of ``p.reads`` (every
    task in ``before`` for the appendix)."""
    params = {"scale": scale}
    if p.parameters is not None:
        params = {**p.parameters(scale), **params}
    if p.real_data:
        params.update(real_data_parameters(data))
    depends = list(before) if p.reads_all else [*(f"exp-{e}" for e in EXPERIMENTS if p.name in EXPERIMENTS[e].pages),
                                                 *p.reads]
    return Task(p.name, p.notebook, params, "page", depends, p.title, list(p.inputs), p.real_data)


def plan(scale: str, data=None) -> list[Task]:
    """Every task of the book at ``scale``: the early pages (cohort, replay), the experiments, the arm pages, the
    other pages of :data:`fusionstudy.build.pages.PAGES` (analysis pages, summary, metadata and real-data chapters; and any
    page an experiment names without a record there), the appendix last (it reads every task's time and memory).

    ``data``: where the public DFU files are (:func:`fusionlib.data.datasets.status`), passed to the real-data pages;
    ``None`` looks without downloading (:func:`run_study` resolves it, downloading when needed)."""
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r}: use one of {list(SCALES)}")
    data = _data_without_download() if data is None else data
    named = {p.name for p in PAGES}
    extra = [page(n) for n in dict.fromkeys(n for e in EXPERIMENTS.values() for n in e.pages) if n not in named]
    tasks = [_page_task(p, scale, data, []) for p in PAGES if p.early]
    tasks += experiment_tasks(scale) + arm_tasks(scale)
    tasks += [_page_task(p, scale, data, []) for p in (*PAGES, *extra) if not p.early and not p.reads_all]
    tasks += [_page_task(p, scale, data, [t.name for t in tasks]) for p in PAGES if p.reads_all]
    return tasks


#: TensorFlow intra-op threads of every kernel unless ``TF_NUM_INTRAOP_THREADS`` says otherwise: the core count
#: of the 2-core machine the book was developed on (where it changes nothing), so that a machine with more
#: cores reproduces its numbers (benchmarks/machine_dependence.py; the README's Determinism section).
INTRA_OP_THREADS = 2
#: The packages whose source a task's hash follows (the library and the study).
PACKAGES = ("fusionlib", "fusionstudy")
#: The study's own module: it renders every page (title, footer) after its notebook ran.
STUDY_MODULE = "fusionstudy.build.study"
#: Modules that show results or record where they came from but never compute them: left out of an experiment's
#: hash even where its notebook reaches them, so a change to them re-runs the pages, not the (costly) experiments.
PRESENTATION = ("fusionstudy.build.console", "fusionstudy.present", "fusionstudy.build.provenance")


def code_hash(modules, lock: Path | None = None) -> str:
    """Hash of the source of ``modules`` (dotted names; :func:`fusionlib.cache.dependencies.source_digest`) and of
    the locked environment (the content of ``lock``, default :func:`fusionstudy.build.provenance.installed_lock`): a
    changed lock re-runs every task."""
    lock = provenance.installed_lock() if lock is None else Path(lock)
    return ContentHash().update_bytes(source_digest(modules, PROJECT).encode(),
                                      lock.read_bytes() if lock.exists() else b"no lock").hexdigest()


def task_modules(task: Task, notebooks: Path = NOTEBOOKS) -> frozenset[str]:
    """The fusionlib modules a task's numbers and page depend on: those its notebook reaches
    (:func:`fusionlib.cache.dependencies.notebook_modules`); for every task but an experiment also those of the study,
    which renders the page. An experiment's costly arms thus re-run only for a change to a module they reach
    (:data:`PRESENTATION` left out)."""
    mods = notebook_modules(Path(notebooks) / task.template, PACKAGES, PROJECT)
    return mods - set(PRESENTATION) if task.kind == "experiment" else mods | closure([STUDY_MODULE], PACKAGES, PROJECT)


def task_hash(task: Task, code: str, hashes: dict, notebooks: Path = NOTEBOOKS, generated: Path | None = None) -> str:
    """Content hash of a task: parameters, template, fusionlib's code (``code``: :func:`code_hash` of
    :func:`task_modules`), the hashes of what it depends on and the content of its ``inputs`` (files under
    ``generated``; absent files count as absent)."""
    h = ContentHash().update_bytes(json.dumps(task.parameters, sort_keys=True).encode(),
                                   (Path(notebooks) / task.template).read_bytes(), code.encode())
    for dep in task.depends:
        h.update_bytes(hashes.get(dep, "missing").encode())
    for rel in task.inputs:
        path = Path(generated or ".") / rel
        h.update_bytes(path.read_bytes() if path.exists() else b"absent")
    return h.hexdigest(16)


def load_plan(path: str | Path) -> tuple[list[Task], Path]:
    """Tasks and notebooks folder from a ``--plan-json`` file (see the module docstring)."""
    path = Path(path).resolve()
    spec = json.loads(path.read_text())
    if isinstance(spec, list):
        spec = {"tasks": spec}
    notebooks = path.parent / spec["notebooks_dir"] if "notebooks_dir" in spec else NOTEBOOKS
    return [Task(**t) for t in spec["tasks"]], notebooks.resolve()


def _clean_leftovers(gen: Path) -> None:
    """Remove what an interrupted run can leave: the staging folder, half-replaced result folders and the state
    file's temporary twin (:func:`fusionlib.io.clean_leftovers`)."""
    shutil.rmtree(gen / ".staging", ignore_errors=True)
    for sub in (".", *FOLDERS.values(), "results", "failed"):
        io.clean_leftovers(gen / sub)


def task_times(generated_dir, scale: str):
    """The appendix's table: per task of :func:`plan` that ran, its last wall time (``s``) and its kernel's peak
    memory (``peak MiB``), read from the tasks' records (:func:`fusionstudy.build.task.records`; empty when the
    study has not run)."""
    import pandas as pd

    recs = task_records(generated_dir)
    times = pd.DataFrame({"s": {n: r.get("wall_s") for n, r in recs.items()},
                          "peak MiB": {n: r.get("peak_rss_mib") for n, r in recs.items()}})
    return times.reindex([t.name for t in plan(scale) if t.name in times.index])


def _prepare_root(root: Path) -> Path:
    """Copy the book's sources into a separate ``root`` (the generated part is made there) and create the
    generated folders, cleaned of an interrupted run's leftovers; returns ``<root>/book/generated``."""
    if root != PROJECT:
        root.mkdir(parents=True, exist_ok=True)
        for name in BOOK_SOURCES:
            src, dst = PROJECT / name, root / name
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns("generated"))
            else:
                shutil.copy2(src, dst)
    gen = root / "book" / "generated"
    _clean_leftovers(gen)
    for sub in (*FOLDERS.values(), "results", "failed"):
        (gen / sub).mkdir(parents=True, exist_ok=True)
    return gen


def _tasks_of(scale: str, tasks: list[Task] | None, only: list | None, log) -> list[Task]:
    """The tasks to run: ``tasks`` or the scale's :func:`plan` (the public files resolved, downloading when needed,
    if a selected task reads them), restricted to ``only``."""
    if tasks is None:
        tasks = plan(scale)
        if any(t.real_data for t in tasks if not only or t.name in only):
            from fusionlib.data import datasets

            data = datasets.status()          # downloads into the user's cache when needed
            log(data.line)
            tasks = plan(scale, data)
    tasks = list(tasks)
    return [t for t in tasks if t.name in only] if only else tasks


@dataclass
class StudyReport:
    """What a run of the study did: the tasks that ran, were unchanged (``skipped``) or failed (also those not
    run because a task they read failed), and its wall time."""

    ran: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    wall_s: float = 0.0


class StudyLocked(RuntimeError):
    """Another study is running on the same book tree."""


@contextmanager
def study_lock(root: Path):
    """Hold ``<root>/_build/study.lock`` (an exclusive ``flock``) for a ``with`` block; :class:`StudyLocked` when
    another process holds it. The lock goes with the process that held it, so a killed study never leaves one."""
    import fcntl

    path = root / "_build" / "study.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            raise StudyLocked(f"another study is running on {root} ({f.read().strip() or 'pid unknown'}): "
                              "wait for it to finish, or stop it") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}, since {time.strftime('%H:%M:%S')}")
        f.flush()
        yield


def hashes_of(tasks: list[Task], notebooks: Path, gen: Path, threads: str) -> dict[str, str]:
    """Every task's content hash (:func:`task_hash`), in plan order (a task's includes those of what it reads);
    the numeric settings (:func:`fusionlib.environment.numeric_env` and the intra-op ``threads``) are in each."""
    numeric = json.dumps({**numeric_env(), "TF_NUM_INTRAOP_THREADS": threads}, sort_keys=True)
    codes: dict = {}                          # modules -> code hash (many tasks share their modules)
    current: dict = {}
    for task in tasks:
        mods = task_modules(task, notebooks)
        if mods not in codes:
            codes[mods] = code_hash(mods) + numeric
        current[task.name] = task_hash(task, codes[mods], current, notebooks, gen)
    return current


#: Memory a task's job asks for, MiB (the largest peak measured at the default scale is ~2.2 GiB).
MEMORY_MIB = {"experiment": 8000, "arm": 4000, "page": 4000}


def trains(task: Task) -> bool:
    """Whether ``task`` trains models: an experiment or a shard of one, not the page that merges shards."""
    return task.kind == "experiment" and "parts" not in task.parameters


def resources(task: Task) -> dict:
    """What the job of ``task`` asks of the engine: cores (the kernels' intra-op threads), memory, a GPU for a
    task that trains (:func:`trains`; under the ``slurm`` profile), and a time limit in minutes."""
    return {"cpus": INTRA_OP_THREADS, "mem_mb": MEMORY_MIB.get(task.kind, 4000), "gpu": int(trains(task)),
            "runtime_min": 24 * 60}


def write_run_plan(gen: Path, tasks: list[Task], hashes: dict, *, scale: str, root: Path, notebooks: Path,
                   threads: str, kernel: str = "python3", verbose: bool = False, started: float | None = None) -> Path:
    """Write ``<gen>/plan.json``, what the workflow (``workflow/Snakefile``) and each task's job
    (:mod:`fusionstudy.build.task`) read: the tasks in plan order with their hash, number, the tasks of this
    plan they read, their :func:`resources` and the engine's priority (:func:`fusionstudy.build.schedule.priorities`:
    the longest chains start first); the book's folders, the kernel, the thread count, the study's own
    thread-count variables (:func:`fusionstudy.build.task.study_environment`), the commit the pages' footers name
    and when the study started. Written atomically."""
    names = {t.name for t in tasks}
    last = task_records(gen)
    first = schedule.priorities(tasks, gen, scale)
    entries = [{**asdict(t), "depends": [d for d in t.depends if d in names], "hash": hashes[t.name],
                "number": i, "resources": resources(t), "last_wall_s": last.get(t.name, {}).get("wall_s"),
                "priority": first[t.name]}
               for i, t in enumerate(tasks, start=1)]
    doc = {"scale": scale, "root": str(root), "generated": str(gen), "records": f"book/generated/{RECORDS}",
           "notebooks_dir": str(notebooks), "python": sys.executable, "kernel": kernel, "threads": threads,
           "verbose": verbose, "commit": provenance.git_state(), "started": started or time.time(),
           "environment": study_environment(),
           "tasks": entries}
    return io.write_json(gen / "plan.json", doc, indent=1)


def adopt_state(gen: Path, hashes: dict) -> list[str]:
    """Record, for a tree last built by the study's earlier thread-pool runner, every task whose hash in its
    ``state.json`` is the current one and whose page exists (so switching engines re-runs nothing); returns
    their names."""
    path = gen / "state.json"
    state = json.loads(path.read_text()) if path.exists() else {}
    have = task_records(gen)
    adopted = []
    for name, h in state.get("hashes", {}).items():
        if hashes.get(name) == h and name not in have and any(gen.glob(f"*/{name}.ipynb")):
            io.write_json(record_path(gen, name, h), {"task": name, "hash": h,
                                                      "wall_s": state.get("wall_s", {}).get(name),
                                                      "peak_rss_mib": state.get("peak_rss_mib", {}).get(name),
                                                      "finished": path.stat().st_mtime}, indent=2, sort_keys=True)
            adopted.append(name)
    return adopted


def write_state(gen: Path, scale: str, tasks: list[Task], hashes: dict, report: StudyReport, jobs,
                profile: str = "laptop") -> None:
    """``<gen>/state.json``, the summary the benchmarks and ``make pin`` read: the scale, per task the hash, wall
    time and peak memory of its last successful run (its record), and this run's counts (``last_run``; also
    ``last_full_run`` when every task ran)."""
    path = gen / "state.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    recs = {n: r for n, r in task_records(gen).items() if hashes.get(n) == r["hash"]}
    run = {"wall_s": round(report.wall_s, 1), "ran": len(report.ran), "skipped": len(report.skipped),
           "failed": len(report.failed), "tasks": len(tasks), "jobs": jobs, "profile": profile}
    state = {"scale": scale, "hashes": {n: r["hash"] for n, r in recs.items()},
             "wall_s": {n: r["wall_s"] for n, r in recs.items() if r.get("wall_s") is not None},
             "peak_rss_mib": {n: r["peak_rss_mib"] for n, r in recs.items() if r.get("peak_rss_mib") is not None},
             "last_run": run}
    if "last_full_run" in old:
        state["last_full_run"] = old["last_full_run"]
    if len(report.ran) == len(tasks) and not report.failed:
        state["last_full_run"] = run              # every task executed: the from-scratch cost
    io.write_json(path, state, indent=2, sort_keys=True)


def run_study(scale: str = "default", root: str | Path = PROJECT, force: bool = False, only: list | None = None,
              kernel: str = "python3", log=print, tasks: list[Task] | None = None,
              notebooks_dir: str | Path | None = None, jobs: int | None = None, profile: str = "laptop",
              verbose: bool = False, engine_args: list[str] | tuple = ()) -> StudyReport:
    """Run the study's tasks into ``<root>/book/generated`` through the workflow engine; see the module docstring.

    ``tasks`` replaces :func:`plan` (``scale`` is then only a label) and ``notebooks_dir`` the folder of their
    templates (default ``notebooks/``). ``profile``: the engine's (:func:`fusionstudy.build.engine.profiles`);
    ``jobs``: tasks at once on this machine (default: the profile's); ``engine_args``: more Snakemake options (e.g.
    a cluster's ``--slurm-partition-config``). Raises
    :class:`fusionstudy.build.engine.EngineError` or :class:`StudyLocked` before anything is written."""
    from fusionstudy.build import engine

    notebooks = Path(notebooks_dir).resolve() if notebooks_dir is not None else NOTEBOOKS
    root = Path(root).resolve()
    exe = engine.check_profile(profile)
    with study_lock(root):
        t_start = time.time()
        gen = _prepare_root(root)
        # TensorFlow's CPU numbers depend on the intra-op thread count (one per core by default): the kernels get
        # a fixed one, so machines with other core counts give the same numbers; it and oneDNN's switch are hashed
        threads = os.environ.get("TF_NUM_INTRAOP_THREADS") or str(INTRA_OP_THREADS)
        tasks = _tasks_of(scale, tasks, only, log)
        hashes = hashes_of(tasks, notebooks, gen, threads)
        adopt_state(gen, hashes)
        done = set()
        for t in tasks:
            rec = record_path(gen, t.name, hashes[t.name])
            if rec.exists() and not (gen / t.page).exists():
                rec.unlink()                      # its page was deleted: run it again
            elif rec.exists() and not force:
                done.add(t.name)
        report = StudyReport(skipped=[t.name for t in tasks if t.name in done])
        for i, t in enumerate(tasks, start=1):
            if t.name in done:
                log(f"[{i}/{len(tasks)} {0:6.0f}s] {t.name}: unchanged, skipped")
        path = write_run_plan(gen, tasks, hashes, scale=scale, root=root, notebooks=notebooks, threads=threads,
                              kernel=kernel, verbose=verbose, started=t_start)
        log_path = root / "_build" / "logs" / "snakemake.log"
        rc, why = 0, ""
        if len(done) < len(tasks):      # some task is stale (with every one recorded under its hash: no engine)
            engine.clear_stale_lock(root, log)
            cmd = engine.command(path, root, profile, cores=jobs, force=force, extra=engine_args, exe=exe)
            rc, why = engine.run(cmd, log_path, verbose=verbose)
        remote = engine.profile_executor(profile) != "local"      # the jobs printed into their own logs
        for i, t in enumerate(tasks, start=1):
            prefix = f"[{i}/{len(tasks)} {time.time() - t_start:6.0f}s] {t.name}:"
            rec = record_path(gen, t.name, hashes[t.name])
            if t.name in done:
                continue
            if rec.exists():
                report.ran.append(t.name)
                if remote:
                    log(f"{prefix} done in {json.loads(rec.read_text())['wall_s']:.0f}s (a {profile} job)")
                continue
            report.failed.append(t.name)
            blocked = [d for d in t.depends if d in report.failed]
            if (gen / "failed" / f"{t.name}.ipynb").exists() and remote:
                log(f"{prefix} FAILED; executed notebook kept at {gen / 'failed' / f'{t.name}.ipynb'}, "
                    f"the job's log under {root / '.snakemake'}")
            elif blocked and not (gen / "failed" / f"{t.name}.ipynb").exists():
                log(f"{prefix} NOT RUN, it depends on failed task(s) {', '.join(blocked)}")
        if rc != 0 and why:
            log(f"engine: {why} (its log: {log_path})")
        shutil.rmtree(gen / ".staging", ignore_errors=True)
        report.wall_s = time.time() - t_start
        write_state(gen, scale, tasks, hashes, report, jobs, profile)
    log(f"study ({scale}): {len(report.ran)} ran, {len(report.skipped)} skipped, {len(report.failed)} failed "
        f"in {report.wall_s:.0f}s" + (f"; failed: {', '.join(report.failed)}" if report.failed else ""))
    return report


def build_book(root: str | Path = PROJECT) -> int:
    """``jupyter-book build <root> -W`` (warnings are errors: a missing glue key fails the build); Sphinx's
    progress goes to ``<root>/_build/logs/html.log`` (:func:`fusionstudy.build.publish.build_html`)."""
    from fusionstudy.build.publish import build_html

    return build_html(root)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fusionstudy.build.study", description=__doc__.split("\n")[0])
    ap.add_argument("--scale", default="default", help=f"one of {', '.join(SCALES)} (default: default)")
    ap.add_argument("--root", type=Path, default=PROJECT, help="book source root (default: this project)")
    ap.add_argument("--force", action="store_true", help="re-run every task even if unchanged")
    ap.add_argument("--only", nargs="*", help="run only these tasks (file stems, e.g. image_only)")
    ap.add_argument("--build", action="store_true", help="then build the HTML book with jupyter-book -W")
    ap.add_argument("--pdf", action="store_true", help="then build the PDF book (LaTeX, xelatex)")
    ap.add_argument("--verbose", action="store_true",
                    help="show the kernels' and TensorFlow's messages on the console (always in the log)")
    ap.add_argument("--list", action="store_true", help="list the tasks and exit")
    ap.add_argument("--plan-json", type=Path, default=None,
                    help="run the tasks of this JSON file instead of the scale's plan (see the module docstring)")
    ap.add_argument("--profile", default="laptop",
                    help="the workflow engine's profile (workflow/profiles: laptop, slurm; default laptop)")
    ap.add_argument("--engine-args", default="",
                    help="more Snakemake options, one string (e.g. \"--slurm-status-command squeue\")")
    ap.add_argument("--jobs", type=int, default=None,
                    help="tasks run at once on this machine (default: the profile's, 2 for laptop)")
    a = ap.parse_args(argv)
    a.root = a.root.resolve()
    # the console shows the study's progress; the kernels' and TensorFlow's messages go to the log only
    gate = globals().get("_STDERR") or console.StderrFilter()
    gate.keep = (lambda line: True) if a.verbose else None
    try:
        if not gate.started:
            gate.start()
        return _main(a, gate)
    finally:
        gate.stop()


def _main(a: argparse.Namespace, gate: "console.StderrFilter") -> int:
    from fusionlib.data.datasets import DFUDataError
    from fusionstudy.build.engine import EngineError, check_profile

    if a.scale not in SCALES:
        print(f"error: unknown scale {a.scale!r}: use one of {', '.join(SCALES)}", file=sys.stderr, flush=True)
        return 2
    tasks, notebooks = load_plan(a.plan_json) if a.plan_json else (None, None)
    if a.list:
        for t in tasks if tasks is not None else plan(a.scale):
            print(t.name)
        return 0
    try:
        check_profile(a.profile)              # before anything is written
    except EngineError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    log_path = gate.set_log(a.root / "_build" / "logs" / "stderr.log")
    try:
        report = run_study(a.scale, a.root, a.force, a.only, log=lambda m: print(m, flush=True), tasks=tasks,
                           notebooks_dir=notebooks, jobs=a.jobs, profile=a.profile, verbose=a.verbose,
                           engine_args=shlex.split(a.engine_args))
    except (DFUDataError, EngineError, StudyLocked) as e:     # nothing was run: one line says why
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    if report.failed:
        print(f"(kernel and TensorFlow messages: {log_path})", flush=True)
        return 1
    if a.build:
        print("building the HTML book (jupyter-book -W) ...", flush=True)
        rc = build_book(a.root)
        if rc != 0:
            return rc
        print(f"book: {a.root / '_build' / 'html' / 'index.html'}", flush=True)
    if a.pdf:
        print("building the PDF book (jupyter-book, xelatex) ...", flush=True)
        from fusionstudy.build.publish import build_pdf

        return build_pdf(a.root)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
