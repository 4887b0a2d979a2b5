"""The audit's checks, each a function of checked :class:`~fusionlib.audit.inputs.Predictions` returning a
:class:`Check`: its numbers (with group-bootstrap 95 % intervals), its tables and whether it found a fault.

Every κ is computed from confusion matrices summed per group, so a group bootstrap (groups drawn with
replacement, the same draw for every model and repeat: paired) costs one matrix product per draw. κ of a model
with several repeats is the mean over repeats of κ pooled over the repeat's folds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold

from .inputs import Predictions

#: Lower bound of the train-minus-test κ interval above which a branch's training rows look in-sample.
IN_SAMPLE_GAP = 0.10
#: Median per-fold agreement with a branch's argmax at or above which the fusion copies that branch.
COPY_AGREEMENT = 0.90
LEVEL = 0.95


@dataclass
class Check:
    """One check's answer: ``name`` (a key), ``title``, ``finding`` (a fault was found), ``summary`` (one or two
    sentences chosen by the numbers), ``numbers`` (JSON-ready) and ``tables`` (name -> DataFrame)."""

    name: str
    title: str
    finding: bool
    summary: str
    numbers: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)


# --- κ from confusion matrices ----------------------------------------------------------------------------------


def kappa_weights(n_classes: int, weights: str | None) -> np.ndarray:
    """Disagreement weights ``(K, K)``: quadratic ``((i - j) / (K - 1))**2`` or unweighted ``i != j``."""
    i, j = np.indices((n_classes, n_classes))
    return ((i - j) / (n_classes - 1)) ** 2 if weights == "quadratic" else (i != j).astype(float)


def kappa_of(confusion: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Cohen's κ of confusion matrices ``(..., K, K)`` (rows true, columns predicted); 0 where undefined."""
    c = np.asarray(confusion, dtype=float)
    n = c.sum(axis=(-2, -1))
    expected = c.sum(axis=-1)[..., :, None] * c.sum(axis=-2)[..., None, :] / np.where(n > 0, n, 1)[..., None, None]
    num, den = (w * c).sum(axis=(-2, -1)), (w * expected).sum(axis=(-2, -1))
    return np.where(den > 0, 1 - num / np.where(den > 0, den, 1), 0.0)


def group_confusions(y: np.ndarray, pred: np.ndarray, groups: np.ndarray, n_groups: int, k: int) -> np.ndarray:
    """Confusion matrix of each group, ``(n_groups, K, K)``."""
    flat = np.bincount(groups * k * k + y * k + pred, minlength=n_groups * k * k)
    return flat.reshape(n_groups, k, k)


def kappa_rows(y: np.ndarray, pred: np.ndarray, k: int, w: np.ndarray) -> float:
    """κ of the rows ``y`` (true) and ``pred`` (predicted class indices), ``K = k`` classes, weights ``w``."""
    return float(kappa_of(group_confusions(y, pred, np.zeros(len(y), int), 1, k)[0], w))


