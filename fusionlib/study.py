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
import time
from dataclasses import dataclass, field
from pathlib import Path

from .runner import ArmSettings, condition_of, report_arms, safe_name

PROJECT = Path(__file__).resolve().parents[1]
NOTEBOOKS = PROJECT / "notebooks"
#: Book sources copied into a separate ``--root`` (the generated part is made there).
BOOK_SOURCES = ("_config.yml", "_toc.yml", "book")

SCALES = {
    "smoke": {"n_splits": 3, "n_repeats": 1, "rf_trees": 50, "cohort": {"n_patients": 40},
              "train": {"epochs": 2, "width": 0.0625}},
    "default": {"n_splits": 5, "n_repeats": 3, "cohort": {}, "train": {}},
    "full": {"n_splits": 5, "n_repeats": 3, "cohort": {"image_size": 128},
             "train": {"epochs": 100, "patience": 10, "width": 1.0}},
}


@dataclass
class Task:
    """One notebook to execute: ``name`` (file stem), ``template`` (in ``notebooks/``), papermill parameters,
    and the page ``title`` (the first heading of the executed notebook)."""

    name: str
    template: str
    parameters: dict
    kind: str = "arm"
    depends: list = field(default_factory=list)
    title: str = ""


def arm_tasks(scale: str) -> list[Task]:
    """One task per arm of the report (13: image-only once, six heads under two conditions)."""
    tasks = []
    for arm in report_arms(**SCALES[scale]):
        s = ArmSettings.from_dict(arm)
        title = s.head if s.head == "image_only" else f"{s.head} ({condition_of(s)}: {s.decomposition}, {s.source})"
        tasks.append(Task(safe_name(s.label), "arm.ipynb", {"settings": json.dumps(arm), "scale": scale},
                          title=title))
    return tasks


def plan(scale: str) -> list[Task]:
    """Every task of the book at ``scale``: the cohort page, the arms, then the results and appendix pages."""
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r}: use one of {list(SCALES)}")
    arms = arm_tasks(scale)
    names = [t.name for t in arms]
    pages = [
        Task("results", "results.ipynb", {"scale": scale}, "page", names),
        Task("appendix", "appendix.ipynb", {"scale": scale}, "page", names),
    ]
    cohort = Task("cohort", "cohort.ipynb", {"cohort": json.dumps(SCALES[scale]["cohort"]), "scale": scale}, "page")
    return [cohort, *arms, *pages]


