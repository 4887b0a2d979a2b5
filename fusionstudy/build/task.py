"""One task of the study, run on its own: the command each rule of the workflow (``workflow/Snakefile``) runs.

    python -m fusionstudy.build.task <root>/book/generated/plan.json exp-report

The run plan (written by :func:`fusionstudy.build.study.run_study`, read by the Snakefile too) names every task,
its parameters and its content hash. Running one task:

* executes its template with papermill into ``<generated>/.staging/<task>`` (the kernel gets the study's
  intra-op thread count and reports each fold to the console, :mod:`fusionstudy.build.console`);
* on success makes the executed notebook a page (:func:`retitle`: title, folded code, provenance footer), moves
  it and the task's results into ``<generated>`` (atomically) and writes the task's **record**
  ``<generated>/tasks/<task>.<hash>.json`` (wall time, peak memory of the kernel's process tree) last: the
  record is the output the workflow engine waits for, so a task killed at any point has none and re-runs;
* on failure keeps the executed notebook in ``<generated>/failed/``, prints one line naming the cell's error and
  exits 1; the results of an earlier successful run stay as they were.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fusionlib import io
from fusionstudy.build import console, provenance

if __name__ == "__main__":   # TensorFlow's import chatter in the kernels stays off the console
    _STDERR = console.StderrFilter().start()

#: Where each kind of task's executed notebook goes under ``book/generated``.
FOLDERS = {"arm": "arms", "experiment": "experiments", "page": "pages"}
#: The folder of task records under ``book/generated`` (one file per successful run of a task).
RECORDS = "tasks"
#: Thread-count variables Snakemake sets in every job's shell (to the rule's ``threads``): a task's kernel gets the
#: study's own values back (:func:`study_environment`), so a job computes under the numeric settings its hash names.
ENGINE_THREAD_VARS = ("OMP_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                      "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def study_environment() -> dict:
    """The study process's values of :data:`ENGINE_THREAD_VARS` (None: unset), saved in the run plan."""
    return {name: os.environ.get(name) for name in ENGINE_THREAD_VARS}


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

    @property
    def page(self) -> str:
        """The executed notebook's path under ``book/generated``."""
        return f"{FOLDERS.get(self.kind, 'pages')}/{self.name}.ipynb"


def record_path(generated: str | Path, name: str, h: str) -> Path:
    """The record a successful run of task ``name`` at hash ``h`` leaves (the workflow's output of its rule)."""
    return Path(generated) / RECORDS / f"{name}.{h}.json"


def records(generated: str | Path) -> dict[str, dict]:
    """The newest record of every task under ``<generated>/tasks``: ``{task: {"hash", "wall_s", "peak_rss_mib",
    "finished"}}`` (empty when the study has not run)."""
    found: dict = {}
    folder = Path(generated) / RECORDS
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        rec = json.loads(path.read_text())
        if rec.get("finished", 0) >= found.get(rec["task"], {}).get("finished", -1):
            found[rec["task"]] = rec
    return found


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


def retitle(notebook: Path, title: str, footer: str = "") -> None:
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