def draw_counts(n_groups: int, n_boot: int, seed: int) -> np.ndarray:
    """How often each group is drawn in each of ``n_boot`` resamples with replacement, ``(n_boot, n_groups)``."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_groups, size=(n_boot, n_groups))
    counts = np.zeros((n_boot, n_groups))
    np.add.at(counts, (np.repeat(np.arange(n_boot), n_groups), draws.ravel()), 1)
    return counts


def interval(boots: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    a = (1 - level) / 2
    low, high = np.quantile(boots, [a, 1 - a])
    return float(low), float(high)


def boot_p(boots: np.ndarray) -> float:
    """Two-sided bootstrap p-value of ``boots`` against 0 (the share on the other side, doubled, at most 1)."""
    return float(min(1.0, 2 * min((boots <= 0).mean(), (boots >= 0).mean())))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (same order)."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def fmt_ci(value: float, low: float, high: float) -> str:
    return f"{value:+.3f} [{low:+.3f}, {high:+.3f}]" if value < 0 or low < 0 else f"{value:.3f} [{low:.3f}, {high:.3f}]"


# --- the common rows --------------------------------------------------------------------------------------------


@dataclass
class Aligned:
    """The test rows every model has: the samples and repeats they share. ``proba[model]``: ``(R, n, K)``;
    ``folds[model]``: ``(R, n)`` fold ids; ``groups``: group index of each sample, ``(n,)``."""

    samples: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    group_names: np.ndarray
    repeats: list
    proba: dict
    folds: dict

    @property
    def n_groups(self) -> int:
        return len(self.group_names)

    def pred(self, model: str) -> np.ndarray:
        return self.proba[model].argmax(axis=-1)

    def confusions(self, model: str, k: int, keep: np.ndarray | None = None) -> np.ndarray:
        """Per repeat and group, ``(R, G, K, K)`` (rows outside ``keep`` left out)."""
        keep = np.ones(len(self.y), bool) if keep is None else keep
        return np.stack([group_confusions(self.y[keep], p[keep], self.groups[keep], self.n_groups, k)
                         for p in self.pred(model)])


def test_rows(pred: Predictions) -> pd.DataFrame:
    t = pred.table.assign(row=np.arange(len(pred.table)))
    return t[t["role"] == "test"]


def align(pred: Predictions) -> Aligned:
    """The samples and repeats that every model scored (role ``test``)."""
    t = test_rows(pred)
    repeats = sorted(set.intersection(*(set(t.loc[t["model"] == m, "repeat"]) for m in pred.models)))
    if not repeats:
        raise ValueError("no repeat is shared by every model")
    samples = None
    for m in pred.models:
        for r in repeats:
            s = set(t.loc[(t["model"] == m) & (t["repeat"] == r), "sample"])
            samples = s if samples is None else samples & s
    samples = np.array(sorted(samples))
    first = t.drop_duplicates("sample").set_index("sample").loc[samples]
    group_names, groups = np.unique(first["group"].to_numpy(), return_inverse=True)
    proba, folds = {}, {}
    for m in pred.models:
        p, f = [], []
        for r in repeats:
            rows = t[(t["model"] == m) & (t["repeat"] == r)].set_index("sample").loc[samples]
            p.append(pred.proba[rows["row"].to_numpy()])
            f.append(rows["fold"].to_numpy())
        proba[m], folds[m] = np.stack(p), np.stack(f)
    return Aligned(samples, first["y"].to_numpy(), groups, group_names, repeats, proba, folds)


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether fold labellings ``a`` and ``b`` of the same samples put the same samples together."""
    pairs = pd.crosstab(a, b)
    return bool(((pairs > 0).sum(axis=1) == 1).all() and ((pairs > 0).sum(axis=0) == 1).all())


def fingerprint(samples: np.ndarray, folds: np.ndarray) -> str:
    """A short hash of a partition: which samples are together, whatever the folds are called."""
    parts = sorted(",".join(sorted(map(str, samples[folds == f]))) for f in np.unique(folds))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:10]


class Context:
    """What the checks share: the input, the common rows, one set of bootstrap draws, κ of every model."""

    def __init__(self, pred: Predictions, n_boot: int = 1000, seed: int = 0):
        self.pred, self.n_boot, self.seed = pred, n_boot, seed
        self.k = len(pred.classes)
        self.aligned = align(pred)
        self.counts = draw_counts(self.aligned.n_groups, n_boot, seed)
        self.w = {"quadratic": kappa_weights(self.k, "quadratic"), "unweighted": kappa_weights(self.k, None)}
        self._kappas: dict = {}

    def kappa(self, model: str, weights: str = "quadratic", keep: np.ndarray | None = None):
        """``(point, boots)``: κ of ``model`` on the common rows (those in ``keep``), mean over repeats."""
        key = (model, weights, None if keep is None else keep.tobytes())
        if key not in self._kappas:
            conf = self.aligned.confusions(model, self.k, keep)                      # (R, G, K, K)
            point = float(np.mean(kappa_of(conf.sum(axis=1), self.w[weights])))
            flat = conf.reshape(conf.shape[0], conf.shape[1], -1)
            boots = np.mean([kappa_of((self.counts @ f).reshape(-1, self.k, self.k), self.w[weights])
                             for f in flat], axis=0)
            self._kappas[key] = (point, boots)
        return self._kappas[key]

    def best_modality(self) -> str:
        return max(self.pred.modalities, key=lambda m: self.kappa(m)[0])


# --- (a) split fingerprint --------------------------------------------------------------------------------------


