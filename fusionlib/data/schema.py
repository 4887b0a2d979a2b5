"""The clinical CSV's schema: each column of the public ``DataMaster_Processed_V12_WithMissing.csv`` and the
kind of value the pipeline expects in it, defined once here.

Kinds (:data:`KINDS`):

* ``"identifier"`` — never a feature (:data:`IDENTIFIERS`); the visit key columns
  (``Patient#``, ``Appt#``, ``DFU#``) must be integers (checked by :mod:`fusionlib.data.dfu`);
* ``"label"`` — ``Healing Phase Abs``, one of I / P / R;
* ``"label_restatement"`` — the label said again (:data:`LABEL_RESTATEMENTS`), never a
  feature;
* ``"free_text"`` — typed text with a grouped twin column (:data:`FREE_TEXT`), never a
  feature;
* ``"coded"`` — strings with the coding of :data:`CODINGS` (``F``/``M``,
  ``Left``/``Right``, ...), mapped to numbers;
* ``"nominal"`` — strings without an order (:data:`NOMINAL`), one-hot encoded;
* ``"numeric"`` — every other public column: a number or an empty cell. Text in one of them is an error
  (:func:`check_clinical_types` names the line, column and value), never a silent new category.

**Domains** (:data:`DOMAINS`): every numeric column, and the numeric identifiers, has a domain — finite, a
plausible range with its unit, whole numbers where the column counts or codes — taken from the public data and
clinical sense (each entry says which). A value outside its column's domain is refused naming the file, line,
column, value and the allowed range. Where an owner's data legitimately goes wider, the readers take a named
switch, ``ranges={column: (low, high)}`` (:func:`domains_with`), which replaces that column's range and nothing
else.

**Coded cells** (the ``"coded"`` columns and the label) follow one rule, :func:`code_key`: a cell matches its
coding ignoring letter case and surrounding spaces (``" p "`` is the label ``P``; ``"MALE"`` is not ``M``).
Nominal columns are compared exactly: they are categories, not codings (the public
``Type of Pain_Grouped2`` holds ``PressureAndMovement`` and ``PressureandMovement`` as two categories, as the
original pipeline encoded them; :func:`case_variants` lists such pairs for the reader's report).

The column roles (identifiers, restatements, free text, codings) are defined here and read by the feature pipeline
(:mod:`fusionlib.data.features`), which this module never imports; here too the public column order and which
string columns are nominal. A
column of a user's file that is not in the schema keeps the old behaviour (numeric if every value is a number,
nominal otherwise) and is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fusionlib.data.cohort import CLASSES, LABEL

KINDS = ("identifier", "label", "label_restatement", "free_text", "coded", "nominal", "numeric")

#: Identifiers: never features.
IDENTIFIERS = ("ID", "Patient#", "DFU#", "Appt#", "Appt Days")
#: Restatements of the label: never features.
LABEL_RESTATEMENTS = ("Healing Phase", "Phase Confidence (%)", LABEL)
#: Free text with a grouped twin column: never features (the grouped column is used).
FREE_TEXT = ("Location", "Type of Pain", "Type of Pain2", "Dressing")
#: Codings of string columns, as their names state them (matched by :func:`fusionlib.data.schema.code_key`: letter case
#: and surrounding spaces ignored).
CODINGS = {
    "Sex (F:0, M:1)": {"f": 0, "m": 1},
    "Side (Left:0, Right:1)": {"left": 0, "right": 1},
    "Odor": {"noodor": 0, "unpleasant": 1},
    "Exudate Appearance (Serous:1,Haemoserous,Bloody,Thick:4)":
        {"serous": 1, "haemoserous": 2, "bloody": 3, "thick": 4},
    "Location Grouped (Hallux:1,Toes,Middle,Heel,Ankle:5)":
        {"hallux": 1, "toes": 2, "middle": 3, "heel": 4, "ankle": 5},
}

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
#: String columns without an order (one-hot encoded by :func:`fusionlib.data.features.make_imputer`).
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




@dataclass(frozen=True)
class Domain:
    """The values a numeric column may hold: ``low <= value <= high`` (in ``unit``), finite, a whole number when
    ``integer``; ``source`` says where the range comes from (the public file's range, the column's coding,
    clinical sense or the file layout)."""

    low: float
    high: float
    unit: str = ""
    integer: bool = False
    source: str = ""

    def describe(self) -> str:
        """The domain in words, e.g. ``"a whole number from 0 to 1 (a yes/no flag)"``."""
        kind = "a whole number" if self.integer else "a finite number"
        return f"{kind} from {_num(self.low)} to {_num(self.high)}" + (f" ({self.unit})" if self.unit else "")

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Which of ``values`` (float, NaN for an empty cell) lie in the domain; empty cells count as inside."""
        inside = np.isfinite(values) & (values >= self.low) & (values <= self.high)
        if self.integer:
            inside &= np.mod(np.where(np.isfinite(values), values, 0), 1) == 0
        return inside | np.isnan(values)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


