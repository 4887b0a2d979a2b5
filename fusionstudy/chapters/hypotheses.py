"""The hypotheses page, section by section: the report's H1 (the Dense layer ignores or reverses the RF), H2 (what
BatchNorm sees), H3 (training instability) and the arithmetic of Fix #1, from the ``report`` and ``stability``
experiments (the tables are :mod:`fusionstudy.chapters.analysis`'s, the figures :mod:`fusionstudy.plots`').

Each method returns what one cell of ``notebooks/hypotheses.ipynb`` shows, as a list of parts
(:func:`fusionstudy.present.show`); arms are found by head and condition (:func:`~fusionstudy.chapters.analysis.
arm_label`), never by typed names.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from fusionstudy import plots, present
from fusionstudy.chapters import analysis

#: The conditions compared, in the order the page shows them.
CONDITIONS = ("report", "corrected")
#: Each condition as the page names it in the confidence histogram.
CONFIDENCE_NAMES = {"report": "in-sample (report)", "corrected": "out-of-fold, grouped (corrected)"}


class HypothesesChapter:
    """The page, read from the experiments' results under ``generated_dir``."""

    def __init__(self, generated_dir: str):
        self.rep = analysis.load_experiment(generated_dir, "report")
        self.stab = analysis.load_experiment(generated_dir, "stability")
        self.weights = {f"{h} ({c})": analysis.fusion_weights(self._arm(h, c))
                        for h in ("baseline", "fix1", "fix3") for c in CONDITIONS}
        self.alphas = {f"{h} ({c})": self._arm(h, c).predictions.query("split == 'val'")["alpha"].to_numpy()
                       for h in ("fix2", "fix23") for c in CONDITIONS}
        self.bn = {c: analysis.bn_statistics(self._arm("baseline", c)) for c in CONDITIONS}
        self.sweep = analysis.batch_sweep(self.stab)
        self.seeds = analysis.seed_table(self.stab)
        self.fix1 = analysis.fix1_arithmetic(self._arm("baseline", "corrected").predictions[analysis.RF_COLS]
                                             .to_numpy())

    def _arm(self, head: str, condition: str):
        return self.rep[analysis.arm_label(head, condition)]

    @staticmethod
    def _figure(draw, size: tuple) -> list:
        fig, ax = plt.subplots(figsize=size)
        draw(ax=ax)
        fig.tight_layout()
        return [fig]

    def weights_figure(self) -> list:
        """H1: the fitted same-class weights from the RF and from the image inputs, per fold."""
        return self._figure(lambda ax: plots.weights_by_fold(self.weights, ax=ax), (6.5, 4))

    def weights_table(self) -> list:
        """H1: their means, and how many folds reverse the RF."""
        return [present.table(self.h1().rename_axis("head (condition)"), index=True)]

    def h1(self) -> pd.DataFrame:
        h1 = pd.DataFrame({k: w[["rf diagonal", "image diagonal"]].mean() for k, w in self.weights.items()}).T
        h1["folds with rf diagonal < 0"] = [int((w["rf diagonal"] < 0).sum()) for w in self.weights.values()]
        return h1

    def alpha_figure(self) -> list:
        """Fix #2's learned α over the reporting rows of every fold."""
        return self._figure(lambda ax: plots.alpha_hist(self.alphas, ax=ax), (6, 3.4))

    def alpha_table(self) -> list:
        return [present.table(pd.DataFrame({k: pd.Series(a).describe()[["mean", "std", "min", "50%", "max"]]
                                            for k, a in self.alphas.items()}).T.rename_axis("head (condition)"),
                              index=True)]

    def confidence_figure(self) -> list:
        """H2: the RF input's top probability on the training rows against the reporting rows."""
        fig = plots.max_probability_hist({CONFIDENCE_NAMES[c]: analysis.max_probability(self._arm("baseline", c))
                                          for c in CONDITIONS})
        fig.tight_layout()
        return [fig]

    def bn_table(self) -> list:
        """H2: BN's moving statistics per class against the RF input's on the training and the reporting rows."""
        cols = ["moving mean", "val mean", "moving sd", "train sd", "val sd"]
        return [present.table(pd.concat({c: t.groupby("class")[cols].mean() for c, t in self.bn.items()},
                                        names=["condition"]), index=True)]

    def bn_figure(self) -> list:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
        for ax, (c, t) in zip(axes, self.bn.items()):
            plots.bn_stats_plot(t, ax=ax)
            ax.set_title(c)
        fig.tight_layout()
        return [fig]

    def batch_figure(self) -> list:
        """H2: κ against the batch size."""
        return self._figure(lambda ax: plots.batch_sweep_plot(self.sweep, ax=ax), (6, 3.6))

    def batch_table(self) -> list:
        return [present.table(self.sweep.pivot_table(index=["condition", "head"], columns="batch size",
                                                     values="κ quad"), index=True)]

    def seeds_figure(self) -> list:
        """H3: κ per initialisation seed."""
        return self._figure(lambda ax: plots.seed_strip(self.seeds, ax=ax), (9, 3.6))

    def seeds_table(self) -> list:
        return [present.table(analysis.seed_spread(self.stab))]

    def fix1_figure(self) -> list:
        """Fix #1: the RF's top probability before and after the softmax, with its ceiling."""
        return self._figure(lambda ax: plots.fix1_plot(self.fix1, analysis.softmax_cap(), ax=ax), (5, 3.6))

    def fix1_table(self) -> list:
        return [present.table(self.fix1.describe().loc[["mean", "min", "max"]].rename_axis("statistic"), index=True)]

    def numbers(self) -> dict:
        """The numbers the page's verdicts quote (glued, never typed)."""
        return analysis.hypotheses_numbers(self.h1(), self.alphas, self.bn, analysis.seed_spread(self.stab),
                                           self.sweep, self.fix1)
