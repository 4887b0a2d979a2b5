"""The original DFU layout: readers for the public clinical CSV and the thermal bounding-box CSV, the real-image
cohort (for whoever holds the non-public PNGs) and the **semi-real** cohort built from the public CSV alone.

Files (see ``NOTICE.md`` beside the public data; they are read by path, never copied into the project):

* ``DataMaster_Processed_V12_WithMissing.csv`` — one row per wound visit, key ``(Patient#, Appt#, DFU#)``,
  label ``Healing Phase Abs`` coded ``I`` / ``P`` / ``R``; starts with a UTF-8 BOM;
* ``bounding_box_thermal.csv`` — one row per wound box in a thermal image: ``Filename``, the visit key,
  ``DebriStat``, ``Camera``, ``Angle``, ``Bounding Box Number``, ``Xmin``, ``Ymin``, ``Xmax``, ``Ymax``
  (pixels of the 1080 wide x 1440 tall frame, x to the right, y down, ``max`` exclusive);
* the thermal PNGs (not public), named ``{idx}_P{patient:03d}{appt:02d}{dfu:1d}{A|B}{D|T}{L|M|R}{W|Z}.png``.
  One photograph can hold several wounds: the ``DFU#`` digit of the name is the photograph's wound, the
  ``DFU#`` column the box's (they differ for 312 of the 3,163 public boxes); the visit join uses the column.

Policies (every reader validates at the boundary and raises :class:`DFUDataError` naming the file, the
1-based CSV line — the header is line 1, one line per record as in the public files — and/or the column):

* a **missing label** drops the row; the dropped lines are counted, warned about and reported;
* an **unknown label** (not I / P / R) raises;
* a **duplicated visit** (two rows with one ``(Patient#, Appt#, DFU#)``) raises by default
  (``on_duplicate="error"``); ``on_duplicate="first"`` keeps the first row, warns and reports the dropped
  lines. The public CSV has three (patients 75, 92 and 161; same label, different ``Appt Days``), so the
  cohort builders (:func:`semi_real_cohort`, :func:`load_cohort`) pass ``"first"`` and report them;
* a **box of a visit absent from the clinical CSV** raises by default (``on_unmatched="error"``);
  ``on_unmatched="skip"`` drops those boxes, warns and reports them. The public box CSV has 29 such visits
  (119 boxes), so :func:`load_cohort` passes ``"skip"``;
* a malformed image filename, a filename that disagrees with its row's columns, an empty box
  (``Xmax <= Xmin`` or ``Ymax <= Ymin``), a box outside the image, a missing, unreadable or truncated PNG raise;
* **visits without images are kept** in ``visits`` (the metadata arm can use them) and counted. Note that
  :func:`fusionlib.runner.run_arm` trains and scores every head on image rows, so such visits are not scored.

Nothing is written anywhere: the readers only read.

The **semi-real cohort** (:func:`semi_real_cohort`) is *semi-synthetic*: real visits, real metadata, real
labels and real measured temperatures, with thermal crops *rendered* from each visit's three measured
temperatures by the synthetic renderer (:mod:`fusionlib.thermal`, poses and noise as in
:mod:`fusionlib.cohort`). Its images carry exactly the information of the temperature columns, and nothing
of the real photographs. It is labelled ``params["kind"] == "semi_real"``.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from . import thermal
from .cohort import CLASSES, DEFAULTS, LABEL, TEMPERATURE_COLUMNS, VISIT_KEY, Cohort, CohortParams
from .cohort import _scene as _synthetic_scene
from .cohort import make_synthetic_cohort

CLINICAL_CSV = "DataMaster_Processed_V12_WithMissing.csv"
BOXES_CSV = "bounding_box_thermal.csv"
#: Environment variables naming the folder of the public CSVs and the folder of the (non-public) thermal PNGs.
DATA_ENV = "DFU_DATA_DIR"
IMAGE_ENV = "DFU_IMAGE_DIR"
KINDS = ("synthetic", "semi_real", "dfu_images")
HOW_TO_POINT_TO_DATA = (f"pass data_dir=<folder> (papermill: -p data_dir <folder>) or set the environment variable "
                        f"{DATA_ENV} to the folder holding {CLINICAL_CSV} and {BOXES_CSV} (the public files of "
                        "github.com/rezabasiri/DFUMultiClassification, data/raw/)")

REQUIRED_CLINICAL = (*VISIT_KEY, LABEL)
REQUIRED_BOXES = ("Filename", *VISIT_KEY, "DebriStat", "Camera", "Angle", "Xmin", "Ymin", "Xmax", "Ymax")
BOX_COORDS = ("Xmin", "Ymin", "Xmax", "Ymax")
FILENAME_PATTERN = "{idx}_P{patient:03d}{appt:02d}{dfu:1d}{A|B}{D|T}{L|M|R}{W|Z}.png"
_FILENAME_RE = re.compile(r"^(?P<idx>\d+)_P(?P<patient>\d{3})(?P<appt>\d{2})(?P<dfu>\d)(?P<debri>[AB])"
                          r"(?P<camera>[DT])(?P<side>[LMR])(?P<zoom>[WZ])\.png$")
#: Shares of the camera angles and of after-debridement photographs among the public boxes (3,163).
ANGLE_SHARES = {"LW": 836 / 3163, "MW": 1069 / 3163, "RW": 1011 / 3163, "MZ": 247 / 3163}
AFTER_DEBRIDEMENT_SHARE = 1895 / 3163
MISSING_TEMPERATURE = ("median", "drop")
#: The real-data page's heads and the corrected RF condition they run under (see :func:`realdata_arms`).
REALDATA_HEADS = ("metadata_only", "image_only", "baseline", "fix1", "fix2", "fix3", "fix23", "stacking", "loglinear",
                  "alpha_grid")
CORRECTED = {"decomposition": "ordinal", "source": "oof_grouped"}
ON_DUPLICATE = ("error", "first")
ON_UNMATCHED = ("error", "skip")


class DFUDataError(ValueError):
    """Bad input in the DFU files; the message names the file and the line, column or value at fault."""


def _line(row: int) -> int:
    """1-based CSV line of 0-based data row ``row`` (the header is line 1)."""
    return int(row) + 2


def _few(items: list, k: int = 5) -> str:
    """``items`` shortened for a message: the first ``k`` and how many more."""
    items = list(items)
    return ", ".join(map(str, items[:k])) + (f" and {len(items) - k} more" if len(items) > k else "")


def _check_choice(name: str, value: str, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r}: use one of {choices}")


def _read_csv(path: str | Path) -> pd.DataFrame:
    """The CSV at ``path`` as strings-or-numbers, header stripped, a UTF-8 BOM tolerated."""
    path = Path(path)
    if not path.is_file():
        raise DFUDataError(f"{path}: file not found")
    try:
        df = pd.read_csv(path, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DFUDataError(f"{path}: not a readable CSV ({e})") from e
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _require(df: pd.DataFrame, columns: tuple, path: str | Path) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DFUDataError(f"{path}: missing required column(s) {missing}; the file has {len(df.columns)} "
                           f"columns, e.g. {list(df.columns)[:6]}")


def _integer_column(df: pd.DataFrame, col: str, path: str | Path) -> pd.Series:
    """Column ``col`` as ``int64``; a missing or non-integer value raises naming its line."""
    num = pd.to_numeric(df[col], errors="coerce")
    bad = num.isna() | (num.fillna(0) % 1 != 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DFUDataError(f"{path}, line {_line(i)}: column {col!r} must be an integer, got {df[col].iloc[i]!r}"
                           + (f" ({int(bad.sum()) - 1} more such lines)" if bad.sum() > 1 else ""))
    return num.astype(np.int64)


def _read_clinical(path: str | Path, on_duplicate: str) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """:func:`read_clinical`'s work; also returns the CSV line of each kept row, shape ``(n_visits,)``."""
    _check_choice("on_duplicate", on_duplicate, ON_DUPLICATE)
    df = _read_csv(path)
    _require(df, REQUIRED_CLINICAL, path)
    n_read = len(df)
    for col in VISIT_KEY:
        df[col] = _integer_column(df, col, path)
    lines = np.arange(n_read) + 2

    raw = df[LABEL]
    text = raw.astype(object).map(lambda v: "" if pd.isna(v) else str(v).strip())
    missing = (text == "").to_numpy()
    unknown = ~missing & ~text.isin(CLASSES).to_numpy()
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise DFUDataError(f"{path}, line {lines[i]}: column {LABEL!r} has unknown label {raw.iloc[i]!r} "
                           f"(expected one of {', '.join(CLASSES)})"
                           + (f"; {int(unknown.sum()) - 1} more such lines" if unknown.sum() > 1 else ""))
    dropped_label = lines[missing].tolist()
    if dropped_label:
        warnings.warn(f"{path}: dropped {len(dropped_label)} row(s) with a missing {LABEL!r} "
                      f"(lines {_few(dropped_label)})", stacklevel=3)
    df = df.loc[~missing].copy()
    df[LABEL] = text[~missing].astype(object)
    lines = lines[~missing]

    dup = df.duplicated(list(VISIT_KEY), keep=False).to_numpy()
    duplicates = []
    if dup.any():
        for key, idx in df.loc[dup].groupby(list(VISIT_KEY), sort=False).indices.items():
            rows = np.flatnonzero(dup)[idx]
            duplicates.append({"key": [int(k) for k in key], "lines": lines[rows].tolist(),
                               "kept": int(lines[rows[0]])})
        described = "; ".join(f"{dict(zip(VISIT_KEY, d['key']))} on lines {d['lines']}" for d in duplicates[:5])
        if on_duplicate == "error":
            raise DFUDataError(f"{path}: {len(duplicates)} duplicated visit(s) (same {', '.join(VISIT_KEY)}): "
                               f"{described}{' and more' if len(duplicates) > 5 else ''}; pass "
                               "on_duplicate='first' to keep the first row of each")
        warnings.warn(f"{path}: {len(duplicates)} duplicated visit(s), kept the first row of each: {described}",
                      stacklevel=3)
        first = ~df.duplicated(list(VISIT_KEY), keep="first").to_numpy()
        df, lines = df.loc[first], lines[first]
    report = {"file": Path(path).name, "rows_read": n_read, "rows_kept": len(df),
              "dropped_missing_label": dropped_label, "duplicates": duplicates,
              "dropped_duplicate_lines": [ln for d in duplicates for ln in d["lines"] if ln != d["kept"]]
              if on_duplicate == "first" else []}
    return df.reset_index(drop=True), lines, report


