"""Published, citable, locked (issue 14 items 2, 4, 5): the Pages workflow, CITATION.cff and LICENSE, the
bibliography, the lock files — and, once a smoke book is built (``make test`` runs this file again after its
smoke build), that the workflow's artifact, the download links, the provenance lines and the bibliography are
in the HTML."""

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from fusionstudy.build import publish

PROJECT = Path(__file__).resolve().parents[1]
WORKFLOW = PROJECT / ".github" / "workflows" / "book.yml"
SMOKE = Path(os.environ.get("FUSIONLIB_SMOKE_ROOT", PROJECT / "_build" / "smoke-book"))
smoke_built = pytest.mark.skipif(not (SMOKE / publish.HTML_DIR / "index.html").exists(),
                                 reason=f"no smoke book at {SMOKE} (make test builds one, then runs this file)")


def _workflow() -> dict:
    doc = yaml.safe_load(WORKFLOW.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))          # YAML 1.1 reads the key `on` as true
    return doc


def _readme_book_command() -> str:
    block = re.search(r"```bash\n(.*?)```", (PROJECT / "README.md").read_text(), re.S).group(1)
    return next(line.split("#")[0].strip() for line in block.splitlines() if line.startswith("make book"))


def _steps(job: dict, uses: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(uses)]


def test_the_workflow_builds_with_the_readmes_command_on_push_to_main():
    wf = _workflow()
    assert wf["on"]["push"]["branches"] == ["main"]
    build = wf["jobs"]["build"]
    runs = [s["run"].strip() for s in build["steps"] if "run" in s]
    assert _readme_book_command() == "make book" and "make book" in runs
    assert build["env"]["SCALE"] == "default" and build["env"]["TF"] == "cpu"
    assert build["timeout-minutes"] >= 90


