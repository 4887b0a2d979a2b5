"""What every real-data chapter shares: the public files it needs, found or not, and the line that says so."""

from __future__ import annotations

from fusionlib.data import datasets


class DataChapter:
    """A chapter on the public files of ``data_dir`` (``data_unavailable``: why the study could not get them) that
    needs the files named in ``require``: ``data`` (:func:`fusionlib.data.datasets.for_page`), ``enabled`` (all
    found) and :meth:`availability`. Without them every section of a chapter returns nothing."""

    def __init__(self, data_dir: str, data_unavailable: str, require: list[str]):
        self.data = datasets.for_page(data_dir, data_unavailable, require=require)
        self.enabled = self.data.available

    def availability(self) -> list:
        """Where the public files were found, or why the page is skipped."""
        return [self.data.markdown]
