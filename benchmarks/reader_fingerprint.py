"""Fingerprints of what the real-data readers return on the public files: one sha256 per reader output.

    DFU_DATA_DIR=/path/to/dfu python -m benchmarks.reader_fingerprint > before.json

Run it before and after a change to the readers (:mod:`fusionlib.data.dfu`, :mod:`fusionlib.data.schema`): equal
fingerprints mean every real-data number downstream is unchanged (the chapters are deterministic functions of
these tables and of the code that is not the readers). Each fingerprint covers the table's values, dtypes,
index and the reader's report (``attrs``/``params``), and the pixels of the semi-real cohort.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def _frame(df: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(df.to_csv(index=True).encode())
    h.update(json.dumps([str(t) for t in df.dtypes], sort_keys=True).encode())
    return h.hexdigest()


def _json(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def fingerprints(folder: Path) -> dict:
    from fusionlib.data import dfu
    from fusionlib.data.features import clinical_features

    clinical, boxes = folder / dfu.CLINICAL_CSV, folder / dfu.BOXES_CSV
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        visits = dfu.read_clinical(clinical, on_duplicate="first")
        box_table = dfu.read_boxes(boxes)
        joined, join_report = dfu.join_boxes(visits, box_table, on_unmatched="skip")
        semi = dfu.semi_real_cohort(clinical)
    report = {k: v for k, v in visits.attrs["dfu"].items()}
    return {"read_clinical": _frame(visits),
            "read_clinical report (keys of before)": _json({k: report[k] for k in sorted(report)
                                                          if k not in NEW_REPORT_KEYS}),
            "clinical_features": _frame(clinical_features(visits)),
            "read_boxes": _frame(box_table), "join_boxes": _frame(joined) + _json(join_report),
            "semi_real visits": _frame(semi.visits), "semi_real images": _frame(semi.images),
            "semi_real pixels": hashlib.sha256(np.ascontiguousarray(semi.pixels).tobytes()).hexdigest()}


#: Report keys a later reader may add (compared separately: they are new facts, not changed ones).
NEW_REPORT_KEYS = ("nominal_case_variants", "encoding", "ranges_widened")


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DFU_DATA_DIR", ""))
    if not (folder / "DataMaster_Processed_V12_WithMissing.csv").is_file():
        sys.exit("give the folder of the public DFU files (argument or DFU_DATA_DIR)")
    print(json.dumps(fingerprints(folder), indent=1))
