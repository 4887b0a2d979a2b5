"""The study's experiments: named lists of arm settings, at a scale.

Each experiment is run by one notebook (``notebooks/experiment.ipynb``, papermill parameter ``experiment``)
and is reachable from Python: ``run_arms(experiment_arms("grid", "default"), out_dir=...)``.

``report``      the report's seven arms under the report's and the corrected conditions, and the three robust
                fusions (issue 4 item 4) under both;
``grid``        RF source x decomposition x head (issue 4 item 2);
``mechanisms``  candidate mechanisms of the collapse, each a switch, under the report's conditions;
``stability``   H3 (five initialisation seeds per arm) and H2's batch-size sweep;
``sweep``       thermal signal strength from none to strong (issue 4 item 5);
``joint``       the CNN trained end to end with the head, against the frozen image input used elsewhere.

Scales: ``smoke`` (CI: seconds per arm), ``default`` (the book on a 2-core CPU, ≤ 20 min), ``full`` (the
original's image size and CNN width, all experiments at 5 x 3; meant for a GPU). ``repeats`` gives the
number of fold repeats of each experiment at the scale; the report's arms always use the scale's
``n_repeats``.
"""

from __future__ import annotations

from .heads import FUSION_HEADS
from .runner import CONDITIONS, ArmSettings, report_arms
from .rf import DECOMPOSITIONS, SOURCES
from .train import ORIGINAL_RECIPE
from .fusions import ROBUST_HEADS

SCALES = {
    "smoke": {"common": {"n_splits": 3, "n_repeats": 1, "rf_trees": 30, "cohort": {"n_patients": 40},
                         "train": {"epochs": 2, "width": 0.0625}},
              "repeats": {}, "seeds": 2, "batch_sizes": (8, 32), "thermal_levels": (0.0, 1.2)},
    "default": {"common": {"n_splits": 5, "n_repeats": 3, "rf_trees": 300, "cohort": {}, "train": {}},
                "repeats": {"grid": 1, "mechanisms": 1, "stability": 1, "sweep": 1, "joint": 1},
                "seeds": 5, "batch_sizes": (16, 32, 128, 512), "thermal_levels": (0.0, 1.2, 2.4)},
    "full": {"common": {"n_splits": 5, "n_repeats": 3, "rf_trees": 300, "cohort": {"image_size": 128},
                        "train": {"epochs": 100, "patience": 10, "width": 1.0}},
             "repeats": {}, "seeds": 5, "batch_sizes": (16, 32, 128, 512),
             "thermal_levels": (0.0, 0.6, 1.2, 2.4, 4.8)},
}
#: In the order the study runs them: the report's arms first (they train every fold's CNN and RF that the
#: others reuse), then the sweep (its own cohorts), then the rest.
EXPERIMENTS = ("report", "sweep", "grid", "mechanisms", "stability", "joint")
#: The mechanisms tested under the report's conditions (issue 4 item 3), as setting overrides.
MECHANISMS = {
    "none (report's conditions)": {},
    "original training recipe": {"train": ORIGINAL_RECIPE},
    "checkpoint on training κ": {"select_on": "train_kappa"},
    "BN in training mode, single-class batches": {"inference": "batch_by_class"},
    "BN in training mode, batches of one": {"inference": "batch_single"},
    "validation RF joined to the wrong visits": {"rf_join": "shuffled"},
    "thermal branch at chance": {"image": "chance"},
    "all of the above but BN/join": {"train": ORIGINAL_RECIPE, "select_on": "train_kappa", "image": "chance"},
}


def common(scale: str, experiment: str = "report") -> dict:
    """The settings every arm of ``experiment`` shares at ``scale`` (folds, repeats, forest, cohort, CNN)."""
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r}: use one of {list(SCALES)}")
    base = dict(SCALES[scale]["common"])
    base["n_repeats"] = SCALES[scale]["repeats"].get(experiment, base["n_repeats"])
    return base


def _with_train(base: dict, extra: dict) -> dict:
    """``base`` with ``extra`` merged in, ``train`` dicts merged key by key."""
    out = {**base, **{k: v for k, v in extra.items() if k != "train"}}
    out["train"] = {**base.get("train", {}), **extra.get("train", {})}
    return out


