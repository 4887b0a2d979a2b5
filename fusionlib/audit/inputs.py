"""The audit's input: one row per scored sample and model output, checked at the boundary.

Columns (a CSV or a DataFrame; :data:`REQUIRED`, :data:`OPTIONAL`):

* ``sample`` — the sample's id (e.g. a visit); ``group`` — the unit that must not be split across folds (e.g.
  the patient); ``label`` — the true class, one of the class names below;
* ``model`` — which model's output the row is; the fusion is one of them (``fusion=`` names it, default
  ``"fusion"``), the others are its branches or single modalities;
* ``fold`` — that model's own fold (split) id for the sample; ``repeat`` (optional, default 0) — which repetition
  of the cross-validation, for repeated K-fold;
* ``role`` (optional, default ``"test"``) — ``"test"``: the model scored the sample without training on it;
  ``"train"``: the model's output on one of its training rows — give these for a branch whose outputs were fed
  to the fusion on its training rows (the in-sample detector compares the two);
* ``p_<class>`` — the model's probability of each class; their order is the classes' ordinal order (e.g.
  ``p_I, p_P, p_R``). Each row must sum to 1 (``normalise=True`` divides by the sum instead).

Bad input raises :class:`AuditInputError` naming the column and the line (of the CSV; the header is line 1) and
nothing is written: missing columns, empty cells, non-numbers, negative probabilities or rows that do not sum to
1 (saying by how much), unknown labels or roles, a class no sample has, fewer groups than folds, a test sample
given twice for one model in one repeat (a training row: twice in one fold), a sample with two labels or two
groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED = ("sample", "group", "label", "model", "fold")
OPTIONAL = {"repeat": 0, "role": "test"}
ROLES = ("test", "train")
PREFIX = "p_"
#: Largest |sum - 1| of a row of probabilities accepted as it is.
SUM_TOLERANCE = 1e-3


class AuditInputError(ValueError):
    """Bad audit input; the message names the column and line at fault."""


@dataclass(frozen=True)
class Predictions:
    """Checked audit input: ``table`` (columns ``sample, group, y, model, fold, repeat, role, line``, ``y`` the
    class index), ``proba`` ``(n_rows, n_classes)`` float, ``classes`` in ordinal order, ``fusion`` (the fused
    model's name), ``source`` (the file, or ``"frame"``)."""

    table: pd.DataFrame
    proba: np.ndarray
    classes: tuple[str, ...]
    fusion: str
    source: str

    @property
    def models(self) -> list[str]:
        """The models, fusion last, the others in order of first appearance."""
        seen = list(dict.fromkeys(self.table["model"]))
        return [m for m in seen if m != self.fusion] + [self.fusion]

    @property
    def modalities(self) -> list[str]:
        """Every model but the fusion."""
        return self.models[:-1]


def read_predictions(path: str | Path, fusion: str = "fusion", normalise: bool = False) -> Predictions:
    """Read and check an audit CSV (see the module's description); raises :class:`AuditInputError`."""
    path = Path(path)
    if not path.is_file():
        raise AuditInputError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, dtype={c: str for c in ("sample", "group", "label", "model", "fold", "role")},
                            keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise AuditInputError(f"{path}: not a readable CSV ({e})") from None
    return check_predictions(frame, fusion=fusion, normalise=normalise, source=str(path), first_line=2)


def _where(source: str, lines: np.ndarray, i: int) -> str:
    return f"{source}, line {int(lines[i])}"


def _more(n: int) -> str:
    return f" ({n - 1} more such row(s))" if n > 1 else ""


def check_predictions(frame: pd.DataFrame, fusion: str = "fusion", normalise: bool = False, source: str = "frame",
                      first_line: int = 0) -> Predictions:
    """Check an audit frame (see the module's description) and return it as :class:`Predictions`.

    ``first_line``: the line number of the frame's first row in messages (2 for a CSV with a header; 0 counts
    rows from 0). Raises :class:`AuditInputError` naming the column and line of the first fault of each kind.
    """
    frame = frame.reset_index(drop=True).copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    lines = np.arange(len(frame)) + first_line
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise AuditInputError(f"{source}: missing column(s) {missing}; the file has {list(frame.columns)[:12]} (see "
                              "fusionlib.audit's description of the format)")
    prob_cols = [c for c in frame.columns if c.startswith(PREFIX)]
    if len(prob_cols) < 2:
        raise AuditInputError(f"{source}: need a probability column per class, named {PREFIX}<class> in the classes' "
                              f"order (e.g. p_I, p_P, p_R); found {prob_cols or 'none'}")
    if len(frame) == 0:
        raise AuditInputError(f"{source}: a header and no rows")
    classes = tuple(c[len(PREFIX):] for c in prob_cols)
    for col, default in OPTIONAL.items():
        if col not in frame.columns:
            frame[col] = default
    for col in [*REQUIRED, *OPTIONAL, *prob_cols]:
        empty = frame[col].isna().to_numpy() | (frame[col].astype(str).str.strip() == "").to_numpy()
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            raise AuditInputError(f"{_where(source, lines, i)}: column {col!r} is empty{_more(int(empty.sum()))}")
    for col in ("sample", "group", "label", "model", "fold", "role"):
        frame[col] = frame[col].astype(str).str.strip()
    repeat = pd.to_numeric(frame["repeat"], errors="coerce")
    bad = (repeat.isna() | (repeat % 1 != 0)).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AuditInputError(f"{_where(source, lines, i)}: column 'repeat' must be a whole number, got "
                              f"{frame['repeat'].iloc[i]!r}{_more(int(bad.sum()))}")
    frame["repeat"] = repeat.astype(int)
    role = ~frame["role"].isin(ROLES).to_numpy()
    if role.any():
        i = int(np.flatnonzero(role)[0])
        raise AuditInputError(f"{_where(source, lines, i)}: column 'role' must be one of {ROLES}, got "
                              f"{frame['role'].iloc[i]!r}{_more(int(role.sum()))}")
    proba = _probabilities(frame, prob_cols, lines, source, normalise)
    label = ~frame["label"].isin(classes).to_numpy()
    if label.any():
        i = int(np.flatnonzero(label)[0])
        raise AuditInputError(f"{_where(source, lines, i)}: column 'label' holds {frame['label'].iloc[i]!r}, not one "
                              f"of the classes {list(classes)} (from the columns {prob_cols}){_more(int(label.sum()))}")
    frame["y"] = frame["label"].map({c: k for k, c in enumerate(classes)}).astype(int)
    frame["line"] = lines
    _check_structure(frame, classes, fusion, source)
    table = frame[["sample", "group", "y", "model", "fold", "repeat", "role", "line"]]
    return Predictions(table, proba, classes, fusion, source)


def _probabilities(frame: pd.DataFrame, cols: list[str], lines: np.ndarray, source: str, normalise: bool) -> np.ndarray:
    values = frame[cols].apply(pd.to_numeric, errors="coerce")
    for col in cols:
        bad = (values[col].isna() | ~np.isfinite(values[col].fillna(0))).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise AuditInputError(f"{_where(source, lines, i)}: column {col!r} must hold a finite number, got "
                                  f"{frame[col].iloc[i]!r}{_more(int(bad.sum()))}")
        neg = (values[col] < 0).to_numpy()
        if neg.any():
            i = int(np.flatnonzero(neg)[0])
            raise AuditInputError(f"{_where(source, lines, i)}: column {col!r} is negative "
                                  f"({values[col].iloc[i]:g}){_more(int(neg.sum()))}")
    p = values.to_numpy(dtype=float)
    sums = p.sum(axis=1)
    if (sums <= 0).any():
        i = int(np.flatnonzero(sums <= 0)[0])
        raise AuditInputError(f"{_where(source, lines, i)}: the probabilities {cols} are all 0")
    off = np.abs(sums - 1)
    if normalise:
        return p / sums[:, None]
    if (off > SUM_TOLERANCE).any():
        rows = np.flatnonzero(off > SUM_TOLERANCE)
        worst = int(rows[np.argmax(off[rows])])
        raise AuditInputError(f"{_where(source, lines, int(rows[0]))}: the probabilities {cols} sum to "
                              f"{sums[rows[0]]:.4f}, not 1 (off by {off[rows[0]]:.4f}); {len(rows)} row(s) are off by "
                              f"more than {SUM_TOLERANCE:g}, the most on line {int(lines[worst])} "
                              f"({off[worst]:.4f}); pass --normalise (normalise=True) to divide each row by its sum")
    return p


def _check_structure(frame: pd.DataFrame, classes: tuple, fusion: str, source: str) -> None:
    models = list(dict.fromkeys(frame["model"]))
    if fusion not in models:
        raise AuditInputError(f"{source}: no rows of the fusion model {fusion!r} in column 'model' (it holds "
                              f"{models[:8]}); name the fused model with --fusion")
    if len(models) < 2:
        raise AuditInputError(f"{source}: only the fusion {fusion!r}: give at least one modality's rows to compare")
    for col in ("label", "group"):
        per = frame.groupby("sample")[col].nunique()
        if (per > 1).any():
            s = per.index[per > 1][0]
            rows = frame.loc[frame["sample"] == s]
            raise AuditInputError(f"{source}, lines {rows['line'].tolist()[:6]}: sample {s!r} has more than one "
                                  f"{col} ({sorted(rows[col].unique())[:4]}){_more(int((per > 1).sum()))}")
    # A test sample is scored once per model and repeat; a training row once per model, repeat and fold.
    key = frame["fold"].where(frame["role"] == "train", "")
    dup = frame.assign(_key=key).duplicated(["model", "repeat", "role", "_key", "sample"], keep=False).to_numpy()
    if dup.any():
        first = frame.loc[dup].iloc[0]
        same = dup & (frame["model"] == first["model"]).to_numpy() & (frame["sample"] == first["sample"]).to_numpy() \
            & (frame["repeat"] == first["repeat"]).to_numpy() & (frame["role"] == first["role"]).to_numpy()
        rows = frame.loc[same]
        folds = sorted(rows["fold"].unique())
        where = f"fold {folds[0]!r}" if len(folds) == 1 else f"folds {folds}"
        once = "model and repeat" if first["role"] == "test" else "model, repeat and fold"
        raise AuditInputError(f"{source}, lines {rows['line'].tolist()[:6]}: sample {first['sample']!r} is given "
                              f"{len(rows)} times for model {first['model']!r} ({where}, repeat {first['repeat']}, "
                              f"role {first['role']!r}); a {first['role']} sample once per {once}")
    test = frame[frame["role"] == "test"]
    for model in models:
        rows = test[test["model"] == model]
        if rows.empty:
            raise AuditInputError(f"{source}: model {model!r} has no rows with role 'test' to score")
        absent = [c for k, c in enumerate(classes) if not (rows["y"] == k).any()]
        if absent:
            raise AuditInputError(f"{source}: class {', '.join(absent)} has no test sample of model {model!r} "
                                  f"(lines {rows['line'].min()}-{rows['line'].max()}): κ and the comparisons need "
                                  "every class")
        for r, part in rows.groupby("repeat"):
            n_groups, n_folds = part["group"].nunique(), part["fold"].nunique()
            if n_groups < n_folds:
                raise AuditInputError(f"{source}: model {model!r}, repeat {r}: {n_groups} group(s) for {n_folds} "
                                      "folds; a grouped split needs at least one group per fold")