def split_fingerprint(ctx: Context) -> Check:
    """Per model: the samples it was scored on and under which partition; whether its partition is the fusion's;
    the samples only some models have; κ on its own rows and on the common rows."""
    pred, al, fusion = ctx.pred, ctx.aligned, ctx.pred.fusion
    t = test_rows(pred)
    union = set(t["sample"])
    rows, differs = [], []
    for m in pred.models:
        own = t[t["model"] == m]
        r0 = own[own["repeat"] == own["repeat"].min()]
        same = all(same_partition(al.folds[m][i], al.folds[fusion][i]) for i in range(len(al.repeats)))
        own_repeats = sorted(own["repeat"].unique())
        if m != fusion and (not same or own_repeats != sorted(t.loc[t["model"] == fusion, "repeat"].unique())):
            differs.append(m)
        own_kappa = np.mean([_pooled_kappa(ctx, part) for _, part in own.groupby("repeat")])
        rows.append({"model": m, "samples": own["sample"].nunique(), "missing": len(union - set(own["sample"])),
                     "repeats": len(own_repeats), "folds": int(own.groupby("repeat")["fold"].nunique().max()),
                     "partition": fingerprint(r0["sample"].to_numpy(), r0["fold"].to_numpy()),
                     "same partition as the fusion": "—" if m == fusion else ("yes" if same else "no"),
                     "κ own rows": own_kappa, "κ common rows": ctx.kappa(m)[0]})
    table = pd.DataFrame(rows)
    only_some = len(union) - len(al.samples)
    finding = bool(differs) or only_some > 0
    if differs:
        summary = (f"{', '.join(differs)} {'was' if len(differs) == 1 else 'were'} scored under another partition "
                   f"than the fusion {fusion!r} (partition fingerprints differ): their κ and the fusion's are not "
                   "one comparison. The tables below redo every comparison on the rows all models share, but a "
                   "model's κ also moves with the partition alone (see the re-drawn splits).")
    else:
        summary = f"Every model was scored under the fusion's partition ({len(al.repeats)} repeat(s))."
    if only_some:
        summary += f" {only_some} of {len(union)} samples are missing from some model; the comparisons use the " \
                   f"{len(al.samples)} all models share."
    return Check("split", "Split fingerprint: one partition for every model?", finding, summary,
                 {"models_other_partition": differs, "samples_union": len(union), "samples_common": len(al.samples),
                  "repeats_common": [int(r) for r in al.repeats], "per_model": _records(table)}, {"models": table})


def _pooled_kappa(ctx: Context, part: pd.DataFrame, weights: str = "quadratic") -> float:
    p = ctx.pred.proba[part["row"].to_numpy()].argmax(axis=1)
    return kappa_rows(part["y"].to_numpy(), p, ctx.k, ctx.w[weights])


def _records(table: pd.DataFrame) -> list[dict]:
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}
            for r in table.to_dict(orient="records")]


# --- (b) in-sample detector -------------------------------------------------------------------------------------


def _calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    conf, correct = p.max(axis=1), (p.argmax(axis=1) == y)
    edges = np.minimum((conf * bins).astype(int), bins - 1)
    return float(sum(abs(conf[edges == b].mean() - correct[edges == b].mean()) * (edges == b).mean()
                     for b in range(bins) if (edges == b).any()))


def _role_summary(ctx: Context, rows: pd.DataFrame) -> dict:
    p, y = ctx.pred.proba[rows["row"].to_numpy()], rows["y"].to_numpy()
    return {"rows": len(rows), "confidence": float(p.max(axis=1).mean()),
            "log_loss": float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1)).mean()),
            "calibration_error": _calibration_error(p, y), "accuracy": float((p.argmax(axis=1) == y).mean()),
            "kappa": float(np.mean([_pooled_kappa(ctx, part) for _, part in rows.groupby("repeat")]))}


