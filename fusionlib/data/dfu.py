"""The original DFU layout: readers for the public clinical CSV and the thermal bounding-box CSV, the real-image
cohort (for whoever holds the non-public PNGs) and the **semi-real** cohort built from the public CSV alone.

Files (pinned and sha256-checked by :mod:`fusionlib.data.datasets`; read by path, never copied into the project):

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
  (``Xmax <= Xmin`` or ``Ymax <= Ymin``), a box outside the image, an unreadable or truncated PNG raise;
* every clinical column's expected kind and domain come from :mod:`fusionlib.data.schema`: text in a numeric column, a
  value outside a coded column's coding or a number outside its column's domain (finite, a plausible range with
  its unit, whole where it counts; ``ranges=`` widens a column by name) raises naming the line, column, value and
  what is allowed. Coded cells and the label match ignoring letter case and surrounding spaces;
* the file's layout is checked before the CSV parser guesses: text not in the given ``encoding`` (UTF-8 by
  default) names the line and the encoding it reads as (``encoding="cp1252"`` reads a Windows export); fields
  separated by semicolons, tabs or bars are named as such; a repeated column name, an empty file or a header
  without rows raise; a record with fewer fields than the header raises (the last one: "the file seems cut
  off");
* **missing images** are all listed, in one pass before any pixel is read (count, first names, box CSV lines, and
  a hint when they are in a sub-folder or spelled with another letter case): ``on_missing="error"`` (default)
  raises, ``"skip"`` drops their boxes, warns and reports them. Files in the image folder that the box CSV does
  not name are counted, warned about and reported;
* an image whose size is not the frame the boxes were drawn on (1080 wide x 1440 tall) raises naming the file,
  its size and the frame (rotated or rescaled images give wrong crops); an image deeper than 8 bits (a 16-bit
  radiometric PNG, ``I;16``) raises, saying how to convert it, unless ``window16=(low, high)`` maps its raw
  values onto 0..255 with one window for every image (noted in a warning); an image in another format or colour
  mode than the layout's (:data:`IMAGE_FORMAT`: 8-bit RGB PNG; a palette or fully opaque RGBA PNG reads as the
  RGB it shows) raises naming it — a JPEG under a ``.png`` name, grayscale, 16-bit RGB, transparent pixels;
* **visits without images are kept** in ``visits`` (the metadata arm can use them) and counted. Note that
  :func:`fusionlib.arms.runner.run_arm` trains and scores every head on image rows, so such visits are not scored;
  its folds are stratified over the visits with images (:func:`fusionlib.data.splits.patient_folds`, ``scored``).

The bad-input table (:mod:`fusionstudy.chapters.dfu_cases`, shown on the real-data page) lists every case and its message.

Nothing is written anywhere: the readers only read.

The **semi-real cohort** (:func:`semi_real_cohort`) is *semi-synthetic*: real visits, real metadata, real
labels and real measured temperatures, with thermal crops *rendered* from each visit's three measured
temperatures by the synthetic renderer (:mod:`fusionlib.data.thermal`, poses and noise as in
:mod:`fusionlib.data.cohort`). Its images carry exactly the information of the temperature columns, and nothing
of the real photographs. It is labelled ``params["kind"] == "semi_real"``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from fusionlib.data import datasets, thermal
from fusionlib.data.cohort import CLASSES, DEFAULTS, LABEL, TEMPERATURE_COLUMNS, VISIT_KEY, Cohort, CohortParams
from fusionlib.data.cohort import make_synthetic_cohort, render_crops
from fusionlib.data.datasets import BOXES_CSV, CLINICAL_CSV, DFUDataError  # noqa: F401  (the files and their errors: datasets)
from fusionlib.cache.hashing import file_sha256
from fusionlib.data.schema import LABEL_CODING, check_clinical_types, code_key, domains_with, show

#: The environment variable naming the folder of the (non-public) thermal PNGs.
IMAGE_ENV = "DFU_IMAGE_DIR"
KINDS = ("synthetic", "semi_real", "dfu_images")

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
ON_DUPLICATE = ("error", "first")
ON_UNMATCHED = ("error", "skip")
ON_MISSING = ("error", "skip")
#: Pillow modes of single-channel images deeper than 8 bits (16-bit PNGs open as ``I;16``); they are refused
#: unless a ``window16`` maps their raw values onto 0..255 (see :func:`read_png`).
HIGH_DEPTH_MODES = {"I;16": "16-bit", "I;16B": "16-bit", "I;16L": "16-bit", "I;16N": "16-bit",
                    "I": "32-bit integer", "F": "32-bit float"}


@dataclass(frozen=True)
class ImageFormat:
    """What every thermal image of the layout must be: a ``format`` file (Pillow's name) whose Pillow mode is one
    of ``modes`` (read as it is), or of ``same_as_rgb`` where it decodes to exactly the RGB it shows (a palette
    without a transparent colour; RGBA with every pixel opaque), or — only with ``window16`` — a
    single-channel mode of :data:`HIGH_DEPTH_MODES` (the 16-bit radiometric path). Anything else is named, never
    decoded into other pixels (a grayscale or 16-bit RGB image, a JPEG saved under a ``.png`` name)."""

    format: str = "PNG"
    modes: tuple = ("RGB",)
    same_as_rgb: tuple = ("P", "RGBA")
    description: str = ("8-bit RGB PNGs (the viridis false colour of the original), or 16-bit single-channel "
                        "radiometric PNGs read with window16")

    def fault(self, im: Image.Image) -> str | None:
        """What is wrong with the opened image ``im`` (its header only), in words; ``None`` if nothing."""
        if im.format != self.format:
            return f"a {im.format or 'non-image'} file, not {self.format}"
        if im.mode in HIGH_DEPTH_MODES:
            return None                          # the window16 path decides (see read_png)
        if im.tile and "16" in str(im.tile[0].args):
            return f"16-bit {im.mode} (Pillow would keep the top 8 bits of each channel)"
        if im.mode == "P" and "transparency" in im.info:
            return "a palette image with a transparent colour"
        if im.mode not in self.modes + self.same_as_rgb:
            return f"{MODE_WORDS.get(im.mode, 'of another colour mode')} (Pillow mode {im.mode})"
        return None


#: Words for Pillow's colour modes in messages.
MODE_WORDS = {"1": "1-bit black and white", "L": "8-bit grayscale", "LA": "grayscale with alpha", "La": "grayscale "
              "with alpha", "PA": "a palette image with alpha", "CMYK": "CMYK", "YCbCr": "YCbCr", "LAB": "L*a*b*",
              "HSV": "HSV", "RGBa": "RGB with premultiplied alpha", "RGBX": "RGB with padding"}
#: The layout's image format.
IMAGE_FORMAT = ImageFormat()


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


def _read_csv(path: str | Path, encoding: str = "utf-8") -> pd.DataFrame:
    """The CSV at ``path`` as strings-or-numbers, header stripped, a UTF-8 BOM tolerated.

    The file's layout is checked first (:func:`_check_layout`): its encoding, delimiter, header and records."""
    path = Path(path)
    if not path.is_file():
        raise DFUDataError(f"{path}: file not found")
    _check_layout(path, _decode_text(path, encoding))
    try:
        df = pd.read_csv(path, encoding=_codec(encoding))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DFUDataError(f"{path}: not a readable CSV ({e})") from e
    df.columns = [str(c).strip() for c in df.columns]
    return df


#: The field separators a CSV saved by a spreadsheet may use, by name.
DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "vertical bars"}
#: The encodings a clinical export may come in when it is not UTF-8, tried (in order) to name the file's one.
OTHER_ENCODINGS = {"cp1252": "Windows-1252 (what Excel uses on Windows)", "latin-1": "Latin-1 (ISO-8859-1)"}
_UTF16_BOMS = {b"\xff\xfe": "UTF-16 little-endian", b"\xfe\xff": "UTF-16 big-endian"}


