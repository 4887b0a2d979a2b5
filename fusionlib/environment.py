"""Facts of the machine that change numbers: the CPU model and instruction sets, the numeric environment variables.

* :func:`cpu_info` — the CPU model and the instruction-set extensions that TensorFlow's CPU kernels (oneDNN)
  choose their code paths by (AVX2, AVX-512, AMX, ...);
* :func:`numeric_env` — the environment variables that change TensorFlow's CPU numbers (oneDNN on/off, the
  intra-op thread pool).

Both are recorded in every arm result (:func:`fusionlib.models.train.environment`). Standard library only.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

#: CPU flags (``/proc/cpuinfo``) that select a different CPU kernel in TensorFlow/oneDNN.
ISA_PATTERN = re.compile(r"^(sse4_2|avx|avx2|fma|f16c|avx512\w*|avx_vnni\w*|amx\w*)$")
#: Environment variables that change TensorFlow's CPU results.
NUMERIC_ENV = ("TF_ENABLE_ONEDNN_OPTS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
               "TF_DETERMINISTIC_OPS")


def cpu_info(cpuinfo: str | Path = "/proc/cpuinfo") -> dict[str, str]:
    """``{"cpu_model": ..., "cpu_isa": "avx avx2 avx512f ..."}``: the first processor's model name and its
    instruction-set extensions that matter to TensorFlow's CPU kernels (:data:`ISA_PATTERN`), sorted. Off
    Linux, the model is ``platform.processor()`` and the extensions ``"unknown"``."""
    model, flags = "", None
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and flags is None:
            flags = value.split()
    isa = " ".join(sorted(f for f in (flags or []) if ISA_PATTERN.match(f))) if flags is not None else "unknown"
    return {"cpu_model": model or platform.processor() or platform.machine() or "unknown", "cpu_isa": isa}


def numeric_env() -> dict[str, str]:
    """The :data:`NUMERIC_ENV` variables that are set, with their values."""
    return {k: os.environ[k] for k in NUMERIC_ENV if k in os.environ}