def in_sample(ctx: Context, agreement: dict | None = None) -> Check:
    """Per model with training rows (role ``train``): confidence, log-loss, calibration error and κ on its
    training rows against its test rows; the train-minus-test κ with a group-bootstrap interval. A branch whose
    interval lies above :data:`IN_SAMPLE_GAP` and whose training rows have the lower log-loss is named."""
    table = ctx.pred.table.assign(row=np.arange(len(ctx.pred.table)))
    rows, named, numbers = [], [], {}
    for m in ctx.pred.models:
        own = table[table["model"] == m]
        train, test = own[own["role"] == "train"], own[own["role"] == "test"]
        if train.empty:
            continue
        a, b = _role_summary(ctx, train), _role_summary(ctx, test)
        gap, low, high = _gap_interval(ctx, train, test)
        looks = low > IN_SAMPLE_GAP and a["log_loss"] < b["log_loss"]
        if looks:
            named.append(m)
        numbers[m] = {"train": a, "test": b, "kappa_gap": gap, "kappa_gap_ci": [low, high], "in_sample": looks}
        for role, s in (("train", a), ("test", b)):
            rows.append({"model": m, "rows": role, "n": s["rows"], "mean confidence": s["confidence"],
                         "log-loss": s["log_loss"], "calibration error": s["calibration_error"],
                         "accuracy": s["accuracy"], "κ": s["kappa"]})
    out = pd.DataFrame(rows)
    if not numbers:
        return Check("in_sample", "In-sample detector: were a branch's training-row outputs in-sample?", False,
                     "No model has training rows (role 'train'), so this check had nothing to compare; give a "
                     "branch's outputs on the fusion's training rows to run it.", {}, {})
    if named:
        parts = []
        for m in named:
            n = numbers[m]
            trust = ""
            if agreement and m in agreement:
                trust = (f"; on new rows the fusion agrees with its argmax on {agreement[m]:.0%} of samples")
            parts.append(f"{m!r}: κ {n['train']['kappa']:.3f} on its training rows against {n['test']['kappa']:.3f} "
                         f"on its test rows (gap {fmt_ci(n['kappa_gap'], *n['kappa_gap_ci'])}), accuracy "
                         f"{n['train']['accuracy']:.0%} against {n['test']['accuracy']:.0%}{trust}")
        summary = ("Training-row outputs look in-sample — " + "; ".join(parts) + ". A fusion trained on these rows "
                   "learns to trust a branch that is far more often right there than it will be on new rows.")
    else:
        summary = ("No branch's training rows look in-sample: the train-minus-test κ interval of each lies below "
                   f"{IN_SAMPLE_GAP:.2f} or its training rows are not the more confident ones.")
    return Check("in_sample", "In-sample detector: were a branch's training-row outputs in-sample?", bool(named),
                 summary, {"threshold": IN_SAMPLE_GAP, "named": named, "per_model": numbers}, {"train vs test": out})


def _gap_interval(ctx: Context, train: pd.DataFrame, test: pd.DataFrame) -> tuple[float, float, float]:
    names = np.unique(np.concatenate([train["group"], test["group"]]))
    counts = draw_counts(len(names), ctx.n_boot, ctx.seed + 1)
    w = ctx.w["quadratic"]

    def per_repeat(rows):
        g = np.searchsorted(names, rows["group"].to_numpy())
        p = ctx.pred.proba[rows["row"].to_numpy()].argmax(axis=1)
        conf = []
        for r in sorted(rows["repeat"].unique()):
            sel = (rows["repeat"] == r).to_numpy()
            conf.append(group_confusions(rows["y"].to_numpy()[sel], p[sel], g[sel], len(names), ctx.k))
        return conf

    def stat(conf, counts_=None):
        if counts_ is None:
            return float(np.mean([kappa_of(c.sum(axis=0), w) for c in conf]))
        return np.mean([kappa_of((counts_ @ c.reshape(len(names), -1)).reshape(-1, ctx.k, ctx.k), w)
                        for c in conf], axis=0)

    a, b = per_repeat(train), per_repeat(test)
    boots = stat(a, counts) - stat(b, counts)
    return stat(a) - stat(b), *interval(boots)


# --- (e) leakage ------------------------------------------------------------------------------------------------


def leakage(ctx: Context) -> Check:
    """Groups scored in more than one fold of one repeat of a model (a group split across folds), the cross-tab
    of the first of them, and κ of every model recomputed without them."""
    t = test_rows(ctx.pred)
    leaked, crosstabs = {}, []
    for (m, r), part in t.groupby(["model", "repeat"], sort=False):
        folds_per_group = part.groupby("group")["fold"].nunique()
        bad = folds_per_group.index[folds_per_group > 1].tolist()
        if bad:
            leaked.setdefault(m, set()).update(bad)
            ct = pd.crosstab(part.loc[part["group"].isin(bad[:10]), "group"],
                             part.loc[part["group"].isin(bad[:10]), "fold"])
            ct.insert(0, "model / repeat", f"{m} / {r}")
            crosstabs.append(ct.reset_index())
    everyone = sorted(set().union(*leaked.values())) if leaked else []
    numbers = {"groups_split": {m: sorted(g) for m, g in leaked.items()}}
    tables = {}
    if not everyone:
        return Check("leakage", "Leakage: groups split across folds?", False,
                     "No group appears in more than one fold of any model's repeat.", numbers, tables)
    keep = ~np.isin(ctx.aligned.group_names[ctx.aligned.groups], everyone)
    rows = []
    for m in ctx.pred.models:
        k_all, (k_wo, boots) = ctx.kappa(m)[0], ctx.kappa(m, keep=keep) if keep.any() else (np.nan, np.zeros(1))
        rows.append({"model": m, "κ common rows": k_all, "κ without the split groups": k_wo,
                     "95% CI": "[%.3f, %.3f]" % interval(boots) if keep.any() else "—"})
    tables["without the split groups"] = pd.DataFrame(rows)
    tables["split groups by fold (first 10 per model)"] = pd.concat(crosstabs, ignore_index=True).fillna(0)
    numbers["without"] = _records(tables["without the split groups"])
    summary = (f"{len(everyone)} group(s) appear in more than one fold ({', '.join(map(str, everyone[:5]))}"
               f"{' …' if len(everyone) > 5 else ''}) of {', '.join(leaked)}: a model saw part of such a group while "
               "training on another part. κ without them is in the table.")
    return Check("leakage", "Leakage: groups split across folds?", True, summary, numbers, tables)


