"""Tables the book's analysis pages show, computed from arm results (no plotting here; see :mod:`plots`).

Arms are told apart by their settings (:class:`fusionlib.arms.settings.ArmSettings`: head, condition, the
experiments' design factors via :func:`fusionstudy.experiments.mechanism_of` and
:func:`~fusionstudy.experiments.stability_factor`), never by parsing their names; heads are listed in the head
table's order (:data:`fusionlib.arms.settings.HEADS`).

Every comparison is against a reference arm evaluated on the same folds (metadata-only, the best single
modality, unless stated): the difference in κ per visit (mean over repeats of the pooled out-of-fold κ), a
patient-level paired bootstrap 95 % CI and the Nadeau–Bengio corrected t-test over folds
(:mod:`fusionlib.evaluation.stats`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fusionlib.arms import settings
from fusionstudy.experiments import NO_MECHANISM, mechanism_of, stability_factor
from fusionlib.evaluation.metrics import summarise
from fusionlib.arms.results import ArmResult, load_results
from fusionlib.arms.settings import CONDITIONS, ArmSettings
from fusionlib.evaluation.stats import corrected_ttest, fold_differences, paired_bootstrap


def load_experiment(generated_dir: str | Path, name: str) -> dict[str, ArmResult]:
    """The results of experiment ``name`` written by the study (``<generated>/results/exp-<name>``), by arm
    label; ``FileNotFoundError`` names the folder when the experiment has not been run."""
    folder = Path(generated_dir) / "results" / f"exp-{name}"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: experiment {name!r} has no results (run its notebook first)")
    return {r.settings.label: r for r in load_results(folder)}


def kappa(result: ArmResult, weights: str = "quadratic") -> float:
    """κ per visit, pooled over the folds of a repeat, mean over repeats."""
    return float(summarise(result.metrics, "pooled").loc[("visit", f"kappa_{weights}"), "mean"])


def _n_sizes(result: ArmResult) -> tuple[float, float]:
    n = result.info["n_visits"]
    k = result.settings.n_splits
    return n * (k - 1) / k, n / k


def compare(a: ArmResult, b: ArmResult, weights: str = "quadratic", n_boot: int = 1000) -> dict:
    """``κ(a) - κ(b)`` per visit (``weights``: ``"quadratic"`` or ``"unweighted"``) with the patient bootstrap CI
    and the corrected t-test."""
    if weights not in ("quadratic", "unweighted"):
        raise ValueError(f"weights={weights!r}: use 'quadratic' or 'unweighted'")
    boot = paired_bootstrap(a.predictions, b.predictions, weights="quadratic" if weights == "quadratic" else None,
                            n_boot=n_boot)
    n_train, n_test = _n_sizes(a)
    tt = corrected_ttest(fold_differences(a.metrics, b.metrics, f"kappa_{weights}"), n_train, n_test)
    return {"diff": boot.estimate, "ci_low": boot.low, "ci_high": boot.high, "p_boot": boot.p_value,
            "t_low": tt.low, "t_high": tt.high, "p_t": tt.p_value}


@dataclass(frozen=True)
class Difference:
    """``κ(arm) - κ(reference)`` per visit under one weighting (``weights``: ``"quadratic"`` or ``"unweighted"``):
    both κ, the difference with its 95 % patient-bootstrap CI (``low``, ``high``) and p, and the corrected t-test's
    CI and p."""
    weights: str
    kappa: float
    ref_kappa: float
    delta: float
    low: float
    high: float
    p_boot: float
    t_low: float
    t_high: float
    p_t: float

    @property
    def verdict(self) -> str:
        """``"better"``, ``"worse"`` or ``"undecided"`` by the bootstrap CI."""
        return _verdict(self.low, self.high)

    @property
    def ci(self) -> str:
        """The bootstrap CI as the pages print it: ``"[+0.012, +0.034]"``."""
        return f"[{self.low:+.3f}, {self.high:+.3f}]"


@dataclass(frozen=True)
class Comparison:
    """One arm against its reference on the same folds, under each weighting asked for."""
    arm: str
    reference: str
    differences: tuple[Difference, ...]

    def by(self, weights: str = "quadratic") -> Difference:
        return next(d for d in self.differences if d.weights == weights)

    def row(self) -> dict:
        """The comparison as a row of :func:`comparison_table`."""
        row = {"arm": self.arm, "reference": self.reference}
        for d in self.differences:
            tag = "quad" if d.weights == "quadratic" else "unw"
            row.update({f"κ {tag}": d.kappa, f"ref κ {tag}": d.ref_kappa, f"Δκ {tag}": d.delta, f"95% CI {tag}": d.ci,
                        f"p {tag} (bootstrap)": d.p_boot, f"t-test CI {tag}": f"[{d.t_low:+.3f}, {d.t_high:+.3f}]",
                        f"p {tag} (t-test)": d.p_t, f"_low {tag}": d.low, f"_high {tag}": d.high})
        return row


def comparisons(results: dict[str, ArmResult], pairs: list[tuple[str, str]], n_boot: int = 1000,
                weights=("quadratic", "unweighted")) -> list[Comparison]:
    """One :class:`Comparison` per ``(arm, reference)`` pair (labels of ``results``)."""
    out = []
    for arm, ref in pairs:
        a, b = results[arm], results[ref]
        diffs = []
        for w in weights:
            c = compare(a, b, w, n_boot)
            diffs.append(Difference(w, kappa(a, w), kappa(b, w), c["diff"], c["ci_low"], c["ci_high"], c["p_boot"],
                                    c["t_low"], c["t_high"], c["p_t"]))
        out.append(Comparison(arm, ref, tuple(diffs)))
    return out


def comparison_table(results: dict[str, ArmResult], pairs: list[tuple[str, str]], n_boot: int = 1000,
                     weights=("quadratic", "unweighted")) -> pd.DataFrame:
    """:func:`comparisons` as a table, one row per pair: both κ and, per weighting, the difference, its bootstrap
    CI, bootstrap p, the corrected t-test CI and p."""
    return pd.DataFrame([c.row() for c in comparisons(results, pairs, n_boot, weights)])


def _verdict(low: float, high: float) -> str:
    return "better" if low > 0 else "worse" if high < 0 else "undecided"


def verdict(row: pd.Series, tag: str = "quad") -> str:
    """``"better"``, ``"worse"`` or ``"undecided"`` from the bootstrap CI of a :func:`comparison_table` row."""
    return _verdict(row[f"_low {tag}"], row[f"_high {tag}"])


def shown(comp: pd.DataFrame, results: dict[str, ArmResult], weight: str | None = None,
          reference: bool = True) -> pd.DataFrame:
    """A comparison table as a page shows it: arms and references by their titles
    (:attr:`~fusionlib.arms.settings.ArmSettings.title`), with ``weight`` (``"quad"`` or ``"unw"``) only that
    weighting's columns, without the reference column where the page's caption names it (``reference=False``)."""
    titles = {label: r.settings.title for label, r in results.items()}
    out = comp.assign(arm=comp["arm"].map(titles).fillna(comp["arm"]),
                      reference=comp["reference"].map(titles).fillna(comp["reference"]))
    if weight is not None:
        other = {"quad": "unw", "unw": "quad"}[weight]
        out = out[[c for c in out.columns if other not in c.split()]]
    return out if reference else out.drop(columns="reference")


# --- the root-cause grid -------------------------------------------------------------------------------

def in_head_order(names) -> list[str]:
    """``names`` that are heads, in the head table's order."""
    present = set(names)
    return [h for h in settings.head_names() if h in present]


