"""The study runner: execute every arm's notebook with papermill into the book's tree, then the summary pages.

    python -m fusionstudy.build.study --scale default            # every arm, then results and appendix pages
    python -m fusionstudy.build.study --scale smoke --root _build/smoke-book --build   # a test book elsewhere

For each task (an arm, or a summary page) the runner

* computes a content hash of its parameters, its notebook template and fusionlib's source; a task whose hash
  matches its last successful run is skipped (``--force`` re-runs everything);
* executes the template with papermill into a staging folder; only on success are the executed notebook and
  the arm's results moved into ``<root>/book/generated/`` and the hash recorded, so a failed or interrupted
  arm never replaces the results of an earlier successful run;
* keeps a failed arm's executed notebook in ``<root>/book/generated/failed/`` and reports it; the other arms
  go on, and the summary pages (which depend on every arm) are not re-run over a partial set of results;
* records per task, in ``state.json``, the wall time (``wall_s``) and the peak resident memory of the kernel's
  process tree (``peak_rss_mib``, see :class:`PeakMemory`). A study killed at any point resumes: finished
  tasks are skipped, and whatever the killed task left in ``.staging`` is discarded, never presented.
* ends every executed page with the notebook, parameters and commit that made it (an arm page also with
  download links to its ``metrics.csv`` and ``predictions.csv.gz``; :func:`page_footer`);
* prints progress only: per task, and per fold from inside an experiment's kernel (:mod:`fusionstudy.build.console`);
  the kernels' and TensorFlow's messages go to ``<root>/_build/logs/stderr.log``. The kernels get a fixed
  intra-op thread count (:data:`INTRA_OP_THREADS`), and the lock file's content, the thread count and oneDNN's
  switch are part of every task's hash.

``--plan-json FILE`` runs another list of tasks (tests use it for a plan of tiny notebooks): a JSON object
``{"notebooks_dir": "...", "tasks": [{"name": ..., "template": ..., "parameters": {...}}, ...]}``
(``notebooks_dir`` relative to the file; default ``notebooks/``).

Scales (:data:`SCALES`): ``smoke`` (seconds per arm, for CI), ``default`` (the book on a 2-core CPU) and
``full`` (the original's scale: 128 px crops, the full-width CNN, more epochs; meant for a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fusionstudy.build import console, provenance
from fusionlib import io
from fusionlib.environment import numeric_env

if __name__ == "__main__":   # python -m fusionstudy.build.study: TensorFlow's import chatter (below) stays off the console
    _STDERR = console.StderrFilter().start()

from fusionlib.cache.dependencies import closure, notebook_modules, source_digest  # noqa: E402
from fusionstudy.experiments import EXPERIMENTS, experiment_arms  # noqa: E402
from fusionstudy.scales import SCALES  # noqa: E402
from fusionlib.cache.hashing import ContentHash  # noqa: E402
from fusionstudy.build.memory import PeakMemory  # noqa: E402
from fusionstudy.build.pages import PAGES, Page, page  # noqa: E402
from fusionlib.arms.results import safe_name  # noqa: E402
from fusionlib.arms.settings import ArmSettings, heads  # noqa: E402

from fusionstudy import PROJECT  # noqa: E402
NOTEBOOKS = PROJECT / "notebooks"
#: Book sources copied into a separate ``--root`` (the generated part is made there).
BOOK_SOURCES = ("_config.yml", "_toc.yml", "references.bib", "book")
#: Where each kind of task's executed notebook goes under ``book/generated``.
FOLDERS = {"arm": "arms", "experiment": "experiments", "page": "pages"}


@dataclass
class Task:
    """One notebook to execute: ``name`` (file stem), ``template`` (in ``notebooks/``), papermill parameters,
    ``kind`` (:data:`FOLDERS`), the tasks it reads (``depends``), the page ``title`` (the first heading of
    the executed notebook), the files under ``book/generated`` whose content it shows (``inputs``) and whether
    it reads the public DFU files (``real_data``)."""

    name: str
    template: str
    parameters: dict
    kind: str = "arm"
    depends: list = field(default_factory=list)
    title: str = ""
    inputs: list = field(default_factory=list)
    real_data: bool = False


def experiment_tasks(scale: str) -> list[Task]:
    """One task per experiment of :data:`fusionstudy.experiments.EXPERIMENTS`; results in ``results/exp-<name>``."""
    return [Task(f"exp-{e.name}", "experiment.ipynb", {"experiment": e.name, "scale": scale}, "experiment",
                 title=e.title) for e in EXPERIMENTS.values()]


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


#: Tags by which a template decides how a code cell shows on its page itself (myst-nb's cell tags).
SHOW_TAGS = {"remove-cell", "remove-input", "remove-output", "hide-cell", "hide-input", "hide-output", "show-input"}


def reader_tags(cell) -> list[str]:
    """The tags of an executed code cell as a reader's page shows it: a cell that printed or drew nothing
    (imports, parameters, the work behind a later table, values glued for the text; stderr, which the book does
    not show, does not count) is removed from the page, a cell with output shows
    the output with its source folded one click away (``hide-input``). A template cell that carries one of
    :data:`SHOW_TAGS` keeps its own choice (``show-input`` shows the source). The executed notebook, source and
    all, stays downloadable, and the page's footer names its template and parameters."""
    tags = list(cell.metadata.get("tags", []))
    if cell.cell_type != "code" or SHOW_TAGS & set(tags):
        return tags
    # what the page shows: not glue(..., display=False) values, not stderr (the book's nb_output_stderr: remove)
    visible = [o for o in cell.outputs if "scrapbook" not in o.get("metadata", {})
               and not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    return [*tags, "hide-input" if visible else "remove-cell"]


def _retitle(notebook: Path, title: str, footer: str = "") -> None:
    """Make an executed notebook a page for readers: replace its first heading (the page title) by ``title``,
    drop the study's progress lines from the cells' stderr (:func:`fusionstudy.build.console.strip_progress`: they went
    to the console, and a rebuild under nbval has none), fold or remove code (:func:`reader_tags`), and end
    the page with ``footer`` (Markdown: where the page comes from, :func:`page_footer`)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    first = nb.cells[0]
    if title:
        lines = first.source.splitlines()
        first.source = "\n".join([f"# {title}", *lines[1:]])
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = console.strip_progress(cell.outputs)
            cell.metadata["tags"] = reader_tags(cell)
    if footer:
        nb.cells = [c for c in nb.cells if "provenance" not in c.metadata.get("tags", [])]
        cell = nbformat.v4.new_markdown_cell(footer)
        cell.metadata["tags"] = ["provenance"]
        nb.cells.append(cell)
    nbformat.write(nb, notebook)


def page_footer(task: Task, gen: Path, state: dict, own_result: bool) -> str:
    """The last line of a task's page (:func:`fusionstudy.build.provenance.page_footer`): its template, parameters and
    the commit it ran at; an arm page also links its ``metrics.csv`` and ``predictions.csv.gz`` for download —
    its own result (``own_result``: the notebook ran the arm) or the arm's folder in the experiment it loaded
    from (``from_experiment``)."""
    downloads = []
    if task.kind == "arm":
        folder = gen / "results" / task.name
        if not own_result and task.parameters.get("from_experiment"):
            folder = gen / "results" / task.parameters["from_experiment"] / task.name
        if (folder / "metrics.csv").exists():
            rel = Path("..") / folder.relative_to(gen)
            downloads = [(name, (rel / name).as_posix()) for name in ("metrics.csv", "predictions.csv.gz")
                         if (folder / name).exists()]
    return provenance.page_footer(task.template, task.parameters, state, downloads)


def _last_error(exc: BaseException) -> str:
    """One line for a failed notebook: the cell's exception (``Name: value``, papermill's execution error)
    and the cell, or the last line of any other exception."""
    import re

    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        where = getattr(exc, "exec_count", None)
        text = f"{ename}: {evalue}" + (f" (cell [{where}])" if where is not None else "")
    else:
        lines = str(exc).strip().splitlines()
        text = lines[-1] if lines else type(exc).__name__
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@contextmanager
def _environ(name: str, value: str):
    """Set an environment variable for the duration of a ``with`` block (then restore it)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


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
    memory (``peak MiB``), read from ``<generated>/state.json`` (empty when the study has not run)."""
    import pandas as pd

    path = Path(generated_dir) / "state.json"
    state = json.loads(path.read_text()) if path.exists() else {}
    times = pd.DataFrame({"s": state.get("wall_s", {}), "peak MiB": state.get("peak_rss_mib", {})})
    return times.reindex([t.name for t in plan(scale) if t.name in times.index])


class StateFile:
    """``<generated>/state.json``: per task the hash of its last successful run (``hashes``), its wall time
    (``wall_s``) and the peak memory of its kernel's process tree (``peak_rss_mib``), and the last run's counts;
    written atomically after every change. A state of another scale is dropped (every task re-runs)."""

    def __init__(self, path: Path, scale: str, log=print):
        self.path = path
        data = json.loads(path.read_text()) if path.exists() else {}
        if data.get("scale") not in (None, scale):
            log(f"scale changed from {data.get('scale')} to {scale}: every task re-runs")
            data = {}
        data["scale"] = scale
        self.data = data
        self.hashes = data.setdefault("hashes", {})
        self.times = data.setdefault("wall_s", {})
        self.peaks = data.setdefault("peak_rss_mib", {})

    def save(self) -> None:
        io.write_json(self.path, self.data, indent=2, sort_keys=True)

    def succeeded(self, name: str, h: str, wall_s: float, peak_mib: float | None) -> None:
        self.hashes[name] = h
        self.times[name] = round(wall_s, 1)
        if peak_mib is not None:
            self.peaks[name] = peak_mib
        self.save()

    def failed(self, name: str) -> None:
        self.hashes.pop(name, None)
        self.save()

    def finish(self, report: "StudyReport", n_tasks: int, jobs: int) -> None:
        run = {"wall_s": round(report.wall_s, 1), "ran": len(report.ran), "skipped": len(report.skipped),
               "failed": len(report.failed), "tasks": n_tasks, "jobs": jobs}
        self.data["last_run"] = run
        if len(report.ran) == n_tasks and not report.failed:
            self.data["last_full_run"] = run          # every task executed: the from-scratch cost
        self.save()


class _Scheduler:
    """Which task starts next: in plan order, a task starts only when every task it reads (within the plan) has
    been decided (run, skipped or failed)."""

    def __init__(self, tasks: list[Task]):
        self.pending = list(enumerate(tasks, start=1))
        self.names = {t.name for t in tasks}
        self.decided: set = set()

    def next_ready(self):
        """The first pending ``(number, task)`` whose inputs are decided (removed from the pending list), or None."""
        for i, task in self.pending:
            if not any(d in self.names and d not in self.decided for d in task.depends):
                self.pending.remove((i, task))
                return i, task
        return None


@dataclass
class StudyReport:
    ran: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    wall_s: float = 0.0


@dataclass
class _Run:
    """One task's execution in progress: where its notebook and results are staged, and its hash."""

    number: int
    task: Task
    hash: str
    stage: Path
    t0: float

    @property
    def notebook(self) -> Path:
        return self.stage / f"{self.task.name}.ipynb"


