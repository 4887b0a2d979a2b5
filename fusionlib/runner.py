"""Run arms: settings dicts in, tidy results out.

>>> from fusionlib.runner import run_arm, run_arms
>>> result = run_arm({"head": "baseline", "decomposition": "ordinal_original", "source": "in_sample",
...                   "n_splits": 5, "n_repeats": 1})                                    # doctest: +SKIP
>>> result.metrics.head()                                                                # doctest: +SKIP

An arm is one head under one set of switches (:class:`ArmSettings`). For every repeated patient-grouped
fold, :func:`run_arms` computes once, for all the arms it is given:

* the RF probabilities per visit for each (decomposition, source) that an arm needs (:mod:`fusionlib.rf`);
* the image CNN of the fold (the ``image_only`` arm), trained on the inner training rows and early-stopped on
  the inner validation rows; its probabilities are the *frozen* image input of every fusion arm with
  ``image="frozen"`` (the default) — ``image="joint"`` instead trains the CNN end to end with the head, as
  one Keras model per arm (slow; used as a check);

both cached on disk by content (:mod:`fusionlib.store`), so other processes and later runs reuse them. The
Keras heads of all arms with the same training recipe are then trained side by side in one bundle
(:mod:`fusionlib.bundle`; each head exactly as it would be alone); the robust fusions
(:mod:`fusionlib.fusions`) are fitted on the inner validation rows. Prediction-time switches (``inference``,
``rf_join``) reuse the trained head of the arm without them and act on the reporting rows.

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
from collections import defaultdict
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import console
from . import rf as rf_mod
from .bundle import INFERENCE, SELECT_ON, HeadSpec, fit_bundle, head_weights, predict_bundle
from .cohort import Cohort, CohortParams, make_synthetic_cohort
from .features import clinical_features, labels
from .fusions import ROBUST_HEADS, make_fusion
from .heads import KERAS_HEADS
from .metrics import PROBA, summarise, tidy_metrics
from .splits import Fold, patient_folds, scored_visits
from .store import cached, content_key, source_hash
from .train import TrainConfig, device_name, environment, fit_head, predict

#: The report's conditions and the corrected ones.
CONDITIONS = {
    "report": {"decomposition": "ordinal_original", "source": "in_sample"},
    "corrected": {"decomposition": "ordinal", "source": "oof_grouped"},
}
HEADS = (*KERAS_HEADS, *ROBUST_HEADS)
IMAGE_MODES = ("frozen", "joint", "chance")
RF_JOINS = ("correct", "shuffled")
#: The keys of ``train`` that define the image CNN (the image_only arm and the frozen image input).
CNN_KEYS = ("epochs", "patience", "width")


@dataclass(frozen=True)
class ArmSettings:
    """Everything that defines one arm.

    ``head``: one of :data:`HEADS`. ``decomposition`` / ``source`` / ``forest``: the RF switches
    (:mod:`fusionlib.rf`; ``forest="original"``: the original's forest, fit on visits repeated per image row
    and oversampled).
    ``image``: ``"frozen"`` (the fold's image CNN, trained once), ``"joint"`` (CNN trained end to end with the
    head) or ``"chance"`` (the frozen image probabilities permuted across rows: a thermal branch at chance).
    ``select_on``: the checkpoint rule (``"stop_loss"``, or ``"train_kappa"``: a training metric).
    ``inference``: how BatchNorm runs at prediction (:data:`fusionlib.bundle.INFERENCE`). ``rf_join``:
    ``"shuffled"`` attaches the validation visits' RF probabilities to the wrong visits. ``seed``: folds,
    RF, CNN and the heads' batch order; ``init_seed``: the heads' initial weights only. ``cohort`` overrides knobs of
    :class:`fusionlib.cohort.CohortParams`; ``train`` overrides fields of :class:`fusionlib.train.TrainConfig`
    (the CNN uses only :data:`CNN_KEYS` of it); ``rf_trees`` is the forest size (the original's 300).
    """

    head: str = "metadata_only"
    decomposition: str = "ordinal"
    source: str = "oof_grouped"
    forest: str = "project"
    image: str = "frozen"
    select_on: str = "stop_loss"
    inference: str = "moving"
    rf_join: str = "correct"
    n_splits: int = 5
    n_repeats: int = 3
    seed: int = 0
    init_seed: int = 0
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
        for key, allowed in (("head", HEADS), ("decomposition", rf_mod.DECOMPOSITIONS),
                             ("source", rf_mod.SOURCES), ("forest", rf_mod.FORESTS), ("image", IMAGE_MODES), ("select_on", SELECT_ON),
                             ("inference", INFERENCE), ("rf_join", RF_JOINS)):
            if getattr(s, key) not in allowed:
                raise ValueError(f"{key}={getattr(s, key)!r}: use one of {allowed}")
        bad = set(s.cohort) - {f.name for f in fields(CohortParams)}
        if bad:
            raise ValueError(f"unknown cohort knob(s) {sorted(bad)}")
        bad = set(s.train) - {f.name for f in fields(TrainConfig)}
        if bad:
            raise ValueError(f"unknown train setting(s) {sorted(bad)}")
        if s.n_splits < 2 or s.n_repeats < 1:
            raise ValueError(f"n_splits={s.n_splits}, n_repeats={s.n_repeats}: need n_splits >= 2, n_repeats >= 1")
        if s.head in ROBUST_HEADS and s.image == "joint":
            raise ValueError(f"head={s.head!r} fuses frozen probabilities: image='joint' does not apply")
        if s.head in ("image_only", "metadata_only") and s.image != "frozen":
            raise ValueError(f"head={s.head!r}: image={s.image!r} does not apply (use the default 'frozen')")
        return s

    @property
    def label(self) -> str:
        """The arm's name: ``name`` if given, else ``head|decomposition|source`` plus non-default switches."""
        if self.name:
            return self.name
        if self.head == "image_only":
            return "image_only"
        extra = [f"{k}={getattr(self, k)}" for k in ("forest", "image", "select_on", "inference", "rf_join",
                                                      "init_seed")
                 if getattr(self, k) != getattr(ArmSettings, k)]
        return "|".join([self.head, self.decomposition, self.source, *extra])

    def train_config(self) -> TrainConfig:
        return TrainConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in self.train.items()})

    def cnn_config(self) -> TrainConfig:
        """The image CNN's recipe: the defaults with only :data:`CNN_KEYS` taken from ``train``."""
        return TrainConfig(**{k: v for k, v in self.train.items() if k in CNN_KEYS})

    def cohort_params(self) -> CohortParams:
        return replace(CohortParams(), **self.cohort)


