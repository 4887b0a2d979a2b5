"""The real-data page, section by section: its cohort, arms, comparisons and tables (the readers themselves are
:mod:`fusionlib.data.dfu`).

:class:`RealDataChapter` runs each section on the semi-real cohort built from the public clinical CSV at a scale's
settings (:data:`fusionstudy.scales.SCALES`) and returns what the page shows as a list of parts (Markdown text or
tables; :func:`fusionstudy.present.show`); without the public files it shows why and computes nothing.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from fusionlib.arms import settings
from fusionlib.arms.settings import CONDITIONS
from fusionlib.data.cohort import CLASSES, LABEL, Cohort
from fusionstudy.chapters.base import DataChapter


def cohort_summary(cohort: Cohort) -> pd.DataFrame:
    """A two-column table (``quantity``, ``value``) describing ``cohort``: kind, visits, patients, visits per
    label, image rows, visits without images and what the readers dropped (from ``params["report"]``)."""
    visits = cohort.visits
    counts = visits[LABEL].value_counts()
    with_images = np.unique(cohort.image_visit).size
    rows = [("kind", cohort.params.get("kind", cohort.name)),
            ("visits", len(visits)),
            ("patients", int(visits["Patient#"].nunique())),
            *[(f"visits labelled {c}", int(counts.get(c, 0))) for c in CLASSES],
            ("image rows", len(cohort.images)),
            ("image rows per visit with images", round(len(cohort.images) / max(with_images, 1), 2)),
            ("visits without images", len(visits) - with_images)]
    report = cohort.params.get("report", {})
    if report:
        rows += [("rows read from the clinical CSV", report.get("rows_read")),
                 ("rows dropped: missing label", len(report.get("dropped_missing_label", []))),
                 ("rows dropped: duplicated visit", len(report.get("dropped_duplicate_lines", [])))]
    if "visits_missing_temperature" in report:
        rows.append((f"visits missing a temperature ({report['missing_temperature']})",
                     report["visits_missing_temperature"]))
    if "unmatched_boxes" in report:
        rows.append(("boxes dropped: visit absent from the clinical CSV", report["unmatched_boxes"]))
    if "missing_images" in report:
        rows += [("images missing (their boxes dropped)", report["missing_images"]),
                 ("files in the image folder not named by the box CSV", report["unused_files"])]
    return pd.DataFrame(rows, columns=["quantity", "value"]).astype({"value": object})


def realdata_arms(n_splits: int = 5, n_repeats: int = 3, rf_trees: int = 300, seed: int = 0,
                  train: dict | None = None) -> list[dict]:
    """Settings (:class:`fusionlib.arms.settings.ArmSettings` dicts) of the real-data page's arms: every head of the
    head table (:data:`fusionlib.arms.settings.HEADS`), all under the corrected condition
    (``CONDITIONS["corrected"]``). The fusions' bar is not among them: it is
    :func:`fusionstudy.chapters.metadata_tables.best_metadata_arm` on the same folds (the nested-CV best metadata arm), with
    the ``metadata_only`` arm here kept as the report's reference."""
    common = {**CONDITIONS["corrected"], "n_splits": n_splits, "n_repeats": n_repeats, "rf_trees": rf_trees,
              "seed": seed, "train": dict(train or {})}
    return [{"head": head, **common} for head in settings.head_names()]