def read_clinical(path: str | Path, on_duplicate: str = "error") -> pd.DataFrame:
    """Read the clinical CSV: one row per visit, columns as in the file, ``Healing Phase Abs`` in I / P / R.

    Parameters
    ----------
    path : str or Path
        ``DataMaster_Processed_V12_WithMissing.csv`` or a file of its format (UTF-8, BOM tolerated).
    on_duplicate : {"error", "first"}
        What a duplicated visit key ``(Patient#, Appt#, DFU#)`` does: raise (naming the keys and lines) or
        keep the first row of each (warned and reported).

    Returns
    -------
    DataFrame of shape ``(n_visits, n_columns)``, index ``0..n_visits-1``; key columns ``int64``, the label
    as the strings ``"I"``, ``"P"``, ``"R"``. ``df.attrs["dfu"]`` is the report: ``rows_read``, ``rows_kept``,
    ``dropped_missing_label`` (CSV lines), ``duplicates`` (key, lines, kept line), ``dropped_duplicate_lines``.

    Raises :class:`DFUDataError` for a missing file or required column, a non-integer key, an unknown label
    (naming its line and value) or, with ``on_duplicate="error"``, a duplicated visit.
    """
    df, _, report = _read_clinical(path, on_duplicate)
    df.attrs["dfu"] = report
    return df


