"""The audit's report: a self-contained HTML page (tables, figures inlined as PNG) and JSON for machines, both
written atomically (:mod:`fusionlib.io`)."""

from __future__ import annotations

import base64
import html
import io as _io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .. import io

STYLE = """
body{font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;color:#222;line-height:1.5}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.meta{color:#666;font-size:.9rem} .verdict{background:#f6f8fa}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0;display:block;overflow-x:auto}
th,td{border-bottom:1px solid #e5e5e5;padding:.25rem .6rem;text-align:right;white-space:nowrap}
th{background:#fafafa} td:first-child,th:first-child{text-align:left} img{max-width:100%}
"""


def _clean(obj):
    """``obj`` with numpy scalars as Python numbers and NaN/inf as ``None`` (valid JSON)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def to_json(result) -> str:
    """The audit as JSON: source, fusion, models, classes, exit code, findings, verdict and every check's
    numbers."""
    out = {"source": result.source, "fusion": result.fusion, "models": result.models,
           "classes": list(result.classes), "exit_code": result.exit_code, "findings": result.findings,
           "verdict": result.verdict,
           "checks": {name: {"title": c.title, "finding": c.finding, "summary": c.summary, "numbers": c.numbers}
                      for name, c in result.checks.items()}}
    return json.dumps(_clean(out), indent=1, ensure_ascii=False, allow_nan=False)


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, border=0, na_rep="—", float_format=lambda v: f"{v:.3f}", escape=True)


def _png(fig) -> str:
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def figures(result) -> dict[str, str]:
    """Per check name, an ``<img>`` of its figure: κ with intervals, train against test rows, the re-drawn split
    spread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    kappas = pd.DataFrame(result.checks["comparison"].numbers["kappas"])
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(kappas)))
    ci = kappas["κ quadratic 95% CI"].str.strip("[]").str.split(",", expand=True).astype(float)
    y = np.arange(len(kappas))[::-1]
    ax.errorbar(kappas["κ quadratic"], y, xerr=[kappas["κ quadratic"] - ci[0], ci[1] - kappas["κ quadratic"]],
                fmt="o", color="#333", capsize=3)
    ax.set_yticks(y, kappas["model"])
    ax.set_xlabel("quadratic-weighted κ on the common rows (95 % group-bootstrap interval)")
    ax.axvline(0, color="#bbb", lw=0.8)
    out["comparison"] = _png(fig)
    per = result.checks["in_sample"].numbers.get("per_model", {})
    if per:
        fig, axes = plt.subplots(1, len(per), figsize=(4.2 * len(per), 2.8), squeeze=False)
        for ax, (m, n) in zip(axes[0], per.items()):
            names = ["confidence", "accuracy", "kappa"]
            x = np.arange(len(names))
            ax.bar(x - 0.18, [n["train"][k] for k in names], 0.36, label="training rows", color="#c44e52")
            ax.bar(x + 0.18, [n["test"][k] for k in names], 0.36, label="test rows", color="#4c72b0")
            ax.set_xticks(x, ["mean confidence", "accuracy", "κ"])
            ax.set_title(m, fontsize=10)
            ax.set_ylim(min(0, min(n["test"]["kappa"], n["train"]["kappa"])), 1)
        axes[0][0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.12), ncol=2, frameon=False)
        out["in_sample"] = _png(fig)
    spread = result.checks["spread"].numbers["per_model"]
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(spread)))
    for i, (m, n) in enumerate(reversed(list(spread.items()))):
        lo, mid, hi = n["single_fold"]
        ax.plot([lo, hi], [i, i], color="#999", lw=6, solid_capstyle="butt")
        ax.plot(mid, i, "|", color="#333", ms=14)
        ax.plot(n["own_folds"], [i] * len(n["own_folds"]), "o", color="#c44e52", ms=5)
    ax.set_yticks(range(len(spread)), list(reversed(list(spread))))
    ax.set_xlabel("one fold's κ: 95 % range over re-drawn grouped splits (grey), the model's own folds (red)")
    out["spread"] = _png(fig)
    return out


def to_html(result, title: str = "Fusion audit", fragment: bool = False) -> str:
    """The audit as one self-contained HTML page; ``fragment=True``: its body only (no page style, the checks'
    headings at level 4), to show inside another page, such as a book's section."""
    figs = figures(result)
    h = "h4" if fragment else "h2"
    status = (f'<b>{len(result.findings)} finding(s): {", ".join(result.findings)}</b>'
              if result.findings else "<b>no finding</b>")
    parts = [] if fragment else [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                                 f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
                                 f"<h1>{html.escape(title)}</h1>"]
    parts += [f"<p class='meta'>Input {html.escape(str(result.source))} · fusion <b>{html.escape(result.fusion)}</b>"
              f" · models {html.escape(', '.join(result.models))} · classes {html.escape(' < '.join(result.classes))}"
              f" · exit code {result.exit_code} · {status}</p>",
              f"<div class='verdict' style='border-left:4px solid #555;padding:.4rem .8rem'><b>Verdict.</b> "
              f"{html.escape(result.verdict)}</div>"]
    for number, (name, check) in enumerate(result.checks.items(), start=1):
        badge = "finding" if check.finding else "clear"
        colour = "#a40000" if check.finding else "#1a6e1a"
        parts.append(f"<{h}>{number}. {html.escape(check.title)} — <span style='color:{colour}'>{badge}</span></{h}>"
                     f"<p>{html.escape(check.summary)}</p>")
        if name in figs:
            parts.append(figs[name])
        for caption, table in check.tables.items():
            parts.append(f"<p class='meta'><i>{html.escape(caption)}</i></p>{_table(table)}")
    parts.append("<p class='meta'><i>Made by fusionlib.audit. Intervals: 95 % percentile intervals of a group "
                 "bootstrap (groups drawn with replacement, the same draws for every model).</i></p>")
    if not fragment:
        parts.append("</body></html>")
    return "\n".join(parts)


def write_report(result, out_dir: str | Path, title: str = "Fusion audit") -> dict[str, Path]:
    """Write ``report.html`` and ``audit.json`` into ``out_dir`` (created if absent), each atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    page, data = to_html(result, title), to_json(result)
    paths = {"html": io.write_text(out / "report.html", page), "json": io.write_text(out / "audit.json", data)}
    for path in paths.values():
        path.chmod(0o644)                        # a report to be read and served, not a private temporary file
    return paths
