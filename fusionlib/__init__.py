"""fusionlib: the fusion-failure study's library.

One concern per module. Data: :mod:`~fusionlib.data.cohort` (synthetic cohort), :mod:`~fusionlib.data.thermal` (rendering
and cropping thermal maps), :mod:`~fusionlib.data.dfu` (the original DFU layout, the semi-real cohort),
:mod:`~fusionlib.data.features` (clinical feature pipeline), :mod:`~fusionlib.data.splits` (patient-grouped CV). Models:
:mod:`~fusionlib.models.rf` (metadata Random Forest), :mod:`~fusionlib.models.cnn` (image branch), :mod:`~fusionlib.models.heads`
(the report's fusion heads), :mod:`~fusionlib.models.fusions` (robust fusions), :mod:`~fusionlib.models.losses`,
:mod:`~fusionlib.models.train`, :mod:`~fusionlib.models.bundle` (many heads trained side by side). Running:
:mod:`~fusionlib.cache.store` (disk cache), :mod:`~fusionlib.arms.runner` (arms from settings dicts),
:mod:`~fusionstudy.experiments` (the study's arm lists and scales), :mod:`~fusionstudy.build.study` (papermill + the book).
Reading: :mod:`~fusionlib.evaluation.metrics`, :mod:`~fusionlib.evaluation.stats` (paired comparisons), :mod:`~fusionstudy.chapters.analysis`,
:mod:`~fusionstudy.chapters.findings`, :mod:`~fusionstudy.plots` and :mod:`~fusionstudy.report` (the report's and the original
history's numbers as data). The original protocol replayed on the public rows: :mod:`~fusionstudy.replay.protocol`,
:mod:`~fusionstudy.replay.studies` (the spread over patient splits, the normalisation question).
"""

import os as _os

# Hide TensorFlow's C++ start-up chatter (benign version notices printed at ERROR level); set the variable
# yourself before importing fusionlib to see it.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
