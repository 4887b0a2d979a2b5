"""Typed records of facts: the numbers a chapter's prose, verdicts and pins read, by field name.

A chapter computes its facts once, from its runs, as frozen dataclasses that subclass :class:`Record`, and saves
them as JSON beside its display tables (:meth:`Record.save`); the findings, the verdicts and
:mod:`fusionstudy.build.pin` load them (:meth:`Record.load`) and read fields, never a table's display header, so
renaming a column of a page changes no sentence and no pin. A record's :meth:`Record.pinned` names the values
the pins hold.
"""

from __future__ import annotations

import json
import typing
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path

#: The file a chapter's facts are saved as, in its results folder.
FACTS_JSON = "facts.json"


class Record:
    """Save and load for a frozen dataclass of facts whose fields are numbers, strings, booleans, tuples of them,
    other such dataclasses, tuples of those, or None."""

    def pinned(self) -> dict[str, float]:
        """The values :mod:`fusionstudy.build.pin` pins, by a name made of the fields' names."""
        raise NotImplementedError

    def save(self, path) -> None:
        """Write as JSON (``path``: a new file inside a folder being written atomically)."""
        Path(path).write_text(json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def load(cls, path):
        """Read what :meth:`save` wrote; a missing field is named with the file."""
        return _build(cls, json.loads(Path(path).read_text()), str(path))


def _record_type(t):
    """The dataclass in an annotation ``X`` or ``X | None``, else None."""
    return next((a for a in (typing.get_args(t) or (t,)) if isinstance(a, type) and is_dataclass(a)), None)


def _build(cls, data: dict, where: str):
    """``cls`` from its :func:`dataclasses.asdict` form, nested records and tuples of records included."""
    hints = typing.get_type_hints(cls)
    kw = {}
    for f in fields(cls):
        if f.name not in data:
            raise ValueError(f"{where}: {cls.__name__} has no field {f.name!r}")
        v, t = data[f.name], hints[f.name]
        item = _record_type(typing.get_args(t)[0]) if typing.get_origin(t) is tuple else None
        if v is None:
            kw[f.name] = None
        elif item is not None:
            kw[f.name] = tuple(_build(item, x, where) for x in v)
        elif _record_type(t) is not None:
            kw[f.name] = _build(_record_type(t), v, where)
        else:
            kw[f.name] = tuple(v) if isinstance(v, list) else v
    return cls(**kw)