def arm_label(head: str, condition: str = "") -> str:
    """The label of the default arm of ``head`` under ``condition`` (a key of
    :data:`fusionlib.arms.settings.CONDITIONS`; a head without an RF input takes none)."""
    return ArmSettings(head=head, **CONDITIONS.get(condition, {})).label


def metadata_partner(s: ArmSettings) -> str:
    """The label of metadata-only under the same RF switches as ``s`` (the reference of a fusion arm)."""
    return ArmSettings(head="metadata_only", decomposition=s.decomposition, source=s.source).label


def grid_table(results: dict[str, ArmResult]) -> pd.DataFrame:
    """κ quad per visit with one row per (source, decomposition) and one column per head (head-table order)."""
    rows = [{"source": r.settings.source, "decomposition": r.settings.decomposition, "head": r.settings.head,
             "kappa": kappa(r)} for r in results.values()]
    t = pd.DataFrame(rows).pivot_table(index=["source", "decomposition"], columns="head", values="kappa")
    return t[in_head_order(t.columns)]


@dataclass(frozen=True)
class FactorEffect:
    """One factor of the grid (source, decomposition or head): the mean κ at each of its levels, averaged over the
    other factors (``means``: level -> κ, in the levels' order), and the factor's ``range`` (max - min of those)."""
    factor: str
    means: dict

    @property
    def range(self) -> float:
        return max(self.means.values()) - min(self.means.values())


