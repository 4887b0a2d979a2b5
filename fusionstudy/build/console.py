"""What ``make book`` prints: the study's progress, never the kernels' chatter.

Two halves:

* **inside a kernel** (an experiment's notebook), :func:`progress` writes one marked line to the notebook's
  stderr stream when the study asked for progress (environment variable :data:`ENV`, set by
  :func:`fusionstudy.build.study.run_study`); outside a study it does nothing. :func:`fusionlib.arms.runner.run_arms`
  calls it after every fold with the elapsed time and an estimate of what is left.
* **in the study process**, :class:`ProgressSink` is handed to papermill as the notebook's ``stderr_file``:
  it receives the kernel's stderr stream as it arrives and passes the marked lines (and only those) to the
  study's log, prefixed with the task. :func:`filtered_stderr` reroutes the process's file descriptor 2 (which
  the kernels inherit) through :func:`is_noise`: TensorFlow's C++ log lines, the kernels' transport warnings and
  shutdown messages are dropped from the console; everything, noise included, goes to a log file.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

#: Environment variable that turns on :func:`progress` in kernels started by the study.
ENV = "FUSIONLIB_PROGRESS"
#: Marks a progress line in a kernel's stderr stream.
MARK = "@@fusionlib-progress@@ "

#: Lines of the known noise on a kernel's or TensorFlow's stderr (matched with ``re.search``).
NOISE = [
    r"Kernel is running over TCP without encryption",
    r"KeyboardInterrupt caught in kernel",
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called",
    r"^[IWE]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\]",                   # TensorFlow/absl C++ log lines
    r"^WARNING:tensorflow:",
    r"^(WARNING|INFO):absl:",
    r"oneDNN custom operations are on",
    r"This TensorFlow binary is optimized to use available CPU instructions",
    r"To enable the following instructions: ",
    r"rebuild TensorFlow with the appropriate compiler flags",
    r"Unable to register cu(DNN|FFT|BLAS) factory",
    r"computation placer already registered",
    r"^\[IPKernelApp\] (WARNING|INFO) \|",
    r"Could not find cuda drivers on your machine",
    r"TF-TRT Warning",
    r"^\s*$",
]
_NOISE = re.compile("|".join(f"(?:{p})" for p in NOISE))


def is_noise(line: str) -> bool:
    """Whether a line of stderr is known noise (:data:`NOISE`)."""
    return bool(_NOISE.search(line.rstrip("\n")))


def progress(message: str) -> None:
    """Report ``message`` to the study's console (a marked line on stderr) when running under the study."""
    if os.environ.get(ENV) == "1":
        print(MARK + message, file=sys.stderr, flush=True)


def strip_progress(outputs: list) -> list:
    """A code cell's ``outputs`` (nbformat dicts) without the marked progress lines of :func:`progress`; a
    stderr stream left empty is dropped. The executed page keeps what the reader should see, and is the same
    whether or not the study asked for progress (nbval compares it with a run that did not)."""
    kept = []
    for out in outputs:
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            text = out.get("text", "")
            text = "".join(line for line in text.splitlines(keepends=True) if not line.startswith(MARK))
            if not text:
                continue
            out = type(out)(out)  # a copy of the same mapping type (nbformat.NotebookNode)
            out["text"] = text
        kept.append(out)
    return kept


def fold_message(context: int, n_contexts: int, n_arms: int, fold: int, n_folds: int, elapsed_context: float,
                 folds_done: int, folds_total: int, elapsed_total: float) -> str:
    """The per-fold progress line: where the experiment is, the time it took so far and what is left,
    estimated from the mean time per fold so far (of the context, and of the whole experiment)."""
    left_ctx = elapsed_context / fold * (n_folds - fold) if fold else float("nan")
    left_all = elapsed_total / folds_done * (folds_total - folds_done) if folds_done else float("nan")
    return (f"context {context}/{n_contexts} ({n_arms} arm{'s' if n_arms != 1 else ''}), fold {fold}/{n_folds} "
            f"done; {elapsed_total:.0f} s so far, about {left_ctx:.0f} s left in this context"
            + (f", {left_all:.0f} s in the experiment" if n_contexts > 1 else ""))


def fold_progress(p) -> None:
    """The ``on_fold`` callback the study gives :func:`fusionlib.arms.runner.run_arms`: the per-fold line
    (:func:`fold_message`) on the study's console; a no-op outside a study."""
    progress(fold_message(p.context, p.n_contexts, p.n_arms, p.fold, p.n_folds, p.elapsed_context, p.folds_done,
                          p.folds_total, p.elapsed_total))


class ProgressSink:
    """A file-like object for papermill's ``stderr_file``: calls ``log(line)`` for each complete marked line
    of the kernel's stderr stream (marker removed) and discards the rest (it stays in the executed notebook).
    """

    def __init__(self, log):
        self.log = log
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.startswith(MARK):
                self.log(line[len(MARK):])
        return len(text)

    def flush(self) -> None:
        pass


class StderrFilter:
    """Route this process's file descriptor 2 — and so the stderr of every process it starts meanwhile, the
    kernels included — through :func:`is_noise`: every line goes to a log file (lines that arrive before
    :meth:`set_log` are held and written then), the lines that are not noise (or for which ``keep(line)`` is
    true) also to the original stderr. ``start()`` ... ``stop()``, or :func:`filtered_stderr`."""

    def __init__(self, keep=None):
        self.keep = keep
        self.started = False
        self._held: list[str] = []
        self._log = None
        self._lock = threading.Lock()

    def start(self) -> "StderrFilter":
        sys.stderr.flush()
        self._saved = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self._out = os.fdopen(os.dup(self._saved), "w", buffering=1, errors="replace")
        self._thread = threading.Thread(target=self._pump, args=(read_end,), name="stderr-filter", daemon=True)
        self._thread.start()
        self.started = True
        return self

    def set_log(self, path: str | Path) -> Path:
        """Append every line (those held so far first) to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        log = open(path, "a", errors="replace")
        with self._lock:
            log.writelines(self._held)
            log.flush()
            self._held = []
            self._log = log
        return path

    def _pump(self, read_end: int) -> None:
        with os.fdopen(read_end, errors="replace") as pipe:
            for line in pipe:
                with self._lock:
                    if self._log is not None:
                        self._log.write(line)
                        self._log.flush()
                    else:
                        self._held.append(line)
                if not is_noise(line) or (self.keep is not None and self.keep(line)):
                    self._out.write(line)
                    self._out.flush()

    def stop(self) -> None:
        """Give file descriptor 2 back; the filter ends when no child holds the pipe any more (5 s at most)."""
        if not self.started:
            return
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._thread.join(timeout=5)
        self._out.flush()
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None
        self.started = False


@contextmanager
def filtered_stderr(log_path: str | Path, keep=None):
    """A :class:`StderrFilter` logging to ``log_path`` for the duration of a ``with`` block."""
    gate = StderrFilter(keep).start()
    gate.set_log(log_path)
    try:
        yield Path(log_path)
    finally:
        gate.stop()
