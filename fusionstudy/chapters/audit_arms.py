"""The study's own arms as audit input (:mod:`fusionlib.audit`): the real-data page's results, read back.

Two inputs, both on the semi-real cohort's visits (sample = visit, group = patient; an arm's image rows are
averaged per visit, as the book scores them):

* :func:`original_protocol` — the comparison as the report made it: metadata alone and thermal alone from their
  own runs (the scale's cross-validation: 5 folds x 3 repeats at the default scale, as the report's metadata
  number), against the fusion of the original protocol (3-fold split, the RF input's training rows in-sample);
  the RF input as the fusion received it is given on its training and test rows. At the smoke scale the own
  runs are 3 folds x 1 repeat with the same seed, so their partition is the fusion's and only the in-sample RF
  input remains of the report's faults;
* :func:`corrected` — every model on one patient-grouped split, the RF input out-of-fold on the training rows.

The fusion is the report's head (``baseline``) in both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fusionlib.data.cohort import CLASSES
from fusionlib.evaluation.metrics import PROBA, RF, per_visit

#: Where the real-data page writes its arms, under ``book/generated/results``.
REALDATA = "realdata"
ORIGINAL = "original-protocol"


#: What the page says when the real-data page left no results (the public files could not be obtained).
UNAVAILABLE = ("The real-data page left no results in this build (the public files could not be obtained; it says "
               "why), so there is nothing of the study's own to audit here.")


def available(generated: str | Path) -> bool:
    """Whether the real-data page's arms (both protocols) are in ``generated/results``."""
    res = Path(generated) / "results" / REALDATA
    return (res / "image_only" / "predictions.csv.gz").exists() and (res / ORIGINAL).is_dir()


def _predictions(folder: Path) -> pd.DataFrame:
    path = folder / "predictions.csv.gz"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no predictions (has the real-data page run?)")
    return pd.read_csv(path)


def arm_rows(folder: str | Path, model: str, columns: list[str] = PROBA, roles: tuple = ("test",)) -> pd.DataFrame:
    """One arm's predictions (``folder/predictions.csv.gz``) as audit rows of ``model``: per visit (its image rows'
    mean of ``columns``), per repeat and fold; its validation rows as role ``test`` and, if ``"train"`` is in
    ``roles``, its training rows as role ``train``."""
    p = _predictions(Path(folder))
    split = {"test": "val", "train": "train"}
    p = p[p["split"].isin([split[r] for r in roles])]
    v = per_visit(p)                                       # the image rows of a visit averaged, as the book scores
    out = pd.DataFrame({"sample": "visit" + v["visit"].astype(str), "group": "patient" + v["patient"].astype(str),
                        "label": np.array(CLASSES)[v["y"].to_numpy()], "model": model,
                        "fold": v["fold"].astype(str), "repeat": v["repeat"].astype(int),
                        "role": v["split"].map({"val": "test", "train": "train"})})
    probs = v[columns].to_numpy(dtype=float)
    probs = probs / probs.sum(axis=1, keepdims=True)      # the RF input of some heads does not sum to 1 (issue 11)
    for c, col in zip(CLASSES, probs.T):
        out[f"p_{c}"] = col
    return out


def own_run(folder: str | Path) -> str:
    """``"own K-fold run"`` or ``"own K-fold x R run"``: an arm's cross-validation, from its predictions."""
    p = _predictions(Path(folder))
    k, r = p["fold"].nunique(), p["repeat"].nunique()
    return f"own {k}-fold run" if r == 1 else f"own {k}-fold x {r} run"


def original_protocol(generated: str | Path, head: str = "baseline") -> pd.DataFrame:
    """The report's comparison (see the module's description)."""
    res = Path(generated) / "results" / REALDATA
    fusion = res / ORIGINAL / f"{head}__original_protocol"
    meta, thermal = res / "metadata_only__ordinal__oof_grouped", res / "image_only"
    return pd.concat([arm_rows(meta, f"metadata ({own_run(meta)})"),
                      arm_rows(thermal, f"thermal ({own_run(thermal)})"),
                      arm_rows(fusion, "RF input of the fusion", RF, roles=("test", "train")),
                      arm_rows(fusion, "fusion")], ignore_index=True)


def corrected(generated: str | Path, head: str = "baseline") -> pd.DataFrame:
    """Every model on one split, the RF input out-of-fold (see the module's description)."""
    res = Path(generated) / "results" / REALDATA
    fusion = res / f"{head}__ordinal__oof_grouped"
    return pd.concat([arm_rows(res / "metadata_only__ordinal__oof_grouped", "metadata"),
                      arm_rows(res / "image_only", "thermal"),
                      arm_rows(fusion, "RF input of the fusion", RF, roles=("test", "train")),
                      arm_rows(fusion, "fusion")], ignore_index=True)
