"""Run arms: settings dicts in, tidy results out.

>>> from fusionlib.arms.runner import run_arm, run_arms
>>> result = run_arm({"head": "baseline", "decomposition": "ordinal_original", "source": "in_sample",
...                   "n_splits": 5, "n_repeats": 1})                                    # doctest: +SKIP
>>> result.metrics.head()                                                                # doctest: +SKIP

An arm is one head under one set of switches (:class:`fusionlib.arms.settings.ArmSettings`). For every repeated
patient-grouped fold, :func:`run_arms` computes once, for all the arms it is given (the fold's data object):

* the RF probabilities per visit for each (decomposition, source) that an arm needs (:mod:`fusionlib.models.rf`);
* the image CNN of the fold (the ``image_only`` arm), trained on the inner training rows and early-stopped on
  the inner validation rows; its probabilities are the *frozen* image input of every fusion arm with
  ``image="frozen"`` (the default) — ``image="joint"`` instead trains the CNN end to end with the head, as
  one Keras model per arm (slow; used as a check);

both cached on disk by content (:mod:`fusionlib.cache.store`), so other processes and later runs reuse them. Each arm
then runs by its head's kind (:data:`fusionlib.arms.settings.HEADS`), one method per kind: the CNN's own outputs
(``cnn``); the robust fusions (``robust``, :mod:`fusionlib.models.fusions`), fitted on the inner validation rows; the
Keras heads (``keras``), of all arms with the same training recipe trained side by side in one bundle
(:mod:`fusionlib.models.bundle`; each head exactly as it would be alone). Prediction-time switches (``inference``,
``rf_join``) reuse the trained head of the arm without them and act on the reporting rows. Results are
:class:`fusionlib.arms.results.ArmResult` (written and read by :mod:`fusionlib.arms.results`).

Progress and provenance come from the caller: ``on_fold`` is called with a :class:`FoldProgress` after every fold,
``provenance`` (a dict, e.g. a commit) is recorded in every result's ``info.json`` beside the machine facts.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fusionlib.models import rf as rf_mod
from fusionlib.models.bundle import HeadSpec, fit_bundle, head_weights, predict_bundle
from fusionlib.data.cohort import Cohort, make_synthetic_cohort
from fusionlib.data.features import clinical_features, labels
from fusionlib.models.fusions import make_fusion
from fusionlib.cache import code_key
from fusionlib.cache.hashing import content_key
from fusionlib.evaluation.metrics import PROBA, tidy_metrics
from fusionlib.arms.results import ArmPart, ArmResult, load_matching, load_part, safe_name, write_part, write_result
from fusionlib.arms.settings import CNN_KEYS, IMAGE, RF, ArmSettings
from fusionlib.data.splits import Fold, patient_folds, scored_visits
from fusionlib.cache.store import cached
from fusionlib.models.train import environment, fit_head, predict


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


def _fold_seed(s: ArmSettings, fold: Fold) -> int:
    return s.seed * 1000 + fold.repeat * 100 + fold.fold


class _FoldData:
    """What every arm of a context shares on one fold: its image rows, its seed, the RF probabilities of each
    (decomposition, source) and the fold's image CNN — both computed once, on first use, and cached on disk
    (:func:`fusionlib.cache.store.cached`) by content. ``s0``: the context's settings (seed, forest, CNN recipe)."""

    def __init__(self, data: _Data, fold: Fold, s0: ArmSettings, needs_image: bool):
        self.data, self.fold, self.s0 = data, fold, s0
        self.rows = data.rows(fold)
        self.seed = _fold_seed(s0, fold)
        self.reported = {"val": self.rows["val"], "train": np.concatenate([self.rows["train"], self.rows["stop"]])}
        self.img = self._image_model() if needs_image else None
        n_img = len(data.img_visit)
        self.zeros = np.zeros((n_img, 3), "float32")
        self.chance = (self.img["p"][np.random.default_rng(self.seed + 7).permutation(n_img)]
                       if self.img is not None else None)
        self._rf: dict = {}

    def _image_model(self) -> dict:
        """The fold's image CNN: ``{"p": (n_images, 3) probabilities for every image row, "loss", "val_loss",
        "best_epoch"}``; cached on disk by the pixels, rows, recipe and seed."""
        data, rows, config = self.data, self.rows, self.s0.cnn_config()

        def compute():
            pixels = data.cohort.pixels
            x_of = {name: {"image": pixels[r].astype("float32")} for name, r in rows.items() if name != "val"}
            fit = fit_head("image_only", x_of["train"], data.y_row[rows["train"]], x_of["stop"],
                           data.y_row[rows["stop"]], config, self.seed)
            p = np.concatenate([predict(fit.model, {"image": pixels[i:i + 2048].astype("float32")})
                                for i in range(0, len(pixels), 2048)])
            return {"p": p, "loss": np.array(fit.history["loss"]), "val_loss": np.array(fit.history["val_loss"]),
                    "best_epoch": np.array(fit.best_epoch)}

        key = content_key(data.fingerprint, rows["train"], rows["stop"], asdict(config), self.seed,
                          code_key(fit_head))
        return cached("cnn", key, compute)

    def _rf_visit(self, decomposition: str, source: str) -> np.ndarray:
        """RF probabilities for every visit of the fold's train and val sets, ``(n_visits, 3)`` (NaN elsewhere);
        cached on disk by the features' content, the fold and the forest settings."""
        data, fold, s = self.data, self.fold, self.s0
        original = {} if s.forest == "project" else {
            "forest": s.forest, "repeats": np.bincount(data.img_visit, minlength=len(data.y_visit))}

        def compute():
            p_train, p_val = rf_mod.fold_probabilities(data.X, data.y_visit, data.groups, fold.train, fold.val,
                                                       source, decomposition, seed=s.seed, n_estimators=s.rf_trees,
                                                       **original)
            out = np.full((len(data.y_visit), 3), np.nan)
            out[fold.train], out[fold.val] = p_train, p_val
            return {"p": out}

        key = content_key(data.x_key, fold.train, fold.val, decomposition, source, s.seed, s.rf_trees,
                          code_key(rf_mod.fold_probabilities), *original.values())
        return cached("rf", key, compute)["p"]

    def rf_rows(self, s: ArmSettings, join: str = "correct") -> np.ndarray:
        """The RF input of arm ``s`` per image row, ``(n_images, 3)``; ``join="shuffled"``: the validation visits
        get other validation visits' probabilities (a join defect)."""
        key = (s.decomposition, s.source)
        if key not in self._rf:
            self._rf[key] = self._rf_visit(*key)
        v = self._rf[key]
        if join != "correct":
            v = v.copy()
            val = self.fold.val
            v[val] = self._rf[key][val[np.random.default_rng(self.seed + 11).permutation(len(val))]]
        return v[self.data.img_visit]

    def image_input(self, s: ArmSettings) -> np.ndarray:
        """The image input of arm ``s`` per image row: the fold's CNN outputs (``image="chance"``: permuted
        across rows; zeros for a head without an image input)."""
        if IMAGE not in s.spec.inputs:
            return self.zeros
        return self.chance if s.image == "chance" else self.img["p"]

    def frame(self, split: str, r: np.ndarray, rf_rows: np.ndarray, p: np.ndarray, alpha=None) -> pd.DataFrame:
        """Prediction rows ``r`` of one split (the predictions table's columns, see :class:`ArmResult`)."""
        d, fold = self.data, self.fold
        return pd.DataFrame({
            "split": split, "repeat": fold.repeat, "fold": fold.fold, "image": r, "visit": d.img_visit[r],
            "patient": d.groups[d.img_visit[r]], "y": d.y_row[r],
            **{f"rf_{c}": rf_rows[:, j] for j, c in enumerate("IPR")},
            **{col: p[:, j] for j, col in enumerate(PROBA)},
            "alpha": np.nan if alpha is None else alpha})

    def fold_record(self, **entries) -> dict:
        return {"repeat": self.fold.repeat, "fold": self.fold.fold, **entries}