_FLAG = Domain(0, 1, "a yes/no flag", True, "coding")
_DEG_C = Domain(5, 45, "°C, skin surface", False, "clinical sense: skin is never below 5 °C or above 45 °C in a clinic")
_RELATIVE = Domain(-1, 1, "(T - T_intact) / T_intact, no unit", False,
                   "the public file's normalisation (checked to 1e-5)")


def _sum_of(n: int, what: str) -> Domain:
    return Domain(0, n, f"sum of {n} {what}", True, "the public file: the score equals that sum on every row")


#: Column -> :class:`Domain` for every numeric column of the public file and the numeric identifiers.
DOMAINS: dict[str, Domain] = {
    "Patient#": Domain(0, 999, "patient number", True, "layout: three digits in the image filenames"),
    "Appt#": Domain(0, 99, "appointment number", True, "layout: two digits in the image filenames"),
    "DFU#": Domain(0, 9, "wound number", True, "layout: one digit in the image filenames"),
    "Appt Days": Domain(0, 36500, "days since the first appointment", True,
                        "clinical sense: a duration is never negative"),
    "Phase Confidence (%)": Domain(0, 100, "%", False, "a percentage"),
    "Age": Domain(0, 120, "years", False, "clinical sense"),
    "Weight (Kg)": Domain(20, 350, "kg", False, "clinical sense for adults"),
    "Height (cm)": Domain(100, 250, "cm", False, "clinical sense for adults"),
    "Smoking": Domain(0, 3, "ordinal code", True, "the file's codes 0 to 3"),
    "Alcohol Consumption": Domain(0, 3, "ordinal code", True, "the file's codes 0 to 3"),
    "Habits Score": Domain(0, 6, "Smoking + Alcohol Consumption", True, "the public file: that sum on every row"),
    "Type of Diabetes": Domain(1, 2, "type 1 or 2", True, "coding"),
    "Heart Conditions": _FLAG, "Cancer History": _FLAG, "Sensory Peripheral": _FLAG,
    "Clinical Score": Domain(0, 5, "score", True, "the file's range (its definition is not published)"),
    "Number of DFUs": Domain(1, 9, "wounds", True, "layout: one digit for the wound in the image filenames"),
    "Onset (Days)": Domain(0, 36500, "days since the wound appeared", True,
                           "clinical sense: never negative, under 100 years"),
    "No Toes Deformities": _FLAG, "Bunion": _FLAG, "Claw": _FLAG, "Hammer": _FLAG, "Charcot Arthropathy": _FLAG,
    "Flat (Pes Planus) Arch": _FLAG, "Abnormally High Arch": _FLAG, "No Arch Deformities": _FLAG,
    "Foot Score": _sum_of(6, "deformity flags (Bunion .. Abnormally High Arch)"),
    "Wound Centre Temperature (°C)": _DEG_C, "Peri-Ulcer Temperature (°C)": _DEG_C,
    "Intact Skin Temperature (°C)": _DEG_C,
    "Wound Centre Temperature Normalized (°C)": _RELATIVE, "Peri-Ulcer Temperature Normalized (°C)": _RELATIVE,
    "Pain Level": Domain(0, 10, "pain scale", True, "the 0 to 10 pain scale"),
    "Wound Tunneling": Domain(0, 3, "ordinal code", True, "the file's codes 0 to 3"),
    "Exudate Amount (None:0,Minor,Medium,Severe:3)": Domain(0, 3, "None:0 .. Severe:3", True,
                                                            "coding in the column name"),
    "No Peri-ulcer Conditions (False:0, True:1)": _FLAG, "Erythema at Peri-ulcer": _FLAG,
    "Edema at Peri-ulcer": _FLAG, "Pale Colour at Peri-ulcer": _FLAG, "Maceration at Peri-ulcer": _FLAG,
    "Wound Score": _sum_of(4, "peri-ulcer flags (Erythema .. Maceration)"),
    "No Foot Abnormalities": _FLAG, "Foot Hair Loss": _FLAG, "Foot Dry Skin": _FLAG, "Foot Fissure Cracks": _FLAG,
    "Foot Callus": _FLAG, "Thickened Toenail": _FLAG, "Foot Fungal Nails": _FLAG,
    "Leg Score": _sum_of(6, "foot and nail flags (Foot Hair Loss .. Foot Fungal Nails)"),
    "No Offloading": _FLAG, "Offloading: Therapeutic Footwear": _FLAG, "Offloading: Scotcast Boot or RCW": _FLAG,
    "Offloading: Half Shoes or Sandals": _FLAG, "Offloading: Total Contact Cast": _FLAG,
    "Offloading: Crutches, Walkers or Wheelchairs": _FLAG,
    "Offloading Score": _sum_of(5, "offloading device flags"),
}


