"""fusionlib: the fusion-failure study's library.

One concern per module: :mod:`~fusionlib.cohort` (synthetic cohort), :mod:`~fusionlib.thermal` (rendering and
cropping thermal maps), :mod:`~fusionlib.features` (clinical feature pipeline), :mod:`~fusionlib.splits`
(patient-grouped CV), :mod:`~fusionlib.rf` (metadata Random Forest), :mod:`~fusionlib.cnn` (image branch),
:mod:`~fusionlib.heads` (fusion heads), :mod:`~fusionlib.losses`, :mod:`~fusionlib.train`,
:mod:`~fusionlib.metrics`, :mod:`~fusionlib.stats` (paired comparisons), :mod:`~fusionlib.runner` (run an arm
from a settings dict), :mod:`~fusionlib.study` (papermill + the book), :mod:`~fusionlib.plots` and
:mod:`~fusionlib.report` (the root-cause report's numbers as data).
"""

import os as _os

# Hide TensorFlow's C++ start-up chatter (benign version notices printed at ERROR level); set the variable
# yourself before importing fusionlib to see it.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
