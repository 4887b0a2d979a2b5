"""Calibrate the synthetic cohort's signal knobs against the report's single-modality κ.

Runs metadata-only (corrected conditions: ordinal + oof_grouped) over ``--metadata-signal`` values and
image-only over ``--thermal-signal`` values, patient-grouped ``--n-splits`` x ``--n-repeats`` CV, and prints
quadratic κ per visit (pooled per repeat, mean over repeats). Targets: metadata-only ≈ 0.25, image-only ≈ 0.15.

    python benchmarks/calibrate.py --metadata-signal 0.45 0.5 0.55 --thermal-signal 1.0 1.3 1.6
"""

import argparse

from fusionlib.evaluation.metrics import summarise
from fusionlib.arms.runner import run_arm


def kappa(settings: dict) -> tuple[float, float]:
    m = summarise(run_arm(settings, progress=False).metrics)
    return m.loc[("visit", "kappa_quadratic"), "mean"], m.loc[("row", "kappa_quadratic"), "mean"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--metadata-signal", type=float, nargs="*", default=[])
    ap.add_argument("--thermal-signal", type=float, nargs="*", default=[])
    ap.add_argument("--n-splits", type=int, default=5)
    ap.add_argument("--n-repeats", type=int, default=1)
    a = ap.parse_args()
    cv = {"n_splits": a.n_splits, "n_repeats": a.n_repeats}
    for v in a.metadata_signal:
        kv, kr = kappa({"head": "metadata_only", "cohort": {"metadata_signal": v}, **cv})
        print(f"metadata_signal={v:<5} metadata_only  quadratic kappa visit {kv:.3f} row {kr:.3f}", flush=True)
    for v in a.thermal_signal:
        kv, kr = kappa({"head": "image_only", "cohort": {"thermal_signal": v}, **cv})
        print(f"thermal_signal={v:<5}  image_only     quadratic kappa visit {kv:.3f} row {kr:.3f}", flush=True)


if __name__ == "__main__":
    main()
