"""Run arms: a settings dict in, tidy results out.

>>> from fusionlib.runner import run_arm
>>> result = run_arm({"head": "baseline", "decomposition": "ordinal_original", "source": "in_sample",
...                   "n_splits": 5, "n_repeats": 1})                                    # doctest: +SKIP
>>> result.metrics.head()                                                                # doctest: +SKIP

Each arm is: one cohort (synthetic by default) -> repeated patient-grouped folds -> per fold, RF
probabilities for the visits (:mod:`fusionlib.rf`, cached and shared by every arm with the same cohort,
fold, decomposition and source) -> one head trained on the training fold's image rows, early-stopped on the
inner validation split -> predictions for the reporting fold -> metrics pooled over folds.

Command line (the closing note of issue 2 quotes this run)::

    python -m fusionlib.runner --preset report --n-splits 5 --n-repeats 3 --out results/report
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import rf as rf_mod
from .cohort import Cohort, CohortParams, make_synthetic_cohort
from .features import clinical_features, labels
from .heads import HEADS, check_head
from .metrics import PROBA, summarise, tidy_metrics
from .splits import Fold, patient_folds
from .train import TrainConfig, device_name, environment, fit_head, predict

#: The report's conditions and the corrected ones.
CONDITIONS = {
    "report": {"decomposition": "ordinal_original", "source": "in_sample"},
    "corrected": {"decomposition": "ordinal", "source": "oof_grouped"},
}


@dataclass(frozen=True)
class ArmSettings:
    """Everything that defines one arm. ``cohort`` overrides knobs of :data:`fusionlib.cohort.DEFAULTS`;
    ``train`` overrides fields of :class:`fusionlib.train.TrainConfig`; ``rf_trees`` is the forest size (the
    original's 300; fewer only for smoke runs)."""

    head: str = "metadata_only"
    decomposition: str = "ordinal"
    source: str = "oof_grouped"
    n_splits: int = 5
    n_repeats: int = 3
    seed: int = 0
    include_temperatures: bool = False
    rf_trees: int = 300
    cohort: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    name: str = ""

    @classmethod
    def from_dict(cls, d: dict | "ArmSettings") -> "ArmSettings":
        """Validated settings from a plain dict; an unknown key or value raises ``ValueError`` naming it."""
        if isinstance(d, cls):
            d = asdict(d)
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
        s = cls(**{k: v for k, v in d.items()})
        check_head(s.head)
        if s.decomposition not in rf_mod.DECOMPOSITIONS:
            raise ValueError(f"decomposition={s.decomposition!r}: use one of {rf_mod.DECOMPOSITIONS}")
        if s.source not in rf_mod.SOURCES:
            raise ValueError(f"source={s.source!r}: use one of {rf_mod.SOURCES}")
        bad = set(s.cohort) - {f.name for f in fields(CohortParams)}
        if bad:
            raise ValueError(f"unknown cohort knob(s) {sorted(bad)}")
        bad = set(s.train) - {f.name for f in fields(TrainConfig)}
        if bad:
            raise ValueError(f"unknown train setting(s) {sorted(bad)}")
        if s.n_splits < 2 or s.n_repeats < 1:
            raise ValueError(f"n_splits={s.n_splits}, n_repeats={s.n_repeats}: need n_splits >= 2, n_repeats >= 1")
        return s

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.head == "image_only":
            return "image_only"
        return f"{self.head}|{self.decomposition}|{self.source}"

    def train_config(self) -> TrainConfig:
        return TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in self.train.items()})

    def cohort_params(self) -> CohortParams:
        return replace(CohortParams(), **self.cohort)


@dataclass
class ArmResult:
    """``metrics``: tidy table (arm, head, decomposition, source, split, repeat, fold, level, metric, value);
    ``predictions``: one row per (repeat, image row) of the reporting folds (and of the training folds with
    ``split = "train"``): repeat, fold, image, visit, patient, y, rf_I/P/R (the RF input), p_I/P/R;
    ``history``: per fold, the Keras history and best epoch; ``info``: settings, device, wall time, cohort."""

    settings: ArmSettings
    metrics: pd.DataFrame
    predictions: pd.DataFrame
    history: list[dict]
    info: dict


