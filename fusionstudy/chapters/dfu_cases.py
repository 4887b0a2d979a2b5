"""The bad-input table of the real-data readers: each case defined once, as data, run by the tests and rendered
for the book.

A :class:`Case` writes a small input in the original DFU layout into a folder it is given
(:mod:`fusionstudy.chapters.dfu_fixtures`: a clinical CSV, a box CSV and PNGs of a 60 wide x 80 tall frame), and returns the
call that reads it the way a user would (:func:`fusionlib.data.dfu.read_clinical`,
:func:`fusionlib.data.dfu.load_image_cohort`, the runner's folds, the metrics). Each case says what must happen —
``"error"`` (an exception), ``"warning"`` (a policy that drops, maps or counts, and says so) or ``"accepted"`` (a
rule of the schema that reads the input as meant; the fragments are then those of what the call returns) — and
the fragments the message must contain: the file, line, column, value or class at fault.

``tests/test_dfu_cases.py`` runs every case in a test's ``tmp_path`` and checks the outcome, the fragments, that
no message shows a numpy repr and that nothing is written; :func:`bad_input_table` runs them all again in a
temporary folder and returns the real messages, for the real-data page (it needs no data).
"""

from __future__ import annotations

import re
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from fusionlib.data import dfu
from fusionstudy.chapters.dfu_fixtures import (BOX_HEADER, CLINICAL_HEADER, FRAME, IMAGES, box_row, filename, visit_rows, write_csv,
                           write_layout, write_png, write_png16)
from fusionlib.data.features import labels
from fusionlib.evaluation.metrics import classification_metrics
from fusionlib.data.splits import patient_folds, scored_visits

OUTCOMES = ("error", "warning", "accepted")
#: A numpy scalar's repr, which no message may show (``np.float64(nan)``, ``np.int64(3)``).
NUMPY_REPR = re.compile(r"\bnp\.[a-z_]+\d*\(")

CLINICAL = "DataMaster_Processed_V12_WithMissing.csv"
BOXES = "bounding_box_thermal.csv"
#: The first fixture image (two boxes, lines 2 and 3 of the box CSV).
FIRST = filename(1, 1, 0, 1, "B", "LW")


@dataclass(frozen=True)
class Case:
    """One bad input: ``name`` (an id), ``what`` (the input, in words), ``build(root) -> call`` (writes the input
    under ``root``; ``call()`` reads it), ``expect`` (``"error"`` or ``"warning"``), ``fragments`` (what the
    message must contain) and ``policy`` (what the reader does with it, for a warning)."""

    name: str
    what: str
    build: Callable[[Path], Callable[[], object]]
    expect: str
    fragments: tuple[str, ...]
    policy: str = ""

    def __post_init__(self):
        if self.expect not in OUTCOMES:
            raise ValueError(f"case {self.name!r}: expect={self.expect!r}, use one of {OUTCOMES}")


@dataclass
class Outcome:
    """What a case's call did: ``kind`` (``"error"``, ``"warning"`` or ``"nothing"``), the exception or warning
    class name, the message, and the call's return value (``None`` after an error)."""

    kind: str
    type: str
    message: str
    value: object = None


# --- inputs -----------------------------------------------------------------------------------------------------


def _layout(root: Path, rows: list[dict] | None = None, images: dict | None = None) -> dict:
    return write_layout(root / "dfu", rows=rows, images=images)


def _load(paths: dict, **kw) -> Callable[[], object]:
    kw = {"image_size": 16, "margin": 2, "frame": FRAME, **kw}
    return lambda: dfu.load_image_cohort(paths["clinical"], paths["boxes"], paths["images"], **kw)


def _clinical(edit: Callable[[list[dict]], None], header: list[str] = CLINICAL_HEADER):
    """A case input: the fixture's visits, changed by ``edit``, read by :func:`fusionlib.data.dfu.read_clinical`."""
    def build(root: Path):
        rows = visit_rows()
        edit(rows)
        path = write_csv(root / CLINICAL, rows, header)
        return lambda: dfu.read_clinical(path)
    return build


def _set(row: int, column: str, value) -> Callable[[list[dict]], None]:
    def edit(rows):
        rows[row][column] = value
    return edit


def _written_as(**how):
    """A case input: the fixture's clinical CSV written with another ``delimiter`` or ``encoding``."""
    def build(root: Path):
        path = write_csv(root / CLINICAL, visit_rows(), CLINICAL_HEADER, **how)
        return lambda: dfu.read_clinical(path)
    return build