def _complete(run: _Run, future, gen: Path, state: StateFile, commit: dict, report: StudyReport, log,
              prefix: str, notebooks: Path, jobs: int) -> bool:
    """A task's end: on success its page is retitled and given its footer, its results and executed notebook
    move into ``gen`` (atomically) and its hash is recorded; on failure its executed notebook is kept in
    ``gen/failed`` and nothing else changes. Returns whether it succeeded."""
    task, out_nb = run.task, run.notebook
    exc = future.exception()
    if exc is not None:
        failed_nb = gen / "failed" / f"{task.name}.ipynb"
        if out_nb.exists():
            io.replace(out_nb, failed_nb)
        shutil.rmtree(run.stage, ignore_errors=True)
        state.failed(task.name)
        log(f"{prefix} {task.name}: FAILED: {_last_error(exc)}\n"
            f"    template {notebooks / task.template}; executed notebook kept at {failed_nb}")
        report.failed.append(task.name)
        return False
    peak = future.result()
    own = (run.stage / "result").exists()
    _retitle(out_nb, task.title, page_footer(task, gen, commit, own_result=own))
    if own:
        io.replace(run.stage / "result", gen / "results" / task.name)
    io.replace(out_nb, gen / FOLDERS.get(task.kind, "pages") / f"{task.name}.ipynb")
    shutil.rmtree(run.stage, ignore_errors=True)
    (gen / "failed" / f"{task.name}.ipynb").unlink(missing_ok=True)
    state.succeeded(task.name, run.hash, time.perf_counter() - run.t0, peak)
    report.ran.append(task.name)
    log(f"{prefix} {task.name}: done in {state.times[task.name]:.0f}s"
        + (f", peak {peak:.0f} MiB" if peak is not None else "")
        + (" (tasks ran concurrently: the peak covers all kernels alive meanwhile)" if jobs > 1 else ""))
    return True


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


