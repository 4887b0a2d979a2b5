"""fusionstudy.present: one table, three deterministic renderings (HTML for the web book, Markdown for the PDF,
plain text for nbval), no index column, numbers formatted once."""

import numpy as np
import pandas as pd
import pytest

from fusionstudy.present import MISSING, table


@pytest.fixture
def frame():
    return pd.DataFrame({"arm": ["a|b", "c<d>"], "κ": [0.12345, np.nan], "n": [3, 4], "share": [0.5, 0.25],
                         "ok": [np.True_, False]}, index=[10, 11])


def test_no_index_and_numbers_formatted(frame):
    t = table(frame, caption="κ per arm", percent=("share",))
    text = repr(t)
    assert "10" not in text and "11" not in text                 # the index is gone
    assert "0.123" in text and "0.12345" not in text and MISSING in text
    assert "50.0 %" in text and "yes" in text and "no" in text
    assert text.splitlines()[0] == "κ per arm"


def test_the_three_renderings_agree_and_are_deterministic(frame):
    a, b = table(frame, digits=2), table(frame.copy(), digits=2)
    for render in ("_repr_html_", "_repr_markdown_", "__repr__"):
        assert getattr(a, render)() == getattr(b, render)()
    html, md = a._repr_html_(), a._repr_markdown_()
    assert html.startswith('<div class="fl-table">') and "c&lt;d&gt;" in html and 'class="fl-num"' in html
    assert "| a\\|b |" in md and md.splitlines()[1].startswith("| :--- | ---: |")
    for cell in ("0.12", MISSING):
        assert cell in html and cell in md and cell in repr(a)


def test_index_kept_when_asked_and_bad_arguments_named(frame):
    assert table(frame.set_index("arm"), index=True).columns[0] == "arm"
    with pytest.raises(ValueError, match="'nope'"):
        table(frame, percent=("nope",))
    with pytest.raises(TypeError, match="DataFrame"):
        table([1, 2])
