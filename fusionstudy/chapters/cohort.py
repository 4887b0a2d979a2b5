"""The synthetic cohort page's tables (``notebooks/cohort.ipynb``), from the visits of
:func:`fusionlib.data.cohort.make_synthetic_cohort`."""

from __future__ import annotations

import pandas as pd

from fusionlib.data import cohort


def class_shares(visits: pd.DataFrame) -> pd.DataFrame:
    """Per healing phase (I, P, R): its share of the visits and their number."""
    counts = visits[cohort.LABEL].value_counts()
    return pd.concat({"share": visits[cohort.LABEL].value_counts(normalize=True), "visits": counts},
                     axis=1).loc[list(cohort.CLASSES)]


def phase_by_appointment(visits: pd.DataFrame, last: int = 5) -> pd.DataFrame:
    """Share of each phase per appointment number (rows; ``last`` and later pooled as ``"5+"``)."""
    return pd.crosstab(visits["Appt#"].clip(upper=last), visits[cohort.LABEL], normalize="index").rename(
        index={last: f"{last}+"}).rename_axis("appointment")


def temperatures_by_phase(visits: pd.DataFrame) -> pd.DataFrame:
    """Per phase, mean and sd of each temperature column (°C) beside the real data's means and sds that the
    cohort is calibrated to (:data:`fusionlib.data.cohort.WOUND_MEAN`, ...)."""
    t = visits.groupby(cohort.LABEL)[list(cohort.TEMPERATURE_COLUMNS)].agg(["mean", "std"])
    t.columns = [f"{a.split(' Temperature')[0]} {b}" for a, b in t.columns]
    real = pd.DataFrame({"real wound mean": cohort.WOUND_MEAN, "real wound sd": cohort.WOUND_SD,
                         "real peri mean": cohort.PERI_MEAN, "real skin mean": cohort.SKIN_MEAN},
                        index=list(cohort.CLASSES))
    return t.join(real)
