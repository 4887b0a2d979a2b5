"""The chapter classes the notebooks drive: every section a notebook calls is a method of an instance (no attribute
set in ``__init__`` hides one, as ``DataChapter.data`` once hid ``ReplayChapter.data()``), with or without data."""

import json
import re

import pytest

from fusionstudy import PROJECT
from fusionstudy.chapters.base import DataChapter
from fusionstudy.chapters.metadata_tables import MetadataChapter
from fusionstudy.chapters.realdata import RealDataChapter
from fusionstudy.chapters.replay import ReplayChapter

CHAPTERS = {"replay": ReplayChapter, "metadata": MetadataChapter, "realdata": RealDataChapter}


@pytest.mark.parametrize("page", sorted(CHAPTERS))
def test_every_section_a_notebook_calls_is_a_method_of_the_chapter(page, tmp_path):
    cls = CHAPTERS[page]
    assert issubclass(cls, DataChapter)
    chapter = cls("", "the study could not get the files (test)", "smoke")   # no data: sections return nothing
    assert not chapter.enabled
    cells = json.loads((PROJECT / "notebooks" / f"{page}.ipynb").read_text())["cells"]
    source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    called = set(re.findall(r"\bchapter\.(\w+)\(", source))
    assert called, f"notebooks/{page}.ipynb calls no section"
    for name in sorted(called):
        assert callable(getattr(chapter, name)), f"{cls.__name__}.{name} is not callable on an instance"
        assert name in vars(cls) or any(name in vars(b) for b in cls.__mro__), name


# ------------------------------------------------------------------------------------- the replay's forest work
class _Asked(Exception):
    """Raised by the recording engine in place of computing a replay's forests."""


def _sections_asking(chapter, monkeypatch) -> list[tuple[str, dict]]:
    """Run the replay chapter's forest sections with ``replay.stages`` recording what they ask for instead of
    computing it: ``(engine, job)`` in the order asked. Seeded-split stages (validation outputs) get placeholder
    results so that a section asking twice (the forest-size check) asks both times; a replay stops at its ask."""
    import numpy as np

    from fusionstudy.replay import protocol as replay

    asked = []

    def record(jobs, engine="auto", n_jobs=1, chunk=48):
        asked.extend((replay.choose_engine(engine), job) for job in jobs)
        if all(job["outputs"] == "validation" for job in jobs):
            return [{"p_val": np.array([[0.2, 0.1], [0.8, 0.1], [0.9, 0.9]]), "y_val": np.arange(3)}
                    for _ in jobs]
        raise _Asked

    monkeypatch.setattr(replay, "stages", record)
    for section in ("three_fold", "engines_compared", "five_fold", "defects", "split_distribution", "forest_size"):
        try:
            getattr(chapter, section)()
        except _Asked:
            pass
    return asked


@pytest.mark.parametrize("scale", ["smoke", "default"])
def test_the_replays_forest_jobs_are_the_stages_its_sections_ask_for(scale, monkeypatch):
    from conftest import DFU_DIR
    from fusionstudy.replay.protocol import ROWS_CSV

    if not (DFU_DIR / ROWS_CSV).exists():
        pytest.skip(f"public row table not found in {DFU_DIR}")
    chapter = ReplayChapter(str(DFU_DIR), "", scale)
    listed = chapter.forest_jobs()
    asked = _sections_asking(chapter, monkeypatch)
    distinct = []
    for item in asked:
        if item not in distinct:
            distinct.append(item)
    assert len(distinct) < len(asked)                      # some stages are asked for twice (the cache's work)
    assert sorted(map(repr, distinct)) == sorted(repr((engine, job)) for _, engine, job in listed)
    assert len(listed) == len({repr((e, j)) for _, e, j in listed})
    sections = {s for s, _, _ in listed}
    assert {"3-fold replay", "split distribution", "forest-size check"} <= sections


def test_a_replay_chapter_without_data_has_no_forest_jobs():
    assert ReplayChapter("", "no files (test)", "default").forest_jobs() == []