def _bundle_group(s: ArmSettings) -> str:
    """Arms with the same training recipe train in one bundle (their heads see the same batches)."""
    return json.dumps(asdict(s.train_config()), sort_keys=True)


def _head_key(s: ArmSettings) -> str:
    """Arms that differ only in prediction-time switches share one trained head; ``init_seed`` enters the key,
    and with it the head's initial weights (:func:`fusionlib.models.bundle.build_bundle`)."""
    return "|".join([s.head, s.decomposition, s.source, s.image, s.select_on, f"init{s.init_seed}"])


def _context(s: ArmSettings) -> str:
    return json.dumps({"cohort": s.cohort, "n_splits": s.n_splits, "n_repeats": s.n_repeats, "seed": s.seed,
                       "include_temperatures": s.include_temperatures, "rf_trees": s.rf_trees, "forest": s.forest,
                       "cnn": {k: v for k, v in s.train.items() if k in CNN_KEYS}}, sort_keys=True)


class _FoldRun:
    """Every arm of a context on one fold: one method per head kind (:data:`fusionlib.arms.settings.KINDS`), each
    appending the arm's prediction frames to ``preds[i]`` and its fold record to ``hist[i]`` (i = arm index)."""

    def __init__(self, arms: list[ArmSettings], data: _Data, fold: Fold, preds: dict, hist: dict):
        self.arms, self.preds, self.hist = arms, preds, hist
        needs_image = any(IMAGE in s.spec.inputs and s.image != "joint" for s in arms)
        self.fd = _FoldData(data, fold, arms[0], needs_image)
        self.bundles: dict = defaultdict(dict)     # recipe -> head key -> an arm index that trains it

    def run(self) -> None:
        for i, s in enumerate(self.arms):
            getattr(self, s.spec.kind)(i, s)
        for group in self.bundles.values():
            self.train_bundle(group)

    def cnn(self, i: int, s: ArmSettings) -> None:
        """The fold's image CNN itself (``image_only``)."""
        fd, img = self.fd, self.fd.img
        self.preds[i] += [fd.frame(split, r, np.full((len(r), 3), np.nan), img["p"][r])
                          for split, r in fd.reported.items()]
        self.hist[i].append(fd.fold_record(best_epoch=int(img["best_epoch"]), loss=img["loss"].tolist(),
                                           val_loss=img["val_loss"].tolist()))

    def robust(self, i: int, s: ArmSettings) -> None:
        """A robust fusion (:mod:`fusionlib.models.fusions`), fitted on the inner validation rows."""
        fd = self.fd
        rf_r, im_r, stop = fd.rf_rows(s), fd.image_input(s), fd.rows["stop"]
        fusion = make_fusion(s.head).fit(rf_r[stop], im_r[stop], fd.data.y_row[stop])
        for split, r in fd.reported.items():
            rf_p = fd.rf_rows(s, s.rf_join) if split == "val" else rf_r
            self.preds[i].append(fd.frame(split, r, rf_p[r], fusion.predict_proba(rf_p[r], im_r[r])))
        self.hist[i].append(fd.fold_record(params=fusion.params_))

    def keras(self, i: int, s: ArmSettings) -> None:
        """A Keras head: trained end to end with its CNN (``image="joint"``) now, else queued for its bundle."""
        if s.image == "joint":
            self.joint(i, s)
        else:
            self.bundles[_bundle_group(s)].setdefault(_head_key(s), i)

    def joint(self, i: int, s: ArmSettings) -> None:
        """One arm trained end to end with its CNN, as one Keras model."""
        fd, config, pixels = self.fd, s.train_config(), self.fd.data.cohort.pixels
        rf_r, y, rows = fd.rf_rows(s), fd.data.y_row, fd.rows

        def x_of(r):
            return {"rf": rf_r[r].astype("float32"), "image": pixels[r].astype("float32")}

        fit = fit_head(s.head, x_of(rows["train"]), y[rows["train"]], x_of(rows["stop"]), y[rows["stop"]], config,
                       _fold_seed(s, fd.fold) + 1_000_000 * s.init_seed)
        for split, r in fd.reported.items():
            self.preds[i].append(fd.frame(split, r, rf_r[r], predict(fit.model, x_of(r))))
        self.hist[i].append(fd.fold_record(best_epoch=fit.best_epoch, **fit.history))

    def train_bundle(self, group: dict) -> None:
        """The Keras heads of one training recipe, side by side in one bundle (:mod:`fusionlib.models.bundle`); then the
        predictions of every arm that shares one of them (prediction-time switches act on the reporting rows)."""
        fd, arms = self.fd, self.arms
        trained = [arms[i] for i in group.values()]
        specs = [HeadSpec(key, s.head, s.select_on) for key, s in zip(group, trained)]
        rf_in = np.stack([fd.rf_rows(s) for s in trained], axis=1)
        im_in = np.stack([fd.image_input(s) for s in trained], axis=1)
        fit = fit_bundle(specs, rf_in, im_in, fd.data.y_row, fd.rows["train"], fd.rows["stop"],
                         trained[0].train_config(), fd.seed)
        weights = head_weights(fit)
        plain = {split: predict_bundle(fit, rf_in[r], im_in[r]) for split, r in fd.reported.items()}
        for i, s in enumerate(arms):
            key = _head_key(s)
            if key not in group or _bundle_group(s) != _bundle_group(trained[0]):
                continue
            j = list(group).index(key)
            for split, r in fd.reported.items():
                rf_j = rf_in[:, j] if (split == "train" or s.rf_join == "correct") else fd.rf_rows(s, s.rf_join)
                if split == "train" or (s.inference == "moving" and s.rf_join == "correct"):
                    out = plain[split][key]          # prediction-time defects act on the reporting rows
                else:
                    out = predict_bundle(fit, _one(rf_in, rf_j, j, r), im_in[r], s.inference, y=fd.data.y_row[r])[key]
                self.preds[i].append(fd.frame(split, r, rf_j[r], out["p"], out.get("alpha")))
            self.hist[i].append(fd.fold_record(best_epoch=fit.best_epoch[key], **fit.history[key],
                                               weights={k: v.tolist() for k, v in weights[key].items()}))