@dataclass
class ArmResult:
    """``metrics``: tidy table (arm, head, decomposition, source, split, repeat, fold, level, metric, value);
    ``predictions``: one row per (repeat, image row) of the reporting folds (and of the training folds with
    ``split = "train"``): repeat, fold, image, visit, patient, y, rf_I/P/R (the RF input), p_I/P/R, alpha
    (the learned alpha of fix2/fix23, else NaN); ``history``: per fold, the training curves, best epoch and the
    head's fitted weights; ``info``: settings, device, wall time, cohort."""

    settings: ArmSettings
    metrics: pd.DataFrame
    predictions: pd.DataFrame
    history: list[dict]
    info: dict


class _Data:
    """A cohort's arrays, features and folds for one context (split settings and features)."""

    def __init__(self, cohort: Cohort, s: ArmSettings):
        self.cohort = cohort
        self.y_visit = labels(cohort.visits)
        self.groups = cohort.groups_visit
        self.X = clinical_features(cohort.visits, include_temperatures=s.include_temperatures)
        self.img_visit = cohort.image_visit
        self.y_row = self.y_visit[self.img_visit]
        # Folds stratified over the visits that are scored (those with image rows; all of them in the synthetic
        # cohort, where this is the plain split); the others follow their patient and still train the RF.
        self.folds = patient_folds(self.y_visit, self.groups, s.n_splits, s.n_repeats, seed=s.seed,
                                   scored=scored_visits(self.img_visit, len(self.y_visit)))
        self.fingerprint = cohort.fingerprint()
        self.x_key = content_key(pd.util.hash_pandas_object(self.X, index=True).to_numpy(), self.y_visit,
                                 self.groups)

    def rows(self, fold: Fold) -> dict[str, np.ndarray]:
        """Image rows of the fold's inner training, inner validation ("stop") and reporting ("val") visits."""
        return {name: np.flatnonzero(np.isin(self.img_visit, idx)) for name, idx in
                (("train", fold.inner_train), ("stop", fold.inner_val), ("val", fold.val))}


