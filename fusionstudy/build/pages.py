"""The book's executed pages (besides the experiments' and the arms'), one record each.

A :class:`Page` knows its notebook template, its title, what it reads, whether it needs the public DFU files and
which files it shows. Which experiments' results a page reads is said by the experiments themselves
(:attr:`fusionstudy.experiments.Experiment.pages`); ``reads`` names the other tasks whose output it reads. The study
(:func:`fusionstudy.build.study.plan`) turns the records into tasks. A page that an experiment names but that has no
record here gets the default one (:func:`page`): template ``<name>.ipynb``, its notebook's own title, run after
the analysis pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Page:
    """One page of the book.

    ``name``: its id (the executed notebook is ``pages/<name>.ipynb``); ``template``: the notebook in
    ``notebooks/``; ``title``: the page's title (empty: the notebook's first heading stays); ``reads``: tasks whose
    output it reads besides the experiments that name it; ``real_data``: it reads the public DFU files (the study
    passes it the folder it resolved, or why there is none); ``early``: it reads nothing the experiments make, and
    is long, so it runs before them; ``reads_all``: it reads every other task (the appendix: their times and
    memory); ``inputs``: files under ``book/generated`` whose content it shows (it re-runs when they change);
    ``parameters``: ``scale -> extra papermill parameters``."""

    name: str
    template: str = ""
    title: str = ""
    reads: tuple = ()
    real_data: bool = False
    early: bool = False
    reads_all: bool = False
    inputs: tuple = ()
    parameters: Callable[[str], dict] | None = field(default=None, compare=False)

    @property
    def notebook(self) -> str:
        return self.template or f"{self.name}.ipynb"


def _cohort_parameters(scale: str) -> dict:
    from fusionstudy.scales import SCALES

    return {"cohort": json.dumps(SCALES[scale]["common"]["cohort"])}


#: The pages in the order the study runs them (the experiments and arm pages run after the ``early`` ones).
PAGES = (
    Page("cohort", early=True, parameters=_cohort_parameters),
    # the replay of the original protocol on the public row table (issue 10); the findings page reads its tables
    Page("replay", real_data=True, early=True),
    Page("results"),
    Page("rootcause"),
    Page("hypotheses"),
    Page("mechanisms"),
    Page("sensitivity"),
    Page("findings", reads=("replay",)),
    # the one-page summary at the front: the findings' answer, the replay's split figure, the key evidence
    Page("summary", reads=("replay",)),
    Page("metadata", real_data=True),
    # the real-data page's bar is the metadata chapter's arm (same folds): run after it, to reuse its cache
    Page("realdata", real_data=True, reads=("metadata",)),
    # fusionlib.audit on the real-data page's arms: as the report compared them, and corrected (issue 25); it
    # reads the real-data page's results, not the public files
    Page("audit", reads=("realdata",)),
    Page("appendix", reads_all=True, inputs=("benchmarks/benchmark.md",)),
)


def page(name: str) -> Page:
    """The record of page ``name``: the one in :data:`PAGES`, else the default record."""
    return next((p for p in PAGES if p.name == name), Page(name))


def real_data_pages() -> tuple[str, ...]:
    """The pages that read the public DFU files."""
    return tuple(p.name for p in PAGES if p.real_data)