def _one(rf_in: np.ndarray, rf_j: np.ndarray, j: int, r: np.ndarray) -> np.ndarray:
    """The bundle's RF input for rows ``r`` with head ``j``'s column replaced by ``rf_j``."""
    x = rf_in[r].copy()
    x[:, j] = rf_j[r]
    return x


def _cohort_facts(data: _Data) -> dict:
    """What an arm's ``info.json`` records of its cohort."""
    return {"cohort": data.cohort.params, "cohort_fingerprint": data.fingerprint,
            "n_visits": int(len(data.y_visit)), "n_images": int(len(data.img_visit))}


def _arm_result(s: ArmSettings, cohort: dict, predictions: pd.DataFrame, history: list, wall: float, n_arms: int,
                env: dict) -> ArmResult:
    """An arm's result from its predictions: the tidy metrics (with the arm's identity) and ``info``
    (``cohort``: :func:`_cohort_facts`)."""
    metrics = tidy_metrics(predictions)
    has_rf = RF in s.spec.inputs
    metrics.insert(0, "source", s.source if has_rf else "")
    metrics.insert(0, "decomposition", s.decomposition if has_rf else "")
    metrics.insert(0, "head", s.head)
    metrics.insert(0, "arm", s.label)
    info = {"settings": asdict(s), "train_config": asdict(s.train_config()), "device": env["device"],
            "environment": env, "wall_s": wall / n_arms, "context_wall_s": wall,
            "context_arms": n_arms, **cohort, "seeds": {"folds_rf_cnn": s.seed, "init": s.init_seed}}
    return ArmResult(s, metrics, predictions, history, info)


