"""Two questions the replay of the original protocol answers (issue 10, items 2 and 4).

**How much does this protocol move when nothing is wrong?** (:func:`split_distribution`). The report set a
5-fold metadata number (0.254) beside 3-fold fusion numbers (0.022) and single-fold fix numbers (0.0136). Here
the RF alone (e0ba25c's metadata head: its prediction is the RF argmax) is scored under the original protocol
(:mod:`fusionstudy.replay.protocol`, every defect as recorded) on many seeded patient splits of the real rows: the
original's fold generator with ``random_state`` = each split seed (the original's own ``CV_FOLD_SEED`` knob),
the per-fold seeds of the forests as there. :func:`distribution_summary` says where the recorded numbers fall.
The forests may be smaller than the original's 646 trees to keep the book's cost down;
:func:`forest_size_check` measures on a subset of splits how much that changes κ.

**Could normalising the RF vector move a fixed 0.7 x RF + 0.3 x image average?** (:func:`normalisation_effect`).
The original's Jan 5 log credits normalisation with a jump from κ -0.007 to 0.3158. Dividing a row by a positive
number never changes its argmax, so the RF alone cannot move; in a fixed average it shifts the weight between
RF and image from 0.7 to 0.7 / s (s = 1 + p2 (1 - p1) in [1, 1.25]). Measured on the replay's folds with image
probabilities from the semi-real cohort's rendered-thermal CNN (:func:`semi_real_image_probabilities`) and bounded
over every possible image vector on a grid of the probability simplex.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from fusionstudy import records
from fusionstudy.replay import protocol as replay
from fusionlib import io
from fusionlib.cache.hashing import content_key

if TYPE_CHECKING:
    from fusionstudy.replay.facts import FixedAverage, Normalisation, ReplayFacts

def recorded_marks() -> tuple:
    """The recorded numbers placed in the distribution, from :mod:`fusionstudy.report`: (label, value, which
    distribution) for the recorded split's fold 1 and mean, the report's 3-fold fusion and 5-fold metadata."""
    from fusionstudy.report import HISTORY, ORIGINAL_3FOLD

    fold1, md = ORIGINAL_3FOLD[0]["kappa_quadratic"], HISTORY["metadata_3fold"].value
    fusion, md5 = HISTORY["fusion_3fold"].value, HISTORY["metadata_5fold"].value
    return ((f"{fold1:g}: fold 1 of the recorded 3-fold split (= Fix #2+#3's number)", fold1, "3-fold fold"),
            (f"{md:g}: mean of the recorded 3-fold split (metadata alone)", md, "3-fold mean"),
            (f"{fusion:g}: the report's 3-fold fusion mean", fusion, "3-fold mean"),
            (f"{md5:g}: the report's 5-fold metadata mean", md5, "5-fold mean"))


def split_seeds(n: int, include: int = replay.FOLD_SEED) -> list[int]:
    """``n`` split seeds: ``include`` (the recorded split's seed) first, then 0, 1, 2, ... skipping it."""
    if n < 1:
        return []
    return [include] + [s for s in range(n + 1) if s != include][: n - 1]


def _kappas(stage: dict) -> tuple[float, float]:
    pred = replay.ordinal_vector(stage["p_val"], "normalised").argmax(1)
    y = stage["y_val"]
    return (float(cohen_kappa_score(y, pred, labels=[0, 1, 2], weights="quadratic")),
            float(cohen_kappa_score(y, pred, labels=[0, 1, 2])))


def distribution_jobs(folder: str, designs: dict, n_trees: int) -> tuple[list[tuple], list[dict]]:
    """The forest stages of :func:`split_distribution`: ``(n_folds, split seed, fold)`` keys and the
    :func:`fusionstudy.replay.protocol.forest_stage` jobs (keyword dicts, validation outputs) of every fold of
    every split of ``designs`` (``{n_folds: n_splits}``) with forests of ``n_trees`` trees."""
    protocol = replay.Protocol(n_trees=n_trees).forest_settings()
    keys = [(k, seed, f) for k, n in designs.items() for seed in split_seeds(n) for f in range(k)]
    return keys, [{"data_dir": folder, "n_folds": k, "split_seed": seed, "fold": f, "protocol": protocol,
                   "outputs": "validation"} for k, seed, f in keys]


def split_distribution(data_dir: str | None = None, designs: dict | None = None, n_trees: int = 646,
                       engine: str = "auto", n_jobs: int = 2) -> pd.DataFrame:
    """RF-alone κ per fold over seeded patient splits under the original protocol.

    ``designs``: ``{n_folds: n_splits}`` (default ``{3: 100, 5: 100}``); split seeds from :func:`split_seeds`.
    Each fold is one :func:`fusionstudy.replay.protocol.forest_stage` (validation outputs only), cached on disk, computed
    ``n_jobs`` at a time (forests single-threaded). Returns one row per (design, split, fold): ``n_folds``,
    ``split_seed``, ``fold`` (1-based), ``kappa_quadratic``, ``kappa_unweighted``, ``n_val_rows``, ``n_trees``.
    """
    keys, jobs = distribution_jobs(str(replay.read_rows(data_dir).path.parent), designs or {3: 100, 5: 100}, n_trees)
    out = []
    for (k, seed, f), st in zip(keys, replay.stages(jobs, engine, n_jobs)):
        kq, ku = _kappas(st)
        out.append({"n_folds": k, "split_seed": seed, "fold": f + 1, "kappa_quadratic": kq, "kappa_unweighted": ku,
                    "n_val_rows": int(len(st["y_val"])), "n_trees": n_trees})
    return pd.DataFrame(out)


def split_means(dist: pd.DataFrame) -> pd.DataFrame:
    """Per split: mean and minimum fold κ (quadratic)."""
    g = dist.groupby(["n_folds", "split_seed"])["kappa_quadratic"]
    return pd.DataFrame({"mean": g.mean(), "min": g.min()}).reset_index()


def ordinal(n: float) -> str:
    """``1`` -> ``"1st"``, ``2`` -> ``"2nd"``, ``13`` -> ``"13th"``, ``98`` -> ``"98th"`` (rounded to an integer)."""
    n = int(round(n))
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def percentile_of(values, x: float) -> float:
    """Share (in %) of ``values`` at or below ``x``."""
    values = np.asarray(values, dtype=float)
    return float(100.0 * np.mean(values <= x)) if len(values) else float("nan")


def distribution_summary(dist: pd.DataFrame, marks: tuple | None = None) -> pd.DataFrame:
    """One table: per design, the spread of fold κ and of split means (median and 5-95 % range), where each
    recorded number of :func:`recorded_marks` falls (percentile), and how often a split has a fold at or below the
    recorded split's fold 1."""
    marks = marks or recorded_marks()
    low = marks[0][1]
    means = split_means(dist)
    rows = []
    for k in sorted(dist["n_folds"].unique()):
        folds = dist[dist["n_folds"] == k]["kappa_quadratic"]
        m = means[means["n_folds"] == k]
        for what, vals in ((f"{k}-fold: κ of single folds", folds), (f"{k}-fold: mean κ of a split", m["mean"])):
            q = np.percentile(vals, [5, 50, 95])
            rows.append({"quantity": what, "value": f"median {q[1]:.3f}, 5–95 % {q[0]:.3f} to {q[2]:.3f}",
                         "n": int(len(vals))})
        share = 100.0 * np.mean(m["min"] <= low)
        rows.append({"quantity": f"{k}-fold: splits with a fold at or below {low:g}",
                     "value": f"{share:.0f} % ({int((m['min'] <= low).sum())} of {len(m)})", "n": int(len(m))})
    for label, x, where in marks:
        k = int(where[0])
        if k not in set(dist["n_folds"]):
            continue
        vals = (dist[dist["n_folds"] == k]["kappa_quadratic"] if where.endswith("fold")
                else means[means["n_folds"] == k]["mean"])
        rows.append({"quantity": f"{label}: percentile among {where} κ",
                     "value": ordinal(percentile_of(vals, x)), "n": int(len(vals))})
    return pd.DataFrame(rows)


def forest_size_check(data_dir: str | None = None, n_folds: int = 3, n_splits: int = 10, small: int = 160,
                      full: int = 646, engine: str = "auto", n_jobs: int = 2) -> pd.DataFrame:
    """Fold κ with ``small`` and ``full`` trees on the first ``n_splits`` splits of ``n_folds`` folds; one row
    per fold with both κ and their difference."""
    a = split_distribution(data_dir, {n_folds: n_splits}, small, engine, n_jobs)
    b = split_distribution(data_dir, {n_folds: n_splits}, full, engine, n_jobs)
    keys = ["n_folds", "split_seed", "fold"]
    out = a[keys + ["kappa_quadratic"]].merge(b[keys + ["kappa_quadratic"]], on=keys, suffixes=(f" ({small} trees)",
                                                                                                   f" ({full} trees)"))
    out["difference"] = out.iloc[:, -2] - out.iloc[:, -1]
    return out


def forest_size_summary(check: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd of fold κ under both forest sizes, mean difference, mean absolute difference, correlation."""
    small, full = check.columns[3], check.columns[4]
    means = check.groupby("split_seed")[[small, full]].mean()
    rows = [("folds compared", f"{len(check)}")]
    for col in (small, full):
        rows.append((f"mean (sd) fold κ, {col.split('(')[1][:-1]}", f"{check[col].mean():.3f} ({check[col].std():.3f})"))
    rows += [("mean difference (small - full)", f"{check['difference'].mean():+.3f}"),
             ("mean absolute difference per fold", f"{check['difference'].abs().mean():.3f}"),
             ("correlation of fold κ", f"{np.corrcoef(check[small], check[full])[0, 1]:.2f}"),
             ("mean absolute difference of split means", f"{(means[small] - means[full]).abs().mean():.3f}")]
    return pd.DataFrame(rows, columns=["quantity", "value"])


# ---------------------------------------------------------------------------------------------- normalisation
def _fixed_average(rf: np.ndarray, image: np.ndarray, weight: float) -> np.ndarray:
    return weight * rf + (1 - weight) * image


def simplex_grid(step: float = 0.01) -> np.ndarray:
    """Every probability vector of three classes on a grid of ``step``; ``(m, 3)``."""
    n = int(round(1 / step))
    a, b = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = a + b <= n
    a, b = a[keep], b[keep]
    return np.column_stack([a, b, n - a - b]) / n


def flippable(rf_raw: np.ndarray, weight: float = 0.7, grid: np.ndarray | None = None, chunk: int = 256
              ) -> tuple[np.ndarray, np.ndarray]:
    """For each row of the unnormalised RF vector ``rf_raw`` ``(n, 3)``: whether some image vector of ``grid``
    (default :func:`simplex_grid`) gives ``weight x RF + (1 - weight) x image`` another argmax with the RF vector
    normalised than without, and the share of grid vectors that do. Returns two ``(n,)`` arrays."""
    grid = simplex_grid() if grid is None else grid
    normed = rf_raw / rf_raw.sum(axis=1, keepdims=True)
    any_flip, share = np.zeros(len(rf_raw), bool), np.zeros(len(rf_raw))
    for i in range(0, len(rf_raw), chunk):
        a = (weight * rf_raw[i:i + chunk, None, :] + (1 - weight) * grid[None]).argmax(-1)
        b = (weight * normed[i:i + chunk, None, :] + (1 - weight) * grid[None]).argmax(-1)
        differ = a != b
        any_flip[i:i + chunk], share[i:i + chunk] = differ.any(1), differ.mean(1)
    return any_flip, share


def normalisation_effect(stages: dict, image: dict | None = None, weight: float = 0.7, grid_step: float = 0.01
                         ) -> "Normalisation":
    """Does normalising the RF vector change predictions? On the validation rows of the replay's folds
    (``stages``: fold -> :func:`fusionstudy.replay.protocol.forest_stage` output; ``image``: fold -> ``(n_val, 3)`` image
    probabilities or None): the RF alone; the fixed average with ``image``; the fixed average bounded over every
    image vector of the simplex grid — predictions changed, κ without and with normalisation (pooled over the
    folds' validation rows). :meth:`fusionstudy.replay.facts.Normalisation.table` is the chapter's table."""
    from fusionstudy.replay.facts import Normalisation, Normalised

    grid = simplex_grid(grid_step)
    raw = {f: replay.ordinal_vector(st["p_val"], "ordinal_original") for f, st in stages.items()}
    y = np.concatenate([st["y_val"] for st in stages.values()])
    r = np.concatenate(list(raw.values()))
    n = r / r.sum(1, keepdims=True)

    def kq(pred):
        return float(cohen_kappa_score(y, pred, labels=[0, 1, 2], weights="quadratic"))

    rf = Normalised("RF alone (argmax of the RF vector)", int((r.argmax(1) != n.argmax(1)).sum()), kq(r.argmax(1)),
                    kq(n.argmax(1)))
    average = alone = None
    if image is not None:
        q = np.concatenate([image[f] for f in stages])
        a, b = _fixed_average(r, q, weight).argmax(1), _fixed_average(n, q, weight).argmax(1)
        average = Normalised(f"{weight:g} × RF + {1 - weight:.1f} × image (semi-real CNN)", int((a != b).sum()),
                             kq(a), kq(b))
        alone = Normalised("image alone (semi-real CNN)", 0, kq(q.argmax(1)), kq(q.argmax(1)))
    any_flip, share = flippable(r, weight, grid)
    return Normalisation(rows=len(y), weight=weight, grid_points=len(grid), rf=rf, average=average, image=alone,
                         any_image_changed=int(any_flip.sum()), any_image_share=float(share.mean()))


def fixed_average(stages: dict, image: dict, weight: float = 0.7) -> "FixedAverage":
    """Per fold of the replay: κ of the RF alone, of the image alone and of the fixed ``weight`` x RF + rest x image
    average (RF vector normalised, as from 9a8737d on), and how often the average predicts the RF's argmax
    (:meth:`fusionstudy.replay.facts.FixedAverage.table` is the chapter's table)."""
    from fusionstudy.replay.facts import FixedAverage

    cols = {"rf": [], "image": [], "average": [], "agreement": []}
    for f, st in stages.items():
        y, rf = st["y_val"], replay.ordinal_vector(st["p_val"], "normalised")
        avg = _fixed_average(rf, image[f], weight)

        def kq(pred):
            return float(cohen_kappa_score(y, pred, labels=[0, 1, 2], weights="quadratic"))

        for k, v in (("rf", kq(rf.argmax(1))), ("image", kq(image[f].argmax(1))), ("average", kq(avg.argmax(1))),
                     ("agreement", float(np.mean(avg.argmax(1) == rf.argmax(1))))):
            cols[k].append(v)
    return FixedAverage(weight=weight, **{k: tuple(v) for k, v in cols.items()})


def semi_real_image_probabilities(stages: dict, data_dir: str | None = None, scale: str = "default",
                                  seed: int = 0, draws_per_visit: int = 2) -> tuple[dict, dict]:
    """Honest image probabilities for the replay's validation rows: per fold, a thermal CNN
    (:func:`fusionlib.models.train.fit_head`, the scale's CNN recipe) trained on the semi-real cohort's rendered crops of
    the visits of every patient *not* in the fold's validation patients (early stopping on a seeded fifth of
    them), averaged over each validation visit's crops. Cached on disk. Returns ``(fold -> (n_val, 3) array,
    info)``; a validation row whose visit the cohort lacks gets the uniform vector (counted in ``info``)."""
    from fusionlib.data import dfu
    from fusionstudy.scales import SCALES
    from fusionlib.cache import code_key
    from fusionlib.arms.settings import ArmSettings
    from fusionlib.cache.store import cached
    from fusionlib.models.train import fit_head, predict

    folder = replay.resolve_data_dir(data_dir)
    knobs = SCALES[scale]["common"]
    cohort = dfu.load_cohort("semi_real", data_dir=folder, image_size=knobs["cohort"].get("image_size", 32),
                             seed=seed, draws_per_visit=draws_per_visit)
    config = ArmSettings(train=knobs["train"]).cnn_config()
    rows = replay.read_rows(folder).table
    keys = list(zip(*(cohort.visits[c].to_numpy() for c in replay.VISIT_KEY)))
    visit_of = {k: i for i, k in enumerate(keys)}
    img_visit, y_visit, patients = cohort.image_visit, cohort.y_visit, cohort.groups_visit
    out, missing = {}, 0
    for f, st in stages.items():
        val_patients = set(np.asarray(st["val_patients"]).tolist())
        fit_visits = np.flatnonzero(~np.isin(patients, list(val_patients)))
        fit_patients = np.unique(patients[fit_visits])
        stop_patients = np.random.default_rng(seed + f).choice(fit_patients, len(fit_patients) // 5, replace=False)
        tr = np.flatnonzero(np.isin(img_visit, fit_visits) & ~np.isin(patients[img_visit], stop_patients))
        stop = np.flatnonzero(np.isin(img_visit, fit_visits) & np.isin(patients[img_visit], stop_patients))
        val_keys = [tuple(rows.iloc[i][list(replay.VISIT_KEY)]) for i in st["val_rows"]]
        val_visits = np.array([visit_of.get(tuple(int(x) for x in k), -1) for k in val_keys])
        missing += int((val_visits < 0).sum())
        wanted = np.flatnonzero(np.isin(img_visit, val_visits[val_visits >= 0]))

        def compute(tr=tr, stop=stop, wanted=wanted, f=f):
            px = cohort.pixels
            fit = fit_head("image_only", {"image": px[tr].astype("float32")}, y_visit[img_visit[tr]],
                           {"image": px[stop].astype("float32")}, y_visit[img_visit[stop]], config, seed * 100 + f)
            return {"p": predict(fit.model, {"image": px[wanted].astype("float32")}), "rows": wanted}

        key = content_key("replay-cnn", cohort.fingerprint(), tr, stop, wanted, repr(config), seed + f,
                          code_key(fit_head))
        res = cached("replay-cnn", key, compute)
        per_visit = pd.DataFrame(res["p"]).groupby(img_visit[res["rows"]]).mean()
        p = np.full((len(val_visits), 3), 1 / 3)
        ok = val_visits >= 0
        p[ok] = per_visit.loc[val_visits[ok]].to_numpy()
        out[f] = p
    info = {"cohort": "semi_real", "draws_per_visit": draws_per_visit, "cnn": repr(config),
            "validation rows without a semi-real visit": missing}
    return out, info

# ---------------------------------------------------------------------------------------------- the chapter
def recorded_comparison(r: "replay.Replay", head: str = "e0ba25c", variant: str = "as recorded") -> pd.DataFrame:
    """The replay's 3-fold numbers beside the log of e0ba25c (:data:`fusionstudy.report.ORIGINAL_3FOLD`): per fold
    recorded and replayed quadratic κ, unweighted κ, training-row κ and confusion matrix, and whether the matrices
    are identical."""
    from fusionstudy.report import ORIGINAL_3FOLD

    f = r.folds[(r.folds["variant"] == variant) & (r.folds["head"] == head)].set_index("fold")
    rows = []
    for rec in ORIGINAL_3FOLD:
        ours = f.loc[rec["fold"]]
        rows.append({"fold": rec["fold"], "κ recorded": rec["kappa_quadratic"], "κ replay": ours["kappa_quadratic"],
                     "unweighted κ recorded": rec["kappa_unweighted"], "unweighted κ replay": ours["kappa_unweighted"],
                     "training-row κ recorded (epoch 1, unweighted)": rec["train_kappa_unweighted"],
                     "training-row κ replay (unweighted)": ours["train_kappa_unweighted"],
                     "confusion recorded": [list(x) for x in rec["confusion"]], "confusion replay": ours["confusion"],
                     "identical matrix": [list(x) for x in rec["confusion"]] == [list(x) for x in ours["confusion"]]})
    return pd.DataFrame(rows)


def engine_difference(pinned: "replay.Replay", current: "replay.Replay", head: str = "e0ba25c") -> pd.DataFrame:
    """Per fold: κ with the pinned environment's forests and with the project's own, how many validation rows get
    another prediction, and the largest difference in a confusion cell."""
    rows = []
    a = pinned.folds[pinned.folds["head"] == head].set_index("fold")
    b = current.folds[current.folds["head"] == head].set_index("fold")
    for fold in a.index:
        pa = pinned.predictions[("as recorded", head, fold - 1)]["val"].argmax(1)
        pb = current.predictions[("as recorded", head, fold - 1)]["val"].argmax(1)
        old, new = pinned.info["forests"]["scikit-learn"], current.info["forests"]["scikit-learn"]
        rows.append({"fold": fold, f"κ, scikit-learn {old}": a.loc[fold, "kappa_quadratic"],
                     f"κ, scikit-learn {new}": b.loc[fold, "kappa_quadratic"],
                     "κ difference": b.loc[fold, "kappa_quadratic"] - a.loc[fold, "kappa_quadratic"],
                     "validation rows predicted differently": int((pa != pb).sum()), "validation rows": len(pa),
                     "largest confusion-cell difference": int(np.abs(np.asarray(a.loc[fold, "confusion"])
                                                                     - np.asarray(b.loc[fold, "confusion"])).max())})
    return pd.DataFrame(rows)


def defect_table(r: "replay.Replay") -> pd.DataFrame:
    """Per variant (each defect switched off in turn) and head: κ per fold (columns ``κ fold 1`` ...), mean κ and
    its change against the variant "as recorded", training-row κ and agreement with the RF argmax."""
    f = r.folds
    rows = []
    for (variant, head), g in f.groupby(["variant", "head"], sort=False):
        base = f[(f["variant"] == "as recorded") & (f["head"] == head)]["kappa_quadratic"].mean()
        rows.append({"variant": variant, "head": head,
                     **{f"κ fold {fold}": k for fold, k in zip(g["fold"], g["kappa_quadratic"])},
                     "mean κ": g["kappa_quadratic"].mean(),
                     "Δ mean κ vs as recorded": g["kappa_quadratic"].mean() - base,
                     "mean unweighted κ": g["kappa_unweighted"].mean(),
                     "training-row κ (unweighted)": g["train_kappa_unweighted"].mean(),
                     "agreement with RF argmax (validation)": g["agreement_with_rf_val"].mean()})
    return pd.DataFrame(rows)


def agreement_table(r: "replay.Replay") -> pd.DataFrame:
    """Per head and fold (variant as recorded): agreement of the head's predictions with the RF argmax on the
    validation and the training rows, and the κ of both."""
    f = r.folds[r.folds["variant"] == "as recorded"]
    return f[["head", "fold", "agreement_with_rf_val", "agreement_with_rf_train", "kappa_quadratic",
              "share_predicted_P"]].rename(columns={"agreement_with_rf_val": "agreement with RF (validation)",
                                                     "agreement_with_rf_train": "agreement with RF (training rows)",
                                                     "kappa_quadratic": "κ", "share_predicted_P": "share predicted P"})


def history_fusion_table() -> pd.DataFrame:
    """The history's own 3-fold fusion run beside the RF alone on the same folds (recorded numbers)."""
    from fusionstudy.report import HISTORY

    fus, md = HISTORY["fusion_3fold_log"], HISTORY["metadata_3fold"]
    return pd.DataFrame({"fold": [1, 2, 3], f"fusion, final ({fus.commit})": fus.folds,
                         f"metadata alone = RF ({md.commit})": md.folds,
                         "difference": np.subtract(fus.folds, md.folds)})


def save_results(out_dir, tables: dict, info: dict, facts: "ReplayFacts | None" = None) -> None:
    """Write ``tables`` (name -> DataFrame) as CSV, ``info`` as JSON and ``facts`` as ``facts.json`` into ``out_dir``,
    as one folder that replaces any earlier one atomically (:func:`fusionlib.io.atomic_folder`)."""
    import json

    with io.atomic_folder(out_dir) as tmp:
        for name, df in tables.items():
            df.to_csv(tmp / f"{name}.csv", index=False)
        (tmp / "info.json").write_text(json.dumps(info, indent=2, sort_keys=True, default=str))
        if facts is not None:
            facts.save(tmp / records.FACTS_JSON)


def load_results(folder) -> dict | None:
    """The replay chapter's saved tables (name -> DataFrame), ``info`` and ``facts``
    (:class:`fusionstudy.replay.facts.ReplayFacts`); None when the folder or its ``info.json`` is absent (the chapter
    has not run) or says the chapter was skipped (no data)."""
    import json
    from pathlib import Path

    from fusionstudy.replay.facts import ReplayFacts

    folder = Path(folder)
    if not (folder / "info.json").is_file():
        return None
    info = json.loads((folder / "info.json").read_text())
    if info.get("skipped"):
        return None
    out = {p.stem: pd.read_csv(p) for p in sorted(folder.glob("*.csv"))}
    out["info"] = info
    out["facts"] = ReplayFacts.load(folder / records.FACTS_JSON)
    return out
