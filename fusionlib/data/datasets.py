"""The public DFU files: where they come from, how they are checked, and which folder the book reads.

Three files of github.com/rezabasiri/DFUMultiClassification (Apache-2.0), each pinned to a commit and its
sha256 (:data:`FILES`):

* ``DataMaster_Processed_V12_WithMissing.csv`` and ``bounding_box_thermal.csv``, ``data/raw/`` at f4036cb;
* ``best_matching.csv``, ``results/`` at 4a0924d (the original pipeline's row table).

This module is the one place for the files' names, pins and hashes and for how to point to them
(:data:`DATA_ENV`, :data:`HOW_TO_POINT_TO_DATA`): the readers (:mod:`fusionlib.data.dfu`) and the replay
(:mod:`fusionstudy.replay.protocol`, which checks ``best_matching.csv`` against :data:`FILES`) import them from here. It
imports only the standard library at import time (pooch when it downloads).

Where the folder comes from, in this order (:func:`locate`):

1. **a folder you give** — ``data_dir=`` (papermill: ``-p data_dir <folder>``) or the environment variable
   ``DFU_DATA_DIR``. Every file asked for must be there: a missing one raises :class:`DFUDataError`
   naming it. A file whose sha256 differs from the pinned one is **accepted with a warning**
   (:class:`DataHashWarning`, and the difference is recorded in :class:`DataStatus` and shown on the real-data
   pages): a folder you point to may hold a deliberately edited copy, and the readers validate its format
   anyway; the pages then say that their numbers are not of the pinned files. It is never silent.
2. **the user's cache** — ``pooch.os_cache("fusionlib") / "dfu-public"`` (``~/.cache/fusionlib/dfu-public`` on
   Linux; ``DFU_CACHE_DIR`` moves it). Files missing there are downloaded with pooch from
   ``raw.githubusercontent.com`` at the pinned commits (``DFU_DATA_URL`` replaces the base URL, e.g. for a
   mirror laid out as ``<base>/<commit>/<path>``). pooch writes each download to a temporary file in the cache
   folder and moves it to its name only when its sha256 matches; a file whose sha256 differs is **rejected**
   (its temporary file deleted, :class:`DataUnavailable` raised), so the cache holds only complete files with
   the pinned hashes. A cached file whose hash no longer matches is removed before it is fetched again.

Offline, or when a download is rejected, :func:`locate` raises :class:`DataUnavailable` (a ``DFUDataError``)
saying which file, from where and why; :func:`status` turns that into a :class:`DataStatus` whose ``line`` the
study logs and the real-data pages show as their one line ("skipped, and why"), and the rest of the book builds.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from fusionlib.cache.hashing import ContentHash, file_sha256

REPOSITORY = "rezabasiri/DFUMultiClassification"
#: The clinical CSV (one row per wound visit) and the thermal bounding-box CSV (:mod:`fusionlib.data.dfu` reads them).
CLINICAL_CSV = "DataMaster_Processed_V12_WithMissing.csv"
BOXES_CSV = "bounding_box_thermal.csv"
#: The row table of the original pipeline (one row per matched depth + thermal image pair of a visit).
BEST_MATCHING_CSV = "best_matching.csv"
#: The environment variable naming a folder of your own that holds the public files.
DATA_ENV = "DFU_DATA_DIR"
#: Environment variables: the cache folder of the downloads, and the base URL they come from.
CACHE_ENV = "DFU_CACHE_DIR"
URL_ENV = "DFU_DATA_URL"
DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}"
#: Seconds a download may wait for the server before it counts as unavailable.
TIMEOUT_S = 30


@dataclass(frozen=True)
class PublicFile:
    """One public file: its ``path`` in the repository at ``commit`` (full hash) and its ``sha256``."""

    name: str
    commit: str
    path: str
    sha256: str

    def url(self, base_url: str | None = None) -> str:
        """``<base>/<commit>/<path>``; ``base_url`` defaults to ``$DFU_DATA_URL``, else raw.githubusercontent.com."""
        base = (base_url or os.environ.get(URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        return f"{base}/{self.commit}/{self.path}"


#: The pinned files (commit/path pairs and hashes checked against a git mirror of the repository with
#: ``git show COMMIT:PATH | sha256sum``).
FILES = {f.name: f for f in (
    PublicFile(CLINICAL_CSV, "f4036cbb2157afd07b51e0508c6bd9583564bc5d", f"data/raw/{CLINICAL_CSV}",
               "7639646805f89055681c3531e1190dcfd7480f86771bd302f1fd3f4c8b99ae69"),
    PublicFile(BOXES_CSV, "f4036cbb2157afd07b51e0508c6bd9583564bc5d", f"data/raw/{BOXES_CSV}",
               "25f72d9c15ecccb45880e2665f83f95ed19ce0079685ecd04b1534720509f5fe"),
    PublicFile(BEST_MATCHING_CSV, "4a0924dcede2b48e5b04bdaf46349f4fab7fbe2b", f"results/{BEST_MATCHING_CSV}",
               "7f0805875e242c91f3301e3c5b7298232c61e997188b471303d55d1c6f37e2cf"),
)}
HOW_TO_POINT_TO_DATA = (f"set the environment variable {DATA_ENV} to a folder holding "
                        f"{', '.join(list(FILES)[:-1])} and {list(FILES)[-1]} (or pass data_dir=<folder>; papermill: "
                        "-p data_dir <folder>), or build where raw.githubusercontent.com is reachable")


class DFUDataError(ValueError):
    """Bad input in the DFU files or folder; the message names the file and the line, column or value at fault
    (the readers of :mod:`fusionlib.data.dfu` raise it too)."""


class DataUnavailable(DFUDataError):
    """The public files could not be obtained (offline, a server error, or a download whose sha256 differs)."""


class DataHashWarning(UserWarning):
    """A file in a folder you gave differs from the pinned public file (its sha256 differs)."""


@dataclass
class DataStatus:
    """Where the public files are, or why they are not.

    ``folder``: the folder holding them (``None`` when unavailable); ``source``: ``"data_dir"``,
    ``"DFU_DATA_DIR"`` or ``"cache"``; ``reason``: why they are unavailable (empty when available);
    ``differs``: names of files whose sha256 differs from the pinned one (only for a folder you gave);
    ``sha256``: the sha256 of each file found (name -> hex).
    """

    folder: Path | None
    source: str = ""
    reason: str = ""
    differs: list = field(default_factory=list)
    sha256: dict = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.folder is not None

    @property
    def line(self) -> str:
        """One line for a log or a page: where the files are and whether they are the pinned ones, or that the
        real-data chapters were skipped and why."""
        if not self.available:
            return f"Real-data chapters skipped: {self.reason}"
        where = {"cache": "the user's cache", "DFU_DATA_DIR": f"${DATA_ENV}"}.get(self.source, "the folder given")
        check = (f"sha256 of {', '.join(self.differs)} DIFFERS from the pinned public file(s): these numbers are "
                 "not those of the public data" if self.differs else "every sha256 matches the pinned public files")
        return f"Real data: the public files from {where} ({self.folder}); {check}."

    @property
    def markdown(self) -> str:
        """:attr:`line` for a page, in bold: ``<`` and ``>`` escaped, each URL a link named by its host (a long
        URL would not wrap)."""
        import re

        text = self.line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        text = re.sub(r"(https?://([^/\s]+)/\S*)", lambda m: f"[{m.group(2)}]({m.group(1)})", text)
        return f"**{text}**"

    def fingerprint(self) -> str:
        """A short hash of the files' content (empty when unavailable): a study task re-runs when it changes."""
        if not self.available:
            return ""
        return ContentHash().update_bytes("".join(f"{k}:{v};" for k, v in sorted(self.sha256.items())).encode()).hexdigest(16)