# --- (d) κ of every model and the fusion against the best modality ----------------------------------------------


def comparisons(ctx: Context) -> Check:
    """κ (quadratic and unweighted) of every model on the common rows with its interval; the fusion minus each
    modality: paired group-bootstrap difference and, where both share the partition, the corrected resampled
    t-test over folds; Holm's adjustment over the comparisons made."""
    al, fusion = ctx.aligned, ctx.pred.fusion
    kappas = []
    for m in ctx.pred.models:
        row = {"model": m}
        for w in ("quadratic", "unweighted"):
            k, b = ctx.kappa(m, w)
            row[f"κ {w}"], row[f"κ {w} 95% CI"] = k, "[%.3f, %.3f]" % interval(b)
        kappas.append(row)
    best = ctx.best_modality()
    diffs = []
    for m in ctx.pred.modalities:
        for w in ("quadratic", "unweighted"):
            (kf, bf), (km, bm) = ctx.kappa(fusion, w), ctx.kappa(m, w)
            boots = bf - bm
            low, high = interval(boots)
            t = _corrected_t(ctx, fusion, m, w)
            diffs.append({"comparison": f"{fusion} − {m}", "weights": w, "Δκ": kf - km, "low": low, "high": high,
                          "p bootstrap": boot_p(boots), "p t-test": t})
    d = pd.DataFrame(diffs)
    d["Holm bootstrap"] = holm(d["p bootstrap"].tolist())
    has_t = d["p t-test"].notna()
    d["Holm t-test"] = np.nan
    if has_t.any():
        d.loc[has_t, "Holm t-test"] = holm(d.loc[has_t, "p t-test"].tolist())
    main = d[(d["comparison"] == f"{fusion} − {best}") & (d["weights"] == "quadratic")].iloc[0]
    worse = main["high"] < 0 and main["Holm bootstrap"] < 1 - LEVEL
    better = main["low"] > 0 and main["Holm bootstrap"] < 1 - LEVEL
    word = "below" if worse else "above" if better else "not distinguishable from"
    summary = (f"On the {len(al.samples)} common samples the fusion's κ is {ctx.kappa(fusion)[0]:.3f} and the best "
               f"single modality's ({best}) {ctx.kappa(best)[0]:.3f}: Δκ {fmt_ci(main['Δκ'], main['low'], main['high'])}"
               f" (group bootstrap, Holm-adjusted p {main['Holm bootstrap']:.3f}) — the fusion is {word} it.")
    if d["p t-test"].isna().all():
        summary += " The corrected t-test needs both models scored under one partition; it is not applicable here."
    return Check("comparison", "κ on the same rows: is the fusion better than its best part?", bool(worse), summary,
                 {"best_modality": best, "fusion_vs_best": {k: (v.item() if isinstance(v, np.generic) else v)
                                                           for k, v in main.items()},
                  "verdict": word, "kappas": _records(pd.DataFrame(kappas)), "differences": _records(d)},
                 {"κ": pd.DataFrame(kappas), "differences": d})


def _corrected_t(ctx: Context, a: str, b: str, weights: str) -> float:
    """p of the corrected resampled t-test of per-fold ``κ(a) - κ(b)``, or NaN when the two models' partitions
    differ (a per-fold difference then compares different folds)."""
    al = ctx.aligned
    if not all(same_partition(al.folds[a][i], al.folds[b][i]) for i in range(len(al.repeats))):
        return float("nan")
    d, sizes = [], []
    for i in range(len(al.repeats)):
        for f in np.unique(al.folds[a][i]):
            sel = al.folds[a][i] == f
            ka, kb = (kappa_rows(al.y[sel], al.pred(m)[i][sel], ctx.k, ctx.w[weights]) for m in (a, b))
            d.append(float(ka - kb))
            sizes.append(sel.sum())
    if len(d) < 2:
        return float("nan")
    n_test = float(np.mean(sizes))
    n_train = len(al.y) - n_test
    d = np.asarray(d)
    se = np.sqrt((1 / len(d) + n_test / n_train) * d.var(ddof=1))
    if se == 0:
        return 0.0 if d.mean() else 1.0
    return float(2 * sps.t.sf(abs(d.mean() / se), df=len(d) - 1))


