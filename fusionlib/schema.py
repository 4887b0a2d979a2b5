"""The clinical CSV's schema: each column of the public ``DataMaster_Processed_V12_WithMissing.csv`` and the
kind of value the pipeline expects in it, defined once here.

Kinds (:data:`KINDS`):

* ``"identifier"`` — never a feature (:data:`fusionlib.features.IDENTIFIERS`); the visit key columns
  (``Patient#``, ``Appt#``, ``DFU#``) must be integers (checked by :mod:`fusionlib.dfu`);
* ``"label"`` — ``Healing Phase Abs``, one of I / P / R;
* ``"label_restatement"`` — the label said again (:data:`fusionlib.features.LABEL_RESTATEMENTS`), never a
  feature;
* ``"free_text"`` — typed text with a grouped twin column (:data:`fusionlib.features.FREE_TEXT`), never a
  feature;
* ``"coded"`` — strings with the coding of :data:`fusionlib.features.CODINGS` (``F``/``M``,
  ``Left``/``Right``, ...), mapped to numbers;
* ``"nominal"`` — strings without an order (:data:`NOMINAL`), one-hot encoded;
* ``"numeric"`` — every other public column: a number or an empty cell. Text in one of them is an error
  (:func:`check_clinical_types` names the line, column and value), never a silent new category.

The roles the feature pipeline already names (identifiers, restatements, free text, codings) are read from
:mod:`fusionlib.features`; this module adds the public column order and which string columns are nominal. A
column of a user's file that is not in the schema keeps the old behaviour (numeric if every value is a number,
nominal otherwise) and is reported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .cohort import LABEL
from .features import CODINGS, FREE_TEXT, IDENTIFIERS, LABEL_RESTATEMENTS

KINDS = ("identifier", "label", "label_restatement", "free_text", "coded", "nominal", "numeric")

#: The public clinical CSV's columns, in file order (``tests/test_dfu.py`` checks them against the real file).
PUBLIC_COLUMNS = (
    "ID", "Patient#", "Age", "Sex (F:0, M:1)", "Weight (Kg)", "Height (cm)", "Smoking", "Alcohol Consumption",
    "Habits Score", "Type of Diabetes", "Heart Conditions", "Cancer History", "Sensory Peripheral",
    "Clinical Score", "Number of DFUs", "DFU#", "Side (Left:0, Right:1)", "Foot Aspect", "Location",
    "Location Grouped (Hallux:1,Toes,Middle,Heel,Ankle:5)", "Onset (Days)", "No Toes Deformities", "Bunion",
    "Claw", "Hammer", "Charcot Arthropathy", "Flat (Pes Planus) Arch", "Abnormally High Arch",
    "No Arch Deformities", "Foot Score", "Appt#", "Appt Days", "Wound Centre Temperature (°C)",
    "Peri-Ulcer Temperature (°C)", "Intact Skin Temperature (°C)", "Wound Centre Temperature Normalized (°C)",
    "Peri-Ulcer Temperature Normalized (°C)", "Pain Level", "Type of Pain", "Type of Pain Grouped",
    "Type of Pain2", "Type of Pain_Grouped2", "Wound Tunneling", "Exudate Amount (None:0,Minor,Medium,Severe:3)",
    "Exudate Appearance (Serous:1,Haemoserous,Bloody,Thick:4)", "Odor", "No Peri-ulcer Conditions (False:0, True:1)",
    "Erythema at Peri-ulcer", "Edema at Peri-ulcer", "Pale Colour at Peri-ulcer", "Maceration at Peri-ulcer",
    "Wound Score", "Dressing", "Dressing Grouped", "No Foot Abnormalities", "Foot Hair Loss", "Foot Dry Skin",
    "Foot Fissure Cracks", "Foot Callus", "Thickened Toenail", "Foot Fungal Nails", "Leg Score", "No Offloading",
    "Offloading: Therapeutic Footwear", "Offloading: Scotcast Boot or RCW", "Offloading: Half Shoes or Sandals",
    "Offloading: Total Contact Cast", "Offloading: Crutches, Walkers or Wheelchairs", "Offloading Score",
    "Healing Phase", "Phase Confidence (%)", "Healing Phase Abs",
)
#: String columns without an order (one-hot encoded by :func:`fusionlib.features.make_imputer`).
NOMINAL = ("Foot Aspect", "Type of Pain Grouped", "Type of Pain_Grouped2", "Dressing Grouped")


def _kind(column: str) -> str:
    if column == LABEL:
        return "label"
    for kind, members in (("identifier", IDENTIFIERS), ("label_restatement", LABEL_RESTATEMENTS),
                          ("free_text", FREE_TEXT), ("coded", tuple(CODINGS)), ("nominal", NOMINAL)):
        if column in members:
            return kind
    return "numeric"


#: Column -> kind (one of :data:`KINDS`) for every public column.
CLINICAL_SCHEMA = {column: _kind(column) for column in PUBLIC_COLUMNS}
#: The columns that must hold numbers (or nothing).
NUMERIC = tuple(c for c, k in CLINICAL_SCHEMA.items() if k == "numeric")


def columns_of(kind: str) -> tuple[str, ...]:
    """The public columns of one kind, in file order."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}: use one of {KINDS}")
    return tuple(c for c, k in CLINICAL_SCHEMA.items() if k == kind)


