"""fusionstudy: the fusion-failure study, built on :mod:`fusionlib` (which imports nothing of it).

:mod:`.experiments` (the experiments, their arms and scales), :mod:`.report` (the numbers the study quotes),
:mod:`.present` and :mod:`.plots` (how tables and figures are shown), :mod:`.chapters` (each page's tables, text
and verdicts), :mod:`.replay` (the original protocol on the public rows) and :mod:`.build` (papermill, the book,
the pins). It lives in a checkout of the project: :data:`PROJECT` is that checkout; unless ``$FUSIONLIB_CACHE`` says
otherwise, the study's cache (:mod:`fusionlib.cache.store`) is the checkout's git-ignored ``.cache/fusionlib``; and the
study's pages show no TensorFlow warnings (its ``tensorflow`` logger is set to ERROR).
"""

import logging
import os
from pathlib import Path

#: The project's checkout (notebooks, book sources, locks, the default cache folder).
PROJECT = Path(__file__).resolve().parents[1]

os.environ.setdefault("FUSIONLIB_CACHE", str(PROJECT / ".cache" / "fusionlib"))
# The book's pages show no TensorFlow warnings (its Python logger: retracing notices printed into the page).
logging.getLogger("tensorflow").setLevel(logging.ERROR)