def run_study(scale: str = "default", root: str | Path = PROJECT, force: bool = False, only: list | None = None,
              kernel: str = "python3", log=print, tasks: list[Task] | None = None,
              notebooks_dir: str | Path | None = None, jobs: int = 1) -> StudyReport:
    """Execute the study's notebooks into ``<root>/book/generated``; see the module docstring.

    ``tasks`` replaces :func:`plan` (``scale`` is then only a label in ``state.json``) and ``notebooks_dir``
    the folder of their templates (default ``notebooks/``). ``jobs`` notebooks run at once (each in its own
    kernel); a task starts only when every task it reads has finished."""
    import papermill as pm

    notebooks = Path(notebooks_dir).resolve() if notebooks_dir is not None else NOTEBOOKS
    gen = _prepare_root(Path(root).resolve())
    staging = gen / ".staging"
    state = StateFile(gen / "state.json", scale, log)
    # TensorFlow's CPU numbers depend on the intra-op thread count (one per core by default): the kernels get a
    # fixed one, so machines with other core counts give the same numbers; it and oneDNN's switch are hashed
    threads = os.environ.get("TF_NUM_INTRAOP_THREADS") or str(INTRA_OP_THREADS)
    numeric = json.dumps({**numeric_env(), "TF_NUM_INTRAOP_THREADS": threads}, sort_keys=True)
    codes: dict = {}                          # modules -> code hash (many tasks share their modules)

    def code_of(task: Task) -> str:
        mods = task_modules(task, notebooks)
        if mods not in codes:
            codes[mods] = code_hash(mods) + numeric
        return codes[mods]

    commit = provenance.git_state()          # shown at the end of every page made now
    tasks = _tasks_of(scale, tasks, only, log)
    report = StudyReport()
    t_start = time.perf_counter()
    current: dict = {}                        # task -> its hash now (what dependants see), or "failed"
    sched = _Scheduler(tasks)
    running: dict = {}

    def prefix(i: int) -> str:
        return f"[{i}/{len(tasks)} {time.perf_counter() - t_start:6.0f}s]"

    def execute(i: int, task: Task, out_nb: Path, params: dict):
        # the kernel's progress lines (fusionstudy.build.console.progress) reach the log as they come
        sink = console.ProgressSink(lambda m: log(f"{prefix(i)} {task.name}: {m}"))
        with PeakMemory() as mem:
            pm.execute_notebook(str(notebooks / task.template), str(out_nb), parameters=params,
                                kernel_name=kernel, cwd=str(notebooks), progress_bar=False, stderr_file=sink)
        return mem.peak_mib

    def start(i: int, task: Task, pool) -> None:
        """Skip the task when unchanged, refuse it when what it reads failed, else submit it."""
        h = task_hash(task, code_of(task), current, notebooks, gen)
        current[task.name] = h
        target = gen / FOLDERS.get(task.kind, "pages") / f"{task.name}.ipynb"
        if not force and state.hashes.get(task.name) == h and target.exists():
            log(f"{prefix(i)} {task.name}: unchanged, skipped")
            report.skipped.append(task.name)
            sched.decided.add(task.name)
            return
        blocked = [d for d in task.depends if d in report.failed]
        if blocked:
            log(f"{prefix(i)} {task.name}: NOT RUN, it depends on failed task(s) {', '.join(blocked)}")
            report.failed.append(task.name)
            current[task.name] = "failed"
            sched.decided.add(task.name)
            return
        last = state.times.get(task.name)
        log(f"{prefix(i)} {task.name}: running ({len(sched.pending)} after it"
            + (f"; took {last:.0f}s last time)" if last else ")"))
        run = _Run(i, task, h, staging / task.name, time.perf_counter())
        run.stage.mkdir(parents=True)
        params = {**task.parameters, "out_dir": str(run.stage / "result"), "generated_dir": str(gen)}
        running[pool.submit(execute, i, task, run.notebook, params)] = run

    # papermill's ``cwd`` changes the *process* working directory while a notebook runs; two at once can leave
    # it in notebooks/ (the second restores what the first had set), so it is put back when all are done
    start_dir = os.getcwd()
    # the kernels inherit the variable: they report each fold (fusionstudy.build.console.progress)
    with _environ(console.ENV, "1"), _environ("TF_NUM_INTRAOP_THREADS", threads), \
            ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        while sched.pending or running:
            while len(running) < max(1, jobs) and (ready := sched.next_ready()) is not None:
                start(*ready, pool)
            if not running:
                continue
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                run = running.pop(future)
                if not _complete(run, future, gen, state, commit, report, log, prefix(run.number), notebooks, jobs):
                    current[run.task.name] = "failed"
                sched.decided.add(run.task.name)
    os.chdir(start_dir)
    shutil.rmtree(staging, ignore_errors=True)
    report.wall_s = time.perf_counter() - t_start
    state.finish(report, len(tasks), jobs)
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
    ap.add_argument("--scale", choices=list(SCALES), default="default")
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
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="notebooks executed at once (default: 2 on a machine with 2 or more cores)")
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
    tasks, notebooks = load_plan(a.plan_json) if a.plan_json else (None, None)
    if a.list:
        for t in tasks if tasks is not None else plan(a.scale):
            print(t.name)
        return 0
    from fusionlib.data.datasets import DFUDataError

    log_path = gate.set_log(a.root / "_build" / "logs" / "stderr.log")
    try:
        report = run_study(a.scale, a.root, a.force, a.only, log=lambda m: print(m, flush=True), tasks=tasks,
                           notebooks_dir=notebooks, jobs=a.jobs)
    except DFUDataError as e:                 # a data folder you gave lacks a file: nothing was run
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
