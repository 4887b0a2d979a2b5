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


def test_private_columns_are_never_shown_and_columns_select(frame):
    shown = frame.assign(_low=0.1, _high=0.2)
    assert table(shown).columns == table(frame).columns
    assert table(shown, columns=["κ", "arm"]).columns == ["κ", "arm"]
    with pytest.raises(ValueError, match="'absent'"):
        table(frame, columns=["arm", "absent"])


def test_every_arm_of_the_study_has_a_unique_readable_title():
    """Pages name arms by their titles: one per label (no two arms of an experiment share one), none made of ids
    (``alpha_grid|ordinal|oof_grouped``)."""
    from fusionlib.arms.settings import ArmSettings
    from fusionstudy.experiments import EXPERIMENTS, experiment_arms

    for scale in ("smoke", "default"):
        for name in EXPERIMENTS:
            arms = [ArmSettings.from_dict(a) for a in experiment_arms(name, scale)]
            titles = [a.title for a in arms]
            assert len(set(titles)) == len({a.label for a in arms}) == len(arms), (scale, name)
            unnamed = [a.title for a in arms if not a.name]   # a named arm is titled by the name its experiment gives
            assert not any("|" in t or "oof_grouped" in t or "in_sample" in t for t in unnamed), (scale, name)
    assert ArmSettings(head="fix23", decomposition="ordinal_original", source="in_sample").title == \
        "fix23 (report's conditions)"
    assert ArmSettings(head="baseline", decomposition="multiclass", source="oof", forest="original").title == \
        "baseline (multiclass RF, out-of-fold); forest original"