class RFCache:
    """RF probabilities per visit, keyed by (cohort, decomposition, source, repeat, fold, seed), in memory."""

    def __init__(self):
        self._store: dict = {}

    def get(self, key, compute):
        if key not in self._store:
            self._store[key] = compute()
        return self._store[key]


def _rf_visit_probabilities(cohort_id: str, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, fold: Fold,
                            s: ArmSettings, cache: RFCache) -> np.ndarray:
    """RF probabilities for every visit of the fold's train and val sets, ``(n_visits, 3)`` (NaN elsewhere)."""
    def compute():
        p_train, p_val = rf_mod.fold_probabilities(X, y, groups, fold.train, fold.val, s.source, s.decomposition,
                                                   seed=s.seed, n_estimators=s.rf_trees)
        out = np.full((len(y), 3), np.nan)
        out[fold.train], out[fold.val] = p_train, p_val
        return out

    return cache.get((cohort_id, s.decomposition, s.source, s.include_temperatures, s.rf_trees, fold.repeat,
                      fold.fold, s.n_splits, s.seed), compute)


def run_arm(settings: dict | ArmSettings, cohort: Cohort | None = None, rf_cache: RFCache | None = None,
            progress: bool = True) -> ArmResult:
    """Run one arm over all its folds; see the module docstring. ``cohort`` defaults to the synthetic cohort
    with the settings' knobs; pass ``rf_cache`` to share RF fits between arms."""
    s = ArmSettings.from_dict(settings)
    t0 = time.perf_counter()
    cohort = cohort if cohort is not None else make_synthetic_cohort(s.cohort_params())
    rf_cache = rf_cache if rf_cache is not None else RFCache()
    config = s.train_config()
    y_visit = labels(cohort.visits)
    groups = cohort.groups_visit
    X = clinical_features(cohort.visits, include_temperatures=s.include_temperatures)
    img_visit = cohort.image_visit
    pixels = cohort.pixels.astype("float32")
    folds = patient_folds(y_visit, groups, s.n_splits, s.n_repeats, seed=s.seed)
    cohort_id = cohort.fingerprint()
    preds, history = [], []
    for fold in tqdm(folds, desc=s.label, disable=not progress, unit="fold"):
        rf_visit = (np.full((len(y_visit), 3), np.nan) if s.head == "image_only"
                    else _rf_visit_probabilities(cohort_id, X, y_visit, groups, fold, s, rf_cache))
        rows = {name: np.flatnonzero(np.isin(img_visit, idx)) for name, idx in
                (("train", fold.inner_train), ("stop", fold.inner_val), ("val", fold.val))}
        x = {"rf": rf_visit[img_visit].astype("float32"), "image": pixels}
        x_of = {name: {k: v[r] for k, v in x.items()} for name, r in rows.items()}
        y_row = y_visit[img_visit]
        seed = s.seed * 1000 + fold.repeat * 100 + fold.fold
        fit = fit_head(s.head, x_of["train"], y_row[rows["train"]], x_of["stop"], y_row[rows["stop"]], config, seed)
        r = np.concatenate([rows["val"], rows["train"], rows["stop"]])
        p = predict(fit.model, {k: v[r] for k, v in x.items()})
        preds.append(pd.DataFrame({
            "split": np.where(np.arange(len(r)) < len(rows["val"]), "val", "train"),
            "repeat": fold.repeat, "fold": fold.fold, "image": r, "visit": img_visit[r],
            "patient": groups[img_visit[r]], "y": y_row[r],
            **{f"rf_{c}": x["rf"][r, j] for j, c in enumerate("IPR")},
            **{col: p[:, j] for j, col in enumerate(PROBA)}}))
        history.append({"repeat": fold.repeat, "fold": fold.fold, "best_epoch": fit.best_epoch, **fit.history})
    predictions = pd.concat(preds, ignore_index=True)
    metrics = tidy_metrics(predictions)
    metrics.insert(0, "source", s.source if s.head != "image_only" else "")
    metrics.insert(0, "decomposition", s.decomposition if s.head != "image_only" else "")
    metrics.insert(0, "head", s.head)
    metrics.insert(0, "arm", s.label)
    info = {"settings": asdict(s), "train_config": asdict(config), "device": device_name(), "environment": environment(),
            "wall_s": time.perf_counter() - t0, "cohort": cohort.params, "cohort_fingerprint": cohort_id,
            "n_visits": int(len(y_visit)), "n_images": int(len(img_visit))}
    return ArmResult(s, metrics, predictions, history, info)