def factor_effect_records(grid: pd.DataFrame) -> list[FactorEffect]:
    """:class:`FactorEffect` of each factor of :func:`grid_table`: which factor moves κ, and by how much."""
    long = grid.rename_axis(columns="head").stack().rename("kappa").reset_index()
    return [FactorEffect(f, {level: float(m) for level, m in long.groupby(f)["kappa"].mean().items()})
            for f in ("source", "decomposition", "head")]


def factor_effects(grid: pd.DataFrame) -> pd.DataFrame:
    """:func:`factor_effect_records` as the page's table (3 decimals): factor, level, mean κ, range of the factor."""
    rows = [{"factor": e.factor, "level": level, "mean κ": m, "range of the factor": e.range}
            for e in factor_effect_records(grid) for level, m in e.means.items()]
    return pd.DataFrame(rows).round(3)


def fusion_gain(grid: pd.DataFrame) -> pd.DataFrame:
    """Each fusion head's κ minus metadata-only's in the same (source, decomposition) cell."""
    return grid.drop(columns="metadata_only").sub(grid["metadata_only"], axis=0)


# --- H1: fusion weights, alpha --------------------------------------------------------------------------

def fusion_weights(result: ArmResult) -> pd.DataFrame:
    """Per fold, from the fitted ``Dense(3)`` kernel ``(6, 3)`` (rows: BN(rf) I/P/R then image I/P/R): the
    weight each input class puts on its own output class (the diagonal), summed over the three classes, for
    the RF inputs and for the image inputs, and the mean absolute weight of each block."""
    rows = []
    for h in result.history:
        k = np.asarray(h.get("weights", {}).get("output/kernel", []), dtype=float)
        if k.shape != (6, 3):
            continue
        rows.append({"repeat": h["repeat"], "fold": h["fold"], "rf diagonal": np.trace(k[:3]),
                     "image diagonal": np.trace(k[3:]), "rf |w|": np.abs(k[:3]).mean(),
                     "image |w|": np.abs(k[3:]).mean()})
    return pd.DataFrame(rows)


def alpha_by_fold(result: ArmResult) -> pd.DataFrame:
    """Per fold, the mean and sd of the learned alpha over the reporting rows (fix2 / fix23)."""
    v = result.predictions[(result.predictions["split"] == "val") & result.predictions["alpha"].notna()]
    return v.groupby(["repeat", "fold"])["alpha"].agg(["mean", "std"]).reset_index()


# --- H2: what BatchNorm sees ---------------------------------------------------------------------------

RF_COLS = ["rf_I", "rf_P", "rf_R"]


def max_probability(result: ArmResult) -> pd.DataFrame:
    """The RF input's largest probability per image row, with the split (training rows vs reporting rows)."""
    p = result.predictions
    return pd.DataFrame({"split": p["split"], "max probability": p[RF_COLS].max(axis=1),
                         "sum": p[RF_COLS].sum(axis=1)})


def bn_statistics(result: ArmResult) -> pd.DataFrame:
    """Per fold and class: BN's moving mean / sd of the RF input (what it normalises validation rows with)
    against the mean / sd of the RF input on the training rows and on the reporting rows."""
    rows = []
    p = result.predictions
    for h in result.history:
        w = h.get("weights", {})
        if "rf_bn/moving_mean" not in w:
            continue
        sel = (p["repeat"] == h["repeat"]) & (p["fold"] == h["fold"])
        for j, c in enumerate("IPR"):
            tr = p.loc[sel & (p["split"] == "train"), f"rf_{c}"]
            va = p.loc[sel & (p["split"] == "val"), f"rf_{c}"]
            rows.append({"repeat": h["repeat"], "fold": h["fold"], "class": c,
                         "moving mean": w["rf_bn/moving_mean"][j], "moving sd": np.sqrt(w["rf_bn/moving_variance"][j]),
                         "train mean": tr.mean(), "train sd": tr.std(), "val mean": va.mean(), "val sd": va.std()})
    return pd.DataFrame(rows)


