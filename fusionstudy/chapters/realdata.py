"""The real-data page's arms and its cohort table (the readers themselves are :mod:`fusionlib.data.dfu`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fusionlib.arms import settings
from fusionlib.arms.settings import CONDITIONS
from fusionlib.data.cohort import CLASSES, LABEL, Cohort


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
