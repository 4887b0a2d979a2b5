"""What the root-cause report (``shared/docs/seed-report.md``) measured and expected, as data.

These are the report's numbers (quadratic κ, patient-grouped 5-fold, original data), quoted so that the book's
tables can set our measurements beside them; none of them is a measurement of this project. :data:`HISTORY` adds the
original code base's recorded numbers (each with its commit and file), :data:`ORIGINAL_3FOLD` the per-fold log of
the seeded 3-fold metadata run.
"""

from dataclasses import dataclass, field

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


# ------------------------------------------------------------------------------------------------------------------
# The original code base's history (github.com/rezabasiri/DFUMultiClassification), as recorded there: each number
# with the commit and the file that holds it (``shared/docs/original-history-evidence.md`` gathers them). These are
# quotations, never measurements of this project; fusionlib.replay re-measures them on the public rows.
# ------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Record:
    """One recorded number of the original history: what it measured, its value (a number or a (low, high)
    range), the commit and file that hold it, the per-fold values where recorded, and a note."""

    what: str
    value: float | tuple
    commit: str
    file: str
    folds: tuple = ()
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def source(self) -> str:
        return f"{self.commit}: {self.file}"


_FUSION_REPORT = "agent_communication/rf_improvement/fusion_report"
_LOG_3FOLD = "agent_communication/fusion_fix/run_metadata_100pct_random.txt"
_INVESTIGATION = "agent_communication/fusion_fix/archived_intermediate_files/INVESTIGATION_LOG.md"
_PAPER = "paper/experiment_report.md"

HISTORY = {
    "metadata_5fold": Record(
        "metadata alone, 5 folds (the report's 0.254 ± 0.125)", 0.254, "3950388", _FUSION_REPORT,
        folds=(0.203, 0.465, 0.091, 0.210, 0.302),
        note="taken 'from handoff document' of another machine while the report's tests ran 3 folds; 0.125 is the "
             "population sd of the five folds; code of 9f80cdf / 1ea5ac0 (RF -> BatchNormalization -> softmax)"),
    "thermal_3fold": Record("thermal_map alone, 3 folds", 0.145, "3950388", _FUSION_REPORT, note="± 0.026"),
    "fusion_3fold": Record("metadata + thermal_map fusion, 3 folds (the report's 0.022 ± 0.103)", 0.022, "3950388",
                           _FUSION_REPORT, note="no per-fold log of this run was committed"),
    "fix23": Record("Fix #2+#3 (learned sigmoid α, BatchNorm removed), metadata + thermal_map", 0.0136, "7c55609",
                    "agent_communication/rf_improvement/FUSION_FIX_V2_FIXED_WEIGHTS.md",
                    note="code d5849b1; 'train kappa 0.96, val kappa -0.02, mostly class P (68 % of predictions)'",
                    extra={"train_kappa": 0.96, "kappa_unweighted": -0.02, "share_predicted_P": 0.68}),
    "fixed_average": Record("fixed 0.7·RF + 0.3·image average (image branch trained in the fusion)", 0.0227,
                            "f35cc67", "agent_communication/rf_improvement/FUSION_FIX_V3_FROZEN_PRETRAINED.md",
                            note="'Train kappa: 0.9586'", extra={"train_kappa": 0.9586}),
    "metadata_3fold": Record("metadata alone, the seeded 3-fold split, random oversampling (code e0ba25c: softmax "
                             "of the RF vector)", 0.0897, "e0ba25c", _LOG_3FOLD, folds=(0.0136, 0.0670, 0.1884)),
    "fusion_3fold_log": Record("metadata + thermal_map fusion, 3 folds, 100 % data, final (128 px, no augmentation)",
                               0.0908, "a777d94", _INVESTIGATION, folds=(0.0206, 0.0766, 0.1753),
                               note="'Test 5'; the RF alone on these folds: 0.0136 / 0.0670 / 0.1884"),
    "normalisation_before": Record("fusion before normalising the RF vector (32 px, 1 split, 0.7·RF + 0.3·frozen "
                                   "pre-trained image)", -0.007, "9a8737d",
                                   "agent_communication/fusion_fix/FINDINGS_SUMMARY.txt",
                                   note="no log of this run exists; pre-training and freezing the image branch "
                                        "landed between the two runs"),
    "normalisation_after": Record("the same after normalising", 0.3158, "9a8737d",
                                  "agent_communication/fusion_fix/fusion_test_AFTER_FIX.txt"),
    "combined_smote": Record("metadata alone, 3 folds, 'combined_smote' sampling", 0.1651, "a777d94", _INVESTIGATION,
                             folds=(0.1701, 0.1308, 0.1944), note="commit 0b0af39 added the strategies"),
    "metadata_later": Record("metadata alone after the RF fixes, unfiltered data (5 folds)", (0.307, 0.333), "f4036cb",
                             _PAPER, note="§6.1.2: 0.333 default configuration, 0.307 after the joint optimisation"),
    "label_filtered": Record("after a label-dependent filter ('data polishing': 648 -> 443 visits)", (0.533, 0.613),
                             "f4036cb", _PAPER, note="§4.4 / §6.1: metadata alone 0.533, best fusion 0.613"),
}