def parse_filename(name: str) -> dict:
    """The fields of a thermal image filename of the original layout (:data:`FILENAME_PATTERN`).

    >>> parse_filename("280_P003011BTLW.png")["patient"]
    3

    Returns a dict: ``idx``, ``patient``, ``appt``, ``dfu`` (ints), ``debri`` (A = after, B = before
    debridement), ``camera`` (D = depth, T = thermal), ``side`` (L / M / R), ``zoom`` (W = wide, Z = zoomed) and
    ``angle`` (side + zoom, as the box CSV's ``Angle``). Raises :class:`DFUDataError` naming a malformed name.
    """
    m = _FILENAME_RE.match(str(name))
    if m is None:
        raise DFUDataError(f"malformed image filename {name!r}: expected {FILENAME_PATTERN}, "
                           "e.g. '280_P003011BTLW.png'")
    f = m.groupdict()
    out = {k: int(f[k]) for k in ("idx", "patient", "appt", "dfu")}
    out.update({k: f[k] for k in ("debri", "camera", "side", "zoom")})
    out["angle"] = f["side"] + f["zoom"]
    return out


def read_boxes(path: str | Path, frame: tuple[int, int] | None = thermal.FULL_FRAME) -> pd.DataFrame:
    """Read the thermal bounding-box CSV: one row per wound box.

    Parameters
    ----------
    path : str or Path
        ``bounding_box_thermal.csv`` or a file of its format.
    frame : (height, width) or None
        The image size the boxes must lie inside (pixels; the original 1440 x 1080). ``None`` skips that check
        (:func:`load_image_cohort` checks every box against its actual image anyway).

    Returns
    -------
    DataFrame of shape ``(n_boxes, ...)``: the file's columns (key and coordinates ``int64``) plus ``line``
    (the 1-based CSV line) and ``idx`` (the image index of the filename).

    Raises :class:`DFUDataError` naming the file, line and column for a missing column, a non-integer
    key or coordinate, a malformed filename, a filename disagreeing with its row's patient, appointment,
    ``DebriStat``, ``Camera`` or ``Angle``, an empty box or a box outside ``frame``.
    """
    df = _read_csv(path)
    _require(df, REQUIRED_BOXES, path)
    for col in (*VISIT_KEY, *BOX_COORDS):
        df[col] = _integer_column(df, col, path)
    df["line"] = np.arange(len(df)) + 2
    idx = np.empty(len(df), dtype=np.int64)
    checks = (("patient", "Patient#"), ("appt", "Appt#"), ("debri", "DebriStat"), ("camera", "Camera"),
              ("angle", "Angle"))
    for i, row in enumerate(df.itertuples(index=False)):
        rec = dict(zip(df.columns, row))
        try:
            f = parse_filename(rec["Filename"])
        except DFUDataError as e:
            raise DFUDataError(f"{path}, line {_line(i)}, column 'Filename': {e}") from None
        for field, col in checks:
            if str(f[field]) != str(rec[col]).strip():
                raise DFUDataError(f"{path}, line {_line(i)}: filename {rec['Filename']!r} says {field} "
                                   f"{f[field]!r} but column {col!r} holds {rec[col]!r}")
        idx[i] = f["idx"]
        _check_box(tuple(int(rec[c]) for c in BOX_COORDS), frame, f"{path}, line {_line(i)}")
    df["idx"] = idx
    return df