def _codec(encoding: str) -> str:
    """The codec that reads ``encoding``: UTF-8 tolerates a BOM."""
    return "utf-8-sig" if encoding.replace("_", "-").lower() in ("utf-8", "utf8") else encoding


def _decode_text(path: Path, encoding: str) -> str:
    """The file's text in ``encoding``; raises naming the line and bytes that are not, and the encoding they read
    as (a Windows export, UTF-16), with how to read or convert it."""
    data = path.read_bytes()
    if not data.strip():
        raise DFUDataError(f"{path}: the file is empty ({len(data)} bytes): expected a header line and one line "
                           "per record")
    try:
        return data.decode(_codec(encoding))
    except LookupError:
        raise ValueError(f"encoding={encoding!r}: not an encoding Python knows (e.g. 'utf-8', 'cp1252')") from None
    except UnicodeDecodeError as e:
        bad = data[e.start:e.end]
        line = data.count(b"\n", 0, e.start) + 1
        bom = next((name for b, name in _UTF16_BOMS.items() if data.startswith(b)), None)
        if bom:
            found, how = f"it starts with a {bom} byte-order mark", "encoding='utf-16'"
        else:
            start = data.rfind(b"\n", 0, e.start) + 1
            found, how = f"byte(s) {bad.hex(' ')} at character {e.start - start + 1} are not {encoding}", None
            for other, name in OTHER_ENCODINGS.items():      # single-byte encodings: one byte, one character
                try:
                    text = data.decode(other)
                except UnicodeDecodeError:
                    continue
                k = e.start
                found += (f"; the file reads as {name}, where it says {text[k]!r} in "
                          f"{text[max(k - 30, start):k + 10].splitlines()[0]!r}")
                how = f"encoding={other!r}"
                break
        raise DFUDataError(f"{path}, line {line}: not {encoding} text ({found}): re-save it as 'CSV UTF-8'"
                           + (f", or pass {how} to the reader" if how else "")) from None