def _rf_visit(data: _Data, fold: Fold, decomposition: str, source: str, s: ArmSettings) -> np.ndarray:
    """RF probabilities for every visit of the fold's train and val sets, ``(n_visits, 3)`` (NaN elsewhere);
    cached on disk by the features' content, the fold and the forest settings."""
    original = {} if s.forest == "project" else {
        "forest": s.forest, "repeats": np.bincount(data.img_visit, minlength=len(data.y_visit))}

    def compute():
        p_train, p_val = rf_mod.fold_probabilities(data.X, data.y_visit, data.groups, fold.train, fold.val, source,
                                                   decomposition, seed=s.seed, n_estimators=s.rf_trees, **original)
        out = np.full((len(data.y_visit), 3), np.nan)
        out[fold.train], out[fold.val] = p_train, p_val
        return {"p": out}

    key = content_key(data.x_key, fold.train, fold.val, decomposition, source, s.seed, s.rf_trees,
                      source_hash("rf", "features"), *original.values())
    return cached("rf", key, compute)["p"]


def _fold_seed(s: ArmSettings, fold: Fold) -> int:
    return s.seed * 1000 + fold.repeat * 100 + fold.fold


def _image_model(data: _Data, fold: Fold, rows: dict, s: ArmSettings) -> dict:
    """The fold's image CNN: ``{"p": (n_images, 3) probabilities for every image row, "loss", "val_loss",
    "best_epoch"}``; cached on disk by the pixels, rows, recipe and seed."""
    config = s.cnn_config()
    seed = _fold_seed(s, fold)

    def compute():
        pixels = data.cohort.pixels
        x_of = {name: {"image": pixels[r].astype("float32")} for name, r in rows.items() if name != "val"}
        fit = fit_head("image_only", x_of["train"], data.y_row[rows["train"]], x_of["stop"],
                       data.y_row[rows["stop"]], config, seed)
        p = np.concatenate([predict(fit.model, {"image": pixels[i:i + 2048].astype("float32")})
                            for i in range(0, len(pixels), 2048)])
        return {"p": p, "loss": np.array(fit.history["loss"]), "val_loss": np.array(fit.history["val_loss"]),
                "best_epoch": np.array(fit.best_epoch)}

    key = content_key(data.fingerprint, rows["train"], rows["stop"], asdict(config), seed,
                      source_hash("cnn", "heads", "train", "losses"))
    return cached("cnn", key, compute)


def _bundle_group(s: ArmSettings) -> str:
    """Arms with the same training recipe train in one bundle (their heads see the same batches)."""
    return json.dumps(asdict(s.train_config()), sort_keys=True)


def _head_key(s: ArmSettings) -> str:
    """Arms that differ only in prediction-time switches share one trained head; ``init_seed`` enters the key,
    and with it the head's initial weights (:func:`fusionlib.bundle.build_bundle`)."""
    return "|".join([s.head, s.decomposition, s.source, s.image, s.select_on, f"init{s.init_seed}"])


