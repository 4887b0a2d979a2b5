"""What the root-cause report (``shared/docs/seed-report.md``) measured and expected, as data.

These are the report's numbers (quadratic κ, patient-grouped 5-fold, original data), quoted so that the book's
tables can set our measurements beside them; none of them is a measurement of this project.
"""

#: Measured by the report: mean and fold sd of quadratic κ.
REPORTED = {
    "metadata_only": (0.254, 0.125),
    "image_only": (0.145, 0.026),
    "baseline": (0.022, 0.103),
}

#: The report's "Expected Kappa" column, as (low, high).
EXPECTED = {
    "fix1": (0.10, 0.15),
    "fix2": (0.20, 0.28),
    "fix3": (0.18, 0.25),
    "fix23": (0.25, 0.30),
}

#: Later history of the original code base (``original-codebase-facts.md``).
ORIGINAL_LATER = {
    "fix23": 0.0136,                 # Fix #2+#3 there: train κ 0.96, validation -0.02
    "metadata_only_fixed_rf": (0.31, 0.33),
}


def reference_text(head: str) -> str:
    """The report's number for ``head`` as text: measured ``0.254 ± 0.125`` or expected ``0.25-0.30``."""
    if head in REPORTED:
        m, s = REPORTED[head]
        return f"{m:.3f} ± {s:.3f} (measured)"
    if head in EXPECTED:
        lo, hi = EXPECTED[head]
        return f"{lo:.2f}–{hi:.2f} (expected)"
    return ""


# --- Issue 10 item 3, "the fusion copies the RF": the history's 3-fold fusion run, as data ---------------------
# (kept as a block of its own; read by fusionlib.agreement and the real-data page)

#: The original code base's recorded 3-fold fusion run beside the metadata arm (= the RF alone: softmax of the RF
#: vector, zero trainable weights) on the same seeded patient split, quadratic κ per fold (folds 1, 2, 3), from
#: ``file`` at ``commit`` of github.com/rezabasiri/DFUMultiClassification: "Test 5: Fusion @ 100% (uniform, no
#: augmentation)", 128 px, CV=3, column "Final" (``fusion_lines``), and the Phase 3 sampling table, row
#: "random" (``metadata_lines``).
HISTORY_FUSION_3FOLD = {
    "commit": "a777d94",
    "file": "agent_communication/fusion_fix/archived_intermediate_files/INVESTIGATION_LOG.md",
    "fusion": (0.0206, 0.0766, 0.1753),
    "fusion_lines": "317-319",
    "metadata_only": (0.0136, 0.0670, 0.1884),
    "metadata_lines": "442",
}


#: The original code base's numbers on **label-filtered** data: a label-dependent filter ("data polishing")
#: removed the wounds most often misclassified out-of-fold from the whole data set before cross-validation
#: (648 -> 443 unique samples), so these are not estimates for unfiltered data. Source: the original code
#: base's ``paper/experiment_report.md`` at f4036cb, section 6.1.1 (rank 9 "metadata (alone)", rank 1
#: "metadata+depth_rgb+thermal_map"), 5-fold patient-stratified CV.
ORIGINAL_FILTERED = {
    "metadata_only": 0.533,
    "best_fusion": 0.613,
    "filter": "a label-dependent filter removed 205 of 648 samples before cross-validation",
    "source": "paper/experiment_report.md at f4036cb, section 6.1.1",
}