def cache_dir() -> Path:
    """The download cache: ``$DFU_CACHE_DIR``, else ``pooch.os_cache("fusionlib") / "dfu-public"``."""
    chosen = os.environ.get(CACHE_ENV, "")
    if chosen:
        return Path(chosen).expanduser()
    import pooch

    return Path(pooch.os_cache("fusionlib")).expanduser() / "dfu-public"


def _names(require) -> list[str]:
    names = list(FILES) if require is None else list(require)
    unknown = [n for n in names if n not in FILES]
    if unknown:
        raise ValueError(f"require={unknown}: not public files; use names of {list(FILES)}")
    return names


def check_folder(folder: str | Path, require=None) -> DataStatus:
    """Check a folder you gave: every file of ``require`` (names of :data:`FILES`; default all) must be there —
    a missing one raises :class:`DFUDataError` naming it — and each one's sha256 is compared with
    the pinned one: a difference warns (:class:`DataHashWarning`) and is listed in ``differs``."""
    folder = Path(folder).expanduser().resolve()       # absolute: notebooks run in another working directory
    if not folder.is_dir():
        raise DFUDataError(f"{folder}: data folder not found; {HOW_TO_POINT_TO_DATA}")
    names = _names(require)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise DFUDataError(f"{folder}: {', '.join(missing)} not found there; {HOW_TO_POINT_TO_DATA}")
    hashes = {n: file_sha256(folder / n) for n in names}
    differs = [n for n in names if hashes[n] != FILES[n].sha256]
    for n in differs:
        warnings.warn(f"{folder / n}: sha256 {hashes[n][:12]}... differs from the pinned public file "
                      f"({FILES[n].sha256[:12]}..., {REPOSITORY} at {FILES[n].commit[:7]}, {FILES[n].path}); "
                      "using it as given", DataHashWarning, stacklevel=3)
    return DataStatus(folder, "", "", differs, hashes)


