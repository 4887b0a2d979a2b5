"""The public-data fetcher (fusionlib.data.datasets), against a local HTTP server on 127.0.0.1 — never the internet."""

import hashlib
import http.server
import shutil
import threading
import warnings
from functools import partial
from pathlib import Path

import pytest

from fusionlib.data import datasets, dfu
from fusionstudy.build import study
from fusionlib.data.datasets import DataHashWarning, DataUnavailable, PublicFile
from fusionlib.cache.hashing import file_sha256

from conftest import DFU_DIR

CONTENT = {"a.csv": b"Patient#,Appt#\n1,2\n", "b.csv": b"x,y\n3,4\n" * 50, "c.csv": b"only,one\n"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Server:
    """A threaded ``http.server`` serving ``root`` on 127.0.0.1; ``requests`` lists the paths asked for."""

    def __init__(self, root: Path):
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_files(monkeypatch):
    """Three small public files of our own in place of the pinned ones (same layout: <commit>/<path>)."""
    files = {name: PublicFile(name, f"{i:040x}", f"data/raw/{name}", _sha(data))
             for i, (name, data) in enumerate(CONTENT.items(), start=1)}
    monkeypatch.setattr(datasets, "FILES", files)
    return files


def _serve_tree(root: Path, files: dict, content: dict) -> Path:
    for name, f in files.items():
        target = root / f.commit / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content[name])
    return root


@pytest.fixture
def no_user_folder(monkeypatch):
    monkeypatch.delenv(datasets.DATA_ENV, raising=False)


def test_fetch_accepts_good_files_and_uses_the_cache_on_the_second_call(tmp_path, fake_files, no_user_folder):
    root = _serve_tree(tmp_path / "srv", fake_files, CONTENT)
    cache = tmp_path / "cache"
    with Server(root) as srv:
        s = datasets.locate(cache=cache, base_url=srv.url)
        assert s.available and s.source == "cache" and s.folder == cache and not s.differs
        assert {p.name: p.read_bytes() for p in cache.iterdir()} == CONTENT          # complete, nothing else
        assert sorted(srv.requests) == sorted(f"/{f.commit}/{f.path}" for f in fake_files.values())
        n = len(srv.requests)
        again = datasets.locate(cache=cache, base_url=srv.url)
        assert again.folder == cache and len(srv.requests) == n                     # second call: no download
    assert datasets.locate(cache=cache, base_url="http://127.0.0.1:9", download=False).folder == cache
    assert datasets.locate(str(cache), cache=cache).source == "cache"        # the study passes the folder on


def test_a_file_whose_sha256_differs_is_rejected_and_nothing_partial_is_left(tmp_path, fake_files, no_user_folder):
    bad = {**CONTENT, "b.csv": CONTENT["b.csv"][:-3] + b"99\n"}                      # one byte pair altered
    root = _serve_tree(tmp_path / "srv", fake_files, bad)
    cache = tmp_path / "cache"
    with Server(root) as srv:
        with pytest.raises(DataUnavailable, match=r"rejected the download of b\.csv from http://127\.0\.0\.1.*sha256"):
            datasets.fetch(cache, srv.url)
        # a.csv (fetched before it) is complete and right; b.csv and any temporary file are gone; c.csv never came
        assert sorted(p.name for p in cache.iterdir()) == ["a.csv"]
        assert (cache / "a.csv").read_bytes() == CONTENT["a.csv"]
        status = datasets.status(cache=cache, base_url=srv.url)
        assert not status.available and status.line.startswith("Real-data chapters skipped: rejected the download")


def test_a_damaged_cached_file_is_replaced_or_removed(tmp_path, fake_files, no_user_folder):
    root = _serve_tree(tmp_path / "srv", fake_files, CONTENT)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "a.csv").write_bytes(b"truncat")
    with Server(root) as srv:
        datasets.fetch(cache, srv.url)
    assert (cache / "a.csv").read_bytes() == CONTENT["a.csv"]
    (cache / "c.csv").write_bytes(b"damaged")
    with pytest.raises(DataUnavailable, match=r"could not download c\.csv .*Connection refused"):
        datasets.fetch(cache, "http://127.0.0.1:9")                                 # offline: the damaged copy goes
    assert sorted(p.name for p in cache.iterdir()) == ["a.csv", "b.csv"]


def test_offline_says_why_in_one_line_and_leaves_no_cache_folder(tmp_path, fake_files, no_user_folder):
    cache = tmp_path / "never"
    s = datasets.status(cache=cache, base_url="http://127.0.0.1:9")
    assert not s.available and s.folder is None and "\n" not in s.line
    assert s.line.startswith("Real-data chapters skipped: could not download a.csv from http://127.0.0.1:9/")
    assert "Connection refused" in s.line and datasets.DATA_ENV in s.line
    assert not cache.exists()
    md = s.markdown                                                  # for a page: a link, no raw "<folder>"
    assert md.startswith("**Real-data chapters skipped:") and "from [127.0.0.1:9](http://127.0.0.1:9/" in md
    assert "<folder>" not in md and "&lt;folder&gt;" in md
    with pytest.raises(DataUnavailable, match="not in the cache"):
        datasets.locate(cache=cache, download=False)


def test_http_errors_are_reported_with_the_url(tmp_path, fake_files, no_user_folder):
    (tmp_path / "srv").mkdir()
    with Server(tmp_path / "srv") as srv:
        with pytest.raises(DataUnavailable, match=r"could not download a\.csv from .*\(HTTPError: 404"):
            datasets.fetch(tmp_path / "cache", srv.url)