def experiment_arms(name: str, scale: str) -> list[dict]:
    """The arm settings of experiment ``name`` (one of :data:`EXPERIMENTS`) at ``scale``."""
    if name not in EXPERIMENTS:
        raise ValueError(f"experiment={name!r}: use one of {EXPERIMENTS}")
    c = common(scale, name)
    cfg = SCALES[scale]
    if name == "report":
        arms = report_arms(**c)
        for cond in CONDITIONS.values():
            arms += [{"head": h, **cond, **c} for h in ROBUST_HEADS]
        return arms
    if name == "grid":
        return [{"head": h, "decomposition": d, "source": s, **c}
                for s in SOURCES for d in DECOMPOSITIONS for h in ("metadata_only", *FUSION_HEADS)]
    if name == "mechanisms":
        arms = []
        for mech, extra in MECHANISMS.items():
            for head in ("metadata_only", "baseline", "fix23"):
                if head == "metadata_only" and set(extra) - {"train", "select_on"}:
                    continue
                arm = _with_train({"head": head, **CONDITIONS["report"], **c}, extra)
                arm["name"] = f"{head} | {mech}"
                arms.append(arm)
        return arms
    if name == "stability":
        arms = []
        for seed in range(cfg["seeds"]):
            for cond, sw in CONDITIONS.items():
                for head in ("metadata_only", *FUSION_HEADS):
                    arms.append({"head": head, **sw, **c, "init_seed": seed, "name": f"{head} | {cond} | seed {seed}"})
        for bs in cfg["batch_sizes"]:
            for cond, sw in CONDITIONS.items():
                for head in ("metadata_only", "baseline", "fix3"):
                    arms.append(_with_train({"head": head, **sw, **c, "name": f"{head} | {cond} | batch {bs}"},
                                            {"train": {"batch_size": bs}}))
        return arms
    if name == "sweep":
        arms = []
        for level in cfg["thermal_levels"]:
            cc = {**c, "cohort": {**c["cohort"], "thermal_signal": level}}
            arms.append({"head": "image_only", **cc, "name": f"image_only | thermal {level:g}"})
            for head in ("metadata_only", *FUSION_HEADS, *ROBUST_HEADS):
                arms.append({"head": head, **CONDITIONS["corrected"], **cc, "name": f"{head} | thermal {level:g}"})
            arms.append({"head": "baseline", **CONDITIONS["report"], **cc,
                         "name": f"baseline (report's conditions) | thermal {level:g}"})
        return arms
    # joint: the CNN trained with the head, against the frozen image input, under the report's conditions
    return [{"head": h, **CONDITIONS["report"], **c, **({"image": "joint"} if joint else {}),
             "name": f"{h} | {'joint' if joint else 'frozen'}"} for h in ("baseline",) for joint in (False, True)]


def labels_of(name: str, scale: str) -> list[str]:
    """The arm labels (result folder names before :func:`fusionlib.runner.safe_name`) of an experiment."""
    return [ArmSettings.from_dict(a).label for a in experiment_arms(name, scale)]


DESCRIPTIONS = {
    "report": "The report's seven arms under the report's conditions (ordinal_original RF, in-sample training "
              "probabilities) and the corrected ones (ordinal RF, patient-grouped out-of-fold), and the robust "
              "fusions (stacking, log-linear pooling, validation-chosen alpha) under both.",
    "grid": "RF probability source x decomposition x head: every cell of the root-cause grid.",
    "mechanisms": "Candidate mechanisms of the reported collapse, each switched on alone (and some together) under "
                  "the report's conditions, for metadata-only, the baseline fusion and Fix #2+#3.",
    "stability": "H3: the fusion heads and metadata-only under five initialisation seeds (same folds, RF, CNN and "
                 "batch order); "
                 "H2: a batch-size sweep.",
    "sweep": "Thermal signal strength from none to strong (a new synthetic cohort per level): metadata-only, the "
             "image CNN, every fusion head and the robust fusions under the corrected conditions.",
    "joint": "The baseline fusion with the CNN trained end to end with the head, against the frozen image "
             "input every other experiment uses, under the report's conditions.",
}


def describe(name: str) -> str:
    """One paragraph saying what experiment ``name`` runs."""
    if name not in DESCRIPTIONS:
        raise ValueError(f"experiment={name!r}: use one of {EXPERIMENTS}")
    return DESCRIPTIONS[name]
