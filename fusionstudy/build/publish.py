"""Build the book's HTML and PDF from the executed notebooks (``python -m fusionstudy.build.study --build / --pdf``).

* :func:`build_html`: ``jupyter-book build <root> -W -n --keep-going`` into ``<root>/_build/html`` (:data:`HTML_DIR`,
  the folder the GitHub Pages workflow uploads); warnings are errors (a missing glue key, a broken download link).
* :func:`build_pdf`: Jupyter Book's LaTeX builder (``--builder pdflatex``; ``_config.yml`` sets the engine to
  xelatex, which typesets κ, α and ±) into ``<root>/_build/latex/book.pdf`` (:data:`PDF_PATH`). Needs TeX Live
  (``make latex-tools`` installs Debian's packages).

Sphinx's progress output goes to ``<root>/_build/logs/<builder>.log``; its warnings and errors reach stderr. A
failed build prints the end of its log.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

#: Where ``build_html`` writes, relative to the book root (the Pages artifact).
HTML_DIR = "_build/html"
#: The PDF ``build_pdf`` writes, relative to the book root (``latex_documents.targetname`` in ``_config.yml``).
PDF_PATH = "_build/latex/book.pdf"
LOG_DIR = "_build/logs"


def _jupyter_book() -> str:
    exe = Path(sys.executable).with_name("jupyter-book")
    return str(exe) if exe.exists() else "jupyter-book"


def run_jupyter_book(root: str | Path, args: list[str], log_name: str, tail: int = 40,
                     stderr_to_log: bool = False) -> int:
    """``jupyter-book build <root> <args>`` with its standard output (and with ``stderr_to_log`` its standard
    error: LaTeX's tools write progress there) in ``<root>/_build/logs/<log_name>``; returns the exit status
    and prints the log's last ``tail`` lines when it is not 0."""
    root = Path(root).resolve()
    log_path = root / LOG_DIR / log_name
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        rc = subprocess.call([_jupyter_book(), "build", str(root), *args], stdout=log,
                             stderr=subprocess.STDOUT if stderr_to_log else None)
    if rc != 0:
        lines = log_path.read_text(errors="replace").splitlines()
        print(f"jupyter-book build {' '.join(args)} failed (exit {rc}); the end of {log_path}:", file=sys.stderr)
        print("\n".join(re.sub(r"\x1b\[[0-9;]*m", "", x) for x in lines[-tail:]), file=sys.stderr)
    return rc


def build_html(root: str | Path) -> int:
    """The HTML book in ``<root>/_build/html`` (:data:`HTML_DIR`); warnings are errors."""
    return run_jupyter_book(root, ["-W", "-n", "--keep-going"], "html.log")


def pdf_pages(path: str | Path) -> int | None:
    """Number of pages of a PDF (``pdfinfo`` from poppler-utils; ``None`` where it is not installed)."""
    if shutil.which("pdfinfo") is None:
        return None
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    m = re.search(r"^Pages:\s+(\d+)", out, re.M)
    return int(m.group(1)) if m else None


def build_pdf(root: str | Path) -> int:
    """The whole book as one PDF, ``<root>/_build/latex/book.pdf`` (:data:`PDF_PATH`), with xelatex."""
    if shutil.which("xelatex") is None or shutil.which("latexmk") is None:
        print("xelatex and latexmk are needed for the PDF: `make latex-tools` installs Debian's TeX Live "
              "packages", file=sys.stderr)
        return 1
    root = Path(root).resolve()
    rc = run_jupyter_book(root, ["--builder", "pdflatex", "-n", "--keep-going"], "pdf.log", tail=60,
                          stderr_to_log=True)
    pdf = root / PDF_PATH
    if rc == 0 and not pdf.exists():
        print(f"the LaTeX build finished but {pdf} is missing; see {root / LOG_DIR / 'pdf.log'}", file=sys.stderr)
        return 1
    if rc == 0:
        pages = pdf_pages(pdf)
        print(f"pdf: {pdf}" + (f" ({pages} pages)" if pages else ""))
    return rc
