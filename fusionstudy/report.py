"""The numbers this project quotes and never measures, as data: one :class:`Record` per recorded number.

* :data:`HISTORY` — the original code base's recorded numbers (github.com/rezabasiri/DFUMultiClassification),
  each with the commit and file that hold it (``shared/docs/original-history-evidence.md`` gathers them);
* :data:`REPORTED` — the root-cause report's (``shared/docs/seed-report.md``) measured numbers by head: the
  report quoted them from the history, so they *are* records of :data:`HISTORY`;
* :data:`EXPECTED` — the report's expected κ for each of its fixes;
* :data:`ORIGINAL_3FOLD` — the per-fold log of the seeded 3-fold metadata run (its κ are the folds of
  ``HISTORY["metadata_3fold"]``); :data:`EVIDENCE_REPLAY_5FOLD`, :data:`REPORT_FLAWS`.

None of them is a measurement of this project; the book's tables set our measurements beside them, and
:mod:`fusionstudy.replay.protocol` re-measures the history's on the public rows.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Record:
    """One recorded number: what it measured, its value (a number or a (low, high) range), where it is recorded
    (``commit`` of the original code base and ``file``, ``lines`` in it; no commit: the root-cause report), the
    per-fold values and the fold sd where recorded, other places recording the same number (``also``:
    ``(commit, file, lines)`` triples), a note and extra recorded details."""

    what: str
    value: float | tuple
    commit: str = ""
    file: str = ""
    folds: tuple = ()
    sd: float | None = None
    note: str = ""
    lines: str = ""
    also: tuple = ()
    extra: dict = field(default_factory=dict)

    @property
    def source(self) -> str:
        return f"{self.commit}: {self.file}" if self.commit else self.file

    def lines_in(self, commit: str, file: str) -> str:
        """The lines of ``file`` at ``commit`` that record this number (``""`` where it does not)."""
        return next((lines for c, f, lines in ((self.commit, self.file, self.lines), *self.also)
                     if c == commit and f == file), "")


_FUSION_REPORT = "agent_communication/rf_improvement/fusion_report"
_LOG_3FOLD = "agent_communication/fusion_fix/run_metadata_100pct_random.txt"
_INVESTIGATION = "agent_communication/fusion_fix/archived_intermediate_files/INVESTIGATION_LOG.md"
_PAPER = "paper/experiment_report.md"

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

HISTORY = {
    "metadata_5fold": Record(
        "metadata alone, 5 folds (the report's number)", 0.254, "3950388", _FUSION_REPORT,
        folds=(0.203, 0.465, 0.091, 0.210, 0.302), sd=0.125,
        note="taken 'from handoff document' of another machine while the report's tests ran 3 folds; the sd is the "
             "population sd of the five folds; code of 9f80cdf / 1ea5ac0 (RF -> BatchNormalization -> softmax)"),
    "thermal_3fold": Record("thermal_map alone, 3 folds", 0.145, "3950388", _FUSION_REPORT, sd=0.026),
    "fusion_3fold": Record("metadata + thermal_map fusion, 3 folds (the report's number)", 0.022, "3950388",
                           _FUSION_REPORT, sd=0.103, note="no per-fold log of this run was committed"),
    "fix23": Record("Fix #2+#3 (learned sigmoid α, BatchNorm removed), metadata + thermal_map", 0.0136, "7c55609",
                    "agent_communication/rf_improvement/FUSION_FIX_V2_FIXED_WEIGHTS.md",
                    note="code d5849b1; 'train kappa 0.96, val kappa -0.02, mostly class P (68 % of predictions)'",
                    extra={"train_kappa": 0.96, "kappa_unweighted": -0.02, "share_predicted_P": 0.68}),
    "fixed_average": Record("fixed 0.7·RF + 0.3·image average (image branch trained in the fusion)", 0.0227,
                            "f35cc67", "agent_communication/rf_improvement/FUSION_FIX_V3_FROZEN_PRETRAINED.md",
                            note="'Train kappa: 0.9586'", extra={"train_kappa": 0.9586}),
    "metadata_3fold": Record("metadata alone, the seeded 3-fold split, random oversampling (code e0ba25c: softmax "
                             "of the RF vector)", 0.0897, "e0ba25c", _LOG_3FOLD,
                             folds=tuple(f["kappa_quadratic"] for f in ORIGINAL_3FOLD),
                             also=(("a777d94", _INVESTIGATION, "442"),),
                             note="the same folds are the Phase 3 sampling table's row 'random' of the investigation "
                                  "log"),
    "fusion_3fold_log": Record("metadata + thermal_map fusion, 3 folds, 100 % data, final (128 px, no augmentation)",
                               0.0908, "a777d94", _INVESTIGATION, folds=(0.0206, 0.0766, 0.1753), lines="317-319",
                               note="'Test 5: Fusion @ 100% (uniform, no augmentation)', column 'Final'; the RF alone "
                                    "on the same split: HISTORY['metadata_3fold']"),
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
    "label_filtered": Record("after a label-dependent filter ('data polishing': 648 -> 443 visits): metadata alone, "
                             "best fusion (metadata+depth_rgb+thermal_map)", (0.533, 0.613), "f4036cb", _PAPER,
                             note="§4.4 / §6.1 (ranks 9 and 1 of §6.1.1), 5-fold patient-stratified CV; the filter "
                                  "removed the wounds most often misclassified out-of-fold from the whole data set "
                                  "before cross-validation, so these are no estimates for unfiltered data",
                             extra={"filter": "a label-dependent filter removed 205 of 648 samples before "
                                              "cross-validation"}),
}

#: ``shared/docs/original-history-evidence.md``: the code of 1ea5ac0 run unmodified (5 folds, one thread) on the
#: public row table with the original's library versions: 0.2030 / 0.4648 / 0.1302 / 0.2102 / 0.3123; the RF
#: alone on those folds averaged 0.258.
EVIDENCE_REPLAY_5FOLD = (0.2030, 0.4648, 0.1302, 0.2102, 0.3123)

_SEED_REPORT = "the root-cause report (shared/docs/seed-report.md)"

#: The report's measured numbers by head (mean and fold sd of quadratic κ, patient-grouped, original data): the
#: history's records it quoted.
REPORTED = {"metadata_only": HISTORY["metadata_5fold"], "image_only": HISTORY["thermal_3fold"],
            "baseline": HISTORY["fusion_3fold"]}

#: The report's four fixes with its "Expected Kappa" column, as (low, high).
EXPECTED = {
    "fix1": Record("re-normalise the RF branch (softmax after BatchNorm) before the fusion layer", (0.10, 0.15),
                   file=_SEED_REPORT),
    "fix2": Record("constrained weighted average α·RF + (1 - α)·image with a learned α", (0.20, 0.28),
                   file=_SEED_REPORT),
    "fix3": Record("remove BatchNorm from the metadata branch", (0.18, 0.25), file=_SEED_REPORT),
    "fix23": Record("fixes 2 and 3 together", (0.25, 0.30), file=_SEED_REPORT),
}

#: The report's three flaws (``shared/docs/seed-report.md``).
REPORT_FLAWS = {
    "flaw 1": "asymmetric inputs: the fusion layer gets BatchNorm outputs of the RF beside image probabilities",
    "flaw 2": "an unconstrained Dense(6 -> 3) fusion layer can learn any mapping and ignore the RF",
    "flaw 3": "BatchNorm destroys the RF vector's probability structure",
}


def reference_text(head: str) -> str:
    """The report's number for ``head`` as text: measured ``0.254 ± 0.125`` or expected ``0.25-0.30``."""
    if head in REPORTED:
        r = REPORTED[head]
        return f"{r.value:.3f} ± {r.sd:.3f} (measured)"
    if head in EXPECTED:
        lo, hi = EXPECTED[head].value
        return f"{lo:.2f}–{hi:.2f} (expected)"
    return ""


def fusion_vs_rf_3fold() -> tuple[Record, Record]:
    """The history's 3-fold fusion run and the metadata arm — the RF alone: softmax of the RF vector, zero
    trainable weights — on the same seeded patient split (read by :mod:`fusionstudy.chapters.agreement` and the real-data
    page)."""
    return HISTORY["fusion_3fold_log"], HISTORY["metadata_3fold"]


def history_table():
    """:data:`HISTORY` as a pandas table: key, what, value, folds, commit, file, note."""
    import pandas as pd

    def fmt(v):
        return f"{v[0]:g}–{v[1]:g}" if isinstance(v, tuple) else f"{v:g}"

    return pd.DataFrame([{"key": k, "what": r.what, "value": fmt(r.value),
                          "folds": " / ".join(f"{x:g}" for x in r.folds), "commit": r.commit, "file": r.file,
                          "note": r.note} for k, r in HISTORY.items()])