def test_the_workflow_deploys_what_make_book_builds_to_pages():
    wf = _workflow()
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    upload = _steps(build, "actions/upload-pages-artifact")
    assert len(upload) == 1 and upload[0]["with"]["path"] == publish.HTML_DIR == "_build/html"
    assert deploy["needs"] == "build" and _steps(deploy, "actions/deploy-pages")
    assert deploy["environment"]["name"] == "github-pages"
    assert wf["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert wf["concurrency"]["group"] == "pages" and wf["concurrency"]["cancel-in-progress"] is False


def test_the_workflow_caches_the_content_cache_the_study_state_and_pip():
    build = _workflow()["jobs"]["build"]
    restored = {s["with"]["path"]: s["with"] for s in _steps(build, "actions/cache/restore")}
    saved = {s["with"]["path"]: s for s in _steps(build, "actions/cache/save")}
    assert set(restored) == set(saved) == {".cache/fusionlib", "book/generated"}
    for path, w in restored.items():
        assert w["key"] == saved[path]["with"]["key"] and "github.sha" in w["key"]   # each run saves its state
        assert w["restore-keys"].strip()                                            # and restores the latest
        assert saved[path]["if"] == "always()"      # kept even when the pinned-values check fails
    # the state is saved after the build and before the upload
    names = [s.get("uses", s.get("run", "")) for s in build["steps"]]
    assert names.index("make book") < names.index("actions/cache/save@v4") < names.index(
        "actions/upload-pages-artifact@v3")
    setup = _steps(build, "actions/setup-python")[0]["with"]
    assert setup["cache"] == "pip" and setup["cache-dependency-path"] == "requirements/lock-cpu.txt"
    assert setup["python-version"] == "3.11"


def test_config_names_the_repository_bibliography_and_xelatex():
    cfg = yaml.safe_load((PROJECT / "_config.yml").read_text())
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", cfg["repository"]["url"])
    assert cfg["html"]["use_repository_button"] and cfg["html"]["use_issues_button"]
    assert cfg["bibtex_bibfiles"] == ["references.bib"] and (PROJECT / "references.bib").exists()
    assert cfg["latex"]["latex_engine"] == "xelatex"
    assert cfg["latex"]["latex_documents"]["targetname"] + "" == Path(publish.PDF_PATH).stem + ".tex"
    cff = yaml.safe_load((PROJECT / "CITATION.cff").read_text())
    assert cff["repository-code"] == cfg["repository"]["url"]


def test_every_citation_in_the_chapters_is_in_the_bibliography():
    keys = set(re.findall(r"^@\w+\{([^,]+),", (PROJECT / "references.bib").read_text(), re.M))
    cited = set()
    for md in (PROJECT / "book").glob("*.md"):
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", md.read_text()):
            cited |= {k.strip() for k in group.split(",")}
    assert cited <= keys, cited - keys
    for key in ("rootcause2026", "basiri2026data", "basiri2026repo", "nadeau2003inference", "pedregosa2011scikit",
                "chollet2015keras", "jupyterbook2020"):
        assert key in cited, f"{key} is not cited in book/*.md"
    toc = yaml.safe_load((PROJECT / "_toc.yml").read_text())
    assert {"file": "book/bibliography"} in toc["chapters"]


def test_citation_and_license_match_the_package():
    meta = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    cff = yaml.safe_load((PROJECT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["version"] == meta["version"]
    assert cff["license"] == meta["license"] == "MIT"
    text = (PROJECT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text


def test_citation_cff_is_valid_for_cffconvert():
    exe = PROJECT / "_build" / "cffconvert" / "bin" / "cffconvert"
    if not exe.exists():
        pytest.skip("cffconvert is not installed (make cff installs it in _build/cffconvert)")
    r = subprocess.run([str(exe), "--validate", "-i", str(PROJECT / "CITATION.cff")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("build, tf", [("cpu", "tensorflow-cpu"), ("gpu", "tensorflow")])
def test_the_locks_pin_every_package_with_hashes(build, tf):
    text = (PROJECT / "requirements" / f"lock-{build}.txt").read_text()
    reqs = re.findall(r"^([A-Za-z0-9_.\-\[\]]+)(==[^\s\\]+)?", text, re.M)
    assert len(reqs) > 50
    assert all(pin for _, pin in reqs), [n for n, pin in reqs if not pin]
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert all("--hash=sha256:" in b for b in blocks if b.strip())
    names = {n.lower() for n, _ in reqs}
    assert tf in names and "jupyter-book" in names and "keras" in names and "pytest" in names
    assert "fusionlib" not in names                        # the project itself is installed with --no-deps
    assert ("tensorflow-cpu" in names) == (build == "cpu")


def test_make_and_conda_install_the_same_lock():
    make = (PROJECT / "Makefile").read_text()
    assert "--require-hashes --no-deps -r $(LOCK)" in make and "LOCK   := requirements/lock-$(TF).txt" in make
    assert "--no-deps -e ." in make
    env = yaml.safe_load((PROJECT / "environment.yml").read_text())
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert pip == ["-r requirements/lock-cpu.txt"]


# --- after a smoke build ------------------------------------------------------------------------------------

@smoke_built
def test_the_uploaded_path_holds_the_built_book():
    html = SMOKE / _workflow()["jobs"]["build"]["steps"][-1]["with"]["path"]
    assert (html / "index.html").exists() and (html / "book" / "intro.html").exists()


@smoke_built
def test_arm_pages_link_their_results_for_download():
    html = SMOKE / publish.HTML_DIR
    pages = sorted((html / "book" / "generated" / "arms").glob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text()
        links = re.findall(r'<a class="reference download internal"[^>]*href="([^"]+)"', text)
        assert [Path(x).name for x in links] == ["metrics.csv", "predictions.csv.gz"], page.name
        for link in links:
            target = (page.parent / link).resolve()
            assert target.exists() and target.stat().st_size > 0, f"{page.name}: {link}"


@smoke_built
def test_every_generated_page_ends_with_its_provenance():
    html = SMOKE / publish.HTML_DIR / "book" / "generated"
    pages = sorted(html.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        text = re.sub(r"<[^>]+>", "", page.read_text())
        assert re.search(r"Made from notebooks/\w+\.ipynb with parameters .* at commit [0-9a-f]{12} "
                         r"\((clean|dirty)\)", text), page.name


@smoke_built
def test_the_bibliography_page_lists_the_references_and_chapters_link_to_it():
    html = SMOKE / publish.HTML_DIR / "book"
    bib = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", (html / "bibliography.html").read_text())).lower()
    for needle in ("Inference for the generalization error", "Machine Learning", "Scikit-learn", "Keras",
                   "Jupyter Book", "DFUMultiClassification", "Root cause analysis", "2026-01-04"):
        assert needle.lower() in bib, needle
    methods = (html / "methods.html").read_text()
    assert "bibliography.html#id" in methods and "Nadeau and Bengio" in methods