# --- H3 and the batch sweep -----------------------------------------------------------------------------

def _kappas(r: ArmResult) -> dict:
    return {"κ quad": kappa(r), "κ unw": kappa(r, "unweighted")}


def seed_table(results: dict[str, ArmResult]) -> pd.DataFrame:
    """κ per seed arm of the stability experiment: head, condition, level (``seed k``), κ quad, κ unw."""
    rows = []
    for r in results.values():
        kind, value = stability_factor(r.settings)
        if kind == "seed":
            rows.append({"head": r.settings.head, "condition": r.settings.condition, "level": f"seed {value}",
                         **_kappas(r)})
    return pd.DataFrame(rows)


def seed_spread(results: dict[str, ArmResult]) -> pd.DataFrame:
    """Per (head, condition): κ over initialisation seeds — mean, sd, min, max, n."""
    t = seed_table(results)
    return (t.groupby(["condition", "head"])["κ quad"].agg(["mean", "std", "min", "max", "count"])
            .reset_index().round(3))


def batch_sweep(results: dict[str, ArmResult]) -> pd.DataFrame:
    """κ per (condition, head, batch size)."""
    rows = []
    for r in results.values():
        kind, value = stability_factor(r.settings)
        if kind == "batch":
            rows.append({"head": r.settings.head, "condition": r.settings.condition, **_kappas(r),
                         "batch size": value})
    return pd.DataFrame(rows).sort_values(["condition", "head", "batch size"]).reset_index(drop=True)


# --- Fix #1 arithmetic ----------------------------------------------------------------------------------

def softmax_cap(n_classes: int = 3) -> float:
    """The largest probability softmax can give a probability vector: ``e / (e + n - 1)`` (input one-hot)."""
    return float(np.e / (np.e + n_classes - 1))


def fix1_arithmetic(rf: np.ndarray) -> pd.DataFrame:
    """For RF probability rows ``(n, 3)``: the top probability before and after a softmax, and whether the
    argmax survives (it always does: softmax is monotone); the spread is what Fix #1 compresses."""
    rf = np.asarray(rf, dtype=float)
    soft = np.exp(rf) / np.exp(rf).sum(1, keepdims=True)
    return pd.DataFrame({"rf max": rf.max(1), "softmax(rf) max": soft.max(1),
                         "rf max - min": rf.max(1) - rf.min(1), "softmax max - min": soft.max(1) - soft.min(1),
                         "same argmax": rf.argmax(1) == soft.argmax(1)})


# --- sensitivity sweep ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SweepPoint:
    """One arm of the thermal sweep: its ``head`` (``"<head> (report's conditions)"`` under the report's conditions),
    the cohort's ``thermal_signal``, its κ per visit and its ``gain`` in quadratic κ over metadata-only at that level."""
    head: str
    thermal_signal: float
    kappa_quadratic: float
    kappa_unweighted: float
    gain: float

    @property
    def fusion(self) -> bool:
        """Not a single modality (a head that is no fusion)."""
        return self.head not in settings.head_names(fusion=False)


def sweep_points(results: dict[str, ArmResult]) -> list[SweepPoint]:
    """:class:`SweepPoint` of every arm of the sweep, by head and thermal level."""
    arms = []
    for r in results.values():
        s = r.settings
        arms.append((f"{s.head} (report's conditions)" if s.condition == "report" else s.head,
                     float(s.cohort_params().thermal_signal), kappa(r), kappa(r, "unweighted")))
    ref = {level: k for head, level, k, _ in arms if head == "metadata_only"}
    return sorted((SweepPoint(h, level, kq, ku, kq - ref.get(level, np.nan)) for h, level, kq, ku in arms),
                  key=lambda p: (p.head, p.thermal_signal))


