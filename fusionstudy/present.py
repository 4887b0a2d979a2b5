"""How the book shows a table: no index column, numbers formatted, wide tables scrolling inside their box.

>>> from fusionstudy.present import table
>>> table(df, digits=3, caption="κ per arm")            # doctest: +SKIP

:class:`Table` carries three renderings of one table, and the book's builders pick theirs:

* HTML (the web book): a ``<table>`` inside ``<div class="fl-table">``, which the book's stylesheet
  (``book/_static/fusion.css``) lets scroll sideways instead of running off the page;
* Markdown (the PDF: Jupyter Book's LaTeX builder prefers it to plain text, so the table becomes a real LaTeX
  table that wraps its cells to the page);
* plain text (what ``nbval`` compares, and a terminal shows).

All three are deterministic (no random element ids), so a notebook re-executed with the same results gives the
same output. Numbers are formatted once, here: floats with ``digits`` decimals (``percent`` columns as
percentages), integers as they are, missing values as an em dash. Columns whose name starts with ``_`` (a table's
private numbers, e.g. the bounds of a CI shown as text) are never shown. Every table of every page goes through
:func:`table`.
"""

from __future__ import annotations

import html
import math
import numbers

import numpy as np
import pandas as pd

MISSING = "—"
#: A confidence interval as the tables write it (``[-0.283, +0.096]``): set like a number (right, never wrapped).
CI_PATTERN = r"\[[-+−]?\d[^\]]*\]"
NUMERIC_CLASS = ' class="fl-num"'


def _cell(value, digits: int, percent: bool) -> str:
    """One value as text."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(value)
    if isinstance(value, numbers.Real):
        return f"{100 * value:.{max(digits - 2, 0)}f} %" if percent else f"{value:.{digits}f}"
    return str(value)


class Table:
    """A table for a book page (see the module docstring).

    Parameters
    ----------
    frame : DataFrame
        The table; its index is dropped unless ``index=True`` (then it becomes the first columns).
    digits : int
        Decimals of float columns (κ and Δκ: 3).
    caption : str
        Shown above the table.
    percent : tuple of str
        Float columns holding shares (0..1), shown as percentages with ``digits - 2`` decimals.
    index : bool
        Keep the index as leading columns (for tables whose index is a label, e.g. an arm name).
    columns : list of str, optional
        Show only these columns, in this order.
    """

    def __init__(self, frame: pd.DataFrame, digits: int = 3, caption: str = "", percent: tuple = (),
                 index: bool = False, columns: list | None = None):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"table() needs a pandas DataFrame, got {type(frame).__name__}")
        if columns is not None:
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise ValueError(f"column(s) {missing} are not columns of the table {list(map(str, frame.columns))}")
            frame = frame[list(columns)]
        frame = frame[[c for c in frame.columns if not str(c).startswith("_")]]
        unknown = set(percent) - set(map(str, frame.columns))
        if unknown:
            raise ValueError(f"percent column(s) {sorted(unknown)} are not columns of the table")
        frame = frame.reset_index() if index else frame
        if isinstance(frame.columns, pd.MultiIndex):
            frame = frame.set_axis([" ".join(str(p) for p in c if str(p)) for c in frame.columns], axis=1)
        self.columns = [str(c) for c in frame.columns]
        self.rows = [[_cell(v, digits, str(c) in percent) for c, v in zip(frame.columns, row)]
                     for row in frame.itertuples(index=False, name=None)]
        numeric = {str(c) for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
                   or len(frame) and frame[c].astype(str).str.fullmatch(CI_PATTERN).all()}
        self.numeric = [c in numeric for c in self.columns]
        self.caption = caption

    def _repr_html_(self) -> str:
        def row(cells, tag):
            return "<tr>" + "".join(f"<{tag}{NUMERIC_CLASS if num else ''}>{html.escape(c)}</{tag}>"
                                    for c, num in zip(cells, self.numeric)) + "</tr>"

        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        body = "".join(row(r, "td") for r in self.rows)
        return (f'<div class="fl-table"><table class="fl-table">{caption}<thead>{row(self.columns, "th")}</thead>'
                f"<tbody>{body}</tbody></table></div>")

    def _repr_markdown_(self) -> str:
        def row(cells):
            return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

        align = "| " + " | ".join("---:" if num else ":---" for num in self.numeric) + " |"
        lines = [row(self.columns), align, *(row(r) for r in self.rows)]
        return (f"**{self.caption}**\n\n" if self.caption else "") + "\n".join(lines)

    def __repr__(self) -> str:
        widths = [max(len(c), *(len(r[i]) for r in self.rows)) if self.rows else len(c)
                  for i, c in enumerate(self.columns)]
        lines = ["  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, self.numeric))
                 for cells in (self.columns, *self.rows)]
        return "\n".join(([self.caption] if self.caption else []) + [line.rstrip() for line in lines])


def table(frame: pd.DataFrame, digits: int = 3, caption: str = "", percent: tuple = (),
          index: bool = False, columns: list | None = None) -> Table:
    """A :class:`Table` of ``frame`` for a book page."""
    return Table(frame, digits=digits, caption=caption, percent=percent, index=index, columns=columns)


def show(parts) -> None:
    """Display a chapter's parts in order (e.g. :class:`fusionstudy.chapters.replay.ReplayChapter`'s sections): text
    as Markdown, a matplotlib figure once (then closed), anything else (a :class:`Table`) as itself."""
    from IPython.display import Markdown, display

    for part in parts:
        if isinstance(part, str):
            display(Markdown(part))
        elif hasattr(part, "savefig"):
            import matplotlib.pyplot as plt

            display(part)
            plt.close(part)
        else:
            display(part)


def glue_numbers(numbers: dict) -> None:
    """Glue a page's numbers (myst-nb ``glue``, not displayed) for its text: strings as Markdown, numbers as they
    are; the text cites them as ``{glue:text}`key``` or ``{glue:md}`key```."""
    from IPython.display import Markdown
    from myst_nb import glue

    for key, value in numbers.items():
        glue(key, Markdown(value) if isinstance(value, str) else value, display=False)