def domain_table(visits: pd.DataFrame | None = None, domains: dict | None = None) -> pd.DataFrame:
    """One row per column with a domain: ``column``, ``allowed`` (:meth:`Domain.describe`), ``range from`` (the
    domain's source) and, given a visit table ``visits``, ``in the file`` (its smallest and largest value), in
    file order."""
    domains = DOMAINS if domains is None else domains
    rows = []
    for c in PUBLIC_COLUMNS:
        if (d := domains.get(c)) is None:
            continue
        row = {"column": c, "allowed": d.describe(), "range from": d.source}
        if visits is not None and c in visits.columns:
            v = pd.to_numeric(visits[c], errors="coerce")
            row["in the file"] = f"{_num(v.min())} to {_num(v.max())}" if v.notna().any() else "empty"
        rows.append(row)
    return pd.DataFrame(rows)


def domains_with(ranges: dict | None = None) -> dict[str, Domain]:
    """:data:`DOMAINS` with the ranges of ``ranges = {column: (low, high)}`` replaced (the named switch for data
    that legitimately goes wider; ``low``/``high`` may be ``-inf``/``inf``). Raises ``ValueError`` naming a
    column without a domain or a range that is not two numbers ``low < high``."""
    out = dict(DOMAINS)
    for column, bounds in (ranges or {}).items():
        if column not in DOMAINS:
            raise ValueError(f"ranges: column {column!r} has no domain to widen; the columns with one are the "
                             f"numeric columns of fusionlib.data.schema.DOMAINS, e.g. {list(DOMAINS)[5:8]}")
        try:
            low, high = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise ValueError(f"ranges[{column!r}]={bounds!r}: give two numbers (low, high)") from None
        if math.isnan(low) or math.isnan(high) or not low < high:
            raise ValueError(f"ranges[{column!r}]={bounds!r}: need low < high")
        old = DOMAINS[column]
        out[column] = Domain(low, high, old.unit, old.integer, "widened by the caller (ranges=)")
    return out


def code_key(value) -> str | None:
    """The one matching rule of coded cells (the ``"coded"`` columns and the label): the cell's text without
    surrounding spaces, in lower case; ``None`` for an empty cell."""
    if value is None or value is pd.NA or (isinstance(value, float | np.floating) and np.isnan(value)):
        return None
    text = str(value).strip().lower()
    return text or None