def sweep_table(results: dict[str, ArmResult]) -> pd.DataFrame:
    """:func:`sweep_points` as the page's table: per thermal level each arm's κ and its gain over metadata-only."""
    return pd.DataFrame([{"thermal signal": p.thermal_signal, "head": p.head, "κ quad": p.kappa_quadratic,
                          "κ unw": p.kappa_unweighted, "gain over metadata-only": p.gain}
                         for p in sweep_points(results)],
                        columns=["thermal signal", "head", "κ quad", "κ unw", "gain over metadata-only"])


def fusion_gains(points: list[SweepPoint]) -> dict[str, dict[float, float]]:
    """The fusions' gain over metadata-only: head -> {thermal level: gain}, levels ascending."""
    out: dict[str, dict[float, float]] = {}
    for p in sorted(points, key=lambda p: p.thermal_signal):
        if p.fusion:
            out.setdefault(p.head, {})[p.thermal_signal] = p.gain
    return out


# --- pairs and the numbers each page glues into its text -------------------------------------------------

COLLAPSE_BELOW = 0.10  #: what we call a collapse: the fusion's κ below this (the report: 0.022)


def pairs_against_metadata(results: dict[str, ArmResult]) -> list[tuple[str, str]]:
    """Every fusion arm (report heads and robust fusions) paired with metadata-only under the same RF switches."""
    pairs = []
    for label, r in results.items():
        if r.settings.spec.is_fusion and metadata_partner(r.settings) in results:
            pairs.append((label, metadata_partner(r.settings)))
    return pairs


def against_metadata(results: dict[str, ArmResult], weights=("quadratic", "unweighted"),
                     n_boot: int = 1000) -> pd.DataFrame:
    """:func:`comparison_table` of every fusion arm against metadata-only (:func:`pairs_against_metadata`), with
    each row's ``verdict`` by the quadratic-κ CI (the Results page's table; the findings read the same)."""
    comp = comparison_table(results, pairs_against_metadata(results), n_boot, weights)
    comp["verdict"] = [verdict(r) for _, r in comp.iterrows()]
    return comp


def rows_of(comp, results: dict[str, ArmResult], kind: str | None = None, condition: str | None = None):
    """The rows of a comparison table (or the :class:`Comparison` records of a list) whose arm's head is of
    ``kind`` (:data:`fusionlib.arms.settings.KINDS`) and whose RF switches are ``condition``, read from the arms'
    settings."""
    def keep(a):
        return ((kind is None or results[a].settings.spec.kind == kind)
                and (condition is None or results[a].settings.condition == condition))

    if isinstance(comp, pd.DataFrame):
        return comp[[keep(a) for a in comp["arm"]]]
    return [c for c in comp if keep(c.arm)]


def _fmt_ci(row: pd.Series, tag: str = "quad") -> str:
    return f"Δκ {row[f'Δκ {tag}']:+.3f} (95 % CI {row[f'95% CI {tag}']})"


def results_numbers(res: dict[str, ArmResult], comp: pd.DataFrame) -> dict:
    """The numbers and verdict strings of the Results page."""
    from fusionstudy.report import REPORTED

    k = {label: kappa(r) for label, r in res.items()}
    base_rep = k[arm_label("baseline", "report")]
    verdicts = [verdict(r) for _, r in comp.iterrows()]
    robust = rows_of(comp, res, kind="robust", condition="corrected")
    robust_text = "; ".join(f"`{res[r['arm']].settings.head}` κ {r['κ quad']:.3f}, {_fmt_ci(r)}, {verdict(r)}"
                            for _, r in robust.iterrows()) or "not run"
    return {"md_cor": k[arm_label("metadata_only", "corrected")], "md_rep": k[arm_label("metadata_only", "report")],
            "img": k[arm_label("image_only")], "base_rep": base_rep, "rep_md": REPORTED["metadata_only"].value,
            "rep_img": REPORTED["image_only"].value, "rep_base": REPORTED["baseline"].value,
            "collapse_threshold": COLLAPSE_BELOW,
            "collapse_verdict": "reproduced" if base_rep < COLLAPSE_BELOW else "did not reproduce",
            "n_comparisons": len(comp), "n_better": verdicts.count("better"), "n_worse": verdicts.count("worse"),
            "n_undecided": verdicts.count("undecided"), "robust_text": robust_text + "."}