def _check_layout(path: Path, text: str) -> None:
    """Raise naming what is wrong with the file's layout before the CSV parser guesses: a header with no records,
    fields separated by something other than commas, two columns of one name, a record with fewer fields than
    the header (the last one: the file seems cut off)."""
    records = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    if len(records) < 2:
        raise DFUDataError(f"{path}: a header and no data rows; expected one line per record below the header")
    _check_delimiter(path, text, records)
    header = [c.strip() for c in records[0]]
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(header, start=1):
        seen.setdefault(name, []).append(i)
    twice = {n: f for n, f in seen.items() if len(f) > 1}
    if twice:
        name, fields = next(iter(twice.items()))
        raise DFUDataError(f"{path}, line 1: column {name!r} appears {len(fields)} times (fields "
                           f"{', '.join(map(str, fields))}); one of them would be read under another name and a "
                           "column the pipeline needs could silently be the wrong one: rename or remove the copies"
                           + (f" (also {len(twice) - 1} more repeated name(s): {_few(list(twice)[1:], 3)})"
                              if len(twice) > 1 else ""))
    _check_records(path, text, len(records[0]))


def _check_delimiter(path: Path, text: str, records: list[list[str]], sample: int = 50) -> None:
    """Raise when the first ``sample`` records split into one consistent number of fields at another delimiter
    than the comma but not at the comma (a CSV saved with semicolons or tabs)."""
    if all(len(r) == len(records[0]) for r in records[1:sample]) and len(records[0]) > 1:
        return
    head = text.splitlines()[:sample + 1]
    for sep, words in DELIMITERS.items():
        if sep == ",":
            continue
        split = [r for r in csv.reader(io.StringIO("\n".join(head), newline=""), delimiter=sep) if r]
        if len(split[0]) > 1 and all(len(r) == len(split[0]) for r in split[1:]):
            raise DFUDataError(f"{path}: the fields are separated by {words}, not commas ({len(split[0])} fields on "
                               f"each of the first {len(split)} lines when split at {sep!r}, {len(records[0])} in the "
                               "header when split at commas): re-save it as a comma-separated CSV ('CSV UTF-8 "
                               "(Comma delimited)' in Excel)")


def _check_records(path: Path, text: str, n_header: int) -> None:
    """Raise naming the line of a record with fewer fields than the header (which the CSV parser would fill
    with empty cells): the last record cut short means the file seems cut off."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader, None)
    short, last = [], 0
    try:
        for record in reader:
            if not record:
                continue                         # a blank line, skipped by the parser too
            last = reader.line_num
            if len(record) < n_header:
                short.append((reader.line_num, len(record)))
    except csv.Error:
        return                                   # the CSV parser reports these
    if not short:
        return
    line, n = short[-1]
    if line == last:
        ends = _ends_with_newline(path)
        raise DFUDataError(f"{path}, line {line}: the last record has {n} of the header's {n_header} fields"
                           f"{'' if ends else ' and no line break'}: the file seems cut off (truncated while "
                           "copying or downloading?); get a complete copy"
                           + (f" (also {len(short) - 1} short record(s) before it, e.g. line {short[0][0]})"
                              if len(short) > 1 else ""))
    line, n = short[0]
    raise DFUDataError(f"{path}, line {line}: the record has {n} of the header's {n_header} fields"
                       + (f" ({len(short) - 1} more such lines)" if len(short) > 1 else ""))


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return True
        f.seek(-1, os.SEEK_END)
        return f.read(1) in (b"\n", b"\r")


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
        raise DFUDataError(f"{path}, line {_line(i)}: column {col!r} must be an integer, got {show(df[col].iloc[i])}"
                           + (f" ({int(bad.sum()) - 1} more such lines)" if bad.sum() > 1 else ""))
    return num.astype(np.int64)


def _read_clinical(path: str | Path, on_duplicate: str, ranges: dict | None = None,
                   encoding: str = "utf-8") -> tuple[pd.DataFrame, np.ndarray, dict]:
    """:func:`read_clinical`'s work; also returns the CSV line of each kept row, shape ``(n_visits,)``."""
    _check_choice("on_duplicate", on_duplicate, ON_DUPLICATE)
    domains_with(ranges)                         # a bad switch is refused before the file is read
    df = _read_csv(path, encoding)
    _require(df, REQUIRED_CLINICAL, path)
    n_read = len(df)
    for col in VISIT_KEY:
        df[col] = _integer_column(df, col, path)
    lines = np.arange(n_read) + 2
    schema_report = check_clinical_types(df, lines, path, ranges)

    raw = df[LABEL]
    key = raw.astype(object).map(code_key)
    missing = key.isna().to_numpy()
    unknown = ~missing & ~key.isin(list(LABEL_CODING)).to_numpy()
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise DFUDataError(f"{path}, line {lines[i]}: column {LABEL!r} has unknown label {show(raw.iloc[i])} "
                           f"(expected one of {', '.join(CLASSES)}, in any letter case)"
                           + (f"; {int(unknown.sum()) - 1} more such lines" if unknown.sum() > 1 else ""))
    dropped_label = lines[missing].tolist()
    if dropped_label:
        warnings.warn(f"{path}: dropped {len(dropped_label)} row(s) with a missing {LABEL!r} "
                      f"(lines {_few(dropped_label)})", stacklevel=3)
    df = df.loc[~missing].copy()
    df[LABEL] = key[~missing].map(LABEL_CODING).astype(object)
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
              if on_duplicate == "first" else [], "encoding": encoding, **schema_report}
    return df.reset_index(drop=True), lines, report


