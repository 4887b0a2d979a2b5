"""Small files in the format of the public DFU data (clinical CSV, bounding-box CSV, thermal PNGs), written
into a folder the caller gives (a test's ``tmp_path``, a temporary folder): never the real data.

The tests and the bad-input table (:mod:`fusionstudy.chapters.dfu_cases`) build their inputs with these. The clinical
header is the schema's public column list (:data:`fusionlib.data.schema.PUBLIC_COLUMNS`); ``tests/test_dfu.py``
checks both headers against the real files when present.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

from fusionlib.data.schema import PUBLIC_COLUMNS

CLINICAL_HEADER = list(PUBLIC_COLUMNS)
BOX_HEADER = ["Filename", "Patient#", "Appt#", "DFU#", "DebriStat", "Camera", "Angle", "Bounding Box Number",
              "Xmin", "Ymin", "Xmax", "Ymax"]
CLASSES = ("I", "P", "R")
#: Frame of the fixture PNGs, (height, width): portrait like the real 1440 x 1080, but small.
FRAME = (80, 60)
TOP, BOTTOM = (200, 100, 50), (20, 220, 120)


def visit_rows(n_patients: int = 6, appts: int = 2, extra_wounds: tuple = ((3, 0, 2),)) -> list[dict]:
    """One dict per visit: patients 1..n with wound 1 seen at appointments 0..appts-1, plus the
    ``(patient, appt, dfu)`` of ``extra_wounds``; label ``I/P/R`` cycling with ``patient + appt + dfu``;
    temperatures (°C) lower for later classes."""
    keys = [(p, a, 1) for p in range(1, n_patients + 1) for a in range(appts)] + list(extra_wounds)
    rows = []
    for i, (p, a, d) in enumerate(keys):
        c = (p + a + d) % 3
        row = {col: 0 for col in CLINICAL_HEADER}
        row.update({
            "ID": 1000 + p, "Patient#": p, "Age": 50 + p, "Sex (F:0, M:1)": "FM"[p % 2], "Weight (Kg)": 80.5,
            "Height (cm)": 170, "DFU#": d, "Side (Left:0, Right:1)": "Left", "Foot Aspect": "Plantar",
            "Location": "Top of big Toe", "Location Grouped (Hallux:1,Toes,Middle,Heel,Ankle:5)": "Hallux",
            "Onset (Days)": "", "Appt#": a, "Appt Days": 14 * a, "Type of Diabetes": 2, "Number of DFUs": 1,
            "Wound Centre Temperature (°C)": 30.0 - c, "Peri-Ulcer Temperature (°C)": 30.5 - c,
            "Intact Skin Temperature (°C)": 30.3 - 0.5 * c, "Type of Pain": "NoPain",
            "Exudate Appearance (Serous:1,Haemoserous,Bloody,Thick:4)": "Serous", "Odor": "NoOdor",
            "Dressing": "Idosorb", "Dressing Grouped": "AbsorbentDressing", "Healing Phase": CLASSES[c] + "+",
            "Phase Confidence (%)": "", "Healing Phase Abs": CLASSES[c],
        })
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict], header: list[str], bom: bool = True, delimiter: str = ",",
              encoding: str = "utf-8") -> Path:
    """Write ``rows`` under ``header`` as the public files are written (UTF-8 with a BOM, comma-separated, quoted
    as needed); ``delimiter`` and ``encoding`` write it as another program would."""
    encoding = encoding + "-sig" if bom and encoding == "utf-8" else encoding
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.DictWriter(f, fieldnames=header, restval="", extrasaction="ignore", lineterminator="\n",
                           delimiter=delimiter)
        w.writeheader()
        w.writerows(rows)
    return path


def filename(idx: int, patient: int, appt: int, dfu: int, debri: str = "B", angle: str = "LW") -> str:
    return f"{idx}_P{patient:03d}{appt:02d}{dfu:1d}{debri}T{angle}.png"


def box_row(name: str, box: tuple[int, int, int, int], dfu: int | None = None, number: int = 1) -> dict:
    """A box CSV row for image ``name`` (its patient, appointment, debridement and angle from the name);
    ``dfu`` is the box's wound (default: the name's)."""
    stem = name.split("_P", 1)[1]
    return {"Filename": name, "Patient#": int(stem[:3]), "Appt#": int(stem[3:5]),
            "DFU#": int(stem[5]) if dfu is None else dfu, "DebriStat": stem[6], "Camera": stem[7],
            "Angle": stem[8:10], "Bounding Box Number": number,
            **dict(zip(("Xmin", "Ymin", "Xmax", "Ymax"), box))}


def write_png(path: Path, frame: tuple[int, int] = FRAME) -> Path:
    """A two-colour RGB PNG: ``TOP`` above half height, ``BOTTOM`` below (no black pixel anywhere)."""
    h, w = frame
    img = np.empty((h, w, 3), dtype=np.uint8)
    img[: h // 2] = TOP
    img[h // 2:] = BOTTOM
    Image.fromarray(img).save(path)
    return path


#: The happy-path layout: three images, four boxes, visits (1, 0, 1) twice photographed (one image with
#: two boxes), (2, 1, 1) once, and (3, 0, 2) on a photograph named after wound 1 (the real files' quirk).
IMAGES = {
    filename(1, 1, 0, 1, "B", "LW"): [((10, 5, 50, 15), None), ((25, 50, 35, 75), None)],
    filename(2, 1, 0, 1, "A", "MW"): [((10, 5, 50, 15), None)],
    filename(3, 2, 1, 1, "B", "RZ"): [((25, 50, 35, 75), None)],
    filename(4, 3, 0, 1, "A", "LW"): [((10, 5, 50, 15), 2)],
}


def write_layout(root: Path, rows: list[dict] | None = None, images: dict | None = None) -> dict:
    """Clinical CSV, box CSV and PNGs under ``root`` with the public file names; returns their paths."""
    root.mkdir(parents=True, exist_ok=True)
    image_dir = root / "thermal"
    image_dir.mkdir(exist_ok=True)
    images = IMAGES if images is None else images
    boxes = []
    for name, entries in images.items():
        write_png(image_dir / name)
        boxes += [box_row(name, box, dfu, k + 1) for k, (box, dfu) in enumerate(entries)]
    return {
        "clinical": write_csv(root / "DataMaster_Processed_V12_WithMissing.csv",
                              visit_rows() if rows is None else rows, CLINICAL_HEADER),
        "boxes": write_csv(root / "bounding_box_thermal.csv", boxes, BOX_HEADER, bom=False),
        "images": image_dir,
    }


def write_png16(path: Path, values: np.ndarray) -> Path:
    """A 16-bit PNG of ``values`` (``uint16``): grayscale for shape ``(h, w)`` (Pillow opens it as ``I;16``),
    RGB for ``(h, w, 3)``; written chunk by chunk, since Pillow writes no 16-bit RGB PNG."""
    import struct
    import zlib

    a = np.asarray(values, dtype=">u2")
    h, w = a.shape[:2]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 16, 2 if a.ndim == 3 else 0, 0, 0, 0)
    rows = b"".join(b"\x00" + a[i].tobytes() for i in range(h))
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                           + chunk(b"IEND", b""))
    return Path(path)

