"""fusionlib: the fusion-failure study's library.

One concern per module. Data: :mod:`~fusionlib.cohort` (synthetic cohort), :mod:`~fusionlib.thermal` (rendering
and cropping thermal maps), :mod:`~fusionlib.dfu` (the original DFU layout, the semi-real cohort),
:mod:`~fusionlib.features` (clinical feature pipeline), :mod:`~fusionlib.splits` (patient-grouped CV). Models:
:mod:`~fusionlib.rf` (metadata Random Forest), :mod:`~fusionlib.cnn` (image branch), :mod:`~fusionlib.heads`
(the report's fusion heads), :mod:`~fusionlib.fusions` (robust fusions), :mod:`~fusionlib.losses`,
:mod:`~fusionlib.train`, :mod:`~fusionlib.bundle` (many heads trained side by side). Running:
:mod:`~fusionlib.store` (disk cache), :mod:`~fusionlib.runner` (arms from settings dicts),
:mod:`~fusionlib.experiments` (the study's arm lists and scales), :mod:`~fusionlib.study` (papermill + the book).
Reading: :mod:`~fusionlib.metrics`, :mod:`~fusionlib.stats` (paired comparisons), :mod:`~fusionlib.analysis`,
:mod:`~fusionlib.findings`, :mod:`~fusionlib.plots` and :mod:`~fusionlib.report` (the report's and the original
history's numbers as data). The original protocol replayed on the public rows: :mod:`~fusionlib.replay`,
:mod:`~fusionlib.replay_studies` (the spread over patient splits, the normalisation question).
"""

import os as _os

# Hide TensorFlow's C++ start-up chatter (benign version notices printed at ERROR level); set the variable
# yourself before importing fusionlib to see it.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