def read_clinical(path: str | Path, on_duplicate: str = "error", ranges: dict | None = None,
                  encoding: str = "utf-8") -> pd.DataFrame:
    """Read the clinical CSV: one row per visit, columns as in the file, ``Healing Phase Abs`` in I / P / R.

    Parameters
    ----------
    path : str or Path
        ``DataMaster_Processed_V12_WithMissing.csv`` or a file of its format (UTF-8, BOM tolerated).
    on_duplicate : {"error", "first"}
        What a duplicated visit key ``(Patient#, Appt#, DFU#)`` does: raise (naming the keys and lines) or
        keep the first row of each (warned and reported).
    ranges : dict, optional
        ``{column: (low, high)}``: the named switch for data that legitimately goes wider than a column's
        domain (:data:`fusionlib.data.schema.DOMAINS`); replaces that column's range only.
    encoding : str
        The file's text encoding (default UTF-8, BOM tolerated); e.g. ``"cp1252"`` for a Windows export.

    Returns
    -------
    DataFrame of shape ``(n_visits, n_columns)``, index ``0..n_visits-1``; key columns ``int64``, the label
    as the strings ``"I"``, ``"P"``, ``"R"``. ``df.attrs["dfu"]`` is the report: ``rows_read``, ``rows_kept``,
    ``dropped_missing_label`` (CSV lines), ``duplicates`` (key, lines, kept line), ``dropped_duplicate_lines``.

    Raises :class:`DFUDataError` for a missing file or required column, a record with fewer fields than the header
    (a cut-off file), a non-integer key, a value of the wrong kind for its column (:mod:`fusionlib.data.schema`:
    text in a numeric column, a value outside a coding), an unknown label (naming its line, column and value)
    or, with ``on_duplicate="error"``, a duplicated visit. The report also lists ``columns_not_in_schema`` and
    ``schema_columns_absent``.
    """
    df, _, report = _read_clinical(path, on_duplicate, ranges, encoding)
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


def read_boxes(path: str | Path, frame: tuple[int, int] | None = thermal.FULL_FRAME,
               encoding: str = "utf-8") -> pd.DataFrame:
    """Read the thermal bounding-box CSV: one row per wound box.

    Parameters
    ----------
    path : str or Path
        ``bounding_box_thermal.csv`` or a file of its format.
    frame : (height, width) or None
        The image size the boxes must lie inside (pixels; the original 1440 x 1080). ``None`` skips that check
        (:func:`load_image_cohort` checks every box against its actual image anyway).
    encoding : str
        The file's text encoding (default UTF-8, BOM tolerated).

    Returns
    -------
    DataFrame of shape ``(n_boxes, ...)``: the file's columns (key and coordinates ``int64``) plus ``line``
    (the 1-based CSV line) and ``idx`` (the image index of the filename).

    Raises :class:`DFUDataError` naming the file, line and column for a missing column, a non-integer
    key or coordinate, a malformed filename, a filename disagreeing with its row's patient, appointment,
    ``DebriStat``, ``Camera`` or ``Angle``, an empty box or a box outside ``frame``.
    """
    df = _read_csv(path, encoding)
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
                                   f"{f[field]!r} but column {col!r} holds {show(rec[col])}")
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


def read_png(path: str | Path, window16: tuple[float, float] | None = None) -> np.ndarray:
    """An image file as RGB ``uint8`` of shape ``(height, width, 3)``.

    The image must be in the layout's format (:data:`IMAGE_FORMAT`): an 8-bit RGB PNG, read as it is, or a palette
    PNG without transparency or an RGBA PNG with every pixel opaque, read as the RGB they show. Any other format
    or colour mode (a JPEG under a ``.png`` name, grayscale, 16-bit RGB, a transparent pixel) is refused, naming
    it. A single-channel image deeper than 8 bits (:data:`HIGH_DEPTH_MODES`; a 16-bit radiometric export opens as ``I;16``) is
    refused, with a message saying how to convert it, unless ``window16=(low, high)`` is given: raw values
    ``low..high`` then map linearly onto 0..255 (clipped), gray in all three channels. Use one window for every
    image, so that a pixel value means the same temperature in all of them (a per-image min-max scaling would
    not, and is never done).

    Raises :class:`DFUDataError` naming a missing, unreadable or truncated file, one not in the layout's format
    or (without ``window16``) a deep one.
    """
    return _decode(path, window16)[0]


