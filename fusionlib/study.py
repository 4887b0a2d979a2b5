"""The study runner: execute every arm's notebook with papermill into the book's tree, then the summary pages.

    python -m fusionlib.study --scale default            # every arm, then results and appendix pages
    python -m fusionlib.study --scale smoke --root _build/smoke-book --build   # a test book elsewhere

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
* prints progress only: per task, and per fold from inside an experiment's kernel (:mod:`fusionlib.console`);
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
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import console, provenance

if __name__ == "__main__":   # python -m fusionlib.study: TensorFlow's import chatter (below) stays off the console
    _STDERR = console.StderrFilter().start()

from .experiments import EXPERIMENTS, SCALES, experiment_arms  # noqa: E402
from .runner import ArmSettings, condition_of, safe_name  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
NOTEBOOKS = PROJECT / "notebooks"
#: Book sources copied into a separate ``--root`` (the generated part is made there).
BOOK_SOURCES = ("_config.yml", "_toc.yml", "references.bib", "book")
#: Where each kind of task's executed notebook goes under ``book/generated``.
FOLDERS = {"arm": "arms", "experiment": "experiments", "page": "pages"}
#: Page titles of the experiments.
EXPERIMENT_TITLES = {
    "report": "The report's arms and the robust fusions",
    "grid": "The root-cause grid",
    "mechanisms": "Candidate mechanisms of the collapse",
    "stability": "Seeds and batch sizes",
    "sweep": "Thermal signal sweep",
    "joint": "Frozen vs end-to-end image branch",
}
#: Analysis pages: (task name, template, experiments it reads).
PAGES = [
    ("results", "results.ipynb", ["report"]),
    ("rootcause", "rootcause.ipynb", ["grid"]),
    ("hypotheses", "hypotheses.ipynb", ["report", "stability"]),
    ("mechanisms", "mechanisms.ipynb", ["mechanisms", "joint"]),
    ("sensitivity", "sensitivity.ipynb", ["sweep"]),
    ("findings", "findings.ipynb", list(EXPERIMENTS)),
]


@dataclass
class Task:
    """One notebook to execute: ``name`` (file stem), ``template`` (in ``notebooks/``), papermill parameters,
    ``kind`` (:data:`FOLDERS`), the tasks it reads (``depends``) and the page ``title`` (the first heading of
    the executed notebook)."""

    name: str
    template: str
    parameters: dict
    kind: str = "arm"
    depends: list = field(default_factory=list)
    title: str = ""
    inputs: list = field(default_factory=list)   # files under book/generated whose content the page shows


def experiment_tasks(scale: str) -> list[Task]:
    """One task per experiment of :mod:`fusionlib.experiments`; results in ``results/exp-<name>``."""
    return [Task(f"exp-{name}", "experiment.ipynb", {"experiment": name, "scale": scale}, "experiment",
                 title=EXPERIMENT_TITLES[name]) for name in EXPERIMENTS]


def arm_tasks(scale: str) -> list[Task]:
    """One page per arm of the report (13: image-only once, six heads under two conditions), read from the
    ``report`` experiment's results (the arm notebook runs the arm itself when they are absent)."""
    tasks = []
    for arm in experiment_arms("report", scale):
        s = ArmSettings.from_dict(arm)
        if s.head not in ("image_only", "metadata_only", "baseline", "fix1", "fix2", "fix3", "fix23"):
            continue
        title = s.head if s.head == "image_only" else f"{s.head} ({condition_of(s)}: {s.decomposition}, {s.source})"
        tasks.append(Task(safe_name(s.label), "arm.ipynb", {"settings": json.dumps(arm), "scale": scale,
                                                             "from_experiment": "exp-report"},
                          depends=["exp-report"], title=title))
    return tasks


#: The pages that read the public DFU files; each gets :func:`real_data_parameters` from the plan.
REAL_DATA_PAGES = ("replay", "metadata", "realdata")


def real_data_parameters(data) -> dict:
    """The papermill parameters of a real-data page from a :class:`fusionlib.datasets.DataStatus`: the folder
    the study resolved (``data_dir``), or why there is none (``data_unavailable``), and the files' content hash
    (``data_sha256``: the page re-runs when the files change)."""
    return {"data_dir": str(data.folder) if data.available else "", "data_unavailable": data.reason,
            "data_sha256": data.fingerprint()}