#: The label's coding under :func:`code_key`: ``"i"`` -> ``"I"``, ...
LABEL_CODING = {c.lower(): c for c in CLASSES}


def case_variants(df: pd.DataFrame) -> dict[str, list[list[str]]]:
    """Per nominal column of ``df``, the groups of values that differ only in letter case or surrounding spaces
    (kept as separate categories; listed so that an owner can see them)."""
    out = {}
    for col in NOMINAL:
        if col not in df.columns:
            continue
        groups: dict[str, set] = {}
        for v in df[col].dropna().unique():
            groups.setdefault(str(v).strip().lower(), set()).add(str(v))
        found = [sorted(g) for g in groups.values() if len(g) > 1]
        if found:
            out[col] = sorted(found)
    return out


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


def check_clinical_types(df: pd.DataFrame, lines: np.ndarray, path: str | Path, ranges: dict | None = None) -> dict:
    """Check every schema column of a clinical table read from ``path`` against its kind and domain.

    ``df``: the table as read (strings or numbers); ``lines``: the 1-based CSV line of each row, shape
    ``(len(df),)``. A non-numeric value in a :data:`NUMERIC` column, a value outside the coding of a
    ``"coded"`` column (matched by :func:`code_key`) or a number outside its column's :class:`Domain`
    (:data:`DOMAINS`, with ``ranges`` widening some: :func:`domains_with`) raises
    :class:`fusionlib.data.dfu.DFUDataError` naming the file, line, column, value and what the column allows (and
    how many more lines and columns are affected). Empty cells are allowed everywhere (imputed later).

    Returns ``{"columns_not_in_schema": [...], "schema_columns_absent": [...], "nominal_case_variants": {...},
    "ranges_widened": {...}}`` for the reader's report.
    """
    from fusionlib.data.datasets import DFUDataError

    domains = domains_with(ranges)
    problems = []
    for col in df.columns:
        kind = CLINICAL_SCHEMA.get(col)
        values = df[col]
        if kind == "numeric":
            bad = pd.to_numeric(values, errors="coerce").isna().to_numpy() & values.notna().to_numpy()
            expected = "a number"
        elif kind == "coded":
            coding = CODINGS[col]
            text = values.map(code_key)
            bad = (text.notna() & ~text.isin(list(coding))).to_numpy()
            expected = f"one of {sorted(coding)} (any letter case)"
        else:
            continue
        if bad.any():
            problems.append((col, np.flatnonzero(bad), expected))
    if not problems:
        for col in df.columns:
            if col in domains:
                number = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
                bad = ~domains[col].contains(number)
                if bad.any():
                    problems.append((col, np.flatnonzero(bad), domains[col].describe()))
    if problems:
        col, rows, expected = problems[0]
        i = int(rows[0])
        more = f"; {len(rows) - 1} more such line(s) in this column" if len(rows) > 1 else ""
        others = (f"; also column(s) {[p[0] for p in problems[1:4]]}"
                  + (f" and {len(problems) - 4} more" if len(problems) > 4 else "")) if len(problems) > 1 else ""
        number = pd.to_numeric(pd.Series([df[col].iloc[i]]), errors="coerce").iloc[0]
        wider = (col in domains and expected == domains[col].describe() and np.isfinite(number)
                 and not domains[col].low <= number <= domains[col].high)
        switch = f"; if your data legitimately goes wider, pass ranges={{{col!r}: (low, high)}}" if wider else ""
        raise DFUDataError(f"{path}, line {int(lines[i])}: column {col!r} must hold {expected}, got "
                           f"{show(df[col].iloc[i])}{more}{others}{switch}")
    return {"columns_not_in_schema": [c for c in df.columns if c not in CLINICAL_SCHEMA],
            "schema_columns_absent": [c for c in PUBLIC_COLUMNS if c not in df.columns],
            "nominal_case_variants": case_variants(df),
            "ranges_widened": {c: [domains[c].low, domains[c].high] for c in (ranges or {})}}