def _decode(path: str | Path, window16) -> tuple[np.ndarray, int | None]:
    """:func:`read_png`'s work; also returns how many pixels of a deep image fell outside ``window16`` (``None``
    for an 8-bit image)."""
    path = Path(path)
    if not path.is_file():
        raise DFUDataError(f"{path}: image file not found")
    try:
        with Image.open(path) as im:
            fault = IMAGE_FORMAT.fault(im)
            im.load()
            mode = im.mode
            if fault is None and mode == "RGBA":
                seen = int((np.asarray(im.getchannel("A")) < 255).sum())
                fault = f"RGB with alpha, {seen} pixel(s) not opaque" if seen else None
            pixels = np.asarray(im) if mode in HIGH_DEPTH_MODES else np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DFUDataError(f"{path}: unreadable or truncated image ({type(e).__name__}: {e})") from e
    if fault:
        raise DFUDataError(f"{path}: the image is {fault}; {_FORMAT_ADVICE}")
    if mode not in HIGH_DEPTH_MODES:
        return pixels, None
    if window16 is None:
        raise DFUDataError(_high_depth_message(path, mode, pixels))
    low, high = _check_window(window16)
    raw = pixels.astype(np.float64)
    gray = np.clip(np.rint((raw - low) * (255.0 / (high - low))), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2), int(((raw < low) | (raw > high)).sum())


_FORMAT_ADVICE = (f"the layout's images are {IMAGE_FORMAT.description}; decoding another format or colour mode "
                  "would give the CNN other pixels than it is built for: convert the images to 8-bit RGB PNG with "
                  "one fixed colour mapping for every image")


def _high_depth_message(path: Path, mode: str, pixels: np.ndarray) -> str:
    lo, hi = float(np.nanmin(pixels)), float(np.nanmax(pixels))
    return (f"{path}: a {HIGH_DEPTH_MODES[mode]} single-channel image (Pillow mode {mode}, raw values {lo:g} to "
            f"{hi:g}); an 8-bit read would saturate it and the pipeline reads 8-bit images, as the original PNGs "
            "were. Pass window16=(low, high), one window of raw values for every image, to map low..high linearly "
            "onto 0..255 (gray, clipped), or convert the folder to 8-bit RGB with one fixed temperature-to-colour "
            "mapping for every image")


def _check_window(window16) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in window16)
    except (TypeError, ValueError):
        raise ValueError(f"window16={window16!r}: give two numbers (low, high), raw image values") from None
    if not (np.isfinite(low) and np.isfinite(high) and high > low):
        raise ValueError(f"window16={window16!r}: need finite low < high")
    return low, high


def _size_guess(size: tuple[int, int], frame: tuple[int, int]) -> str:
    """A guess at what happened to an image of ``size = (w, h)`` that should be ``frame = (h, w)``."""
    (w, h), (fh, fw) = size, frame
    if (w, h) == (fh, fw):
        return ", rotated by 90°?"
    if w * fh == h * fw:
        return f", scaled by {w / fw:g}?"
    return ""


def _missing_hint(image_dir: Path, missing: list[str]) -> str:
    """Where the missing files might be: with another letter case in ``image_dir``, or in a sub-folder."""
    here = {p.name.lower(): p.name for p in image_dir.iterdir() if p.is_file()}
    other_case = [here[m.lower()] for m in missing if m.lower() in here]
    below = {}
    for p in image_dir.rglob("*"):
        if p.parent != image_dir and p.is_file():
            below.setdefault(p.name.lower(), p.relative_to(image_dir))
    deeper = [below[m.lower()] for m in missing if m.lower() in below]
    hints = []
    if other_case:
        hints.append(f"{len(other_case)} of them exist with another letter case, e.g. {other_case[0]!r} (names "
                     "are matched exactly: rename them to the box CSV's spelling, e.g. '.PNG' to '.png')")
    if deeper:
        folders = sorted({str(p.parent) for p in deeper})
        hints.append(f"{len(deeper)} of them are in sub-folder(s) {_few(folders, 3)} of the image folder, e.g. "
                     f"'{deeper[0]}' (pass that folder as image_dir, or put all the images in one folder)")
    return "; hint: " + "; ".join(hints) if hints else ""