def grid_pairs(results: dict[str, ArmResult]) -> list[tuple[str, str]]:
    """Per grid row, the baseline fusion against metadata-only; and, per head, in-sample against grouped
    out-of-fold training probabilities with the original decomposition (the report's defect, alone)."""
    pairs = [(label, metadata_partner(r.settings)) for label, r in results.items() if r.settings.head == "baseline"]
    for h in settings.head_names(kind="keras"):
        pairs.append(tuple(ArmSettings(head=h, decomposition="ordinal_original", source=src).label
                           for src in ("in_sample", "oof_grouped")))
    return [p for p in pairs if p[0] in results and p[1] in results]


def grid_numbers(grid: pd.DataFrame, effects: pd.DataFrame) -> dict:
    ranges = effects.groupby("factor")["range of the factor"].first().sort_values(ascending=False)
    long = grid.rename_axis(columns="head").stack()
    lo, hi = long.idxmin(), long.idxmax()
    out = {}
    for i, (name, rng) in enumerate(zip(("top", "second", "third"), ranges.items())):
        out[f"{name}_factor"], out[f"{name}_range"] = f"`{rng[0]}`", float(rng[1])
    out.update({"min_cell": f"`{lo[2]}` with `{lo[0]}` / `{lo[1]}`", "min_k": float(long.min()),
                "max_cell": f"`{hi[2]}` with `{hi[0]}` / `{hi[1]}`", "max_k": float(long.max())})
    return out


def hypotheses_numbers(h1: pd.DataFrame, alphas: dict, bn: dict, spread: pd.DataFrame, sweep: pd.DataFrame,
                       fix1: pd.DataFrame) -> dict:
    neg = int(h1["folds with rf diagonal < 0"].sum())
    rf_pos = bool((h1["rf diagonal"] > 0).all())
    h1_text = (f"not supported: the mean same-class weight on the RF inputs is positive for every head and condition "
               f"(from {h1['rf diagonal'].min():.2f} to {h1['rf diagonal'].max():.2f}; {neg} single folds below 0)."
               if rf_pos else f"partly supported: some heads put a negative mean weight on the RF inputs "
               f"({h1['rf diagonal'].min():.2f}); {neg} folds below 0.")
    a = {k: float(np.mean(v)) for k, v in alphas.items()}
    inside = [k for k, v in a.items() if 0.6 <= v <= 0.8]
    alpha_text = ("mean α " + ", ".join(f"{k} {v:.2f}" for k, v in a.items()) +
                  f"; {len(inside)} of {len(a)} inside the report's expected 0.6–0.8.")
    rep, cor = bn["report"], bn["corrected"]
    ratio_rep = float((rep["moving sd"] / rep["val sd"]).mean())
    ratio_cor = float((cor["moving sd"] / cor["val sd"]).mean())
    h2_text = (f"BN's moving sd is {ratio_rep:.2f}x the reporting rows' sd with in-sample RF probabilities and "
               f"{ratio_cor:.2f}x with grouped out-of-fold ones: in-sample training probabilities are more spread out "
               "than anything seen at validation, so BN scales the validation rows by statistics of another distribution."
               if ratio_rep > ratio_cor else
               f"BN's moving sd is {ratio_rep:.2f}x (in-sample) and {ratio_cor:.2f}x (out-of-fold) the reporting rows' sd.")
    by_bs = sweep.groupby("batch size")["κ quad"].mean()
    h2_text += (f" Across batch sizes {', '.join(str(b) for b in by_bs.index)} the mean κ of these arms ranges "
                f"{by_bs.min():.3f}–{by_bs.max():.3f}.")
    worst = spread.sort_values("std", ascending=False).iloc[0]
    h3_text = (f"the largest seed-to-seed sd of κ is {worst['std']:.3f} ({worst['head']}, {worst['condition']}), "
               f"against a fold-to-fold spread of 0.05–0.15: initialisation alone does not move κ to 0.02 "
               f"(lowest single-seed κ {spread['min'].min():.3f}).")
    return {"h1_text": h1_text, "alpha_text": alpha_text, "h2_text": h2_text, "h3_text": h3_text,
            "cap": softmax_cap(), "fix1_max": float(fix1["softmax(rf) max"].max()), "rf_max": float(fix1["rf max"].max()),
            "rf_spread": float(fix1["rf max - min"].mean()), "soft_spread": float(fix1["softmax max - min"].mean())}