#: The log of e0ba25c's metadata-only run on the seeded 3-fold split (``_LOG_3FOLD``): per fold the quadratic κ
#: (scikit-learn), the unweighted κ of the validation rows and the training rows' unweighted κ at epoch 1 (the
#: Keras metric over one epoch's shuffled batches), the confusion matrix (rows true I, P, R; columns predicted),
#: the patients, the training split's unique visits and its rows per class before oversampling.
ORIGINAL_3FOLD = (
    {"fold": 1, "kappa_quadratic": 0.0136, "kappa_unweighted": -0.0202, "train_kappa_unweighted": 0.9582,
     "confusion": ((67, 202, 24), (173, 474, 69), (36, 126, 15)), "train_patients": 154, "val_patients": 79,
     "train_unique_visits": 407, "train_rows_per_class": (599, 1164, 158)},
    {"fold": 2, "kappa_quadratic": 0.0670, "kappa_unweighted": 0.0768, "train_kappa_unweighted": 0.9877,
     "confusion": ((111, 231, 3), (163, 404, 12), (26, 21, 15)), "train_patients": 156, "val_patients": 77,
     "train_unique_visits": 434, "train_rows_per_class": (547, 1301, 273)},
    {"fold": 3, "kappa_quadratic": 0.1884, "kappa_unweighted": -0.0319, "train_kappa_unweighted": 0.9766,
     "confusion": ((79, 167, 8), (182, 301, 102), (6, 66, 24)), "train_patients": 156, "val_patients": 77,
     "train_unique_visits": 453, "train_rows_per_class": (638, 1295, 239)},
)

#: ``shared/docs/original-history-evidence.md``: the code of 1ea5ac0 run unmodified (5 folds, one thread) on the
#: public row table with the original's library versions: 0.2030 / 0.4648 / 0.1302 / 0.2102 / 0.3123; the RF
#: alone on those folds averaged 0.258.
EVIDENCE_REPLAY_5FOLD = (0.2030, 0.4648, 0.1302, 0.2102, 0.3123)

#: The report's three flaws and four fixes (``shared/docs/seed-report.md``), with the fixes' expected κ.
REPORT_FLAWS = {
    "flaw 1": "asymmetric inputs: the fusion layer gets BatchNorm outputs of the RF beside image probabilities",
    "flaw 2": "an unconstrained Dense(6 -> 3) fusion layer can learn any mapping and ignore the RF",
    "flaw 3": "BatchNorm destroys the RF vector's probability structure",
}
REPORT_FIXES = {
    "fix1": "re-normalise the RF branch (softmax after BatchNorm) before the fusion layer",
    "fix2": "constrained weighted average α·RF + (1 - α)·image with a learned α",
    "fix3": "remove BatchNorm from the metadata branch",
    "fix23": "fixes 2 and 3 together",
}


def history_table():
    """:data:`HISTORY` as a pandas table: key, what, value, folds, commit, file, note."""
    import pandas as pd

    def fmt(v):
        return f"{v[0]:g}–{v[1]:g}" if isinstance(v, tuple) else f"{v:g}"

    return pd.DataFrame([{"key": k, "what": r.what, "value": fmt(r.value),
                          "folds": " / ".join(f"{x:g}" for x in r.folds), "commit": r.commit, "file": r.file,
                          "note": r.note} for k, r in HISTORY.items()])