def _context(s: ArmSettings) -> str:
    return json.dumps({"cohort": s.cohort, "n_splits": s.n_splits, "n_repeats": s.n_repeats, "seed": s.seed,
                       "include_temperatures": s.include_temperatures, "rf_trees": s.rf_trees, "forest": s.forest,
                       "cnn": {k: v for k, v in s.train.items() if k in CNN_KEYS}}, sort_keys=True)


def _frame(split, fold, r, data, rf_rows, p, alpha=None) -> pd.DataFrame:
    return pd.DataFrame({
        "split": split, "repeat": fold.repeat, "fold": fold.fold, "image": r, "visit": data.img_visit[r],
        "patient": data.groups[data.img_visit[r]], "y": data.y_row[r],
        **{f"rf_{c}": rf_rows[:, j] for j, c in enumerate("IPR")},
        **{col: p[:, j] for j, col in enumerate(PROBA)},
        "alpha": np.nan if alpha is None else alpha})


def _shuffled_join(data: _Data, fold: Fold, rf_visit: np.ndarray, seed: int) -> np.ndarray:
    """The fold's validation visits get the RF probabilities of other validation visits (a join defect)."""
    out = rf_visit.copy()
    perm = np.random.default_rng(seed).permutation(len(fold.val))
    out[fold.val] = rf_visit[fold.val[perm]]
    return out


def _run_fold(arms: list[ArmSettings], data: _Data, fold: Fold, preds: dict, hist: dict) -> None:
    """Every arm's predictions for one fold, appended to ``preds[i]`` / ``hist[i]`` (i = arm index)."""
    s0 = arms[0]
    rows = data.rows(fold)
    seed = _fold_seed(s0, fold)
    reported = {"val": rows["val"], "train": np.concatenate([rows["train"], rows["stop"]])}
    needs_image = any(s.head not in ("metadata_only",) and s.image != "joint" for s in arms)
    img = _image_model(data, fold, rows, s0) if needs_image else None
    n_img = len(data.img_visit)
    zeros = np.zeros((n_img, 3), "float32")
    chance = img["p"][np.random.default_rng(seed + 7).permutation(n_img)] if img is not None else None

    def image_input(s):
        return zeros if s.head == "metadata_only" else (chance if s.image == "chance" else img["p"])

    rf_cache = {}

    def rf_rows(s, join="correct"):
        key = (s.decomposition, s.source)
        if key not in rf_cache:
            rf_cache[key] = _rf_visit(data, fold, s.decomposition, s.source, s0)
        v = rf_cache[key] if join == "correct" else _shuffled_join(data, fold, rf_cache[key], seed + 11)
        return v[data.img_visit]

    bundles = defaultdict(dict)           # recipe -> head key -> an arm index that trains it
    for i, s in enumerate(arms):
        if s.head == "image_only":
            preds[i] += [_frame(split, fold, r, data, np.full((len(r), 3), np.nan), img["p"][r])
                         for split, r in reported.items()]
            hist[i].append({"repeat": fold.repeat, "fold": fold.fold, "best_epoch": int(img["best_epoch"]),
                            "loss": img["loss"].tolist(), "val_loss": img["val_loss"].tolist()})
        elif s.head in ROBUST_HEADS:
            rf_r, im_r = rf_rows(s), image_input(s)
            fusion = make_fusion(s.head).fit(rf_r[rows["stop"]], im_r[rows["stop"]], data.y_row[rows["stop"]])
            for split, r in reported.items():
                rf_p = rf_rows(s, s.rf_join) if split == "val" else rf_r
                preds[i].append(_frame(split, fold, r, data, rf_p[r], fusion.predict_proba(rf_p[r], im_r[r])))
            hist[i].append({"repeat": fold.repeat, "fold": fold.fold, "params": fusion.params_})
        elif s.image == "joint":
            _run_joint(i, s, data, fold, rows, reported, rf_rows(s), preds, hist)
        else:
            bundles[_bundle_group(s)].setdefault(_head_key(s), i)
    for group in bundles.values():
        trained = [arms[i] for i in group.values()]
        specs = [HeadSpec(key, s.head, s.select_on) for key, s in zip(group, trained)]
        rf_in = np.stack([rf_rows(s) for s in trained], axis=1)
        im_in = np.stack([image_input(s) for s in trained], axis=1)
        fit = fit_bundle(specs, rf_in, im_in, data.y_row, rows["train"], rows["stop"], trained[0].train_config(), seed)
        weights = head_weights(fit)
        plain = {split: predict_bundle(fit, rf_in[r], im_in[r]) for split, r in reported.items()}
        for i, s in enumerate(arms):
            key = _head_key(s)
            if key not in group or _bundle_group(s) != _bundle_group(trained[0]):
                continue
            j = list(group).index(key)
            for split, r in reported.items():
                rf_j = rf_in[:, j] if (split == "train" or s.rf_join == "correct") else rf_rows(s, s.rf_join)
                if split == "train" or (s.inference == "moving" and s.rf_join == "correct"):
                    out = plain[split][key]          # prediction-time defects act on the reporting rows
                else:
                    out = predict_bundle(fit, _one(rf_in, rf_j, j, r), im_in[r], s.inference, y=data.y_row[r])[key]
                preds[i].append(_frame(split, fold, r, data, rf_j[r], out["p"], out.get("alpha")))
            hist[i].append({"repeat": fold.repeat, "fold": fold.fold, "best_epoch": fit.best_epoch[key],
                            **fit.history[key], "weights": {k: v.tolist() for k, v in weights[key].items()}})