def run_arms(settings: list[dict | ArmSettings], progress: bool = True, out_dir: str | Path | None = None,
             cohort: Cohort | None = None) -> list[ArmResult]:
    """Run several arms sharing cohorts and RF fits; with ``out_dir``, write each result as it finishes."""
    cohorts: dict = {}
    cache = RFCache()
    results = []
    for i, raw in enumerate(settings, start=1):
        s = ArmSettings.from_dict(raw)
        if progress:
            print(f"[{i}/{len(settings)}] {s.label}", file=sys.stderr, flush=True)
        key = json.dumps(s.cohort, sort_keys=True)
        if cohort is None and key not in cohorts:
            cohorts[key] = make_synthetic_cohort(s.cohort_params())
        res = run_arm(s, cohort if cohort is not None else cohorts[key], cache, progress)
        if out_dir is not None:
            write_result(res, Path(out_dir) / safe_name(s.label))
        results.append(res)
    return results


def safe_name(label: str) -> str:
    """A folder name for an arm label (``|`` -> ``__``)."""
    return label.replace("|", "__").replace("/", "_")


def write_result(result: ArmResult, path: str | Path) -> Path:
    """Write ``metrics.csv``, ``predictions.csv.gz``, ``history.json`` and ``info.json`` into ``path``,
    atomically: into a temporary sibling folder that then replaces ``path`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        result.metrics.to_csv(tmp / "metrics.csv", index=False)
        result.predictions.to_csv(tmp / "predictions.csv.gz", index=False)
        (tmp / "history.json").write_text(json.dumps(result.history))
        (tmp / "info.json").write_text(json.dumps(result.info, indent=2, default=str))
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load_result(path: str | Path) -> ArmResult:
    """Read a result folder written by :func:`write_result` back into an :class:`ArmResult`."""
    path = Path(path)
    for name in ("metrics.csv", "predictions.csv.gz", "history.json", "info.json"):
        if not (path / name).exists():
            raise FileNotFoundError(f"{path}: not a complete arm result (missing {name})")
    info = json.loads((path / "info.json").read_text())
    metrics = pd.read_csv(path / "metrics.csv", dtype={"fold": str}, keep_default_na=False,
                          na_values={"value": ["", "nan"]})
    return ArmResult(ArmSettings.from_dict(info["settings"]), metrics, pd.read_csv(path / "predictions.csv.gz"),
                     json.loads((path / "history.json").read_text()), info)


def load_results(folder: str | Path, expected: list[str] | None = None) -> list[ArmResult]:
    """Every arm result under ``folder`` (sorted by name); with ``expected`` (folder names), raise
    ``FileNotFoundError`` naming the arms that have no result."""
    folder = Path(folder)
    if expected is not None:
        missing = [n for n in expected if not (folder / n / "info.json").exists()]
        if missing:
            raise FileNotFoundError(f"{folder}: no result for arm(s) {missing}")
        names = expected
    else:
        names = sorted(p.name for p in folder.iterdir() if (p / "info.json").exists())
    return [load_result(folder / n) for n in names]


def report_arms(conditions=("report", "corrected"), **common) -> list[dict]:
    """The report's seven arms under each named condition of :data:`CONDITIONS` (image_only once)."""
    arms = [{"head": "image_only", **common}]
    for cond in conditions:
        for head in HEADS:
            if head != "image_only":
                arms.append({"head": head, **CONDITIONS[cond], **common})
    return arms