def _survey_images(boxes: pd.DataFrame, image_dir: Path, boxes_csv, frame: tuple[int, int] | None,
                   on_missing: str, window16) -> tuple[pd.DataFrame, dict]:
    """One pass over the images named by ``boxes`` before any pixel is read: every missing file (raise, or drop
    its boxes with ``on_missing="skip"``), every image whose size is not ``frame = (h, w)``, and deep images
    without ``window16`` (raise, listing them all). Only the PNG headers are read here."""
    first_line = boxes.groupby("Filename", sort=False)["line"].min()
    names = first_line.index.tolist()
    missing = [n for n in names if not (image_dir / n).is_file()]
    report = {"images_named": len(names), "missing_images": len(missing), "missing_image_names": missing[:50],
              "dropped_boxes_missing_image": 0}
    if missing:
        msg = (f"{image_dir}: {len(missing)} of the {len(names)} image file(s) named in {boxes_csv} not found: "
               f"{_few([f'{n} (line {first_line[n]})' for n in missing])}{_missing_hint(image_dir, missing)}")
        if on_missing == "error":
            raise DFUDataError(msg + "; pass on_missing='skip' to drop their boxes")
        drop = boxes["Filename"].isin(missing).to_numpy()
        report["dropped_boxes_missing_image"] = int(drop.sum())
        warnings.warn(f"{msg}; dropped their {int(drop.sum())} box(es)", stacklevel=3)
        boxes = boxes.loc[~drop].reset_index(drop=True)
        names = [n for n in names if n not in set(missing)]
    wrong, deep, faults = [], [], []
    for name in names:
        try:
            with Image.open(image_dir / name) as im:
                size, mode, fault = im.size, im.mode, IMAGE_FORMAT.fault(im)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            continue                                   # read_png names it when the pixels are read
        if fault:
            faults.append(f"{name} (line {first_line[name]}) is {fault}")
        if frame is not None and (size[1], size[0]) != tuple(frame):
            wrong.append(f"{name} is {size[0]} wide x {size[1]} tall{_size_guess(size, frame)}")
        if mode in HIGH_DEPTH_MODES:
            deep.append(name)
    if faults:
        raise DFUDataError(f"{image_dir}: {len(faults)} of the {len(names)} image(s) are not in the layout's format: "
                           f"{_few(faults, 3)}; {_FORMAT_ADVICE}")
    if wrong:
        fh, fw = frame
        raise DFUDataError(f"{image_dir}: {len(wrong)} of the {len(names)} image(s) are not the {fw} wide x {fh} "
                           f"tall frame that the boxes of {boxes_csv} were drawn on: {_few(wrong, 3)}; bring them "
                           f"back to {fw} x {fh} (the boxes' pixel coordinates fit that frame only); frame=None "
                           "checks each box against its own image instead, for boxes drawn on these very images")
    if deep and window16 is None:
        with Image.open(image_dir / deep[0]) as im:
            first = _high_depth_message(image_dir / deep[0], im.mode, np.asarray(im))
        raise DFUDataError(f"{image_dir}: {len(deep)} of the {len(names)} image(s) are deeper than 8 bits "
                           f"({_few(deep, 3)}). {first}")
    report.update({"images_high_depth": len(deep), "high_depth_names": deep[:50],
                   "window16": None if window16 is None else list(window16)})
    return boxes, report


def _unused_files(image_dir: Path, named: set, visits: pd.DataFrame, boxes_csv) -> dict:
    """Count, report and warn about the files in ``image_dir`` that the box CSV does not name."""
    patients = set(visits["Patient#"].tolist())
    malformed, unknown, unboxed = [], [], []
    for p in sorted(image_dir.iterdir()):
        if not p.is_file() or p.name in named:
            continue
        try:
            fields = parse_filename(p.name)
        except DFUDataError:
            malformed.append(p.name)
            continue
        (unboxed if fields["patient"] in patients else unknown).append(p.name)
    n = len(malformed) + len(unknown) + len(unboxed)
    if n:
        parts = [f"{len(names)} {what} (e.g. {_few(names, 2)})" for names, what in
                 ((malformed, f"with a name not of the form {FILENAME_PATTERN}"),
                  (unknown, "of patients absent from the clinical CSV"),
                  (unboxed, "of known patients without a box in the box CSV")) if names]
        warnings.warn(f"{image_dir}: {n} file(s) not named in {boxes_csv}, so not used: {'; '.join(parts)}",
                      stacklevel=3)
    return {"unused_files": n, "unused_malformed": malformed[:50], "unused_unknown_patient": unknown[:50],
            "unused_without_box": unboxed[:50]}