def part_folds(n_folds: int, part: tuple[int, int]) -> list[int]:
    """The fold indices of part ``(k, n)`` (k from 1) of ``n_folds`` folds: ``n`` contiguous, nearly equal runs."""
    k, n = part
    if not 1 <= k <= n or n > n_folds:
        raise ValueError(f"part={part}: need 1 <= k <= n <= {n_folds} (the context's folds)")
    return list(range((k - 1) * n_folds // n, k * n_folds // n))


@dataclass(frozen=True)
class FoldProgress:
    """Where :func:`run_arms` is after a fold: context ``context`` of ``n_contexts`` (arms sharing folds and fits),
    its ``n_arms`` arms, fold ``fold`` of ``n_folds``; seconds spent in this context and in all; folds done of all."""

    context: int
    n_contexts: int
    n_arms: int
    fold: int
    n_folds: int
    elapsed_context: float
    folds_done: int
    folds_total: int
    elapsed_total: float


def run_arms(settings: list[dict | ArmSettings], progress: bool = True, out_dir: str | Path | None = None,
             cohort: Cohort | None = None, on_fold=None, provenance: dict | None = None,
             part: tuple[int, int] | None = None) -> list[ArmResult] | list[ArmPart]:
    """Run several arms, sharing folds, RF fits, the image CNN and head training (see the module docstring);
    results in the order of ``settings``. With ``out_dir``, each result is written to
    ``out_dir/<safe arm label>`` (atomically) once its context is done. ``cohort`` replaces the synthetic
    cohort (e.g. :func:`fusionlib.data.dfu.load_cohort`); otherwise each arm's ``cohort`` knobs make one.
    ``on_fold(FoldProgress)`` is called after every fold; ``provenance`` (a dict of strings) is recorded in each
    result's ``info["environment"]`` (:func:`fusionlib.models.train.environment`).

    ``part=(k, n)`` runs only the k-th of n contiguous runs of every context's folds (:func:`part_folds`) and
    returns (and writes, :func:`fusionlib.arms.results.write_part`) :class:`fusionlib.arms.results.ArmPart` s;
    :func:`merge_parts` makes the n parts the results one run of every fold gives."""
    arms = [ArmSettings.from_dict(raw) for raw in settings]
    labels_ = [a.label for a in arms]
    dup = {x for x in labels_ if labels_.count(x) > 1}
    if dup:
        raise ValueError(f"arm labels must be unique; repeated: {sorted(dup)} (set 'name')")
    contexts = defaultdict(list)
    for i, s in enumerate(arms):
        contexts[_context(s)].append(i)
    results: list = [None] * len(arms)
    def n_of(s: ArmSettings) -> int:
        n = s.n_splits * s.n_repeats
        return n if part is None else len(part_folds(n, part))

    folds_total = sum(n_of(arms[idx[0]]) for idx in contexts.values())
    folds_done, t_all = 0, time.perf_counter()
    for n_ctx, idx in enumerate(contexts.values(), start=1):
        group = [arms[i] for i in idx]
        t0 = time.perf_counter()
        data = _Data(cohort if cohort is not None else make_synthetic_cohort(group[0].cohort_params()), group[0])
        chosen = range(len(data.folds)) if part is None else part_folds(len(data.folds), part)
        preds = defaultdict(list)
        hist = defaultdict(list)
        desc = f"{len(group)} arm(s), context {n_ctx}/{len(contexts)}"
        for k, f in enumerate(tqdm(chosen, desc=desc, disable=not progress, unit="fold"), start=1):
            _FoldRun(group, data, data.folds[f], preds, hist).run()
            folds_done += 1
            if on_fold is not None:
                on_fold(FoldProgress(n_ctx, len(contexts), len(group), k, len(chosen), time.perf_counter() - t0,
                                     folds_done, folds_total, time.perf_counter() - t_all))
        wall = time.perf_counter() - t0
        env = environment(provenance)
        for j, (i, s) in enumerate(zip(idx, group)):
            if part is not None:
                results[i] = ArmPart(s, pd.concat(preds[j], ignore_index=True), hist[j],
                                     {"settings": asdict(s), "part": list(part), "folds": list(chosen),
                                      "context_wall_s": wall, "context_arms": len(group), "environment": env,
                                      "cohort": _cohort_facts(data)})
                if out_dir is not None:
                    write_part(results[i], Path(out_dir) / safe_name(s.label))
                continue
            results[i] = _arm_result(s, _cohort_facts(data), pd.concat(preds[j], ignore_index=True), hist[j], wall,
                                     len(group), env)
            if out_dir is not None:
                write_result(results[i], Path(out_dir) / safe_name(s.label))
        if progress:
            print(f"context {n_ctx}/{len(contexts)}: {len(group)} arm(s) in {wall:.0f} s", file=sys.stderr, flush=True)
    return results


def merge_parts(settings: list[dict | ArmSettings], part_dirs: list[str | Path],
                out_dir: str | Path | None = None) -> list[ArmResult]:
    """The results of ``settings`` from their parts: ``part_dirs`` are the ``out_dir`` s of the n runs of
    :func:`run_arms` with ``part=(1, n)`` ... ``(n, n)``, in any order. Each arm's predictions and history are
    joined in fold order, its metrics computed from them: the result one run of every fold gives (its wall time is
    the parts' summed; ``info["parts"]`` records each part's folds, time and device). Written to
    ``out_dir/<safe arm label>`` when given. ``FileNotFoundError``/``ValueError`` name a missing or foreign part."""
    arms = [ArmSettings.from_dict(raw) for raw in settings]
    results = []
    for s in arms:
        parts = sorted((load_part(Path(d) / safe_name(s.label)) for d in part_dirs), key=lambda p: p.info["part"][0])
        got = [p.info["part"] for p in parts]
        n = len(parts)
        if got != [[k, n] for k in range(1, n + 1)]:
            raise ValueError(f"arm {s.label!r}: parts {got} in {[str(d) for d in part_dirs]}, need 1..{n} of {n}")
        settings_json = json.loads(json.dumps(asdict(s), default=str))     # as part.json holds it (tuples: lists)
        for d, p in zip(part_dirs, parts):
            if p.info["settings"] != settings_json:
                raise ValueError(f"{Path(d) / safe_name(s.label)}: a part of other settings than arm {s.label!r}")
        wall = sum(p.info["context_wall_s"] for p in parts)
        result = _arm_result(s, parts[0].info["cohort"], pd.concat([p.predictions for p in parts], ignore_index=True),
                             [h for p in parts for h in p.history], wall, parts[0].info["context_arms"],
                             parts[0].info["environment"])
        result.info["parts"] = [{"part": p.info["part"], "folds": p.info["folds"],
                                 "context_wall_s": p.info["context_wall_s"],
                                 "device": p.info["environment"].get("device")} for p in parts]
        if out_dir is not None:
            write_result(result, Path(out_dir) / safe_name(s.label))
        results.append(result)
    return results


def run_arm(settings: dict | ArmSettings, cohort: Cohort | None = None, progress: bool = True,
            provenance: dict | None = None) -> ArmResult:
    """Run one arm over all its folds (see :func:`run_arms`)."""
    return run_arms([settings], progress=progress, cohort=cohort, provenance=provenance)[0]


def load_or_run(settings: dict | ArmSettings, results_dir: str | Path | None = None,
                out_dir: str | Path | None = None, progress: bool = False,
                provenance: dict | None = None) -> tuple[ArmResult, str]:
    """The arm's result from ``results_dir/<safe label>`` when it exists *and* was made with exactly these
    settings (:func:`fusionlib.arms.results.load_matching`); otherwise run the arm (and write it to ``out_dir``).
    Returns the result and ``"loaded"`` or ``"ran"``."""
    s = ArmSettings.from_dict(settings)
    result = load_matching(s, results_dir)
    if result is not None:
        return result, "loaded"
    result = run_arm(s, progress=progress, provenance=provenance)
    if out_dir:
        write_result(result, out_dir)
    return result, "ran"