def code_hash() -> str:
    """Hash of fusionlib's source files (any change re-runs every task)."""
    h = hashlib.sha256()
    for path in sorted((PROJECT / "fusionlib").glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def task_hash(task: Task, code: str, hashes: dict, notebooks: Path = NOTEBOOKS) -> str:
    """Content hash of a task: parameters, template, fusionlib's code and the hashes of what it depends on."""
    h = hashlib.sha256()
    h.update(json.dumps(task.parameters, sort_keys=True).encode())
    h.update((Path(notebooks) / task.template).read_bytes())
    h.update(code.encode())
    for dep in task.depends:
        h.update(hashes.get(dep, "missing").encode())
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


def _retitle(notebook: Path, title: str) -> None:
    """Replace the first heading of an executed notebook (the page title) by ``title``."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    first = nb.cells[0]
    lines = first.source.splitlines()
    first.source = "\n".join([f"# {title}", *lines[1:]])
    nbformat.write(nb, notebook)


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
    for sub in ("arms", "pages", "results", "failed"):
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
              notebooks_dir: str | Path | None = None) -> StudyReport:
    """Execute the study's notebooks into ``<root>/book/generated``; see the module docstring.

    ``tasks`` replaces :func:`plan` (``scale`` is then only a label in ``state.json``) and ``notebooks_dir``
    the folder of their templates (default ``notebooks/``)."""
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
    for sub in ("arms", "pages", "results", "failed"):
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
    code = code_hash()
    tasks = plan(scale) if tasks is None else list(tasks)
    if only:
        tasks = [t for t in tasks if t.name in only]
    report = StudyReport()
    t_start = time.perf_counter()
    current: dict = {}
    for i, task in enumerate(tasks, start=1):
        h = task_hash(task, code, current, notebooks)
        folder = "arms" if task.kind == "arm" else "pages"
        target = gen / folder / f"{task.name}.ipynb"
        elapsed = time.perf_counter() - t_start
        prefix = f"[{i}/{len(tasks)} {elapsed:6.0f}s]"
        current[task.name] = h  # what dependants see; replaced by "failed" below if this task fails
        if not force and hashes.get(task.name) == h and target.exists():
            log(f"{prefix} {task.name}: unchanged, skipped")
            report.skipped.append(task.name)
            continue
        blocked = [d for d in task.depends if d in report.failed]
        if blocked:
            log(f"{prefix} {task.name}: NOT RUN, it depends on failed task(s) {', '.join(blocked)}")
            report.failed.append(task.name)
            continue
        log(f"{prefix} {task.name}: running ({len(tasks) - i} after it)")
        stage = staging / task.name
        stage.mkdir(parents=True)
        out_nb = stage / f"{task.name}.ipynb"
        params = {**task.parameters, "out_dir": str(stage / "result"), "generated_dir": str(gen)}
        t0 = time.perf_counter()
        try:
            with PeakMemory() as mem:
                pm.execute_notebook(str(notebooks / task.template), str(out_nb), parameters=params,
                                    kernel_name=kernel, cwd=str(notebooks), progress_bar=False)
        except Exception as exc:  # noqa: BLE001 - any failure of one arm is reported, the others go on
            failed_nb = gen / "failed" / f"{task.name}.ipynb"
            if out_nb.exists():
                _replace(out_nb, failed_nb)
            shutil.rmtree(stage, ignore_errors=True)
            hashes.pop(task.name, None)
            current[task.name] = "failed"
            _write_json_atomic(state_path, state)
            msg = str(exc).strip().splitlines()
            log(f"{prefix} {task.name}: FAILED ({msg[-1] if msg else type(exc).__name__}); "
                f"executed notebook kept at {failed_nb}")
            report.failed.append(task.name)
            continue
        if task.title:
            _retitle(out_nb, task.title)
        if (stage / "result").exists():
            _replace(stage / "result", gen / "results" / task.name)
        _replace(out_nb, target)
        shutil.rmtree(stage, ignore_errors=True)
        (gen / "failed" / f"{task.name}.ipynb").unlink(missing_ok=True)
        hashes[task.name] = h
        times[task.name] = round(time.perf_counter() - t0, 1)
        if mem.peak_mib is not None:
            peaks[task.name] = mem.peak_mib
        _write_json_atomic(state_path, state)
        report.ran.append(task.name)
        log(f"{prefix} {task.name}: done in {times[task.name]:.0f}s"
            + (f", peak {mem.peak_mib:.0f} MiB" if mem.peak_mib is not None else ""))
    shutil.rmtree(staging, ignore_errors=True)
    report.wall_s = time.perf_counter() - t_start
    state["last_run"] = {"wall_s": round(report.wall_s, 1), "ran": len(report.ran), "skipped": len(report.skipped),
                         "failed": len(report.failed), "tasks": len(tasks)}
    _write_json_atomic(state_path, state)
    log(f"study ({scale}): {len(report.ran)} ran, {len(report.skipped)} skipped, {len(report.failed)} failed "
        f"in {report.wall_s:.0f}s" + (f"; failed: {', '.join(report.failed)}" if report.failed else ""))
    return report


def build_book(root: str | Path = PROJECT) -> int:
    """``jupyter-book build <root> -W`` (warnings are errors: a missing glue key fails the build)."""
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(root), "-W", "-n", "--keep-going"]
    return subprocess.call(cmd)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fusionlib.study", description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=list(SCALES), default="default")
    ap.add_argument("--root", type=Path, default=PROJECT, help="book source root (default: this project)")
    ap.add_argument("--force", action="store_true", help="re-run every task even if unchanged")
    ap.add_argument("--only", nargs="*", help="run only these tasks (file stems, e.g. image_only)")
    ap.add_argument("--build", action="store_true", help="then build the HTML book with jupyter-book -W")
    ap.add_argument("--list", action="store_true", help="list the tasks and exit")
    ap.add_argument("--plan-json", type=Path, default=None,
                    help="run the tasks of this JSON file instead of the scale's plan (see the module docstring)")
    a = ap.parse_args(argv)
    tasks, notebooks = load_plan(a.plan_json) if a.plan_json else (None, None)
    if a.list:
        for t in tasks if tasks is not None else plan(a.scale):
            print(t.name)
        return 0
    report = run_study(a.scale, a.root, a.force, a.only, log=lambda m: print(m, flush=True), tasks=tasks,
                       notebooks_dir=notebooks)
    if report.failed:
        return 1
    if a.build:
        rc = build_book(a.root)
        if rc == 0:
            print(f"book: {Path(a.root).resolve() / '_build' / 'html' / 'index.html'}")
        return rc
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