def load_image_cohort(clinical_csv: str | Path, boxes_csv: str | Path, image_dir: str | Path, image_size: int = 32,
                      on_duplicate: str = "error", on_unmatched: str = "error", margin: int = thermal.FULL_MARGIN,
                      frame: tuple[int, int] | None = thermal.FULL_FRAME, on_missing: str = "error",
                      window16: tuple[float, float] | None = None, ranges: dict | None = None,
                      encoding: str = "utf-8") -> Cohort:
    """The real cohort: clinical visits and one image row per wound box of the thermal PNGs in ``image_dir``.

    Each box is cropped +- ``margin`` px (clipped to its image), resized with its aspect kept and zero padded
    to ``image_size`` (:func:`fusionlib.data.thermal.crop_resize_pad`, the original preprocessing). Several boxes
    per image and several images per visit are normal; each PNG is read once.

    Before any pixel is read, one pass over the images named by the box CSV lists **every** missing file
    (``on_missing="error"`` raises with the count, the first names and their box CSV lines, and a hint when the
    files are in a sub-folder or spelled with another letter case; ``"skip"`` drops their boxes, warns and
    reports them), every image whose size is not ``frame = (height, width)`` — the frame the boxes were drawn
    on, 1440 x 1080 — naming its size (a rotated or rescaled image would give wrong crops), and every image
    deeper than 8 bits unless ``window16`` is given (see :func:`read_png`). Files in ``image_dir`` that the box
    CSV does not name (malformed names, unknown patients, images without boxes) are counted, warned about and
    reported.

    Returns a :class:`~fusionlib.data.cohort.Cohort`: ``visits`` (every labelled visit, with or without images),
    ``images`` (``visit``, ``DebriStat``, ``Camera``, ``Angle``, ``Filename``, ``line`` of the box CSV),
    ``pixels`` ``uint8`` ``(n_boxes, image_size, image_size, 3)``; ``params["report"]`` counts what was dropped,
    the unused files and the visits without images. ``on_duplicate`` as in :func:`read_clinical`,
    ``on_unmatched`` as in :func:`join_boxes`, ``frame`` as in :func:`read_boxes` (``None``: no frame; each box
    is checked against its own image); ``ranges`` and ``encoding`` (of both CSVs) as in :func:`read_clinical`.

    Raises :class:`DFUDataError` for anything the readers reject, a missing ``image_dir``, missing images
    (unless skipped), images of the wrong size or depth, an unreadable or truncated PNG or a box outside its
    image (naming the file and the box CSV line). Nothing is written.
    """
    if image_size < 8:
        raise ValueError(f"image_size={image_size}: use at least 8 px")
    _check_choice("on_missing", on_missing, ON_MISSING)
    if window16 is not None:
        _check_window(window16)
    visits, _, clinical_report = _read_clinical(clinical_csv, on_duplicate, ranges, encoding)
    boxes = read_boxes(boxes_csv, frame, encoding)
    named = set(boxes["Filename"])
    boxes, join_report = join_boxes(visits, boxes, on_unmatched, source=str(boxes_csv))
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise DFUDataError(f"{image_dir}: image folder not found (it should hold the thermal PNGs named in "
                           f"{boxes_csv}); pass image_dir= or set {IMAGE_ENV}")
    boxes, image_report = _survey_images(boxes, image_dir, boxes_csv, frame, on_missing, window16)
    image_report.update(_unused_files(image_dir, named, visits, boxes_csv))
    pixels = np.empty((len(boxes), image_size, image_size, 3), dtype=np.uint8)
    deep_pixels, clipped = 0, 0
    for name, rows in boxes.groupby("Filename", sort=False).indices.items():
        try:
            image, n_clipped = _decode(image_dir / name, window16)
        except DFUDataError as e:
            raise DFUDataError(f"{e} (named in {boxes_csv}, line {int(boxes['line'].iloc[rows[0]])})") from None
        if n_clipped is not None:
            deep_pixels, clipped = deep_pixels + image.shape[0] * image.shape[1], clipped + n_clipped
        for r in rows:
            box = tuple(int(boxes[c].iloc[r]) for c in BOX_COORDS)
            _check_box(box, image.shape[:2], f"{boxes_csv}, line {int(boxes['line'].iloc[r])} (image {name})")
            pixels[r] = thermal.crop_resize_pad(image, box, image_size, margin)
    if deep_pixels:
        image_report["high_depth_clipped_share"] = clipped / deep_pixels
        warnings.warn(f"{image_dir}: {image_report['images_high_depth']} image(s) deeper than 8 bits (e.g. "
                      f"{image_report['high_depth_names'][0]}): raw values {window16[0]:g} to {window16[1]:g} "
                      f"mapped linearly onto 0..255 (gray), the same window for every image; "
                      f"{100 * clipped / deep_pixels:.1f}% of their pixels fell outside it and were clipped",
                      stacklevel=2)
    images = boxes[["visit", "DebriStat", "Camera", "Angle", "Filename", "line"]].reset_index(drop=True)
    report = {**clinical_report, **join_report, **image_report,
              "visits_without_images": int(len(visits) - images["visit"].nunique())}
    return Cohort(visits=visits, images=images, pixels=pixels, name="dfu_images",
                  params={"kind": "dfu_images", "image_size": image_size, "margin": margin,
                          "source": Path(clinical_csv).name, "source_sha256": file_sha256(clinical_csv),
                          "boxes_sha256": file_sha256(boxes_csv), "report": report})


def _temperatures(visits: pd.DataFrame, lines: np.ndarray, path: str | Path) -> np.ndarray:
    """The measured (wound, peri, skin) temperatures, ``(n_visits, 3)`` float °C, NaN where missing."""
    _require(visits, TEMPERATURE_COLUMNS, path)
    out = np.empty((len(visits), 3))
    for j, col in enumerate(TEMPERATURE_COLUMNS):
        num = pd.to_numeric(visits[col], errors="coerce")
        bad = num.isna() & visits[col].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DFUDataError(f"{path}, line {lines[i]}: column {col!r} is not a number: {show(visits[col].iloc[i])}")
        out[:, j] = num.to_numpy(dtype=float)
    return out


