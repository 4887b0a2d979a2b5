"""The peak resident memory of the processes a block of code starts (the study's kernels): :class:`PeakMemory`."""

from __future__ import annotations

import threading


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
