"""The book's scales, in one table: every setting that differs between ``smoke``, ``default`` and ``full``.

``smoke`` (CI: seconds per arm), ``default`` (the book on a 2-core CPU), ``full`` (the original's image size and CNN
width, all experiments at 5 x 3; meant for a GPU). Each scale holds:

* ``common`` — every arm's settings (:class:`fusionlib.arms.settings.ArmSettings` knobs: folds, repeats, trees,
  cohort, training recipe); ``seeds``, ``batch_sizes``, ``thermal_levels`` — the experiments' design factors
  (:mod:`fusionstudy.experiments`; an experiment's own ``repeats`` may differ from ``n_repeats``); ``parts`` — the
  jobs an experiment's folds are split into (shards, merged by the experiment's page: smoke 2 so that ``make test``
  runs the merge, default 1, full one job per fold for a GPU cluster; :func:`fusionstudy.experiments.n_parts`);
* ``metadata`` — the metadata chapter (:mod:`fusionstudy.chapters.metadata`): outer folds and trees per forest of the
  reporting fits taken from ``common`` (``n_splits``, ``n_repeats``, ``n_estimators`` = ``rf_trees``), inner
  folds, trees per forest of the inner,
  choosing fits (``inner_estimators``; fewer at ``default`` to fit a 2-core budget: they only rank the
  candidates), bootstrap draws;
* ``realdata`` — the real-data page: rendered crops per visit of the semi-real cohort (``draws_per_visit``) and the
  trees of the original-protocol forest (``original_trees``; the original's at ``default`` and ``full``);
* ``replay`` — the replay chapter (:mod:`fusionstudy.replay.studies`): ``trees`` of the exact replay (3 folds,
  always the original's 646: the recorded numbers need them) and of the 5-fold / defect runs; ``bn_epochs``: the
  BN head's epoch budget (the original's 300, early-stopped); ``distribution``: {n_folds: splits} and its forest
  size; ``forest_check``: splits of 3 folds scored with both forest sizes; ``cnn_draws``: rendered crops per visit
  of the semi-real cohort behind the image probabilities; ``compare_current``: also run the 3 folds with the
  project's own scikit-learn to show the size of the difference.
"""

from fusionlib.models.rf import ORIGINAL_TREES

SCALES = {
    "smoke": {
        "common": {"n_splits": 3, "n_repeats": 1, "rf_trees": 30, "cohort": {"n_patients": 40},
                   "train": {"epochs": 2, "width": 0.0625}},
        "seeds": 2, "batch_sizes": (8, 32), "thermal_levels": (0.0, 1.2), "parts": 2,
        "metadata": {"inner_splits": 3, "inner_estimators": 30, "n_boot": 200},
        "realdata": {"draws_per_visit": 2, "original_trees": 30},
        "replay": {"trees": 60, "bn_epochs": 5, "distribution": {3: 3, 5: 2}, "distribution_trees": 30,
                   "forest_check": 1, "cnn_draws": 1, "compare_current": False},
    },
    "default": {
        "common": {"n_splits": 5, "n_repeats": 3, "rf_trees": 300, "cohort": {}, "train": {}},
        "seeds": 5, "batch_sizes": (16, 32, 128, 512), "thermal_levels": (0.0, 1.2, 2.4), "parts": 1,
        "metadata": {"inner_splits": 3, "inner_estimators": 100, "n_boot": 1000},
        "realdata": {"draws_per_visit": 4, "original_trees": ORIGINAL_TREES},
        "replay": {"trees": 646, "bn_epochs": 300, "distribution": {3: 100, 5: 100}, "distribution_trees": 100,
                   "forest_check": 10, "cnn_draws": 2, "compare_current": True},
    },
    "full": {
        "common": {"n_splits": 5, "n_repeats": 3, "rf_trees": 300, "cohort": {"image_size": 128},
                   "train": {"epochs": 100, "patience": 10, "width": 1.0}},
        "seeds": 5, "batch_sizes": (16, 32, 128, 512), "thermal_levels": (0.0, 0.6, 1.2, 2.4, 4.8), "parts": 15,
        "metadata": {"inner_splits": 5, "inner_estimators": 300, "n_boot": 2000},
        "realdata": {"draws_per_visit": 4, "original_trees": ORIGINAL_TREES},
        "replay": {"trees": 646, "bn_epochs": 300, "distribution": {3: 200, 5: 200}, "distribution_trees": 646,
                   "forest_check": 20, "cnn_draws": 4, "compare_current": True},
    },
}

# The metadata chapter's outer folds and reporting forests are the study's (one fact, stated once in ``common``).
for _scale in SCALES.values():
    _c = _scale["common"]
    _scale["metadata"] = {"n_splits": _c["n_splits"], "n_repeats": _c["n_repeats"], "n_estimators": _c["rf_trees"],
                          **_scale["metadata"]}
del _scale, _c
