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