def last_error(exc: BaseException) -> str:
    """One line for a failed notebook: the cell's exception (``Name: value``, papermill's execution error)
    and the cell, or the last line of any other exception."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        where = getattr(exc, "exec_count", None)
        text = f"{ename}: {evalue}" + (f" (cell [{where}])" if where is not None else "")
    else:
        lines = str(exc).strip().splitlines()
        text = lines[-1] if lines else type(exc).__name__
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@dataclass
class RunPlan:
    """The run plan file (:func:`fusionstudy.build.study.write_run_plan`): the tasks with their hashes and
    numbers, and what every task's run shares (where the book is, the kernel, the thread count, the commit shown
    in the footers, when the study started)."""

    path: Path
    data: dict

    @classmethod
    def load(cls, path: str | Path) -> "RunPlan":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no run plan (python -m fusionstudy.build.study writes it)")
        return cls(path, json.loads(path.read_text()))

    @property
    def generated(self) -> Path:
        return Path(self.data["generated"])

    def entry(self, name: str) -> dict:
        for t in self.data["tasks"]:
            if t["name"] == name:
                return t
        raise KeyError(f"{self.path}: no task {name!r} in the run plan "
                       f"(it has {', '.join(t['name'] for t in self.data['tasks'])})")

    def task(self, name: str) -> Task:
        e = self.entry(name)
        return Task(**{k: e[k] for k in Task.__dataclass_fields__})

    def prefix(self, name: str) -> str:
        """``[i/N  Ts]``: the task's number in the plan, the plan's size and the seconds since the study began."""
        return f"[{self.entry(name)['number']}/{len(self.data['tasks'])} {time.time() - self.data['started']:6.0f}s]"


def run_task(plan: RunPlan, name: str, log=print) -> bool:
    """Run task ``name`` of ``plan`` (see the module docstring); returns whether it succeeded."""
    import papermill as pm

    from fusionstudy.build.memory import PeakMemory

    task, entry, gen = plan.task(name), plan.entry(name), plan.generated
    notebooks = Path(plan.data["notebooks_dir"])
    stage = gen / ".staging" / name
    shutil.rmtree(stage, ignore_errors=True)          # what a killed run of this task left
    stage.mkdir(parents=True)
    out_nb = stage / f"{name}.ipynb"
    last = entry.get("last_wall_s")
    log(f"{plan.prefix(name)} {name}: running" + (f" (took {last:.0f}s last time)" if last else ""))
    params = {**task.parameters, "out_dir": str(stage / "result"), "generated_dir": str(gen)}
    sink = console.ProgressSink(lambda m: log(f"{plan.prefix(name)} {name}: {m}"))
    t0 = time.perf_counter()
    # the kernel inherits both: it reports each fold, and uses the study's intra-op thread count
    os.environ[console.ENV] = "1"
    os.environ["TF_NUM_INTRAOP_THREADS"] = plan.data["threads"]
    for var, value in plan.data.get("environment", {}).items():   # undo what the engine set for the job
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
    try:
        with PeakMemory() as mem:
            pm.execute_notebook(str(notebooks / task.template), str(out_nb), parameters=params,
                                kernel_name=plan.data.get("kernel", "python3"), cwd=str(notebooks),
                                progress_bar=False, stderr_file=sink)
    except Exception as exc:  # noqa: BLE001 - any failure of the notebook is reported the same way
        failed_nb = gen / "failed" / f"{name}.ipynb"
        if out_nb.exists():
            io.replace(out_nb, failed_nb)
        shutil.rmtree(stage, ignore_errors=True)
        log(f"{plan.prefix(name)} {name}: FAILED: {last_error(exc)}\n"
            f"    template {notebooks / task.template}; executed notebook kept at {failed_nb}")
        return False
    own = (stage / "result").exists()
    retitle(out_nb, task.title, page_footer(task, gen, plan.data["commit"], own_result=own))
    if own:
        io.replace(stage / "result", gen / "results" / name)
    io.replace(out_nb, gen / task.page)
    shutil.rmtree(stage, ignore_errors=True)
    (gen / "failed" / f"{name}.ipynb").unlink(missing_ok=True)
    wall = round(time.perf_counter() - t0, 1)
    for old in (gen / RECORDS).glob(f"{name}.*.json"):
        old.unlink()
    io.write_json(record_path(gen, name, entry["hash"]), {"task": name, "hash": entry["hash"], "wall_s": wall,
                                                         "peak_rss_mib": mem.peak_mib, "finished": time.time()},
                  indent=2, sort_keys=True)
    log(f"{plan.prefix(name)} {name}: done in {wall:.0f}s"
        + (f", peak {mem.peak_mib:.0f} MiB" if mem.peak_mib is not None else ""))
    return True


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m fusionstudy.build.task", description=__doc__.split("\n")[0])
    ap.add_argument("plan", type=Path, help="the run plan (<root>/book/generated/plan.json)")
    ap.add_argument("task", help="the task's name (a file stem of the plan, e.g. exp-report)")
    a = ap.parse_args(argv)
    try:
        plan = RunPlan.load(a.plan)
        plan.entry(a.task)
    except (FileNotFoundError, KeyError) as e:
        print(f"error: {e.args[0]}", file=sys.stderr, flush=True)
        return 2
    gate = globals().get("_STDERR") or console.StderrFilter().start()
    gate.keep = (lambda line: True) if plan.data.get("verbose") else None
    gate.set_log(Path(plan.data["root"]) / "_build" / "logs" / "stderr.log")
    try:
        return 0 if run_task(plan, a.task, log=lambda m: print(m, flush=True)) else 1
    finally:
        gate.stop()


if __name__ == "__main__":
    raise SystemExit(main())