def fusion_columns(table: pd.DataFrame) -> list[str]:
    """The columns of a head-by-column table that are fusion heads, in head-table order."""
    return [h for h in settings.head_names(fusion=True) if h in table.columns]


def mechanism_table(results: dict[str, ArmResult]) -> pd.DataFrame:
    """κ per mechanism (rows, :func:`fusionstudy.experiments.mechanism_of`) and head (columns)."""
    rows = [{"mechanism": mechanism_of(r.settings), "head": r.settings.head, "κ": kappa(r)} for r in results.values()]
    t = pd.DataFrame(rows).pivot_table(index="mechanism", columns="head", values="κ", sort=False)
    return t[in_head_order(t.columns)].round(3)


def mechanism_pairs(results: dict[str, ArmResult]) -> list[tuple[str, str]]:
    """Each arm with a mechanism switched on, paired with the same head without any."""
    plain = {r.settings.head: label for label, r in results.items() if mechanism_of(r.settings) == NO_MECHANISM}
    return [(label, plain[r.settings.head]) for label, r in results.items()
            if mechanism_of(r.settings) != NO_MECHANISM and r.settings.head in plain]


def joint_pairs(results: dict[str, ArmResult]) -> list[tuple[str, str]]:
    """Each arm whose CNN trains with its head (``image="joint"``) against the same head on the frozen image input."""
    frozen = {r.settings.head: label for label, r in results.items() if r.settings.image == "frozen"}
    joint = {r.settings.head: label for label, r in results.items() if r.settings.image == "joint"}
    return [(joint[h], frozen[h]) for h in settings.head_names(fusion=True) if h in joint and h in frozen]


def mechanism_numbers(table: pd.DataFrame, comp: pd.DataFrame, jcomp: pd.DataFrame) -> dict:
    long = table[fusion_columns(table)].stack()
    collapsed = long[long < COLLAPSE_BELOW]
    if len(collapsed):
        names = "; ".join(f"{m} ({h}: κ {v:.3f})" for (m, h), v in collapsed.items())
        text = f"Mechanisms that bring a fusion below κ {COLLAPSE_BELOW:.2f}: {names}."
    else:
        text = f"No single mechanism brings a fusion below κ {COLLAPSE_BELOW:.2f}."
    worse = comp[comp["_high quad"] < 0]
    text += (" Significantly harmful against the same head without it (CI below 0): "
             + ("; ".join(f"{r['arm']} ({_fmt_ci(r)})" for _, r in worse.iterrows()) if len(worse) else "none") + ".")
    jt = "; ".join(f"{r['arm']}: {_fmt_ci(r)} against the frozen image input" for _, r in jcomp.iterrows())
    return {"mechanism_text": text, "joint_text": ("End-to-end training of the CNN with the head: " + jt + ".") if jt else ""}


def fusion_rows(sweep: pd.DataFrame) -> pd.DataFrame:
    """The sweep's fusion arms only (not the single modalities: the heads that are no fusion)."""
    return sweep[~sweep["head"].isin(settings.head_names(fusion=False))]


def sweep_numbers(sweep: pd.DataFrame) -> dict:
    g = fusion_rows(sweep).pivot_table(index="head", columns="thermal signal", values="gain over metadata-only")
    lo, hi = g.columns.min(), g.columns.max()
    hurt = [h for h in g.index if g.loc[h, lo] < -0.02]
    help_ = [h for h in g.index if g.loc[h, hi] > 0.02]
    text = (f"With no thermal signal ({lo:g}) the fusions' gain over metadata-only ranges {g[lo].min():+.3f} to "
            f"{g[lo].max():+.3f} (hurting by more than 0.02: {', '.join(hurt) or 'none'}); at the strongest level ({hi:g}) "
            f"{g[hi].min():+.3f} to {g[hi].max():+.3f} (helping by more than 0.02: {', '.join(help_) or 'none'}). "
            "One repeat of 5 folds per level: single differences below about 0.05 are within fold noise.")
    return {"sweep_text": text}
