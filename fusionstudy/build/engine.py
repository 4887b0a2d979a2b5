"""The workflow engine that runs the study's tasks: Snakemake (``workflow/Snakefile``), through a profile.

The study (:mod:`fusionstudy.build.study`) writes the run plan, and this module hands it to Snakemake:

* :data:`PROFILES` — ``laptop`` (this machine, two tasks at a time) and ``slurm`` (a job per task through the
  SLURM executor plugin, training tasks asking for a GPU), each a folder under ``workflow/profiles``;
* :func:`snakemake` — where the engine is: ``$FUSION_SNAKEMAKE``, else ``.venv-workflow/bin/snakemake``
  (``make workflow-env``, pinned in ``requirements-workflow.txt``), else ``snakemake`` on ``PATH``. It lives
  in an environment of its own: the engine is not part of the numbers, so its version is not in any task's hash;
* :func:`command` — the Snakemake command line of a run plan; :func:`run` runs it (the tasks' progress lines
  on the console, Snakemake's own messages in a log file); :func:`dry_run` — the tasks Snakemake would run;
  :func:`dag` — its graph of tasks.

Problems the user can fix (no Snakemake, an unknown profile, a missing executor plugin) raise
:class:`EngineError` with one line that says what to do.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from fusionstudy import PROJECT

SNAKEFILE = PROJECT / "workflow" / "Snakefile"
PROFILE_DIR = PROJECT / "workflow" / "profiles"
#: The engine's own environment (``make workflow-env``).
WORKFLOW_VENV = PROJECT / ".venv-workflow"
#: The executor plugin a profile needs (module name), by the ``executor:`` its config names.
PLUGINS = {"slurm": "snakemake_executor_plugin_slurm"}


class EngineError(RuntimeError):
    """The engine cannot run: one line saying why and what to do."""


def profiles() -> list[str]:
    """The profiles under ``workflow/profiles`` (a folder with a ``config.yaml`` each)."""
    return sorted(p.parent.name for p in PROFILE_DIR.glob("*/config.yaml"))


def snakemake() -> Path:
    """The ``snakemake`` executable (see the module docstring); :class:`EngineError` when there is none."""
    for candidate in (os.environ.get("FUSION_SNAKEMAKE"), WORKFLOW_VENV / "bin" / "snakemake",
                      shutil.which("snakemake")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise EngineError("Snakemake is not installed: `make workflow-env` installs it into .venv-workflow "
                      "(requirements-workflow.txt), or set FUSION_SNAKEMAKE to a snakemake executable")


def profile_executor(profile: str) -> str:
    """The ``executor:`` of ``profile``'s config (``local`` when it names none); :class:`EngineError` for an
    unknown profile."""
    config = PROFILE_DIR / profile / "config.yaml"
    if not config.is_file():
        raise EngineError(f"unknown profile {profile!r}: use one of {', '.join(profiles())} (workflow/profiles)")
    m = re.search(r"^executor:\s*(\S+)", config.read_text(), re.M)
    return m.group(1) if m else "local"


def check_profile(profile: str, exe: Path | None = None) -> Path:
    """The snakemake executable for ``profile``, after checking that the profile exists and that the executor
    plugin it names is installed beside Snakemake; :class:`EngineError` otherwise."""
    executor = profile_executor(profile)
    exe = exe or snakemake()
    module = PLUGINS.get(executor)
    if module:
        python = exe.parent / "python"
        probe = subprocess.run([str(python if python.exists() else "python3"), "-c", f"import {module}"],
                               capture_output=True)
        if probe.returncode != 0:
            raise EngineError(f"profile {profile!r} needs the {executor} executor plugin "
                              f"({module.replace('_', '-')}), which is not installed beside {exe}: "
                              "`make workflow-env` installs it")
    return exe


def command(plan: Path, root: Path, profile: str = "laptop", cores: int | None = None, force: bool = False,
            extra: list[str] | tuple = (), exe: Path | None = None) -> list[str]:
    """The Snakemake command that runs run plan ``plan`` in ``root`` with ``profile`` (``cores`` overrides the
    profile's; ``force`` re-runs every task; ``extra``: more Snakemake options); ``exe``: the snakemake that
    :func:`check_profile` returned (checked here when not given)."""
    cmd = [str(exe or check_profile(profile)), "--snakefile", str(SNAKEFILE), "--directory", str(root),
           "--profile", str(PROFILE_DIR / profile), "--config", f"plan={plan}"]
    if cores is not None:
        cmd += ["--cores", str(cores)]
    if force:
        cmd += ["--forceall"]
    return cmd + list(extra)


#: What Snakemake says when another run holds the tree.
LOCKED = "Directory cannot be locked"


def run(cmd: list[str], log_path: Path, verbose: bool = False) -> tuple[int, str]:
    """Run a Snakemake command: its jobs' output (the tasks' progress lines) goes to this process's stdout,
    Snakemake's own messages (and the jobs' stderr) to ``log_path`` (to the console too when ``verbose``). Returns the exit status and, when it failed, the line of
    Snakemake's log that says why (or its last line)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        if verbose:
            rc = subprocess.run(cmd, stdin=subprocess.DEVNULL).returncode
        else:
            rc = subprocess.run(cmd, stderr=log, stdin=subprocess.DEVNULL).returncode
    if rc == 0:
        return 0, ""
    lines = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    why = next((ln for ln in lines if LOCKED in ln), None) or next(
        (ln for ln in reversed(lines) if re.search(r"Error|error|Exception", ln)), lines[-1] if lines else "")
    return rc, why


def clear_stale_lock(root: Path, log=print) -> bool:
    """Remove the lock a killed Snakemake left in ``<root>/.snakemake/locks`` (``snakemake --unlock``). Call it only
    while holding the study's own lock (:func:`fusionstudy.build.study.study_lock`): then no other study can be
    using the tree, so the engine's lock is stale. Returns whether there was one."""
    locks = Path(root) / ".snakemake" / "locks"
    if not locks.is_dir() or not any(locks.iterdir()):
        return False
    shutil.rmtree(locks, ignore_errors=True)          # what `snakemake --unlock` removes
    log(f"engine: removed the lock a killed run left in {locks}")
    return True


def dry_run(plan: Path, root: Path, profile: str = "laptop") -> list[str]:
    """The tasks Snakemake would run now for run plan ``plan`` (in no particular order): its dry run's jobs."""
    r = subprocess.run(command(plan, root, profile, extra=["--dry-run", "--quiet", "progress", "--nolock"]),
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise EngineError(f"snakemake --dry-run failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
    return re.findall(r"wildcards: task=([^,\s]+)", r.stdout + r.stderr)


def dag(plan: Path, root: Path) -> dict[str, set[str]]:
    """Snakemake's graph of the tasks of run plan ``plan``: ``{task: {tasks it waits for}}`` (every task, run
    or not; from ``--dag``)."""
    r = subprocess.run(command(plan, root, extra=["--dag", "--forceall", "--nolock"]), capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise EngineError(f"snakemake --dag failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
    label = {n: re.search(r"task: ([^\\\"]+)", text).group(1)
             for n, text in re.findall(r"^\s*(\d+)\[label = \"([^\"]*)\"", r.stdout, re.M) if "task: " in text}
    graph: dict = {name: set() for name in label.values()}
    for a, b in re.findall(r"^\s*(\d+) -> (\d+)", r.stdout, re.M):
        if a in label and b in label:
            graph[label[b]].add(label[a])
    return graph