def test_dfu_data_dir_overrides_and_names_a_missing_file(tmp_path, fake_files, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name, data in CONTENT.items():
        (folder / name).write_bytes(data)
    monkeypatch.setenv(datasets.DATA_ENV, str(folder))
    with Server(tmp_path) as srv:
        s = datasets.locate(cache=tmp_path / "cache", base_url=srv.url)
        assert srv.requests == []                                                   # nothing downloaded
    assert s.folder == folder and s.source == "DFU_DATA_DIR" and not s.differs
    assert "every sha256 matches" in s.line and not (tmp_path / "cache").exists()
    assert datasets.locate(str(folder)).source == "DFU_DATA_DIR"
    other = shutil.copytree(folder, tmp_path / "other")
    assert datasets.locate(other).source == "data_dir" and datasets.locate(other).folder == other
    (folder / "b.csv").unlink()
    with pytest.raises(dfu.DFUDataError, match=r"mine: b\.csv not found there; set the environment variable DFU_DATA_DIR"):
        datasets.locate()
    with pytest.raises(dfu.DFUDataError, match=r"b\.csv not found"):
        datasets.status()                                    # a folder you gave: an error, not a skipped page
    assert datasets.locate(require=["a.csv"]).folder == folder                        # only what is asked for


def test_a_user_folder_whose_sha256_differs_warns_and_says_so(tmp_path, fake_files, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    for name, data in CONTENT.items():
        (folder / name).write_bytes(data)
    (folder / "c.csv").write_bytes(b"edited,copy\n")
    monkeypatch.setenv(datasets.DATA_ENV, str(folder))
    with pytest.warns(DataHashWarning, match=r"c\.csv: sha256 .* differs from the pinned public file"):
        s = datasets.locate()
    assert s.available and s.differs == ["c.csv"] and "c.csv DIFFERS" in s.line
    assert s.sha256["c.csv"] == _sha(b"edited,copy\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        datasets.locate(require=["a.csv", "b.csv"])                                  # unaffected files: no warning


def test_load_cohort_fetches_into_the_cache_when_no_folder_is_given(tmp_path, fake_files, no_user_folder, monkeypatch):
    from fixtures_dfu import write_layout

    layout = write_layout(tmp_path / "src")
    content = {**CONTENT, dfu.CLINICAL_CSV: layout["clinical"].read_bytes()}
    files = {**fake_files, dfu.CLINICAL_CSV: PublicFile(dfu.CLINICAL_CSV, "9" * 40, f"data/raw/{dfu.CLINICAL_CSV}",
                                                         _sha(content[dfu.CLINICAL_CSV]))}
    monkeypatch.setattr(datasets, "FILES", files)
    root = _serve_tree(tmp_path / "srv", files, content)
    with Server(root) as srv:
        monkeypatch.setenv(datasets.URL_ENV, srv.url)
        monkeypatch.setenv(datasets.CACHE_ENV, str(tmp_path / "cache"))
        c = dfu.load_cohort("semi_real", draws_per_visit=1, image_size=8)
    assert c.params["source_sha256"] == files[dfu.CLINICAL_CSV].sha256
    assert (tmp_path / "cache" / dfu.CLINICAL_CSV).is_file()


def test_the_study_passes_the_folder_or_the_reason_to_the_real_data_pages(tmp_path):
    available = datasets.DataStatus(tmp_path, "DFU_DATA_DIR", "", [], {"x": "1"})
    page = next(t for t in study.plan("smoke", available) if t.name == "realdata")
    assert page.parameters["data_dir"] == str(tmp_path) and page.parameters["data_unavailable"] == ""
    missing = datasets.DataStatus(None, "cache", "could not download x (offline)")
    page2 = next(t for t in study.plan("smoke", missing) if t.name == "realdata")
    assert page2.parameters["data_dir"] == "" and page2.parameters["data_unavailable"] == missing.reason
    assert study.task_hash(page, "c", {}) != study.task_hash(page2, "c", {})
    shown = datasets.for_page("", missing.reason)
    assert not shown.available and shown.line == f"Real-data chapters skipped: {missing.reason}"


def test_the_pinned_table_matches_the_shared_copy():
    """The hashes in FILES are those of the public files (checked on the shared copy when present)."""
    if not all((DFU_DIR / n).is_file() for n in datasets.FILES):
        pytest.skip(f"public DFU files not found at {DFU_DIR}")
    for name, f in datasets.FILES.items():
        assert file_sha256(DFU_DIR / name) == f.sha256, name


def test_the_real_files_download_and_verify_from_a_local_mirror(tmp_path, no_user_folder):
    """The real pinned table end to end: the shared copy served at <commit>/<path> like raw.githubusercontent.com."""
    if not all((DFU_DIR / n).is_file() for n in datasets.FILES):
        pytest.skip(f"public DFU files not found at {DFU_DIR}")
    for f in datasets.FILES.values():
        (tmp_path / "srv" / f.commit / f.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DFU_DIR / f.name, tmp_path / "srv" / f.commit / f.path)
    with Server(tmp_path / "srv") as srv:
        s = datasets.locate(cache=tmp_path / "cache", base_url=srv.url)
    assert s.available and sorted(p.name for p in s.folder.iterdir()) == sorted(datasets.FILES)
    assert datasets.FILES[dfu.CLINICAL_CSV].url().startswith(
        "http://127.0.0.1:9/f4036cbb2157afd07b51e0508c6bd9583564bc5d/data/raw/")         # conftest's closed port