def _header_only(root: Path):
    path = write_csv(root / CLINICAL, [], CLINICAL_HEADER)
    return lambda: dfu.read_clinical(path)


def _empty_file(root: Path):
    path = root / CLINICAL
    path.write_bytes(b"")
    return lambda: dfu.read_clinical(path)


def _labels_read(root: Path):
    rows = visit_rows()
    rows[1]["Healing Phase Abs"], rows[2]["Healing Phase Abs"] = " p ", "r"
    path = write_csv(root / CLINICAL, rows, CLINICAL_HEADER)
    return lambda: f"labels read: {sorted(set(dfu.read_clinical(path)['Healing Phase Abs']))}"


def _truncated(root: Path):
    path = write_csv(root / CLINICAL, visit_rows(), CLINICAL_HEADER)
    data = path.read_bytes()
    last = data.rstrip(b"\n").rfind(b"\n")
    path.write_bytes(data[: last + 1 + (len(data) - last) // 3])          # a third of the last record
    return lambda: dfu.read_clinical(path)


def _short_record(root: Path):
    path = write_csv(root / CLINICAL, visit_rows(), CLINICAL_HEADER)
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    lines[4] = ",".join(lines[4].split(",")[:20]) + "\n"                     # line 5 keeps 20 fields
    path.write_text("".join(lines), encoding="utf-8-sig")
    return lambda: dfu.read_clinical(path)


def _duplicate(rows):
    rows.insert(5, dict(rows[2], **{"Appt Days": 99}))


def _boxes(edit: Callable[[list[dict]], None], frame=FRAME):
    """A case input: two boxes of the first fixture image, changed by ``edit``, read by
    :func:`fusionlib.data.dfu.read_boxes`."""
    def build(root: Path):
        rows = [box_row(FIRST, (10, 5, 50, 15)), box_row(FIRST, (25, 50, 35, 75), number=2)]
        edit(rows)
        path = write_csv(root / BOXES, rows, BOX_HEADER, bom=False)
        return lambda: dfu.read_boxes(path, frame)
    return build


def _classes_folds(keep: Callable[[dict], bool]):
    """A case input: the fixture layout with only the visits ``keep`` accepts, folded as the runner folds it
    (5 folds, over the visits with images)."""
    def build(root: Path):
        rows = [r for r in visit_rows(n_patients=15, appts=3, extra_wounds=()) if keep(r)]
        keys = {(r["Patient#"], r["Appt#"]) for r in rows}
        images = {filename(i + 1, p, a, 1): [((10, 5, 50, 15), None)]
                  for i, (p, a) in enumerate(sorted(keys))}
        call = _load(_layout(root, rows, images))

        def folds():
            c = call()
            return patient_folds(labels(c.visits), c.groups_visit, 5, 1,
                                 scored=scored_visits(c.image_visit, len(c.visits)))
        return folds
    return build


def _metrics_without_r(root: Path):
    y = np.array([0, 0, 1, 1, 1, 0])
    proba = np.eye(3)[[0, 1, 1, 1, 2, 0]]
    return lambda: classification_metrics(y, proba)


def _replace_image(writer: Callable[[Path], object]):
    """A case input: the fixture layout with the first image replaced by ``writer(path)``."""
    def build(root: Path):
        paths = _layout(root)
        writer(paths["images"] / FIRST)
        return _load(paths)
    return build


def _windowed(root: Path):
    paths = _layout(root)
    values = np.full(FRAME, 3000, np.uint16)
    values[: FRAME[0] // 4] = 3500                                          # outside the window: clipped
    write_png16(paths["images"] / FIRST, values)
    return _load(paths, window16=(2900, 3100))


def _rgb16(root: Path):
    paths = _layout(root)
    write_png16(paths["images"] / FIRST, np.full(FRAME + (3,), 0x8040, np.uint16))
    return _load(paths)


def _missing(root: Path, on_missing: str = "error"):
    paths = _layout(root)
    for name in list(IMAGES)[1:]:
        (paths["images"] / name).unlink()
    return _load(paths, on_missing=on_missing)


def _in_subfolder(root: Path):
    paths = _layout(root)
    (paths["images"] / "batch1").mkdir()
    for name in list(IMAGES)[2:]:
        (paths["images"] / name).rename(paths["images"] / "batch1" / name)
    return _load(paths)


def _upper_case(root: Path):
    paths = _layout(root)
    for name in list(IMAGES)[:2]:
        (paths["images"] / name).rename(paths["images"] / name.replace(".png", ".PNG"))
    return _load(paths)


def _unused(root: Path):
    paths = _layout(root)
    for name in ("IMG_0001.png", filename(99, 42, 0, 1), filename(98, 2, 0, 1)):
        write_png(paths["images"] / name)
    (paths["images"] / "notes.txt").write_text("camera settings\n")
    return _load(paths)


def _truncated_png(root: Path):
    paths = _layout(root)
    png = paths["images"] / FIRST
    png.write_bytes(png.read_bytes()[: len(png.read_bytes()) // 2])
    return _load(paths)


def _unmatched(on_unmatched: str):
    def build(root: Path):
        paths = _layout(root, images={**IMAGES, filename(9, 42, 3, 1): [((10, 5, 50, 15), None)]})
        return _load(paths, on_unmatched=on_unmatched)
    return build


def _no_folder(root: Path):
    paths = _layout(root)
    return _load({**paths, "images": root / "dfu" / "no-such-folder"})


def _save_as(mode: str, fmt: str = "PNG", transparent: bool = False):
    """A writer of the fixture image in another Pillow ``mode`` or file format ``fmt`` (under the ``.png`` name)."""
    def writer(path: Path):
        image = Image.open(write_png(path)).convert(mode)
        if transparent:
            alpha = np.full(FRAME, 255, np.uint8)
            alpha[:5] = 0
            image.putalpha(Image.fromarray(alpha))
        image.save(path, format=fmt)
    return writer


def _wrong_size(frame: tuple[int, int]):
    return _replace_image(lambda path: write_png(path, frame))


# --- the cases --------------------------------------------------------------------------------------------------

CASES: tuple[Case, ...] = (
    # the clinical CSV
    Case("missing_column", "Clinical CSV without a required column (DFU#)",
         _clinical(lambda rows: None, [c for c in CLINICAL_HEADER if c != "DFU#"]), "error",
         (CLINICAL, "missing required column(s) ['DFU#']")),
    Case("numeric_text", "Text in a numeric column ('sixty' in Age)",
         _clinical(_set(2, "Age", "sixty")), "error", (f"{CLINICAL}, line 4", "'Age'", "'sixty'", "a number")),
    Case("coded_value", "A value outside a column's coding ('X' in Sex)",
         _clinical(_set(1, "Sex (F:0, M:1)", "X")), "error", (f"{CLINICAL}, line 3", "'Sex (F:0, M:1)'", "'X'")),
    Case("empty_key", "An empty cell in a key column (Appt#)",
         _clinical(_set(1, "Appt#", "")), "error", (f"{CLINICAL}, line 3", "'Appt#'", "an empty cell")),
    Case("text_key", "Text in a key column ('two' in Appt#)",
         _clinical(_set(1, "Appt#", "two")), "error", (f"{CLINICAL}, line 3", "'Appt#'", "'two'")),
    Case("unknown_label", "A label other than I, P, R ('X')",
         _clinical(_set(3, "Healing Phase Abs", "X")), "error", (f"{CLINICAL}, line 5", "'Healing Phase Abs'", "'X'")),
    Case("missing_label", "A missing label",
         _clinical(_set(0, "Healing Phase Abs", "")), "warning", (CLINICAL, "dropped 1 row(s)", "lines 2"),
         "row dropped, counted in the report"),
    Case("duplicate_visit", "Two rows of one visit (Patient#, Appt#, DFU#)",
         _clinical(_duplicate), "error", (CLINICAL, "on lines [4, 7]", "on_duplicate='first'")),
    Case("truncated_csv", "Clinical CSV cut off in its last record",
         _truncated, "error", (f"{CLINICAL}, line 14", "seems cut off")),
    Case("short_record", "A record with fewer fields than the header",
         _short_record, "error", (f"{CLINICAL}, line 5", "20 of the header's 72 fields")),
    Case("value_out_of_range", "An age no patient has (250 in Age)",
         _clinical(_set(1, "Age", 250)), "error",
         (f"{CLINICAL}, line 3", "'Age'", "250", "from 0 to 120 (years)", "ranges={'Age': (low, high)}")),
    Case("negative_duration", "A negative duration (-14 in Onset (Days))",
         _clinical(_set(4, "Onset (Days)", -14)), "error", (f"{CLINICAL}, line 6", "'Onset (Days)'", "-14", "from 0")),
    Case("non_finite", "A non-finite number ('inf' in Weight (Kg))",
         _clinical(_set(0, "Weight (Kg)", "inf")), "error", (f"{CLINICAL}, line 2", "'Weight (Kg)'", "inf")),
    Case("flag_not_whole", "A fraction in a yes/no column (0.5 in Bunion)",
         _clinical(_set(2, "Bunion", 0.5)), "error", (f"{CLINICAL}, line 4", "'Bunion'", "0.5", "a whole number")),
    Case("label_case", "Labels in lower case or with spaces (' p ', 'r')",
         _labels_read, "accepted", ("labels read: ['I', 'P', 'R']",),
         "read as P and R: every coded column and the label ignore letter case and surrounding spaces"),
    Case("semicolons", "Clinical CSV saved with semicolons between fields",
         _written_as(delimiter=";"), "error", (CLINICAL, "separated by semicolons", "72 fields")),
    Case("tabs", "Clinical CSV saved with tabs between fields",
         _written_as(delimiter="\t"), "error", (CLINICAL, "separated by tabs")),
    Case("windows_encoding", "Clinical CSV in the Windows-1252 encoding",
         _written_as(encoding="cp1252"), "error",
         (f"{CLINICAL}, line 1", "not utf-8 text", "Windows-1252", "°C", "encoding='cp1252'")),
    Case("utf16", "Clinical CSV in UTF-16 ('Unicode text')",
         _written_as(encoding="utf-16"), "error", (CLINICAL, "UTF-16", "encoding='utf-16'")),
    Case("duplicate_column", "Two columns named Age",
         _clinical(lambda rows: None, [*CLINICAL_HEADER[:5], "Age", *CLINICAL_HEADER[5:]]), "error",
         (f"{CLINICAL}, line 1", "'Age' appears 2 times", "fields 3, 6")),
    Case("header_only", "Clinical CSV with a header and no data rows",
         _header_only, "error", (CLINICAL, "a header and no data rows")),
    Case("empty_file", "An empty clinical CSV (0 bytes)",
         _empty_file, "error", (CLINICAL, "the file is empty")),
    Case("missing_csv", "Clinical CSV not found",
         lambda root: (lambda: dfu.read_clinical(root / "nowhere.csv")), "error", ("nowhere.csv: file not found",)),
    # the classes
    Case("absent_class", "No visit of class R",
         _classes_folds(lambda r: r["Healing Phase Abs"] != "R"), "error", ("class R has no visits",)),
    Case("few_patients", "Class R in only 3 patients, for 5 folds",
         _classes_folds(lambda r: r["Healing Phase Abs"] != "R" or r["Patient#"] <= 3), "error",
         ("class R occurs in only 3 patient(s)", "5 folds")),
    Case("absent_class_metrics", "Scoring rows where class R is absent",
         _metrics_without_r, "warning", ("class R absent", "macro_f1", "f1_R is NaN"),
         "macro averages over the classes present"),
    # the box CSV
    Case("malformed_filename", "A box CSV filename not in the original naming",
         _boxes(_set(1, "Filename", "2_P1001BTLW.png")), "error",
         (f"{BOXES}, line 3", "'Filename'", "'2_P1001BTLW.png'")),
    Case("filename_disagrees", "A filename disagreeing with its row (Angle)",
         _boxes(_set(0, "Angle", "MW")), "error", (f"{BOXES}, line 2", "'Angle'", "'MW'")),
    Case("empty_box", "An empty box (Xmax <= Xmin)",
         _boxes(_set(1, "Xmax", 25)), "error", (f"{BOXES}, line 3", "empty bounding box")),
    Case("box_outside", "A box outside the frame",
         _boxes(_set(0, "Ymax", 81)), "error", (f"{BOXES}, line 2", "outside the 60 wide x 80 tall image")),
    Case("unmatched_visit", "A box of a visit absent from the clinical CSV",
         _unmatched("error"), "error", (BOXES, "lines 7", "'Patient#': 42", "on_unmatched='skip'")),
    Case("unmatched_visit_skip", "The same, with on_unmatched='skip'",
         _unmatched("skip"), "warning", (BOXES, "lines 7", "'Patient#': 42", "dropped"),
         "boxes dropped, listed in the report"),
    # the images
    Case("image_folder_missing", "Image folder not found",
         _no_folder, "error", ("no-such-folder: image folder not found", "DFU_IMAGE_DIR")),
    Case("images_missing", "3 of the 4 images missing",
         lambda root: _missing(root), "error",
         ("3 of the 4 image file(s)", filename(2, 1, 0, 1, "A", "MW"), "(line 4)", "on_missing='skip'")),
    Case("images_missing_skip", "The same, with on_missing='skip'",
         lambda root: _missing(root, "skip"), "warning", ("3 of the 4 image file(s)", "dropped their 3 box(es)"),
         "boxes dropped, listed in the report"),
    Case("images_in_subfolder", "Images in a sub-folder of the image folder",
         _in_subfolder, "error", ("2 of the 4 image file(s)", "sub-folder(s) batch1")),
    Case("images_upper_case", "Images named '.PNG'",
         _upper_case, "error", ("2 of the 4 image file(s)", "another letter case", "1_P001001BTLW.PNG")),
    Case("unused_files", "Files the box CSV does not name (malformed names, unknown patient)",
         _unused, "warning", ("4 file(s) not named in", "2 with a name not of the form", "IMG_0001.png",
                              "1 of patients absent from the clinical CSV", filename(99, 42, 0, 1)),
         "counted and listed in the report"),
    Case("image_16bit", "A 16-bit grayscale PNG (mode I;16)",
         _replace_image(lambda path: write_png16(path, np.full(FRAME, 3000, np.uint16))), "error",
         (FIRST, "16-bit", "I;16", "3000", "window16=(low, high)")),
    Case("image_16bit_window", "The same, with window16=(2900, 3100)",
         _windowed, "warning", (FIRST, "2900 to 3100", "25.0%", "clipped"),
         "mapped linearly onto 0..255, one window for all images"),
    Case("image_16bit_rgb", "A 16-bit RGB PNG",
         _rgb16, "error", (FIRST, "(line 2) is 16-bit RGB", "8-bit RGB PNG")),
    Case("image_jpeg", "A JPEG file under a .png name",
         _replace_image(_save_as("RGB", "JPEG")), "error", (FIRST, "a JPEG file, not PNG")),
    Case("image_gray", "An 8-bit grayscale PNG",
         _replace_image(_save_as("L")), "error", (FIRST, "8-bit grayscale (Pillow mode L)")),
    Case("image_transparent", "An RGBA PNG with transparent pixels",
         _replace_image(_save_as("RGB", transparent=True)), "error",
         (FIRST, "300 pixel(s) not opaque", "line 2")),
    Case("image_scaled", "An image scaled 2x (120 x 160)",
         _wrong_size((160, 120)), "error", (FIRST, "120 wide x 160 tall", "scaled by 2", "60 wide x 80 tall")),
    Case("image_half", "An image at half size (30 x 40)",
         _wrong_size((40, 30)), "error", (FIRST, "30 wide x 40 tall", "scaled by 0.5", "60 wide x 80 tall")),
    Case("image_rotated", "An image rotated by 90° (80 x 60)",
         _wrong_size((60, 80)), "error", (FIRST, "80 wide x 60 tall", "rotated by 90°", "60 wide x 80 tall")),
    Case("truncated_png", "A truncated PNG",
         _truncated_png, "error", (FIRST, "unreadable or truncated image", "line 2")),
)


# --- running and rendering --------------------------------------------------------------------------------------


def run_case(case: Case, root: str | Path) -> Outcome:
    """Build ``case`` under ``root`` and run its call; the exception it raised, else the warnings it gave (the
    first one naming the case's first fragment, else all of them), else ``kind="nothing"``."""
    Path(root).mkdir(parents=True, exist_ok=True)
    call = case.build(Path(root))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = call()
        except Exception as e:                                     # noqa: BLE001 - the outcome is the point
            return Outcome("error", type(e).__name__, str(e))
    messages = [w for w in caught if issubclass(w.category, UserWarning)]
    if not messages:
        return (Outcome("accepted", "", str(value), value) if case.expect == "accepted"
                else Outcome("nothing", "", "", value))
    chosen = [w for w in messages if case.fragments and case.fragments[0] in str(w.message)] or messages
    return Outcome("warning", chosen[0].category.__name__, " | ".join(str(w.message) for w in chosen), value)


def bad_input_table(cases: tuple[Case, ...] = CASES) -> pd.DataFrame:
    """Run every case in a fresh temporary folder; one row per case: ``case`` (the input), ``what happens``
    (refused with which exception, or the policy and the warning) and ``the message`` (as raised, with the
    temporary folder cut from the paths)."""
    rows = []
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="fusionlib-badinput-") as tmp:
            outcome = run_case(case, tmp)
            message = outcome.message.replace(str(Path(tmp).resolve()) + "/", "").replace(str(tmp) + "/", "")
        if outcome.kind == "error":
            happens = f"refused ({outcome.type})"
        elif outcome.kind == "warning":
            happens = f"{case.policy}; warned ({outcome.type})"
        elif outcome.kind == "accepted":
            happens = case.policy
        else:
            happens = "accepted without a word"
        rows.append({"case": case.what, "what happens": happens, "the message": message})
    return pd.DataFrame(rows)
