"""Where a result comes from: the commit of the code that made it, the machine, the locked environment.

* :func:`git_state` — the project's commit and whether the working tree had uncommitted changes;
* :func:`installed_lock` / :func:`lock_digest` — the lock file (``requirements/lock-<cpu|gpu>.txt``) of the
  installed TensorFlow build and its content hash (part of every study task's hash);
* :func:`page_footer` — the line that ends every generated page of the book ("made from ... at commit ...").

* :func:`project_state` — the commit, tree state and lock digest, which the study passes to
  :func:`fusionlib.arms.runner.run_arms` (``provenance=``) to be recorded in every result's ``info.json`` beside the
  machine facts of :func:`fusionlib.models.train.environment` (CPU model and instruction sets, numeric
  environment variables: :mod:`fusionlib.environment`).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

from fusionlib.cache.hashing import file_sha256

from fusionstudy import PROJECT  # noqa: E402
#: The lock files with hashes, per TensorFlow build (``make lock`` writes them).
LOCKS = {"cpu": PROJECT / "requirements" / "lock-cpu.txt", "gpu": PROJECT / "requirements" / "lock-gpu.txt"}


def git_state(path: str | Path = PROJECT) -> dict[str, str]:
    """``{"commit": <40-hex sha or "unknown">, "tree": "clean" | "dirty" | "unknown"}`` of the git work tree
    at ``path``. ``dirty``: a tracked file is modified or an untracked, not ignored file exists (generated
    book pages, results and caches are ignored). ``unknown`` where ``path`` is not in a git work tree or git
    is missing. Takes no lock on the repository (``GIT_OPTIONAL_LOCKS=0``), so concurrent kernels can call it.
    """
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, env=env,
                                 timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout if out.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    if not sha:
        return {"commit": "unknown", "tree": "unknown"}
    status = git("status", "--porcelain")
    tree = "unknown" if status is None else ("dirty" if status.strip() else "clean")
    return {"commit": sha.strip(), "tree": tree}


def commit_text(state: dict[str, str] | None = None, length: int = 12) -> str:
    """``"<short sha> (clean)"`` — how pages show a :func:`git_state`."""
    state = git_state() if state is None else state
    sha = state.get("commit", "unknown")
    return f"{sha[:length] if sha != 'unknown' else sha} ({state.get('tree', 'unknown')})"


#: The instruction-set extensions that name a distinct oneDNN code path (the short form pages show).
ISA_KEY = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")


def isa_summary(isa: str) -> str:
    """The :data:`ISA_KEY` extensions of a ``cpu_isa`` string, in that order (``"avx2 avx512f ..."``);
    ``"none of avx2/avx512/amx"`` where there are none, the input where it is ``unknown``/``not recorded``."""
    flags = set(isa.split())
    if isa in ("unknown", "not recorded") or not flags:
        return isa
    key = [f for f in ISA_KEY if f in flags]
    return " ".join(key) if key else "none of avx2/avx512/amx"


def installed_build() -> str:
    """``"gpu"`` where the ``tensorflow`` distribution (CUDA build) is installed without ``tensorflow-cpu``,
    else ``"cpu"``."""
    from importlib.metadata import PackageNotFoundError, version

    def has(dist: str) -> bool:
        try:
            version(dist)
            return True
        except PackageNotFoundError:
            return False

    return "gpu" if has("tensorflow") and not has("tensorflow-cpu") else "cpu"


def installed_lock() -> Path:
    """The lock file of the installed TensorFlow build (:data:`LOCKS`)."""
    return LOCKS[installed_build()]


def lock_digest(path: str | Path | None = None) -> str:
    """``"lock-cpu.txt sha256:<12 hex>"`` of a lock file (default :func:`installed_lock`); ``"<name> absent"``
    where it does not exist."""
    path = Path(path) if path is not None else installed_lock()
    if not path.exists():
        return f"{path.name} absent"
    return f"{path.name} sha256:{file_sha256(path)[:12]}"


def project_state() -> dict[str, str]:
    """``{"commit", "tree", "lock"}``: :func:`git_state` of the checkout and :func:`lock_digest` of the installed
    lock — what a result records of the project that made it."""
    return {**git_state(), "lock": lock_digest()}


def _value(v) -> str:
    """A parameter as it reads in the footer: JSON, a JSON-encoded object (an arm's ``settings``) decoded."""
    if isinstance(v, str) and v.lstrip().startswith("{"):
        try:
            v = json.loads(v)
        except ValueError:
            pass
    return json.dumps(v, ensure_ascii=False).replace("`", "'")


def page_footer(template: str, parameters: dict, state: dict[str, str], downloads: list[tuple[str, str]] = ()) -> str:
    """The Markdown that ends a generated page: which notebook and parameters made it, at which commit, and
    (optionally) ``downloads``: ``(label, path relative to the page)`` pairs rendered as Sphinx ``{download}``
    links.

    >>> page_footer("arm.ipynb", {"scale": "smoke"}, {"commit": "0123456789abcdef", "tree": "clean"})
    '*Made from `notebooks/arm.ipynb` with parameters `scale="smoke"` at commit `0123456789ab` (clean).*'
    """
    params = ", ".join(f"`{k}={_value(v)}`" for k, v in parameters.items()) or "none"
    lines = [f"*Made from `notebooks/{template}` with parameters {params} at commit "
             f"`{commit_text(state).split(' ')[0]}` ({state.get('tree', 'unknown')}).*"]
    if downloads:
        links = " · ".join(f"{{download}}`{label} <{rel}>`" for label, rel in downloads)
        lines[-1:-1] = [f"Download this page's results: {links}", ""]
    return "\n".join(lines)


def results_table(generated: str | Path):
    """One row per result folder under ``<generated>/results`` (an experiment, or an arm page that ran its
    arm): how many arms, and the commit, tree state, device, CPU, instruction sets (:func:`isa_summary`) and
    lock recorded in their ``info.json`` (distinct values joined by " / "). A DataFrame indexed by folder."""
    import pandas as pd

    results = Path(generated) / "results"
    keys = ("commit", "tree", "device", "cpu_model", "cpu_isa", "lock")
    rows = {}
    for task in sorted(p for p in results.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if results.is_dir() else []:
        infos = [task / "info.json"] if (task / "info.json").exists() else sorted(task.glob("*/info.json"))
        envs = [json.loads(p.read_text()).get("environment", {}) for p in infos]
        if not envs:
            continue
        row = {"arms": len(envs)}
        for k in keys:
            values = sorted({str(e.get(k, "not recorded")) for e in envs})
            if k == "commit":
                values = [v[:12] for v in values]
            elif k == "cpu_isa":
                values = sorted({isa_summary(v) for v in values})
            row[k] = " / ".join(values)
        rows[task.name] = row
    return pd.DataFrame.from_dict(rows, orient="index", columns=["arms", *keys])