def _data_without_download():
    """Where the public files are without downloading anything (for listing a plan): a folder you gave, or a
    complete cache; otherwise the reason."""
    from . import datasets
    from .dfu import DFUDataError

    try:
        return datasets.locate(download=False)
    except DFUDataError as e:
        return datasets.DataStatus(None, "", str(e))


def plan(scale: str, data=None) -> list[Task]:
    """Every task of the book at ``scale``: the cohort page, the experiments, the arm pages, the analysis
    pages, the summary, the metadata chapter, the real-data chapter and the appendix (which reads every task's time and memory).

    ``data``: where the public DFU files are (:func:`fusionlib.datasets.status`), passed to the real-data pages;
    ``None`` looks without downloading (:func:`run_study` resolves it, downloading when needed)."""
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r}: use one of {list(SCALES)}")
    data = _data_without_download() if data is None else data
    cohort = Task("cohort", "cohort.ipynb", {"cohort": json.dumps(SCALES[scale]["common"]["cohort"]),
                                             "scale": scale}, "page")
    exps = experiment_tasks(scale)
    arms = arm_tasks(scale)
    pages = [Task(name, template, {"scale": scale}, "page", [f"exp-{e}" for e in reads])
             for name, template, reads in PAGES]
    real = {"scale": scale, **real_data_parameters(data)}
    # the replay of the original protocol on the public row table (issue 10); the findings page reads its tables
    replay = Task("replay", "replay.ipynb", dict(real), "page")
    for page in pages:
        if page.name == "findings":
            page.depends.append("replay")
    # the one-page summary at the front: the findings' answer, the replay's split figure, the key evidence
    summary = Task("summary", "summary.ipynb", {"scale": scale}, "page", ["replay", "exp-mechanisms"])
    metadata = Task("metadata", "metadata.ipynb", dict(real), "page")
    # the real-data page's bar is the metadata chapter's arm (same folds): run after it, to reuse its cache
    realdata = Task("realdata", "realdata.ipynb", dict(real), "page", ["metadata"])
    before = [t.name for t in [cohort, replay, *exps, *arms, *pages, summary, metadata, realdata]]
    appendix = Task("appendix", "appendix.ipynb", {"scale": scale}, "page", before,
                    inputs=["benchmarks/benchmark.md"])
    return [cohort, replay, *exps, *arms, *pages, summary, metadata, realdata, appendix]


#: TensorFlow intra-op threads of every kernel unless ``TF_NUM_INTRAOP_THREADS`` says otherwise: the core count
#: of the 2-core machine the book was developed on (where it changes nothing), so that a machine with more
#: cores reproduces its numbers (benchmarks/machine_dependence.py; the README's Determinism section).
INTRA_OP_THREADS = 2
#: Modules the experiments do not use (they present results, serve only pages, or run the study): a change to
#: them re-runs the pages, not the (costly) experiments.
PRESENTATION = ("agreement.py", "analysis.py", "datasets.py", "findings.py", "plots.py", "report.py", "study.py",
                "metadata.py", "metadata_tables.py", "console.py", "pin.py", "provenance.py", "publish.py",
                "replay.py", "replay_studies.py", "present.py")


def code_hash(exclude: tuple = (), lock: Path | None = None) -> str:
    """Hash of fusionlib's source files, less ``exclude`` (file names), and of the locked environment (the
    content of ``lock``, default :func:`fusionlib.provenance.installed_lock`): a changed lock re-runs every task."""
    h = hashlib.sha256()
    for path in sorted((PROJECT / "fusionlib").glob("*.py")):
        if path.name in exclude:
            continue
        h.update(path.name.encode())
        h.update(path.read_bytes())
    lock = provenance.installed_lock() if lock is None else Path(lock)
    h.update(lock.read_bytes() if lock.exists() else b"no lock")
    return h.hexdigest()