def condition_of(settings: ArmSettings) -> str:
    """``"report"`` or ``"corrected"`` when the RF switches match :data:`CONDITIONS`, ``""`` for image-only,
    else ``"other"``."""
    if settings.head == "image_only":
        return ""
    for name, cond in CONDITIONS.items():
        if settings.decomposition == cond["decomposition"] and settings.source == cond["source"]:
            return name
    return "other"


def summary_table(results: list[ArmResult]) -> pd.DataFrame:
    """One row per arm: κ (quadratic, unweighted) per visit and per row, pooled per repeat (mean, sd over
    repeats) and per fold (mean, sd over all folds), accuracy, macro-F1."""
    rows = []
    for r in results:
        pooled = summarise(r.metrics, "pooled")
        each = summarise(r.metrics, "each")
        row = {"arm": r.settings.label, "head": r.settings.head, "condition": condition_of(r.settings)}
        for level in ("visit", "row"):
            for metric in ("kappa_quadratic", "kappa_unweighted", "accuracy", "macro_f1", "f1_R"):
                row[f"{metric}_{level}"] = pooled.loc[(level, metric), "mean"]
                row[f"{metric}_{level}_sd_repeats"] = pooled.loc[(level, metric), "std"]
                row[f"{metric}_{level}_fold_mean"] = each.loc[(level, metric), "mean"]
                row[f"{metric}_{level}_fold_sd"] = each.loc[(level, metric), "std"]
        train = r.metrics[(r.metrics["split"] == "train") & (r.metrics["level"] == "row")
                          & (r.metrics["metric"] == "kappa_quadratic")]
        row["kappa_quadratic_train_row"] = train["value"].mean()
        row["wall_s"] = r.info["wall_s"]
        rows.append(row)
    return pd.DataFrame(rows)


def _write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        df.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fusionlib.runner", description=__doc__.split("\n")[0])
    ap.add_argument("--preset", choices=["report"], default="report",
                    help="report: the report's seven arms under the report's and the corrected conditions")
    ap.add_argument("--heads", nargs="*", default=None, help="restrict to these heads")
    ap.add_argument("--conditions", nargs="*", default=list(CONDITIONS), choices=list(CONDITIONS))
    ap.add_argument("--n-splits", type=int, default=5)
    ap.add_argument("--n-repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--n-patients", type=int, default=None)
    ap.add_argument("--out", type=Path, required=True, help="results folder (one sub-folder per arm)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    common: dict = {"n_splits": a.n_splits, "n_repeats": a.n_repeats, "seed": a.seed}
    if a.epochs is not None:
        common["train"] = {"epochs": a.epochs}
    if a.n_patients is not None:
        common["cohort"] = {"n_patients": a.n_patients}
    arms = report_arms(tuple(a.conditions), **common)
    if a.heads:
        arms = [s for s in arms if s["head"] in a.heads]
    t0 = time.perf_counter()
    results = run_arms(arms, progress=not a.quiet, out_dir=a.out)
    table = summary_table(results)
    _write_csv_atomic(table, a.out / "summary.csv")
    cols = ["arm", "kappa_quadratic_visit", "kappa_quadratic_visit_fold_sd", "kappa_unweighted_visit",
            "kappa_quadratic_row", "kappa_unweighted_row", "kappa_quadratic_train_row", "wall_s"]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table[cols].round(3).to_string(index=False))
    print(f"total wall time {time.perf_counter() - t0:.0f} s on {device_name()}; results in {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