def _check_box(box: tuple[int, int, int, int], frame: tuple[int, int] | None, where: str) -> None:
    """Raise naming ``where`` if ``box = (xmin, ymin, xmax, ymax)`` is empty or not inside ``frame = (h, w)``."""
    xmin, ymin, xmax, ymax = box
    if xmax <= xmin or ymax <= ymin:
        raise DFUDataError(f"{where}: empty bounding box (Xmin, Ymin, Xmax, Ymax) = {box}")
    if frame is not None:
        h, w = frame
        if xmin < 0 or ymin < 0 or xmax > w or ymax > h:
            raise DFUDataError(f"{where}: bounding box (Xmin, Ymin, Xmax, Ymax) = {box} lies outside the "
                               f"{w} wide x {h} tall image")


def join_boxes(visits: pd.DataFrame, boxes: pd.DataFrame, on_unmatched: str = "error",
               source: str = "boxes") -> tuple[pd.DataFrame, dict]:
    """Attach to each box the index of its visit (column ``visit``, a row of ``visits``).

    ``visits`` from :func:`read_clinical`, ``boxes`` from :func:`read_boxes`; joined on
    ``(Patient#, Appt#, DFU#)``. A box whose visit is absent from ``visits`` raises (``on_unmatched="error"``,
    naming the visits and box lines) or is dropped, warned about and reported (``"skip"``). Returns
    ``(boxes with "visit", report)``, the report listing the unmatched visit keys and box count.
    """
    _check_choice("on_unmatched", on_unmatched, ON_UNMATCHED)
    if visits.duplicated(list(VISIT_KEY)).any():
        raise DFUDataError(f"the visit table has duplicated {', '.join(VISIT_KEY)} keys, so boxes cannot be joined "
                           "to one visit; read it with read_clinical(on_duplicate=...)")
    keys = visits[list(VISIT_KEY)].assign(visit=np.arange(len(visits), dtype=np.int64))
    merged = boxes.merge(keys, on=list(VISIT_KEY), how="left", validate="many_to_one")
    unmatched = merged["visit"].isna().to_numpy()
    absent = merged.loc[unmatched, list(VISIT_KEY)].drop_duplicates()
    report = {"unmatched_visits": absent.to_numpy().tolist(), "unmatched_boxes": int(unmatched.sum())}
    if unmatched.any():
        where = "line" if "line" in merged.columns else None
        lines = merged.loc[unmatched, where].tolist() if where else np.flatnonzero(unmatched).tolist()
        described = _few([dict(zip(VISIT_KEY, k)) for k in report["unmatched_visits"]], 3)
        msg = (f"{source}: {report['unmatched_boxes']} box(es) on lines {_few(lines)} belong to "
               f"{len(absent)} visit(s) absent from the clinical CSV: {described}")
        if on_unmatched == "error":
            raise DFUDataError(msg + "; pass on_unmatched='skip' to drop them")
        warnings.warn(msg + "; dropped", stacklevel=2)
    out = merged.loc[~unmatched].reset_index(drop=True)
    out["visit"] = out["visit"].astype(np.int64)
    return out, report


