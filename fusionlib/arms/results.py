"""Arm results: what a run of an arm leaves, how it is written and read back, and the summary tables over them.

Keras-free: the analysis pages, the findings and the study read results through this module without importing
TensorFlow (``tests/test_results.py`` checks it).

An arm's result folder (:func:`write_result`, atomically: :func:`fusionlib.io.atomic_folder`) holds

* ``metrics.csv`` — tidy: arm, head, decomposition, source, split, repeat, fold, level, metric, value;
* ``predictions.csv.gz`` — one row per (repeat, image row) of the reporting folds and of the training folds
  (``split = "train"``): repeat, fold, image, visit, patient, y, rf_I/P/R (the RF input), p_I/P/R, alpha;
* ``history.json`` — per fold, the training curves, best epoch and the head's fitted weights;
* ``info.json`` — settings, seeds, device, wall time, cohort.

A **part** of an arm's run (its folds split over several jobs, :func:`fusionlib.arms.runner.run_arms` with
``part=(k, n)``) is written by :func:`write_part` — ``part.json`` (settings, which part, folds, wall time, the
machine) and ``predictions.pkl`` (the part's predictions, exactly as computed) — and the parts of an arm are merged
into its result by :func:`fusionlib.arms.runner.merge_parts`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fusionlib import io
from fusionlib.evaluation.metrics import summarise
from fusionlib.arms.settings import ArmSettings

FILES = ("metrics.csv", "predictions.csv.gz", "history.json", "info.json")


@dataclass
class ArmResult:
    """``metrics``: tidy table (arm, head, decomposition, source, split, repeat, fold, level, metric, value);
    ``predictions``: one row per (repeat, image row) of the reporting folds (and of the training folds with
    ``split = "train"``): repeat, fold, image, visit, patient, y, rf_I/P/R (the RF input), p_I/P/R, alpha
    (the learned alpha of the heads that learn one, else NaN); ``history``: per fold, the training curves, best
    epoch and the head's fitted weights; ``info``: settings, device, wall time, cohort."""

    settings: ArmSettings
    metrics: pd.DataFrame
    predictions: pd.DataFrame
    history: list[dict]
    info: dict


@dataclass
class ArmPart:
    """Part ``info["part"]`` (``[k, n]``: the k-th of n) of an arm's run: the ``predictions`` and ``history`` of its
    folds (``info["folds"]``, indices into the context's folds), and ``info``: the arm's settings, the part's wall time
    (``context_wall_s``, shared by ``context_arms`` arms), the machine (``environment``) and the cohort's facts."""

    settings: ArmSettings
    predictions: pd.DataFrame
    history: list[dict]
    info: dict


PART_FILES = ("part.json", "predictions.pkl", "history.json")


def _complete(path: str | Path, files: tuple, what: str) -> Path:
    """``path`` when it holds every one of ``files``; ``FileNotFoundError`` naming the first missing one."""
    path = Path(path)
    for name in files:
        if not (path / name).exists():
            raise FileNotFoundError(f"{path}: not a complete {what} (missing {name})")
    return path


def _write(path: str | Path, history: list, info_name: str, info: dict, tables) -> Path:
    """Write a result or part folder atomically (:func:`fusionlib.io.atomic_folder`): ``tables(tmp)`` writes its
    tables, then ``history.json`` and the ``info_name`` JSON."""
    with io.atomic_folder(path) as tmp:
        tables(tmp)
        (tmp / "history.json").write_text(json.dumps(history))
        (tmp / info_name).write_text(json.dumps(info, indent=2, default=str))
    return Path(path)


def write_part(part: ArmPart, path: str | Path) -> Path:
    """Write an :class:`ArmPart` into ``path`` (atomically); the predictions as a pickle, so that merging the
    parts gives the very frame one job would have computed."""
    return _write(path, part.history, "part.json", part.info,
                  lambda tmp: part.predictions.to_pickle(tmp / "predictions.pkl"))


def load_part(path: str | Path) -> ArmPart:
    """Read a folder written by :func:`write_part` (``FileNotFoundError`` naming a missing file)."""
    path = _complete(path, PART_FILES, "arm part")
    info = json.loads((path / "part.json").read_text())
    return ArmPart(ArmSettings.from_dict(info["settings"]), pd.read_pickle(path / "predictions.pkl"),
                   json.loads((path / "history.json").read_text()), info)


def safe_name(label: str) -> str:
    """A portable folder name for an arm label: ``|`` -> ``__``, anything but letters, digits, ``.=-`` -> ``_``."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", label.replace(" | ", "|").replace("|", "__")).strip("_")


def write_result(result: ArmResult, path: str | Path) -> Path:
    """Write ``metrics.csv``, ``predictions.csv.gz``, ``history.json`` and ``info.json`` into ``path``,
    atomically: into a temporary sibling folder that then replaces ``path`` in one rename."""
    def tables(tmp: Path) -> None:
        result.metrics.to_csv(tmp / "metrics.csv", index=False)
        result.predictions.to_csv(tmp / "predictions.csv.gz", index=False)

    return _write(path, result.history, "info.json", result.info, tables)


def load_result(path: str | Path) -> ArmResult:
    """Read a result folder written by :func:`write_result` back into an :class:`ArmResult`."""
    path = _complete(path, FILES, "arm result")
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


def load_matching(settings: ArmSettings, results_dir: str | Path | None) -> ArmResult | None:
    """The result in ``results_dir/<safe label>`` when it exists *and* was made with exactly ``settings``."""
    if not results_dir:
        return None
    folder = Path(results_dir) / safe_name(settings.label)
    if not (folder / "info.json").exists():
        return None
    result = load_result(folder)
    return result if result.settings == settings else None


def summary_table(results: list[ArmResult]) -> pd.DataFrame:
    """One row per arm: κ (quadratic, unweighted) per visit and per row, pooled per repeat (mean, sd over
    repeats) and per fold (mean, sd over all folds), accuracy, macro-F1."""
    rows = []
    for r in results:
        pooled = summarise(r.metrics, "pooled")
        each = summarise(r.metrics, "each")
        row = {"arm": r.settings.label, "title": r.settings.title, "head": r.settings.head,
               "condition": r.settings.condition}
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


def experiment_table(results: list[ArmResult] | dict) -> pd.DataFrame:
    """One row per arm: κ quadratic / unweighted per visit (pooled, mean over repeats), fold sd, κ on the training
    rows (per row), and the amortised wall time; indexed by the arm's title (:attr:`~fusionlib.arms.settings.ArmSettings.title`,
    the row label a page shows)."""
    results = list(results.values()) if isinstance(results, dict) else results
    t = summary_table(results)
    cols = {"arm": "arm", "kappa_quadratic_visit": "κ quad", "kappa_quadratic_visit_fold_sd": "fold sd",
            "kappa_unweighted_visit": "κ unw", "kappa_quadratic_train_row": "κ quad, train", "wall_s": "s (amortised)"}
    t["arm"] = t["title"]
    return t[list(cols)].rename(columns=cols).round(3).set_index("arm")

