"""The measured tolerances of the pinned values — written by ``python -m benchmarks.spread report --write``
from the builds recorded under ``benchmarks/records/spread/`` (do not edit by hand).

``GROUPS[scale][group]``: for each tolerance group (:func:`fusionstudy.build.pin.group_of`) the ``tolerance`` — the
largest spread (max - min) of any of its values over every recorded build of that scale, on every machine and
numeric setting, rounded up to 1e-4 — with that spread, the number of values, builds and machines behind it.
A group absent here, or with tolerance 0, was never measured to differ: it is checked exactly.
``BUILDS[scale]``: the builds measured (record name: machine, numeric setting).
"""

GROUPS = {
    "default": {
        "exp-grid: image": {
            "builds": 3,
            "machines": 3,
            "max_spread": 0.03129,
            "tolerance": 0.0313,
            "values": 90
        },
        "exp-grid: rf": {
            "builds": 3,
            "machines": 3,
            "max_spread": 0.006672,
            "tolerance": 0.0067,
            "values": 18
        },
        "exp-joint: image": {
            "builds": 3,
            "machines": 3,
            "max_spread": 0.010778,
            "tolerance": 0.0108,
            "values": 4
        },
        "exp-mechanisms: image": {
            "builds": 13,
            "machines": 3,
            "max_spread": 0.02541,
            "tolerance": 0.0255,
            "values": 32
        },
        "exp-mechanisms: rf": {
            "builds": 13,
            "machines": 3,
            "max_spread": 0.00458,
            "tolerance": 0.0046,
            "values": 6
        },
        "exp-report: image": {
            "builds": 3,
            "machines": 3,
            "max_spread": 0.026994,
            "tolerance": 0.027,
            "values": 34
        },
        "exp-report: rf": {
            "builds": 3,
            "machines": 3,
            "max_spread": 0.002196,
            "tolerance": 0.0022,
            "values": 4
        },
        "exp-stability: image": {
            "builds": 3,
            "machines": 3,
            "max_spread": 0.040537,
            "tolerance": 0.0406,
            "values": 132
        },
        "exp-stability: rf": {
            "builds": 3,
            "machines": 3,
            "max_spread": 0.006967,
            "tolerance": 0.007,
            "values": 36
        },
        "exp-sweep: image": {
            "builds": 3,
            "machines": 3,
            "max_spread": 0.041686,
            "tolerance": 0.0417,
            "values": 60
        },
        "exp-sweep: rf": {
            "builds": 3,
            "machines": 3,
            "max_spread": 0.00294,
            "tolerance": 0.003,
            "values": 6
        },
        "metadata: table": {
            "builds": 3,
            "machines": 3,
            "max_spread": 0.000697,
            "tolerance": 0.0007,
            "values": 4
        },
        "realdata: image": {
            "builds": 3,
            "machines": 3,
            "max_spread": 0.021693,
            "tolerance": 0.0217,
            "values": 18
        },
        "realdata: rf": {
            "builds": 3,
            "machines": 3,
            "max_spread": 0.000344,
            "tolerance": 0.0004,
            "values": 2
        },
        "replay: table": {
            "builds": 3,
            "machines": 3,
            "max_spread": 0.0,
            "tolerance": 0.0,
            "values": 18
        }
    },
    "smoke": {
        "exp-grid: image": {
            "builds": 4,
            "machines": 3,
            "max_spread": 0.0,
            "tolerance": 0.0,
            "values": 90
        },
        "exp-grid: rf": {
            "builds": 4,
            "machines": 3,
            "max_spread": 0.0,
            "tolerance": 0.0,
            "values": 18
        },
        "exp-joint: image": {
            "builds": 4,
            "machines": 3,
            "max_spread": 0.0,
            "tolerance": 0.0,
            "values": 4
        },
        "exp-mechanisms: image": {
            "builds": 4,
            "machines": 3,
            "max_spread": 0.0,
            "tolerance": 0.0,
            "values": 32
        },
        "exp-mechanisms: rf": {
            "builds": 4,
            "machines": 3,
            "max_spread": 0.0,
            "tolerance": 0.0,
            "values": 6
        },
        "exp-report: image": {
            "builds": 4,
            "machines": 3,
            "max_spread": 0.0,
            "tolerance": 0.0,
            "values": 34
        },
        "exp-report: rf": {
            "builds": 4,
            "machines": 3,
            "max_spread": 0.0,
            "tolerance": 0.0,
            "values": 4
        },
        "exp-stability: image": {
            "builds": 4,
            "machines": 3,
            "max_spread": 0.0,
            "tolerance": 0.0,
            "values": 56
        },
        "exp-stability: rf": {
            "builds": 4,
            "machines": 3,
            "max_spread": 0.0,
            "tolerance": 0.0,
            "values": 16
        },
        "exp-sweep: image": {
            "builds": 4,
            "machines": 3,
            "max_spread": 0.0,
            "tolerance": 0.0,
            "values": 40
        },
        "exp-sweep: rf": {
            "builds": 4,
            "machines": 3,
            "max_spread": 0.0,
            "tolerance": 0.0,
            "values": 4
        },
        "metadata: table": {
            "builds": 4,
            "machines": 3,
            "max_spread": 0.024122,
            "tolerance": 0.0242,
            "values": 4
        },
        "realdata: image": {
            "builds": 4,
            "machines": 3,
            "max_spread": 0.004505,
            "tolerance": 0.0046,
            "values": 18
        },
        "realdata: rf": {
            "builds": 4,
            "machines": 3,
            "max_spread": 0.0,
            "tolerance": 0.0,
            "values": 2
        },
        "replay: table": {
            "builds": 4,
            "machines": 3,
            "max_spread": 0.0,
            "tolerance": 0.0,
            "values": 18
        }
    }
}