def read_png(path: str | Path) -> np.ndarray:
    """An image file as RGB ``uint8`` of shape ``(height, width, 3)``; raises :class:`DFUDataError` naming a
    missing, unreadable or truncated file."""
    path = Path(path)
    if not path.is_file():
        raise DFUDataError(f"{path}: image file not found")
    try:
        with Image.open(path) as im:
            im.load()
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DFUDataError(f"{path}: unreadable or truncated image ({type(e).__name__}: {e})") from e


def load_image_cohort(clinical_csv: str | Path, boxes_csv: str | Path, image_dir: str | Path, image_size: int = 32,
                      on_duplicate: str = "error", on_unmatched: str = "error", margin: int = thermal.FULL_MARGIN,
                      frame: tuple[int, int] | None = thermal.FULL_FRAME) -> Cohort:
    """The real cohort: clinical visits and one image row per wound box of the thermal PNGs in ``image_dir``.

    Each box is cropped +- ``margin`` px (clipped to its image), resized with its aspect kept and zero padded
    to ``image_size`` (:func:`fusionlib.thermal.crop_resize_pad`, the original preprocessing). Several boxes
    per image and several images per visit are normal; each PNG is read once.

    Returns a :class:`~fusionlib.cohort.Cohort`: ``visits`` (every labelled visit, with or without images),
    ``images`` (``visit``, ``DebriStat``, ``Camera``, ``Angle``, ``Filename``, ``line`` of the box CSV),
    ``pixels`` ``uint8`` ``(n_boxes, image_size, image_size, 3)``; ``params["report"]`` counts what was dropped
    and the visits without images. ``on_duplicate`` as in :func:`read_clinical`, ``on_unmatched`` as in
    :func:`join_boxes`, ``frame`` as in :func:`read_boxes`.

    Raises :class:`DFUDataError` for anything the readers reject, a missing ``image_dir``, and a missing,
    unreadable or truncated PNG or a box outside its image (naming the file and the box CSV line).
    """
    if image_size < 8:
        raise ValueError(f"image_size={image_size}: use at least 8 px")
    visits, _, clinical_report = _read_clinical(clinical_csv, on_duplicate)
    boxes = read_boxes(boxes_csv, frame)
    boxes, join_report = join_boxes(visits, boxes, on_unmatched, source=str(boxes_csv))
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise DFUDataError(f"{image_dir}: image folder not found (it should hold the thermal PNGs named in "
                           f"{boxes_csv}); pass image_dir= or set {IMAGE_ENV}")
    pixels = np.empty((len(boxes), image_size, image_size, 3), dtype=np.uint8)
    for name, rows in boxes.groupby("Filename", sort=False).indices.items():
        try:
            image = read_png(image_dir / name)
        except DFUDataError as e:
            raise DFUDataError(f"{e} (named in {boxes_csv}, line {int(boxes['line'].iloc[rows[0]])})") from None
        for r in rows:
            box = tuple(int(boxes[c].iloc[r]) for c in BOX_COORDS)
            _check_box(box, image.shape[:2], f"{boxes_csv}, line {int(boxes['line'].iloc[r])} (image {name})")
            pixels[r] = thermal.crop_resize_pad(image, box, image_size, margin)
    images = boxes[["visit", "DebriStat", "Camera", "Angle", "Filename", "line"]].reset_index(drop=True)
    report = {**clinical_report, **join_report,
              "visits_without_images": int(len(visits) - images["visit"].nunique())}
    return Cohort(visits=visits, images=images, pixels=pixels, name="dfu_images",
                  params={"kind": "dfu_images", "image_size": image_size, "margin": margin,
                          "source": Path(clinical_csv).name, "source_sha256": _sha256(clinical_csv),
                          "boxes_sha256": _sha256(boxes_csv), "report": report})