class RealDataChapter(DataChapter):
    """The real-data page at ``scale`` on the public files of ``data_dir`` (``data_unavailable``: why the study could
    not get them); arm results written under ``out_dir`` when given; ``n_splits``, ``n_repeats``, ``rf_trees``
    replace the scale's when non-zero."""

    def __init__(self, data_dir: str, data_unavailable: str, scale: str, out_dir: str = "", n_splits: int = 0,
                 n_repeats: int = 0, rf_trees: int = 0):
        from fusionlib.data import dfu
        from fusionstudy.scales import SCALES

        super().__init__(data_dir, data_unavailable, require=[dfu.CLINICAL_CSV])
        self.folder = str(self.data.folder) if self.enabled else ""
        self.scale, self.out_dir = scale, out_dir
        self.scales = SCALES[scale]
        knobs = self.scales["common"]
        self.n_splits = n_splits or knobs["n_splits"]
        self.n_repeats = n_repeats or knobs["n_repeats"]
        self.rf_trees = rf_trees or knobs["rf_trees"]
        self.train = knobs.get("train", {})
        self.image_size = knobs["cohort"].get("image_size", 32)
        self.cohort = None

    def _run_arms(self, arms: list[dict], cohort, out_dir: str | None) -> list:
        from fusionlib.arms import runner
        from fusionstudy.build import console, provenance

        return runner.run_arms(arms, cohort=cohort, progress=False, out_dir=out_dir or None,
                               on_fold=console.fold_progress, provenance=provenance.project_state())

    def cohort_table(self) -> list:
        """The semi-real cohort: what was read and what the readers dropped or imputed."""
        if not self.enabled:
            return []
        from fusionlib.data import dfu
        from fusionstudy import present

        draws = self.scales["realdata"]["draws_per_visit"]
        self.cohort = dfu.load_cohort("semi_real", data_dir=self.folder, image_size=self.image_size, seed=0,
                                      draws_per_visit=draws)
        return [f"Scale `{self.scale}`: {draws} rendered crops per visit, {self.image_size} px; cohort fingerprint "
                f"`{self.cohort.fingerprint()}`.", present.table(cohort_summary(self.cohort))]

    def arms(self) -> list:
        """Metadata-only and every fusion head under the corrected condition."""
        if not self.enabled:
            return []
        from fusionlib.arms.results import experiment_table
        from fusionstudy import present

        arms = realdata_arms(self.n_splits, self.n_repeats, self.rf_trees, train=self.train)
        self.results = self._run_arms(arms, self.cohort, self.out_dir)
        return [present.table(experiment_table(self.results).drop(columns="s (amortised)"), index=True)]

    def against_the_bar(self) -> list:
        """The best honest metadata arm (nested CV) on the same folds, and every arm against it."""
        if not self.enabled:
            return []
        from fusionlib.arms.results import experiment_table
        from fusionstudy import present
        from fusionstudy.chapters import analysis
        from fusionstudy.chapters import metadata_tables as mt

        bar = mt.best_metadata_arm(self.cohort, self.n_splits, self.n_repeats, self.rf_trees, scale=self.scale,
                                   n_jobs=min(2, os.cpu_count() or 1))
        by_label = {r.settings.label: r for r in [*self.results, bar]}
        comparisons = analysis.comparison_table(by_label, mt.bar_pairs(by_label),
                                                n_boot=self.scales["metadata"]["n_boot"])
        comparisons.insert(2, "verdict (κ quad)", [analysis.verdict(r) for _, r in comparisons.iterrows()])
        return [present.table(experiment_table([bar]).drop(columns="s (amortised)"), index=True),
                present.table(analysis.shown(comparisons, by_label))]

    def copying(self) -> list:
        """How often each fusion predicts its RF input's class."""
        if not self.enabled:
            return []
        from fusionstudy import present
        from fusionstudy.chapters import agreement

        agree = agreement.agreement_table(self.results)
        return [present.table(agree), agreement.agreement_text(agree)]

    def original_protocol(self) -> list:
        """The original's conditions on the same visits (3 folds, in-sample RF, its recipe), fold by fold, beside the
        history's 3-fold run."""
        if not self.enabled:
            return []
        from fusionlib.data import dfu
        from fusionstudy import present, report
        from fusionstudy.chapters import agreement

        cohort = dfu.load_cohort("semi_real", data_dir=self.folder, image_size=self.image_size, seed=0,
                                 draws_per_visit=agreement.ORIGINAL_ROWS_PER_VISIT)
        arms = agreement.original_protocol_arms(3, self.scales["realdata"]["original_trees"], self.train)
        original = self._run_arms(arms, cohort, f"{self.out_dir}/original-protocol" if self.out_dir else None)
        recorded = report.fusion_vs_rf_3fold()
        collapse = agreement.collapse_by_fold(original, recorded)
        return [present.table(collapse), agreement.collapse_text(collapse, recorded),
                agreement.history_line(recorded)]

    def bad_input(self) -> list:
        """What the readers do with each kind of bad input (run now, with its real message)."""
        from fusionstudy import present
        from fusionstudy.chapters.dfu_cases import bad_input_table

        return [present.table(bad_input_table())]

    def domains(self) -> list:
        """Each clinical column's domain, with the public file's own range beside it."""
        from fusionlib.data.schema import domain_table
        from fusionstudy import present

        return [present.table(domain_table(self.cohort.visits if self.cohort is not None else None))]

