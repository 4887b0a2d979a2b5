"""Figures of the book: what a reader needs from them (one row per arm, a legend whose colours are the bars')."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import pandas as pd  # noqa: E402

from fusionstudy import plots  # noqa: E402


def test_kappa_by_arm_has_a_row_per_arm_and_a_legend_in_the_bars_colours():
    summary = pd.DataFrame({"arm": ["a|report", "a|corrected", "image_only"],
                            "title": ["a (report's conditions)", "a (corrected)", "image_only"],
                            "head": ["fix23", "fix23", "image_only"],
                            "condition": ["report", "corrected", ""],
                            "kappa_quadratic_visit": [0.1, 0.3, 0.15], "kappa_quadratic_visit_fold_sd": [0.05] * 3})
    ax = plots.kappa_by_arm(summary, reference={"fix23": 0.02})
    assert [t.get_text() for t in ax.get_yticklabels()] == list(summary["title"])      # arms by their titles
    bars = {round(p.get_width(), 6): mcolors.to_hex(p.get_facecolor()) for p in ax.patches}
    legend = ax.get_legend()
    colours = {t.get_text(): mcolors.to_hex(h.get_facecolor()) for t, h in zip(legend.get_texts(), legend.legend_handles)
               if hasattr(h, "get_facecolor") and t.get_text().endswith("conditions")}
    assert colours == {"report conditions": bars[0.1], "corrected conditions": bars[0.3]}
    assert colours["report conditions"] != colours["corrected conditions"]
    assert "report's measured κ" in [t.get_text() for t in legend.get_texts()]