def _one(rf_in: np.ndarray, rf_j: np.ndarray, j: int, r: np.ndarray) -> np.ndarray:
    """The bundle's RF input for rows ``r`` with head ``j``'s column replaced by ``rf_j``."""
    x = rf_in[r].copy()
    x[:, j] = rf_j[r]
    return x


def _run_joint(i, s, data, fold, rows, reported, rf_r, preds, hist) -> None:
    """One arm trained end to end with its CNN (``image="joint"``)."""
    config = s.train_config()
    pixels = data.cohort.pixels

    def x_of(r):
        return {"rf": rf_r[r].astype("float32"), "image": pixels[r].astype("float32")}

    fit = fit_head(s.head, x_of(rows["train"]), data.y_row[rows["train"]], x_of(rows["stop"]),
                   data.y_row[rows["stop"]], config, _fold_seed(s, fold) + 1_000_000 * s.init_seed)
    for split, r in reported.items():
        preds[i].append(_frame(split, fold, r, data, rf_r[r], predict(fit.model, x_of(r))))
    hist[i].append({"repeat": fold.repeat, "fold": fold.fold, "best_epoch": fit.best_epoch, **fit.history})


def run_arms(settings: list[dict | ArmSettings], progress: bool = True, out_dir: str | Path | None = None,
             cohort: Cohort | None = None) -> list[ArmResult]:
    """Run several arms, sharing folds, RF fits, the image CNN and head training (see the module docstring);
    results in the order of ``settings``. With ``out_dir``, each result is written to
    ``out_dir/<safe arm label>`` (atomically) once its context is done. ``cohort`` replaces the synthetic
    cohort (e.g. :func:`fusionlib.dfu.load_cohort`); otherwise each arm's ``cohort`` knobs make one."""
    arms = [ArmSettings.from_dict(raw) for raw in settings]
    labels_ = [a.label for a in arms]
    dup = {x for x in labels_ if labels_.count(x) > 1}
    if dup:
        raise ValueError(f"arm labels must be unique; repeated: {sorted(dup)} (set 'name')")
    contexts = defaultdict(list)
    for i, s in enumerate(arms):
        contexts[_context(s)].append(i)
    results: list = [None] * len(arms)
    # progress for the study's console (fusionlib.console: a no-op outside a study): folds done of all contexts
    folds_total = sum(arms[idx[0]].n_splits * arms[idx[0]].n_repeats for idx in contexts.values())
    folds_done, t_all = 0, time.perf_counter()
    for n_ctx, idx in enumerate(contexts.values(), start=1):
        group = [arms[i] for i in idx]
        t0 = time.perf_counter()
        data = _Data(cohort if cohort is not None else make_synthetic_cohort(group[0].cohort_params()), group[0])
        preds = defaultdict(list)
        hist = defaultdict(list)
        desc = f"{len(group)} arm(s), context {n_ctx}/{len(contexts)}"
        for k, fold in enumerate(tqdm(data.folds, desc=desc, disable=not progress, unit="fold"), start=1):
            _run_fold(group, data, fold, preds, hist)
            folds_done += 1
            console.progress(console.fold_message(n_ctx, len(contexts), len(group), k, len(data.folds),
                                                  time.perf_counter() - t0, folds_done, folds_total,
                                                  time.perf_counter() - t_all))
        wall = time.perf_counter() - t0
        env = environment()
        for j, (i, s) in enumerate(zip(idx, group)):
            predictions = pd.concat(preds[j], ignore_index=True)
            metrics = tidy_metrics(predictions)
            metrics.insert(0, "source", s.source if s.head != "image_only" else "")
            metrics.insert(0, "decomposition", s.decomposition if s.head != "image_only" else "")
            metrics.insert(0, "head", s.head)
            metrics.insert(0, "arm", s.label)
            info = {"settings": asdict(s), "train_config": asdict(s.train_config()), "device": env["device"],
                    "environment": env, "wall_s": wall / len(group), "context_wall_s": wall,
                    "context_arms": len(group), "cohort": data.cohort.params, "cohort_fingerprint": data.fingerprint,
                    "n_visits": int(len(data.y_visit)), "n_images": int(len(data.img_visit)),
                    "seeds": {"folds_rf_cnn": s.seed, "init": s.init_seed}}
            results[i] = ArmResult(s, metrics, predictions, hist[j], info)
            if out_dir is not None:
                write_result(results[i], Path(out_dir) / safe_name(s.label))
        if progress:
            print(f"context {n_ctx}/{len(contexts)}: {len(group)} arm(s) in {wall:.0f} s", file=sys.stderr, flush=True)
    return results