# --- does the fusion copy a branch? -----------------------------------------------------------------------------


def copying(ctx: Context) -> Check:
    """Per fold of the fusion: the share of common samples where the fusion's prediction is a modality's."""
    al, fusion = ctx.aligned, ctx.pred.fusion
    rows = []
    for i, r in enumerate(al.repeats):
        for f in np.unique(al.folds[fusion][i]):
            sel = al.folds[fusion][i] == f
            row = {"repeat": r, "fold": f, "samples": int(sel.sum())}
            for m in ctx.pred.modalities:
                row[m] = float((al.pred(fusion)[i][sel] == al.pred(m)[i][sel]).mean())
            rows.append(row)
    table = pd.DataFrame(rows)
    median = {m: float(table[m].median()) for m in ctx.pred.modalities}
    copied = [m for m, a in median.items() if a >= COPY_AGREEMENT]
    overall, ci = {}, {}
    n = np.stack([np.bincount(al.groups, minlength=al.n_groups)] * len(al.repeats)).sum(axis=0)
    for m in ctx.pred.modalities:
        same = (al.pred(fusion) == al.pred(m)).astype(float)                                   # (R, n)
        agree = sum(np.bincount(al.groups, weights=row, minlength=al.n_groups) for row in same)
        overall[m] = float(agree.sum() / n.sum())
        ci[m] = list(interval((ctx.counts @ agree) / (ctx.counts @ n)))
    pooled = {m: f"{overall[m]:.3f} [{ci[m][0]:.3f}, {ci[m][1]:.3f}]" for m in ci}          # with its 95 % CI
    table = pd.concat([table, pd.DataFrame([{"repeat": "all", "fold": "all", "samples": int(n.sum()), **pooled}])],
                      ignore_index=True)
    if copied:
        summary = (f"The fusion copies {', '.join(copied)}: its prediction is that branch's on a median "
                   f"{max(median[m] for m in copied):.0%} of samples per fold (at least {COPY_AGREEMENT:.0%} counts "
                   "as copying), so it adds little of the other modalities.")
    else:
        summary = ("The fusion copies no single modality: median per-fold agreement "
                   + ", ".join(f"{m} {a:.0%}" for m, a in median.items()) + ".")
    return Check("copy", "Does the fusion copy a branch?", bool(copied), summary,
                 {"threshold": COPY_AGREEMENT, "median_per_fold": median, "overall": overall, "overall_ci": ci,
                  "copies": copied},
                 {"agreement per fold": table})


# --- κ between re-drawn splits ----------------------------------------------------------------------------------


def split_spread(ctx: Context, n_draws: int = 200) -> Check:
    """κ of every model over ``n_draws`` re-drawn grouped partitions of the common rows into as many folds as
    the model's own partition (re-scoring the given predictions, not re-training): the spread of single-fold κ
    and of the mean over folds, and where each model's own per-fold κ (first common repeat) falls in it."""
    al, w = ctx.aligned, ctx.w["quadratic"]
    rows, numbers = [], {}
    for m in ctx.pred.models:
        k_folds = len(np.unique(al.folds[m][0]))
        rng = np.random.default_rng(ctx.seed + 2)
        assign = np.empty((n_draws, al.n_groups), int)
        for d in range(n_draws):
            assign[d, rng.permutation(al.n_groups)] = np.arange(al.n_groups) % k_folds
        conf = group_confusions(al.y, al.pred(m)[0], al.groups, al.n_groups, ctx.k).reshape(al.n_groups, -1)
        fold_conf = np.stack([(np.eye(k_folds)[assign[d]].T @ conf) for d in range(n_draws)])   # (D, F, K*K)
        single = kappa_of(fold_conf.reshape(n_draws, k_folds, ctx.k, ctx.k), w)                # (D, F)
        own = []
        for f in np.unique(al.folds[m][0]):
            sel = al.folds[m][0] == f
            own.append(kappa_rows(al.y[sel], al.pred(m)[0][sel], ctx.k, w))
        lo, mid, hi = np.quantile(single, [0.025, 0.5, 0.975])
        mean_lo, mean_hi = np.quantile(single.mean(axis=1), [0.025, 0.975])
        pct = [float((single <= v).mean()) for v in own]
        numbers[m] = {"folds": k_folds, "single_fold": [float(lo), float(mid), float(hi)],
                      "fold_mean": [float(mean_lo), float(mean_hi)], "own_folds": own, "own_percentiles": pct}
        rows.append({"model": m, "folds": k_folds, "one fold: 2.5%": lo, "median": mid, "97.5%": hi,
                     "mean of folds: 2.5%": mean_lo, "97.5% ": mean_hi,
                     "own folds' κ (percentile)": ", ".join(f"{v:.2f} ({p:.0%})" for v, p in zip(own, pct))})
    widest = max(numbers[m]["single_fold"][2] - numbers[m]["single_fold"][0] for m in numbers)
    summary = (f"Re-drawing {n_draws} grouped splits of the same rows into each model's own number of folds (the "
               f"same predictions, re-scored) moves one fold's κ over up to {widest:.3f} (95 % range): one fold's κ, "
               "or the mean of few folds, is a draw from that spread.")
    return Check("spread", "How much does κ move between re-drawn splits?", False, summary,
                 {"draws": n_draws, "per_model": numbers}, {"spread": pd.DataFrame(rows)})


