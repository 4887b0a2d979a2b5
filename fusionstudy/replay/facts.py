"""The replay's facts: one typed record per claim the findings, the verdicts and the pins make.

The replay chapter (:class:`fusionstudy.chapters.replay.ReplayChapter`) builds :class:`ReplayFacts` from its runs —
the tidy per-fold tables of :class:`fusionstudy.replay.protocol.Replay` (columns ``fold``, ``variant``, ``head``,
``kappa_quadratic``, ...) and the split distribution — and saves it as ``facts.json`` beside its display tables (:class:`fusionstudy.records.Record`).
The findings, the verdicts, the figures and the pins read these fields by name; the display tables' headers are
free to change without touching them. Every κ is Cohen's κ on validation rows, quadratic unless named
``unweighted``; folds are numbered from 1; shares are fractions in [0, 1] unless named ``pct`` (percent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fusionstudy.records import Record
from fusionstudy.replay.protocol import HEADS

#: The heads of the two commits the replay runs (:data:`fusionstudy.replay.protocol.HEADS`): e0ba25c's metadata head
#: (softmax of the RF vector, no trainable weights: the RF alone) and 1ea5ac0's (RF vector -> BatchNorm -> softmax).
RF_ALONE, BN_HEAD = HEADS
AS_RECORDED = "as recorded"


def fold_rows(folds: pd.DataFrame, head: str, variant: str = AS_RECORDED) -> pd.DataFrame:
    """The rows of one head and variant of a per-fold table, in fold order."""
    return folds[(folds["variant"] == variant) & (folds["head"] == head)].sort_values("fold")


def _floats(values) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


@dataclass(frozen=True)
class RecordedSplit:
    """Claim: the recorded 3-fold metadata run (e0ba25c, the RF alone) is replayed fold by fold from the public rows.

    ``kappa``, ``unweighted``, ``train_unweighted``: per fold, this replay (training rows: in-sample RF
    probabilities); ``identical``: per fold, whether the confusion matrix equals the logged one."""
    kappa: tuple[float, ...]
    unweighted: tuple[float, ...]
    train_unweighted: tuple[float, ...]
    identical: tuple[bool, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.kappa))

    @property
    def n_identical(self) -> int:
        return int(sum(self.identical))

    @classmethod
    def from_folds(cls, folds: pd.DataFrame) -> "RecordedSplit":
        from fusionstudy.report import ORIGINAL_3FOLD

        ours = fold_rows(folds, RF_ALONE).set_index("fold")
        same = tuple(bool([list(x) for x in rec["confusion"]] == [list(x) for x in ours.loc[rec["fold"], "confusion"]])
                     for rec in ORIGINAL_3FOLD)
        return cls(_floats(ours["kappa_quadratic"]), _floats(ours["kappa_unweighted"]),
                   _floats(ours["train_kappa_unweighted"]), same)


@dataclass(frozen=True)
class FoldOne:
    """Claim: Fix #2+#3's recorded statistics are the RF alone on fold 1 of the recorded split (this replay)."""
    kappa: float
    unweighted: float
    train_unweighted: float
    share_predicted_P: float

    @classmethod
    def from_folds(cls, folds: pd.DataFrame) -> "FoldOne":
        r = fold_rows(folds, RF_ALONE).set_index("fold").loc[1]
        return cls(float(r["kappa_quadratic"]), float(r["kappa_unweighted"]), float(r["train_kappa_unweighted"]),
                   float(r["share_predicted_P"]))