BUILDS = {
    "default": [
        "amd-epyc-avx2--mechanisms-native: AMD AVX2",
        "amd-epyc-avx2--mechanisms-noonednn: AMD AVX2, TF_ENABLE_ONEDNN_OPTS=0",
        "amd-epyc-avx2--mechanisms-onednn1-sse41: AMD AVX2, TF_ENABLE_ONEDNN_OPTS=1 ONEDNN_MAX_CPU_ISA=SSE41",
        "amd-epyc-avx2--mechanisms-onednn1: AMD AVX2, TF_ENABLE_ONEDNN_OPTS=1",
        "amd-epyc-avx2--mechanisms-threads1: AMD AVX2, TF_NUM_INTRAOP_THREADS=1",
        "amd-epyc-avx2--native: AMD AVX2",
        "amd-epyc-avx512--native: AMD AVX-512",
        "intel-xeon--mechanisms-avx2: Intel AVX-512 AMX, ONEDNN_MAX_CPU_ISA=AVX2",
        "intel-xeon--mechanisms-avx512core: Intel AVX-512 AMX, ONEDNN_MAX_CPU_ISA=AVX512_CORE",
        "intel-xeon--mechanisms-native: Intel AVX-512 AMX",
        "intel-xeon--mechanisms-noonednn: Intel AVX-512 AMX, TF_ENABLE_ONEDNN_OPTS=0",
        "intel-xeon--mechanisms-threads1: Intel AVX-512 AMX, TF_NUM_INTRAOP_THREADS=1",
        "intel-xeon--native: Intel AVX-512 AMX"
    ],
    "smoke": [
        "amd-epyc-avx2--native: AMD AVX2",
        "amd-epyc-avx512--native: AMD AVX-512",
        "intel-xeon--native: Intel AVX-512 AMX",
        "intel-xeon--noonednn: Intel AVX-512 AMX, TF_ENABLE_ONEDNN_OPTS=0"
    ]
}