def semi_real_cohort(clinical_csv: str | Path, draws_per_visit: int = 4, image_size: int = 32, seed: int = 0,
                     frame_scale: float = DEFAULTS.frame_scale, missing_temperature: str = "median",
                     on_duplicate: str = "first", ranges: dict | None = None, encoding: str = "utf-8") -> Cohort:
    """The semi-synthetic cohort: the public clinical CSV's visits, with thermal crops rendered from their
    measured temperatures.

    Each visit gets ``draws_per_visit`` image rows; each is a :class:`fusionlib.data.thermal.Scene` at the visit's
    measured wound-centre / peri-ulcer / intact-skin temperatures (°C) with a random pose, ambient, calibration
    offset and pixel noise drawn exactly as for the synthetic cohort (:func:`fusionlib.data.cohort.render_crops` with the
    calibrated ``DEFAULTS`` noise), an angle drawn with the public boxes' angle shares, rendered on the
    1440 x 1080 frame scaled by ``frame_scale``, cropped +- 30 px (scaled) and zero padded to ``image_size``.

    A visit missing a temperature: ``missing_temperature="median"`` (default) renders it with the cohort-wide
    median of that column — computed over all visits without looking at labels, so no class information leaks
    into the image; the visit table keeps the NaN — and ``"drop"`` gives the visit no image rows (it stays in
    ``visits``). Either way the count is reported. Duplicated visits: see :func:`read_clinical`
    (``"first"`` here, because the public file has three); ``ranges`` and ``encoding`` as there.

    Returns a :class:`~fusionlib.data.cohort.Cohort` with ``name == params["kind"] == "semi_real"``,
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
    visits, lines, clinical_report = _read_clinical(clinical_csv, on_duplicate, ranges, encoding)
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
              "source": Path(clinical_csv).name, "source_sha256": file_sha256(clinical_csv),
              "draws_per_visit": draws_per_visit,
              "renderer": {k: getattr(p, k) for k in ("image_size", "frame_scale", "image_offset_sd", "pixel_noise",
                                                       "seed")},
              "report": report}
    return Cohort(visits=visits, images=images, pixels=pixels, name="semi_real", params=params)


def _render(rng: np.random.Generator, temps: np.ndarray, rendered: np.ndarray, draws: int,
            p: CohortParams) -> tuple[pd.DataFrame, np.ndarray]:
    """``draws`` rendered crops for each visit index in ``rendered``; the image table and ``uint8`` pixels."""
    visit = np.repeat(rendered, draws).astype(np.int64)
    angles = rng.choice(list(ANGLE_SHARES), len(visit), p=list(ANGLE_SHARES.values()))
    debri = np.where(rng.random(len(visit)) < AFTER_DEBRIDEMENT_SHARE, "A", "B")
    pixels = render_crops(rng, temps, visit, angles, p)
    images = pd.DataFrame({"visit": visit, "DebriStat": debri, "Camera": "T", "Angle": angles,
                           "draw": np.tile(np.arange(draws), len(rendered))})
    return images, pixels


def data_dir_from(data_dir: str | Path | None = None, require: tuple = (CLINICAL_CSV,), download: bool = True) -> Path:
    """The folder of the public files (:func:`fusionlib.data.datasets.locate`): ``data_dir``, else ``$DFU_DATA_DIR``
    (each must hold the files of ``require``; a sha256 that differs from the pinned public file warns), else
    the user's cache, downloaded at the pinned commits when ``download``. Raises :class:`DFUDataError` naming
    a missing file, or :class:`fusionlib.data.datasets.DataUnavailable` saying why the download failed and how to
    point to the data."""
    return datasets.locate(data_dir, require=require, download=download).folder


def load_cohort(kind: str, data_dir: str | Path | None = None, image_dir: str | Path | None = None,
                image_size: int = 32, seed: int = 0, draws_per_visit: int = 4, on_missing: str = "error",
                window16: tuple[float, float] | None = None) -> Cohort:
    """One cohort by kind: ``"synthetic"`` (:func:`fusionlib.data.cohort.make_synthetic_cohort`), ``"semi_real"``
    (:func:`semi_real_cohort` of the public clinical CSV) or ``"dfu_images"`` (:func:`load_image_cohort`,
    needing the non-public PNGs in ``image_dir`` or ``$DFU_IMAGE_DIR``).

    ``data_dir`` defaults to ``$DFU_DATA_DIR``, else the public files downloaded into the user's cache
    (:func:`data_dir_from`). For the public files the lenient policies are used and
    reported in ``params["report"]``: duplicated visits keep their first row; boxes of visits absent from the
    clinical CSV are dropped. ``on_missing`` and ``window16`` (``"dfu_images"`` only): see
    :func:`load_image_cohort`. Raises :class:`DFUDataError` saying how to point to missing data.
    """
    _check_choice("kind", kind, KINDS)
    if kind == "synthetic":
        return make_synthetic_cohort(image_size=image_size, seed=seed)
    folder = data_dir_from(data_dir, require=(CLINICAL_CSV,) if kind == "semi_real" else (CLINICAL_CSV, BOXES_CSV))
    if kind == "semi_real":
        return semi_real_cohort(folder / CLINICAL_CSV, draws_per_visit=draws_per_visit, image_size=image_size,
                                seed=seed, on_duplicate="first")
    chosen = image_dir if image_dir not in (None, "") else os.environ.get(IMAGE_ENV, "")
    if not chosen:
        raise DFUDataError(f"kind='dfu_images' needs the thermal PNGs (not public): pass image_dir=<folder> or "
                           f"set the environment variable {IMAGE_ENV}")
    return load_image_cohort(folder / CLINICAL_CSV, folder / BOXES_CSV, chosen, image_size=image_size,
                             on_duplicate="first", on_unmatched="skip", on_missing=on_missing, window16=window16)