@dataclass(frozen=True)
class FiveFold:
    """Claim: the report's 0.254 for metadata alone is the 5-fold run of the BatchNorm head (1ea5ac0).

    Per fold: ``bn`` this replay's BN head, ``rf`` the RF alone, ``recorded`` the history's κ (3950388),
    ``evidence`` the evidence file's run of the original code; ``full_scale``: forests and epochs as recorded."""
    bn: tuple[float, ...]
    rf: tuple[float, ...]
    recorded: tuple[float, ...]
    evidence: tuple[float, ...]
    full_scale: bool

    @property
    def bn_mean(self) -> float:
        return float(np.mean(self.bn))

    @property
    def rf_mean(self) -> float:
        return float(np.mean(self.rf))

    @property
    def equal_recorded(self) -> int:
        """Folds whose κ equals the recorded one at the log's 3 decimals."""
        return int(np.sum(np.round(self.bn, 3) == np.round(self.recorded, 3)))

    @property
    def equal_evidence(self) -> int:
        """Folds within 5e-5 of the evidence file's 4-decimal κ."""
        return int(np.sum(np.abs(np.subtract(self.bn, self.evidence)) < 5e-5))

    @classmethod
    def from_folds(cls, folds: pd.DataFrame, full_scale: bool) -> "FiveFold":
        from fusionstudy.report import EVIDENCE_REPLAY_5FOLD, HISTORY

        return cls(_floats(fold_rows(folds, BN_HEAD)["kappa_quadratic"]), _floats(fold_rows(folds, RF_ALONE)["kappa_quadratic"]),
                   _floats(HISTORY["metadata_5fold"].folds), _floats(EVIDENCE_REPLAY_5FOLD), bool(full_scale))

    def table(self, best_epoch=None) -> pd.DataFrame:
        """The chapter's display table: per fold and their mean, the four κ (``best_epoch``: the BN head's, per fold)."""
        n = len(self.recorded)
        epochs = list(best_epoch) if best_epoch is not None else [np.nan] * n
        pad = lambda v: list(v) + [np.nan] * (n - len(v))  # noqa: E731 - a fold that did not run
        out = pd.DataFrame({"fold": range(1, n + 1), "recorded (3950388)": self.recorded,
                            "original code replayed (evidence file)": self.evidence,
                            "this replay: RF -> BN -> softmax": pad(self.bn), "best epoch": pad(epochs),
                            "this replay: RF alone": pad(self.rf)})
        mean = out.drop(columns=["fold", "best epoch"]).mean()
        out = pd.concat([out, pd.DataFrame([{"fold": "mean", **mean.to_dict()}])], ignore_index=True)
        out["best epoch"] = [("" if np.isnan(e) else str(int(e))) for e in out["best epoch"]]
        return out


@dataclass(frozen=True)
class SplitDraws:
    """Claim: where the recorded numbers fall among seeded patient splits of the same rows (the RF alone,
    ``trees``-tree forests). ``n3``/``n5``: splits of 3 and 5 folds; ``pct_*``: percent of split means (of single
    folds for ``pct_low_fold``) at or below the recorded number; ``share_low_fold_pct``: percent of 3-fold splits
    with a fold at or below the recorded fold 1; ``median3``/``median5``: median split mean."""
    n3: int
    n5: int
    trees: int
    share_low_fold_pct: float
    pct_low_fold: float
    pct_metadata_3fold: float
    pct_fusion_3fold: float
    pct_metadata_5fold: float
    median3: float
    median5: float

    @classmethod
    def from_distribution(cls, dist: pd.DataFrame) -> "SplitDraws":
        from fusionstudy.replay.studies import percentile_of, split_means
        from fusionstudy.report import HISTORY, ORIGINAL_3FOLD

        low = ORIGINAL_3FOLD[0]["kappa_quadratic"]
        means = split_means(dist)
        m3, m5 = means[means["n_folds"] == 3], means[means["n_folds"] == 5]
        nan = float("nan")
        return cls(int(len(m3)), int(len(m5)), int(dist["n_trees"].iloc[0]),
                   float(100 * np.mean(m3["min"] <= low)) if len(m3) else nan,
                   percentile_of(dist[dist["n_folds"] == 3]["kappa_quadratic"], low),
                   percentile_of(m3["mean"], HISTORY["metadata_3fold"].value),
                   percentile_of(m3["mean"], HISTORY["fusion_3fold"].value),
                   percentile_of(m5["mean"], HISTORY["metadata_5fold"].value),
                   float(np.median(m3["mean"])) if len(m3) else nan, float(np.median(m5["mean"])) if len(m5) else nan)


@dataclass(frozen=True)
class Normalised:
    """One model's predictions with the RF vector as recorded and normalised to sum 1 (pooled validation rows)."""
    model: str
    changed: int
    kappa_raw: float
    kappa_normalised: float