def run_arm(settings: dict | ArmSettings, cohort: Cohort | None = None, progress: bool = True) -> ArmResult:
    """Run one arm over all its folds (see :func:`run_arms`)."""
    return run_arms([settings], progress=progress, cohort=cohort)[0]


def safe_name(label: str) -> str:
    """A portable folder name for an arm label: ``|`` -> ``__``, anything but letters, digits, ``.=-`` -> ``_``."""
    import re

    return re.sub(r"[^A-Za-z0-9._=-]+", "_", label.replace(" | ", "|").replace("|", "__")).strip("_")


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


def load_or_run(settings: dict | ArmSettings, results_dir: str | Path | None = None,
                out_dir: str | Path | None = None, progress: bool = False) -> tuple[ArmResult, str]:
    """The arm's result from ``results_dir/<safe label>`` when it exists *and* was made with exactly these
    settings; otherwise run the arm (and write it to ``out_dir``). Returns the result and ``"loaded"`` or
    ``"ran"``."""
    s = ArmSettings.from_dict(settings)
    if results_dir:
        folder = Path(results_dir) / safe_name(s.label)
        if (folder / "info.json").exists():
            result = load_result(folder)
            if result.settings == s:
                return result, "loaded"
    result = run_arm(s, progress=progress)
    if out_dir:
        write_result(result, out_dir)
    return result, "ran"


def report_arms(conditions=("report", "corrected"), **common) -> list[dict]:
    """The report's seven arms under each named condition of :data:`CONDITIONS` (image_only once)."""
    arms = [{"head": "image_only", **common}]
    for cond in conditions:
        for head in KERAS_HEADS:
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