def task_hash(task: Task, code: str, hashes: dict, notebooks: Path = NOTEBOOKS, generated: Path | None = None) -> str:
    """Content hash of a task: parameters, template, fusionlib's code, the hashes of what it depends on and the
    content of its ``inputs`` (files under ``generated``; absent files count as absent)."""
    h = hashlib.sha256()
    h.update(json.dumps(task.parameters, sort_keys=True).encode())
    h.update((Path(notebooks) / task.template).read_bytes())
    h.update(code.encode())
    for dep in task.depends:
        h.update(hashes.get(dep, "missing").encode())
    for rel in task.inputs:
        path = Path(generated or ".") / rel
        h.update(path.read_bytes() if path.exists() else b"absent")
    return h.hexdigest()[:16]


def _replace(src: Path, dst: Path) -> None:
    """Move ``src`` onto ``dst`` (file or folder), replacing it as atomically as the filesystem allows."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_dir():
        old = dst.with_name(f".{dst.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


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
    drop the study's progress lines from the cells' stderr (:func:`fusionlib.console.strip_progress`: they went
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
    """The last line of a task's page (:func:`fusionlib.provenance.page_footer`): its template, parameters and
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


def _write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True))
    os.replace(tmp, path)


def _vm_hwm(pid: int) -> int:
    """Peak resident memory (Linux ``VmHWM``) of process ``pid`` in bytes; 0 where unknown."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class PeakMemory:
    """Peak resident memory of the processes started while it is active (a task's kernel and its children).

    A background thread samples every ``interval`` seconds the summed RSS of this process's descendants that
    did not exist on entry and keeps the largest sum; the result is never less than the largest single
    process's own high-water mark (Linux ``VmHWM``, read at each sample), which also catches a spike between
    two samples. ``peak_mib`` is ``None`` where psutil is not installed (it comes with ipykernel).

    >>> with PeakMemory() as mem:                                     # doctest: +SKIP
    ...     subprocess.run([sys.executable, "-c", "x = bytearray(10**8)"])
    >>> mem.peak_mib                                                  # doctest: +SKIP
    105.3
    """

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.peak_bytes = 0
        self._hwm: dict[int, int] = {}
        self._before: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._psutil = None

    def __enter__(self) -> "PeakMemory":
        try:
            import psutil
        except ImportError:
            return self
        self._psutil = psutil
        self._me = psutil.Process()
        self._before = {c.pid for c in self._me.children(recursive=True)}
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()

    def _run(self) -> None:
        while True:
            self._sample()
            if self._stop.wait(self.interval):
                return

    def _sample(self) -> None:
        psutil = self._psutil
        total = 0
        try:
            children = self._me.children(recursive=True)
        except psutil.Error:
            return
        for c in children:
            if c.pid in self._before:
                continue
            try:
                total += c.memory_info().rss
            except psutil.Error:
                continue
            hwm = _vm_hwm(c.pid)
            if hwm > self._hwm.get(c.pid, 0):
                self._hwm[c.pid] = hwm
        self.peak_bytes = max(self.peak_bytes, total, max(self._hwm.values(), default=0))

    @property
    def peak_mib(self) -> float | None:
        return None if self._psutil is None else round(self.peak_bytes / 2**20, 1)


def load_plan(path: str | Path) -> tuple[list[Task], Path]:
    """Tasks and notebooks folder from a ``--plan-json`` file (see the module docstring)."""
    path = Path(path).resolve()
    spec = json.loads(path.read_text())
    if isinstance(spec, list):
        spec = {"tasks": spec}
    notebooks = path.parent / spec["notebooks_dir"] if "notebooks_dir" in spec else NOTEBOOKS
    return [Task(**t) for t in spec["tasks"]], notebooks.resolve()


def _clean_leftovers(gen: Path) -> None:
    """Remove what an interrupted run can leave: the staging folder, half-replaced result folders
    (``.<name>.old``) and the state file's temporary twin."""
    shutil.rmtree(gen / ".staging", ignore_errors=True)
    for sub in (*FOLDERS.values(), "results", "failed"):
        folder = gen / sub
        if folder.is_dir():
            for old in folder.glob(".*.old"):
                if old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    old.unlink(missing_ok=True)
    (gen / ".state.json.tmp").unlink(missing_ok=True)


@dataclass
class StudyReport:
    ran: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    wall_s: float = 0.0


def run_study(scale: str = "default", root: str | Path = PROJECT, force: bool = False, only: list | None = None,
              kernel: str = "python3", log=print, tasks: list[Task] | None = None,
              notebooks_dir: str | Path | None = None, jobs: int = 1) -> StudyReport:
    """Execute the study's notebooks into ``<root>/book/generated``; see the module docstring.

    ``tasks`` replaces :func:`plan` (``scale`` is then only a label in ``state.json``) and ``notebooks_dir``
    the folder of their templates (default ``notebooks/``). ``jobs`` notebooks run at once (each in its own
    kernel); a task starts only when every task it reads has finished."""
    import papermill as pm

    notebooks = Path(notebooks_dir).resolve() if notebooks_dir is not None else NOTEBOOKS

    root = Path(root).resolve()
    if root != PROJECT:
        root.mkdir(parents=True, exist_ok=True)
        for name in BOOK_SOURCES:
            src, dst = PROJECT / name, root / name
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns("generated"))
            else:
                shutil.copy2(src, dst)
    gen = root / "book" / "generated"
    staging = gen / ".staging"
    _clean_leftovers(gen)
    for sub in (*FOLDERS.values(), "results", "failed"):
        (gen / sub).mkdir(parents=True, exist_ok=True)
    state_path = gen / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    if state.get("scale") not in (None, scale):
        log(f"scale changed from {state.get('scale')} to {scale}: every task re-runs")
        state = {}
    state["scale"] = scale
    hashes = state.setdefault("hashes", {})
    times = state.setdefault("wall_s", {})
    peaks = state.setdefault("peak_rss_mib", {})
    # TensorFlow's CPU numbers depend on the intra-op thread count (one per core by default): the kernels get a
    # fixed one, so machines with other core counts give the same numbers; it and oneDNN's switch are hashed
    threads = os.environ.get("TF_NUM_INTRAOP_THREADS") or str(INTRA_OP_THREADS)
    numeric = json.dumps({**provenance.numeric_env(), "TF_NUM_INTRAOP_THREADS": threads}, sort_keys=True)
    code = code_hash() + numeric
    compute_code = code_hash(PRESENTATION) + numeric   # what an experiment's numbers depend on
    commit = provenance.git_state()          # shown at the end of every page made now
    if tasks is None:
        tasks = plan(scale)
        if any(t.name in REAL_DATA_PAGES for t in tasks if not only or t.name in only):
            from . import datasets

            data = datasets.status()          # downloads into the user's cache when needed
            log(data.line)
            tasks = plan(scale, data)
    else:
        tasks = list(tasks)
    if only:
        tasks = [t for t in tasks if t.name in only]
    report = StudyReport()
    t_start = time.perf_counter()
    current: dict = {}
    names = {t.name for t in tasks}
    pending = list(enumerate(tasks, start=1))
    running: dict = {}

    def execute(i: int, task: Task, out_nb: Path, params: dict):
        # the kernel's progress lines (fusionlib.console.progress) reach the log as they come
        sink = console.ProgressSink(lambda m: log(f"[{i}/{len(tasks)} {time.perf_counter() - t_start:6.0f}s] "
                                                  f"{task.name}: {m}"))
        with PeakMemory() as mem:
            pm.execute_notebook(str(notebooks / task.template), str(out_nb), parameters=params,
                                kernel_name=kernel, cwd=str(notebooks), progress_bar=False, stderr_file=sink)
        return mem.peak_mib

    def finish(i: int, task: Task, h: str, out_nb: Path, stage: Path, t0: float, future) -> None:
        prefix = f"[{i}/{len(tasks)} {time.perf_counter() - t_start:6.0f}s]"
        folder = FOLDERS.get(task.kind, "pages")
        exc = future.exception()
        if exc is not None:
            failed_nb = gen / "failed" / f"{task.name}.ipynb"
            if out_nb.exists():
                _replace(out_nb, failed_nb)
            shutil.rmtree(stage, ignore_errors=True)
            hashes.pop(task.name, None)
            current[task.name] = "failed"
            _write_json_atomic(state_path, state)
            log(f"{prefix} {task.name}: FAILED: {_last_error(exc)}\n"
                f"    template {notebooks / task.template}; executed notebook kept at {failed_nb}")
            report.failed.append(task.name)
            return
        peak = future.result()
        _retitle(out_nb, task.title, page_footer(task, gen, commit, own_result=(stage / "result").exists()))
        if (stage / "result").exists():
            _replace(stage / "result", gen / "results" / task.name)
        _replace(out_nb, gen / folder / f"{task.name}.ipynb")
        shutil.rmtree(stage, ignore_errors=True)
        (gen / "failed" / f"{task.name}.ipynb").unlink(missing_ok=True)
        hashes[task.name] = h
        times[task.name] = round(time.perf_counter() - t0, 1)
        if peak is not None:
            peaks[task.name] = peak
        _write_json_atomic(state_path, state)
        report.ran.append(task.name)
        log(f"{prefix} {task.name}: done in {times[task.name]:.0f}s"
            + (f", peak {peak:.0f} MiB" if peak is not None else "")
            + (" (tasks ran concurrently: the peak covers all kernels alive meanwhile)" if jobs > 1 else ""))

    decided: set = set()
    # papermill's ``cwd`` changes the *process* working directory while a notebook runs; two at once can leave
    # it in notebooks/ (the second restores what the first had set), so it is put back when all are done
    start_dir = os.getcwd()
    # the kernels inherit the variable: they report each fold (fusionlib.console.progress)
    with _environ(console.ENV, "1"), _environ("TF_NUM_INTRAOP_THREADS", threads), \
            ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        while pending or running:
            for i, task in list(pending):
                if len(running) >= max(1, jobs):
                    break
                if any(d in names and d not in decided for d in task.depends):
                    continue                                   # wait for what it reads
                pending.remove((i, task))
                h = task_hash(task, compute_code if task.kind == "experiment" else code, current, notebooks, gen)
                target = gen / FOLDERS.get(task.kind, "pages") / f"{task.name}.ipynb"
                prefix = f"[{i}/{len(tasks)} {time.perf_counter() - t_start:6.0f}s]"
                current[task.name] = h  # what dependants see; replaced by "failed" if this task fails
                if not force and hashes.get(task.name) == h and target.exists():
                    log(f"{prefix} {task.name}: unchanged, skipped")
                    report.skipped.append(task.name)
                    decided.add(task.name)
                    continue
                blocked = [d for d in task.depends if d in report.failed]
                if blocked:
                    log(f"{prefix} {task.name}: NOT RUN, it depends on failed task(s) {', '.join(blocked)}")
                    report.failed.append(task.name)
                    current[task.name] = "failed"
                    decided.add(task.name)
                    continue
                last = times.get(task.name)
                log(f"{prefix} {task.name}: running ({len(pending)} after it"
                    + (f"; took {last:.0f}s last time)" if last else ")"))
                stage = staging / task.name
                stage.mkdir(parents=True)
                out_nb = stage / f"{task.name}.ipynb"
                params = {**task.parameters, "out_dir": str(stage / "result"), "generated_dir": str(gen)}
                running[pool.submit(execute, i, task, out_nb, params)] = (i, task, h, out_nb, stage,
                                                                          time.perf_counter())
            if not running:
                continue
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                i, task, h, out_nb, stage, t0 = running.pop(future)
                finish(i, task, h, out_nb, stage, t0, future)
                decided.add(task.name)
    os.chdir(start_dir)
    shutil.rmtree(staging, ignore_errors=True)
    report.wall_s = time.perf_counter() - t_start
    state["last_run"] = {"wall_s": round(report.wall_s, 1), "ran": len(report.ran), "skipped": len(report.skipped),
                         "failed": len(report.failed), "tasks": len(tasks), "jobs": jobs}
    if len(report.ran) == len(tasks) and not report.failed:
        state["last_full_run"] = state["last_run"]          # every task executed: the from-scratch cost
    _write_json_atomic(state_path, state)
    log(f"study ({scale}): {len(report.ran)} ran, {len(report.skipped)} skipped, {len(report.failed)} failed "
        f"in {report.wall_s:.0f}s" + (f"; failed: {', '.join(report.failed)}" if report.failed else ""))
    return report


def build_book(root: str | Path = PROJECT) -> int:
    """``jupyter-book build <root> -W`` (warnings are errors: a missing glue key fails the build); Sphinx's
    progress goes to ``<root>/_build/logs/html.log`` (:func:`fusionlib.publish.build_html`)."""
    from .publish import build_html

    return build_html(root)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fusionlib.study", description=__doc__.split("\n")[0])
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
    from .dfu import DFUDataError

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
        from .publish import build_pdf

        return build_pdf(a.root)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