def fetch(cache: str | Path | None = None, base_url: str | None = None, require=None) -> Path:
    """Download the files of ``require`` (default all of :data:`FILES`) that are not yet in ``cache`` (default
    :func:`cache_dir`), each checked against its pinned sha256; returns the cache folder.

    A cached file with the right hash is used as it is (no network). A download whose sha256 differs is
    rejected: pooch deletes its temporary file and nothing of it stays in the cache. Raises
    :class:`DataUnavailable` naming the file, the URL and the cause (no network, HTTP error, hash mismatch).
    """
    import pooch
    import requests

    folder = Path(cache) if cache is not None else cache_dir()
    existed = folder.exists()
    downloader = pooch.HTTPDownloader(timeout=TIMEOUT_S, progressbar=False)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        for name in _names(require):
            f = FILES[name]
            target = folder / name
            if target.is_file() and file_sha256(target) != f.sha256:
                target.unlink()                         # a stale or damaged copy: never left to be read
            url = f.url(base_url)
            try:
                pooch.retrieve(url, known_hash=f"sha256:{f.sha256}", fname=name, path=folder,
                               downloader=downloader)
            except requests.exceptions.RequestException as e:
                raise DataUnavailable(f"could not download {name} from {url} ({type(e).__name__}: "
                                      f"{_short(e)}); to run them, {HOW_TO_POINT_TO_DATA}") from e
            except ValueError as e:                     # pooch: the downloaded file's hash does not match
                raise DataUnavailable(f"rejected the download of {name} from {url}: its sha256 differs from the "
                                      f"pinned {f.sha256[:12]}... ({_short(e)}); nothing of it was kept") from e
            except OSError as e:
                raise DataUnavailable(f"could not write {name} into the cache {folder} ({e})") from e
    except DataUnavailable:
        if not existed and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()                              # leave no empty cache folder behind either
        raise
    finally:
        logger.setLevel(level)
    return folder


def _short(e: Exception, limit: int = 160) -> str:
    """The innermost cause of a download error, short and without object addresses."""
    import re

    inner = e
    while inner.args and hasattr(inner.args[0], "reason"):         # requests -> urllib3 MaxRetryError -> cause
        inner = inner.args[0].reason
    text = re.sub(r"<[^<>]* object at 0x[0-9a-f]+>:?\s*", "", " ".join(str(inner).split()))
    text = re.sub(r"\(?[Cc]aused by \w+\(|\)+$", "", text).strip() or type(e).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def _source_of(folder: Path, cache: str | Path | None = None) -> str:
    """How a folder passed as ``data_dir`` was found: ``"DFU_DATA_DIR"`` or ``"cache"`` when it is that folder
    (the study passes the folder it resolved), else ``"data_dir"``."""
    env = os.environ.get(DATA_ENV, "")
    if env and Path(env).expanduser().resolve() == folder:
        return "DFU_DATA_DIR"
    if Path(cache if cache is not None else cache_dir()).expanduser().resolve() == folder:
        return "cache"
    return "data_dir"


def locate(data_dir: str | Path | None = None, require=None, download: bool = True,
           cache: str | Path | None = None, base_url: str | None = None) -> DataStatus:
    """The folder of the public files (see the module docstring for the order): ``data_dir``, else
    ``$DFU_DATA_DIR`` (checked by :func:`check_folder`), else the cache, fetched when ``download``.

    ``require``: the file names needed (default all of :data:`FILES`). Returns an available
    :class:`DataStatus`. Raises :class:`DFUDataError` for a folder you gave that lacks a file,
    and :class:`DataUnavailable` when the files cannot be downloaded (or ``download=False`` and they are not
    all in the cache).
    """
    if data_dir not in (None, ""):
        status = check_folder(data_dir, require)
        status.source = _source_of(status.folder, cache)
        return status
    if os.environ.get(DATA_ENV, ""):
        status = check_folder(os.environ[DATA_ENV], require)
        status.source = "DFU_DATA_DIR"
        return status
    folder = Path(cache) if cache is not None else cache_dir()
    names = _names(require)
    if download:
        fetch(folder, base_url, names)
    else:
        absent = [n for n in names if not (folder / n).is_file() or file_sha256(folder / n) != FILES[n].sha256]
        if absent:
            raise DataUnavailable(f"{', '.join(absent)} not in the cache {folder} (not downloaded yet)")
    return DataStatus(folder, "cache", "", [], {n: FILES[n].sha256 for n in names})


def status(data_dir: str | Path | None = None, require=None, download: bool = True,
           cache: str | Path | None = None, base_url: str | None = None) -> DataStatus:
    """:func:`locate`, with an unavailable download turned into a :class:`DataStatus` whose ``reason`` says why
    (a folder you gave that lacks a file still raises: you asked for it)."""
    try:
        return locate(data_dir, require, download, cache, base_url)
    except DataUnavailable as e:
        return DataStatus(None, "cache", str(e))


def for_page(data_dir: str = "", unavailable: str = "", require=None) -> DataStatus:
    """What a real-data page works from: the study passes the folder it resolved (``data_dir``) or why there is
    none (``unavailable``); a page run on its own (both empty) resolves the data itself (:func:`status`)."""
    if unavailable:
        return DataStatus(None, "", unavailable)
    return status(data_dir or None, require)
