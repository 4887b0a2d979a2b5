"""Content hashes: the one helper behind every cache key, fingerprint, task hash and file checksum.

:class:`ContentHash` is a SHA-256 fed with parts: :meth:`~ContentHash.update` frames each part (an array by its
shape, dtype and bytes; anything else as sorted JSON) so that different part lists never collide;
:meth:`~ContentHash.update_bytes` and :meth:`~ContentHash.update_file` feed raw bytes (a file in 1 MiB blocks).
:func:`content_key` (cache keys) and :func:`file_sha256` (the public files' checksums) are its common uses; the code a key
depends on is hashed by :func:`fusionlib.cache.code_key`.

Imports only the standard library and NumPy (the replay's pinned environment uses it too).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

class ContentHash:
    """An incremental SHA-256; every ``update*`` returns the object, so calls chain."""

    def __init__(self):
        self._h = hashlib.sha256()

    def update(self, *parts) -> "ContentHash":
        """Arrays by shape, dtype and bytes; strings, numbers and JSON-able objects as sorted JSON; ``|`` after
        each part."""
        import numpy as np

        for part in parts:
            if isinstance(part, np.ndarray):
                self._h.update(str((part.shape, part.dtype.str)).encode())
                self._h.update(np.ascontiguousarray(part).tobytes())
            else:
                self._h.update(json.dumps(part, sort_keys=True, default=str).encode())
            self._h.update(b"|")
        return self

    def update_bytes(self, *data: bytes) -> "ContentHash":
        for d in data:
            self._h.update(d)
        return self

    def update_file(self, path: str | Path) -> "ContentHash":
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                self._h.update(block)
        return self

    def hexdigest(self, length: int | None = None) -> str:
        """The hex digest, cut to ``length`` characters when given."""
        return self._h.hexdigest()[:length]


def content_key(*parts) -> str:
    """A 24-character key of arrays (by bytes, shape and dtype), strings, numbers and JSON-able objects."""
    return ContentHash().update(*parts).hexdigest(24)


def file_sha256(path: str | Path) -> str:
    """The sha256 (64 hex characters) of the file at ``path``."""
    return ContentHash().update_file(path).hexdigest()