# --- (c) the simple rules ---------------------------------------------------------------------------------------


def _rules(modalities: list[str]) -> dict:
    """Fixed combination rules of the modalities' probabilities: name -> weights per modality and pooling
    (``"linear"``: weighted average; ``"log"``: normalised weighted geometric mean)."""
    rules = {}
    if len(modalities) == 2:
        a, b = modalities
        for alpha in np.round(np.linspace(0, 1, 11), 1):
            rules[f"average α={alpha:g} ({a}) + {1 - alpha:g} ({b})"] = ("linear", (alpha, 1 - alpha))
        for alpha in np.round(np.linspace(0.1, 0.9, 9), 1):
            rules[f"log-linear α={alpha:g} ({a}) + {1 - alpha:g} ({b})"] = ("log", (alpha, 1 - alpha))
    else:
        n = len(modalities)
        for i, m in enumerate(modalities):
            rules[f"{m} alone"] = ("linear", tuple(float(i == j) for j in range(n)))
        rules["equal average"] = ("linear", (1 / n,) * n)
        rules["equal log-linear"] = ("log", (1 / n,) * n)
    return rules


def _apply(rule: tuple, probas: list[np.ndarray]) -> np.ndarray:
    pooling, weights = rule
    if pooling == "linear":
        return sum(w * p for w, p in zip(weights, probas))
    logp = sum(w * np.log(np.clip(p, 1e-12, 1)) for w, p in zip(weights, probas))
    return np.exp(logp - logp.max(axis=1, keepdims=True))


def _stack_features(probas: list[np.ndarray]) -> np.ndarray:
    return np.hstack([np.log(np.clip(p, 1e-12, 1)) for p in probas])