def _sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _temperatures(visits: pd.DataFrame, lines: np.ndarray, path: str | Path) -> np.ndarray:
    """The measured (wound, peri, skin) temperatures, ``(n_visits, 3)`` float °C, NaN where missing."""
    _require(visits, TEMPERATURE_COLUMNS, path)
    out = np.empty((len(visits), 3))
    for j, col in enumerate(TEMPERATURE_COLUMNS):
        num = pd.to_numeric(visits[col], errors="coerce")
        bad = num.isna() & visits[col].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DFUDataError(f"{path}, line {lines[i]}: column {col!r} is not a number: {visits[col].iloc[i]!r}")
        out[:, j] = num.to_numpy(dtype=float)
    return out


def semi_real_cohort(clinical_csv: str | Path, draws_per_visit: int = 4, image_size: int = 32, seed: int = 0,
                     frame_scale: float = DEFAULTS.frame_scale, missing_temperature: str = "median",
                     on_duplicate: str = "first") -> Cohort:
    """The semi-synthetic cohort: the public clinical CSV's visits, with thermal crops rendered from their
    measured temperatures.

    Each visit gets ``draws_per_visit`` image rows; each is a :class:`fusionlib.thermal.Scene` at the visit's
    measured wound-centre / peri-ulcer / intact-skin temperatures (°C) with a random pose, ambient, calibration
    offset and pixel noise drawn exactly as for the synthetic cohort (``fusionlib.cohort._scene`` with the
    calibrated ``DEFAULTS`` noise), an angle drawn with the public boxes' angle shares, rendered on the
    1440 x 1080 frame scaled by ``frame_scale``, cropped +- 30 px (scaled) and zero padded to ``image_size``.

    A visit missing a temperature: ``missing_temperature="median"`` (default) renders it with the cohort-wide
    median of that column — computed over all visits without looking at labels, so no class information leaks
    into the image; the visit table keeps the NaN — and ``"drop"`` gives the visit no image rows (it stays in
    ``visits``). Either way the count is reported. Duplicated visits: see :func:`read_clinical`
    (``"first"`` here, because the public file has three).

    Returns a :class:`~fusionlib.cohort.Cohort` with ``name == params["kind"] == "semi_real"``,
    ``params["semi_synthetic"] is True``, ``images`` columns ``visit``, ``DebriStat``, ``Camera``, ``Angle``,
    ``draw``, ``pixels`` ``uint8`` ``(n_image_rows, image_size, image_size, 3)``; deterministic given ``seed``.
    The temperature columns stay in ``visits`` and are not metadata features unless asked
    (``features.clinical_features(..., include_temperatures=False)`` is the default).
    """
    _check_choice("missing_temperature", missing_temperature, MISSING_TEMPERATURE)
    if draws_per_visit < 1:
        raise ValueError(f"draws_per_visit={draws_per_visit}: need at least 1")
    if image_size < 8:
        raise ValueError(f"image_size={image_size}: use at least 8 px (the study uses 32, 64 or 128)")
    visits, lines, clinical_report = _read_clinical(clinical_csv, on_duplicate)
    temps = _temperatures(visits, lines, clinical_csv)
    gap = np.isnan(temps).any(axis=1)
    if missing_temperature == "median":
        medians = np.nanmedian(temps, axis=0)
        temps = np.where(np.isnan(temps), medians, temps)
        rendered = np.arange(len(visits))
    else:
        rendered = np.flatnonzero(~gap)
    p = replace(DEFAULTS, frame_scale=frame_scale, image_size=image_size, seed=seed)
    images, pixels = _render(np.random.default_rng(seed), temps, rendered, draws_per_visit, p)
    report = {**clinical_report, "visits_missing_temperature": int(gap.sum()),
              "missing_temperature": missing_temperature,
              "visits_without_images": int(len(visits) - len(np.unique(images["visit"])))}
    params = {"kind": "semi_real", "semi_synthetic": True,
              "description": "real visits and labels; thermal crops rendered from the measured temperatures",
              "source": Path(clinical_csv).name, "source_sha256": _sha256(clinical_csv),
              "draws_per_visit": draws_per_visit,
              "renderer": {k: getattr(p, k) for k in ("image_size", "frame_scale", "image_offset_sd", "pixel_noise",
                                                       "seed")},
              "report": report}
    return Cohort(visits=visits, images=images, pixels=pixels, name="semi_real", params=params)