def show(value) -> str:
    """A cell value for a message: ``'sixty'``, ``3``, ``2.5`` or ``an empty cell`` — never a numpy repr."""
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)) or value is pd.NA:
        return "an empty cell"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return repr(value)


def check_clinical_types(df: pd.DataFrame, lines: np.ndarray, path: str | Path) -> dict:
    """Check every schema column of a clinical table read from ``path`` against its kind.

    ``df``: the table as read (strings or numbers); ``lines``: the 1-based CSV line of each row, shape
    ``(len(df),)``. A non-numeric value in a :data:`NUMERIC` column, or a value outside the coding of a
    ``"coded"`` column, raises :class:`fusionlib.dfu.DFUDataError` naming the file, line, column and value
    (and how many more lines and columns are affected). Empty cells are allowed everywhere (imputed later).

    Returns ``{"columns_not_in_schema": [...], "schema_columns_absent": [...]}`` for the reader's report.
    """
    from .datasets import DFUDataError

    problems = []
    for col in df.columns:
        kind = CLINICAL_SCHEMA.get(col)
        values = df[col]
        if kind == "numeric":
            bad = pd.to_numeric(values, errors="coerce").isna().to_numpy() & values.notna().to_numpy()
            expected = "a number"
        elif kind == "coded":
            coding = CODINGS[col]
            text = values.map(lambda v: None if pd.isna(v) else str(v).strip().lower())
            bad = (text.notna() & ~text.isin(list(coding))).to_numpy()
            expected = f"one of {sorted(coding)} (any letter case)"
        else:
            continue
        if bad.any():
            problems.append((col, np.flatnonzero(bad), expected))
    if problems:
        col, rows, expected = problems[0]
        i = int(rows[0])
        more = f"; {len(rows) - 1} more such line(s) in this column" if len(rows) > 1 else ""
        others = (f"; also column(s) {[p[0] for p in problems[1:4]]}"
                  + (f" and {len(problems) - 4} more" if len(problems) > 4 else "")) if len(problems) > 1 else ""
        raise DFUDataError(f"{path}, line {int(lines[i])}: column {col!r} must hold {expected}, got "
                           f"{show(df[col].iloc[i])}{more}{others}")
    return {"columns_not_in_schema": [c for c in df.columns if c not in CLINICAL_SCHEMA],
            "schema_columns_absent": [c for c in PUBLIC_COLUMNS if c not in df.columns]}