def _stacking(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    model = LogisticRegression(C=1.0, max_iter=2000)
    return model.fit(x[train], y[train]).predict_proba(x[test]).argmax(axis=1) if len(np.unique(y[train])) > 1 \
        else np.full(len(test), y[train][0])


def simple_rules(ctx: Context, outer: int = 5, inner: int = 3) -> Check:
    """Would a simple rule built from the modalities' own probabilities have beaten the fusion? Fixed averages
    (α = 1 and α = 0 are the single modalities), log-linear pooling and stacking (a logistic regression on the
    log-probabilities), chosen by grouped nested cross-validation: in each of ``outer`` grouped folds the rule
    with the best κ on the other folds (stacking scored by ``inner`` grouped folds there) predicts the held-out
    fold; the pooled κ of those choices is compared with the fusion's on the same rows (paired group bootstrap).
    Uses the first common repeat."""
    al, fusion, k, w = ctx.aligned, ctx.pred.fusion, ctx.k, ctx.w["quadratic"]
    mods = ctx.pred.modalities
    probas = [al.proba[m][0] for m in mods]
    y, groups = al.y, al.groups
    rules = _rules(mods)
    fixed_pred = {name: _apply(rule, probas).argmax(axis=1) for name, rule in rules.items()}
    x = _stack_features(probas)
    n_outer = min(outer, al.n_groups)
    splitter = StratifiedGroupKFold(n_splits=n_outer, shuffle=True, random_state=ctx.seed)
    chosen = np.empty(len(y), int)
    stack_pred = np.empty(len(y), int)
    choices = []

    def kappa(pred, sel):
        return kappa_rows(y[sel], pred[sel], k, w)

    for f, (train, test) in enumerate(splitter.split(x, y, groups)):
        tr = np.zeros(len(y), bool)
        tr[train] = True
        scores = {name: kappa(p, tr) for name, p in fixed_pred.items()}
        inner_pred = np.empty(len(train), int)
        n_inner = min(inner, len(np.unique(groups[train])))
        for itr, ite in StratifiedGroupKFold(n_splits=n_inner, shuffle=True, random_state=ctx.seed + f).split(
                x[train], y[train], groups[train]):
            inner_pred[ite] = _stacking(x[train], y[train], itr, ite)
        full = np.empty(len(y), int)
        full[train] = inner_pred
        scores["stacking"] = kappa(full, tr)
        best = max(scores, key=scores.get)
        choices.append(best)
        stack_pred[test] = _stacking(x, y, train, test)
        chosen[test] = stack_pred[test] if best == "stacking" else fixed_pred[best][test]
    all_rows = np.ones(len(y), bool)
    table = pd.DataFrame([{"rule": name, "κ (all common rows, no selection)": kappa(p, all_rows)}
                          for name, p in {**fixed_pred, "stacking (outer-fold predictions)": stack_pred}.items()])
    nested_conf = group_confusions(y, chosen, groups, al.n_groups, k).reshape(al.n_groups, -1)
    fusion_conf = group_confusions(y, al.pred(fusion)[0], groups, al.n_groups, k).reshape(al.n_groups, -1)
    nested_k, fusion_k = float(kappa_of(nested_conf.sum(0).reshape(k, k), w)), \
        float(kappa_of(fusion_conf.sum(0).reshape(k, k), w))
    boots = (kappa_of((ctx.counts @ nested_conf).reshape(-1, k, k), w)
             - kappa_of((ctx.counts @ fusion_conf).reshape(-1, k, k), w))
    low, high = interval(boots)
    diff = nested_k - fusion_k
    beaten = low > 0
    best_fixed = table.iloc[table.iloc[:, 1].to_numpy().argmax()]
    summary = (f"The rule chosen by grouped nested CV ({_few_choices(choices)}) scores κ {nested_k:.3f} on the common "
               f"rows against the fusion's {fusion_k:.3f} (repeat {al.repeats[0]}): Δκ {fmt_ci(diff, low, high)}. ")
    summary += ("A simple rule built from the modalities' own probabilities would have beaten the fused model."
                if beaten else "That is no clear win for a simple rule." if diff > 0 else
                "The fusion does at least as well as the simple rules.")
    summary += (f" The best rule in hindsight, {best_fixed['rule']}, scores {best_fixed.iloc[1]:.3f} "
                "(chosen on the rows it is scored on: optimistic).")
    return Check("rules", "Simple rules: would a fixed average, pooling or stacking have done better?", bool(beaten),
                 summary, {"nested_kappa": nested_k, "fusion_kappa": fusion_k, "difference": diff,
                           "difference_ci": [low, high], "choices": choices, "rules": _records(table)},
                 {"rules": table})


def _few_choices(choices: list[str]) -> str:
    counts = pd.Series(choices).value_counts()
    return "; ".join(f"{name} in {n} of {len(choices)} folds" for name, n in counts.items())


# --- the verdict ------------------------------------------------------------------------------------------------


def verdict(checks: dict[str, Check], fusion: str) -> str:
    """The audit's answer in words, chosen by the checks' numbers (protocol faults first, then the outcome)."""
    parts = []
    faults = [c for c in ("split", "in_sample", "leakage") if checks[c].finding]
    if faults:
        words = {"split": "the models were not scored on one partition",
                 "in_sample": "a branch's training-row outputs were in-sample",
                 "leakage": "groups were split across folds"}
        parts.append(f"The comparison as made is not sound: {'; '.join(words[c] for c in faults)}. Fix "
                     f"{'these' if len(faults) > 1 else 'this'} before reading the fusion's κ against its parts.")
    comp = checks["comparison"].numbers
    main = comp["fusion_vs_best"]
    parts.append(f"On the rows every model shares, {fusion!r} is {comp['verdict']} its best single modality "
                 f"({comp['best_modality']}; Δκ {fmt_ci(main['Δκ'], main['low'], main['high'])}).")
    if checks["copy"].finding:
        parts.append(f"It copies {', '.join(checks['copy'].numbers['copies'])}.")
    rules = checks["rules"].numbers
    if checks["rules"].finding:
        parts.append(f"A simple rule chosen by nested CV beats it (Δκ {fmt_ci(rules['difference'], *rules['difference_ci'])}).")
    if not any(c.finding for c in checks.values()):
        parts.append("No check found a fault.")
    return " ".join(parts)