def _render(rng: np.random.Generator, temps: np.ndarray, rendered: np.ndarray, draws: int,
            p: CohortParams) -> tuple[pd.DataFrame, np.ndarray]:
    """``draws`` rendered crops for each visit index in ``rendered``; the image table and ``uint8`` pixels."""
    frame = (round(thermal.FULL_FRAME[0] * p.frame_scale), round(thermal.FULL_FRAME[1] * p.frame_scale))
    margin = max(1, round(thermal.FULL_MARGIN * p.frame_scale))
    visit = np.repeat(rendered, draws).astype(np.int64)
    angles = rng.choice(list(ANGLE_SHARES), len(visit), p=list(ANGLE_SHARES.values()))
    debri = np.where(rng.random(len(visit)) < AFTER_DEBRIDEMENT_SHARE, "A", "B")
    pixels = np.empty((len(visit), p.image_size, p.image_size, 3), dtype=np.uint8)
    for i, (vi, angle) in enumerate(zip(visit, angles)):
        scene = _synthetic_scene(rng, temps[vi], frame, p.frame_scale, angle, p)
        pixels[i] = thermal.render_crop(scene, frame, margin, p.image_size, rng)
    images = pd.DataFrame({"visit": visit, "DebriStat": debri, "Camera": "T", "Angle": angles,
                           "draw": np.tile(np.arange(draws), len(rendered))})
    return images, pixels