@dataclass(frozen=True)
class Normalisation:
    """Claim: normalising the RF vector cannot lift a fused model from -0.007 to 0.3158. ``rf``: the RF alone;
    ``average``/``image``: the fixed ``weight`` average with the semi-real CNN's probabilities and that CNN alone
    (None without them); ``any_image_changed``: rows whose prediction some image vector of the ``grid_points``-point
    simplex grid changes, ``any_image_share``: the mean share of grid vectors that change a row."""
    rows: int
    weight: float
    grid_points: int
    rf: Normalised
    average: Normalised | None
    image: Normalised | None
    any_image_changed: int
    any_image_share: float

    def table(self) -> pd.DataFrame:
        """The chapter's display table, one row per model."""
        rows = [{"model": m.model, "rows": self.rows, "predictions changed": m.changed, "κ unnormalised": m.kappa_raw,
                 "κ normalised": m.kappa_normalised} for m in (self.rf, self.average, self.image) if m is not None]
        rows.append({"model": f"{self.weight:g} × RF + {1 - self.weight:.1f} × any image vector "
                              f"({self.grid_points:,} on the simplex)", "rows": self.rows,
                     "predictions changed": self.any_image_changed, "κ unnormalised": np.nan, "κ normalised": np.nan,
                     "mean share of image vectors that change it": self.any_image_share})
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class FixedAverage:
    """Claim: a fixed ``weight`` x RF + rest x image average (RF vector normalised) scores like the RF alone.
    Per fold: κ of the RF alone, the image alone, the average, and the average's agreement with the RF argmax."""
    weight: float
    rf: tuple[float, ...]
    image: tuple[float, ...]
    average: tuple[float, ...]
    agreement: tuple[float, ...]

    def table(self) -> pd.DataFrame:
        """The chapter's display table, one row per fold."""
        return pd.DataFrame({"fold": range(1, len(self.rf) + 1), "κ RF alone": self.rf, "κ image alone": self.image,
                             f"κ {self.weight:g} × RF + {1 - self.weight:.1f} × image": self.average,
                             "agreement of the average with the RF argmax": self.agreement})


@dataclass(frozen=True)
class Defect:
    """One variant of the protocol (a defect switched off, or all) with one head, over the 3 folds: mean κ and
    mean training-row κ (unweighted)."""
    variant: str
    head: str
    kappa: float
    train_unweighted: float


@dataclass(frozen=True)
class ReplayFacts(Record):
    """Every fact of the replay the findings, the verdicts and the pins read (see the module's docstring).

    ``sklearn``/``engine``: the scikit-learn that grew the forests and its environment; ``bn_agreement``: the BN
    head's mean agreement with the RF argmax on the 3 folds' validation rows; ``fixed``: None without the
    semi-real image probabilities."""
    sklearn: str
    engine: str
    recorded_split: RecordedSplit
    fold_one: FoldOne
    five_fold: FiveFold
    splits: SplitDraws
    normalisation: Normalisation
    fixed: FixedAverage | None
    bn_agreement: float
    defects: tuple[Defect, ...]

    def defect(self, variant: str, head: str) -> Defect | None:
        return next((d for d in self.defects if (d.variant, d.head) == (variant, head)), None)

    def pinned(self) -> dict[str, float]:
        """The values pinned by :mod:`fusionstudy.build.pin`: the recorded split's κ (quadratic and unweighted) and
        the 5-fold κ of the BN head and the RF alone, per fold (``"<field>[<fold>]"``) and their 5-fold means."""
        out = {}
        for name, values in (("recorded_split.kappa", self.recorded_split.kappa),
                             ("recorded_split.unweighted", self.recorded_split.unweighted),
                             ("five_fold.bn", self.five_fold.bn), ("five_fold.rf", self.five_fold.rf)):
            out.update({f"{name}[{i}]": v for i, v in enumerate(values, start=1)})
        out.update({"five_fold.bn_mean": self.five_fold.bn_mean, "five_fold.rf_mean": self.five_fold.rf_mean})
        return out


def replay_facts(info: dict, exact: pd.DataFrame, five: pd.DataFrame, defects: pd.DataFrame,
                 distribution: pd.DataFrame, normalisation: Normalisation, fixed: FixedAverage | None,
                 full_scale: bool) -> ReplayFacts:
    """The facts from the chapter's runs: ``exact``/``five``/``defects`` the per-fold tables of the 3-fold, 5-fold
    and defect runs, ``distribution`` the split distribution, ``info`` the forests' environment
    (``{"scikit-learn", "engine"}``)."""
    d = defects
    agree = fold_rows(d, BN_HEAD)["agreement_with_rf_val"].mean()
    return ReplayFacts(
        sklearn=str(info["scikit-learn"]), engine=str(info["engine"]),
        recorded_split=RecordedSplit.from_folds(exact), fold_one=FoldOne.from_folds(exact),
        five_fold=FiveFold.from_folds(five, full_scale), splits=SplitDraws.from_distribution(distribution),
        normalisation=normalisation, fixed=fixed, bn_agreement=float(agree),
        defects=tuple(Defect(str(v), str(h), float(g["kappa_quadratic"].mean()),
                             float(g["train_kappa_unweighted"].mean()))
                      for (v, h), g in d.groupby(["variant", "head"], sort=False)))