def data_dir_from(data_dir: str | Path | None = None) -> Path:
    """The folder of the public CSVs: ``data_dir``, else ``$DFU_DATA_DIR``; raises :class:`DFUDataError` saying
    how to point to the data when neither is set or the folder lacks the clinical CSV."""
    how = HOW_TO_POINT_TO_DATA
    chosen = data_dir if data_dir not in (None, "") else os.environ.get(DATA_ENV, "")
    if not chosen:
        raise DFUDataError(f"no DFU data folder given: {how}")
    folder = Path(chosen).expanduser()
    if not (folder / CLINICAL_CSV).is_file():
        raise DFUDataError(f"{folder}: {CLINICAL_CSV} not found there; {how}")
    return folder


def load_cohort(kind: str, data_dir: str | Path | None = None, image_dir: str | Path | None = None,
                image_size: int = 32, seed: int = 0, draws_per_visit: int = 4) -> Cohort:
    """One cohort by kind: ``"synthetic"`` (:func:`fusionlib.cohort.make_synthetic_cohort`), ``"semi_real"``
    (:func:`semi_real_cohort` of the public clinical CSV) or ``"dfu_images"`` (:func:`load_image_cohort`,
    needing the non-public PNGs in ``image_dir`` or ``$DFU_IMAGE_DIR``).

    ``data_dir`` defaults to ``$DFU_DATA_DIR``. For the public files the lenient policies are used and
    reported in ``params["report"]``: duplicated visits keep their first row; boxes of visits absent from the
    clinical CSV are dropped. Raises :class:`DFUDataError` saying how to point to missing data.
    """
    _check_choice("kind", kind, KINDS)
    if kind == "synthetic":
        return make_synthetic_cohort(image_size=image_size, seed=seed)
    folder = data_dir_from(data_dir)
    if kind == "semi_real":
        return semi_real_cohort(folder / CLINICAL_CSV, draws_per_visit=draws_per_visit, image_size=image_size,
                                seed=seed, on_duplicate="first")
    chosen = image_dir if image_dir not in (None, "") else os.environ.get(IMAGE_ENV, "")
    if not chosen:
        raise DFUDataError(f"kind='dfu_images' needs the thermal PNGs (not public): pass image_dir=<folder> or "
                           f"set the environment variable {IMAGE_ENV}")
    return load_image_cohort(folder / CLINICAL_CSV, folder / BOXES_CSV, chosen, image_size=image_size,
                             on_duplicate="first", on_unmatched="skip")


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
    return pd.DataFrame(rows, columns=["quantity", "value"]).astype({"value": object})


def realdata_arms(n_splits: int = 5, n_repeats: int = 3, rf_trees: int = 300, seed: int = 0,
                  train: dict | None = None) -> list[dict]:
    """Settings (:class:`fusionlib.runner.ArmSettings` dicts) of the real-data page's arms: metadata-only and
    every fusion head (:data:`REALDATA_HEADS`), all under the corrected condition (:data:`CORRECTED`, the
    runner's ``CONDITIONS["corrected"]``; ``tests/test_dfu.py`` checks they agree). The fusions' bar is not
    among them: it is :func:`fusionlib.metadata_tables.best_metadata_arm` on the same folds (the nested-CV best
    metadata arm), with the ``metadata_only`` arm here kept as the report's reference."""
    common = {**CORRECTED, "n_splits": n_splits, "n_repeats": n_repeats, "rf_trees": rf_trees, "seed": seed,
              "train": dict(train or {})}
    return [{"head": head, **common} for head in REALDATA_HEADS]
