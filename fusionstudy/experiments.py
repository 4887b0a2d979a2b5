"""The study's experiments, one record each, and the scales they run at.

An :class:`Experiment` is everything the study, the pages and the findings need to know about one experiment:
its name, page title and description, its arms (a function of the scale), its fold repeats per scale, and the
book's pages that read its results. :data:`EXPERIMENTS` holds them in the order the study runs them. Each is run
by one notebook (``notebooks/experiment.ipynb``, papermill parameter ``experiment``) and is reachable from
Python: ``run_arms(experiment_arms("grid", "default"), out_dir=...)``.

Adding an experiment is one record here plus, if it has a page of its own, that page's notebook
(``notebooks/<page>.ipynb``, named in ``pages``; :mod:`fusionstudy.build.pages` gives it a default page record).

Scales (:data:`SCALES`): ``smoke`` (CI: seconds per arm), ``default`` (the book on a 2-core CPU), ``full`` (the
original's image size and CNN width, all experiments at 5 x 3; meant for a GPU). An experiment's ``repeats``
gives its number of fold repeats at a scale where it differs from the scale's ``n_repeats``.

The heads an experiment runs come from the head table (:data:`fusionlib.arms.settings.HEADS`) wherever the design
is "every head of a kind"; a few designs name the heads they compare (the mechanisms, the batch sweep, the
joint check). The functions :func:`mechanism_of` and :func:`stability_factor` read an arm's design factors back
from its settings (the analysis pages use them; they never parse arm names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from fusionlib.arms.settings import CONDITIONS, ORIGINAL_RECIPE, RF, SWITCHES, ArmSettings, head, head_names, heads

from fusionstudy.scales import SCALES  # noqa: E402  (the one scale table; read here by the experiments)


@dataclass(frozen=True)
class Experiment:
    """One experiment of the study.

    ``name``: its id (results in ``results/exp-<name>``); ``title``: its page's title; ``description``: one
    paragraph saying what it runs; ``arms``: ``(common, knobs) -> list of arm settings dicts``, where ``common``
    holds the settings every arm shares at the scale (:func:`common`) and ``knobs`` the scale's entry of
    :data:`SCALES`; ``repeats``: fold repeats per scale where they differ from the scale's ``n_repeats``;
    ``pages``: the names of the book's pages that read its results (:mod:`fusionstudy.build.pages`)."""

    name: str
    title: str
    description: str
    arms: Callable[[dict, dict], list]
    repeats: dict = field(default_factory=dict)
    pages: tuple = ()


def _with_train(base: dict, extra: dict) -> dict:
    """``base`` with ``extra`` merged in, ``train`` dicts merged key by key."""
    out = {**base, **{k: v for k, v in extra.items() if k != "train"}}
    out["train"] = {**base.get("train", {}), **extra.get("train", {})}
    return out


def report_arms(conditions=("report", "corrected"), **common) -> list[dict]:
    """The report's models (``in_report`` rows of the head table) under each named condition of
    :data:`fusionlib.arms.settings.CONDITIONS`; a model without an RF input (image-only) once."""
    reported = heads(in_report=True)
    arms = [{"head": h.name, **common} for h in reported if RF not in h.inputs]
    for cond in conditions:
        arms += [{"head": h.name, **CONDITIONS[cond], **common} for h in reported if RF in h.inputs]
    return arms


def _report(c: dict, knobs: dict) -> list[dict]:
    arms = report_arms(**c)
    for cond in CONDITIONS.values():
        arms += [{"head": h, **cond, **c} for h in head_names(kind="robust")]
    return arms


def _grid(c: dict, knobs: dict) -> list[dict]:
    return [{"head": h, "decomposition": d, "source": s, **c}
            for s in SWITCHES["source"] for d in SWITCHES["decomposition"] for h in head_names(kind="keras")]


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
#: The mechanism with nothing switched on: the reference of every other.
NO_MECHANISM = "none (report's conditions)"
#: The heads the mechanisms are tried on: metadata-only, the report's failing fusion and Fix #2+#3.
MECHANISM_HEADS = ("metadata_only", "baseline", "fix23")
#: Switches a mechanism may turn on (besides the training recipe).
_MECHANISM_SWITCHES = ("select_on", "inference", "rf_join", "image")


def _mechanisms(c: dict, knobs: dict) -> list[dict]:
    arms = []
    for mech, extra in MECHANISMS.items():
        for h in MECHANISM_HEADS:
            if not head(h).is_fusion and set(extra) - {"train", "select_on"}:
                continue                 # prediction-time and image switches: for fusions only
            arm = _with_train({"head": h, **CONDITIONS["report"], **c}, extra)
            arm["name"] = f"{h} | {mech}"
            arms.append(arm)
    return arms


def mechanism_of(s: ArmSettings) -> str:
    """The mechanism of :data:`MECHANISMS` that an arm has switched on, read from its settings (its switches and
    whether its training recipe is a mechanism's); ``ValueError`` when none matches."""
    tc = s.train_config()

    def has(recipe: dict) -> bool:
        return all(getattr(tc, k) == (tuple(v) if isinstance(v, list) else v) for k, v in recipe.items())

    recipe = next((e["train"] for e in MECHANISMS.values() if "train" in e and has(e["train"])), None)
    for mech, extra in MECHANISMS.items():
        if extra.get("train") == recipe and all(getattr(s, k) == extra.get(k, getattr(ArmSettings, k))
                                                for k in _MECHANISM_SWITCHES):
            return mech
    raise ValueError(f"{s.label}: no mechanism of {list(MECHANISMS)} matches its settings")


#: The heads of the batch-size sweep (H2).
BATCH_HEADS = ("metadata_only", "baseline", "fix3")


def _stability(c: dict, knobs: dict) -> list[dict]:
    arms = []
    for seed in range(knobs["seeds"]):
        for cond, sw in CONDITIONS.items():
            for h in head_names(kind="keras"):
                arms.append({"head": h, **sw, **c, "init_seed": seed, "name": f"{h} | {cond} | seed {seed}"})
    for bs in knobs["batch_sizes"]:
        for cond, sw in CONDITIONS.items():
            for h in BATCH_HEADS:
                arms.append(_with_train({"head": h, **sw, **c, "name": f"{h} | {cond} | batch {bs}"},
                                        {"train": {"batch_size": bs}}))
    return arms


def stability_factor(s: ArmSettings) -> tuple[str, int]:
    """What an arm of the stability experiment varies: ``("batch", batch size)`` for the batch-size sweep (its arms
    set ``train.batch_size``), else ``("seed", init_seed)``."""
    if "batch_size" in s.train:
        return "batch", int(s.train["batch_size"])
    return "seed", s.init_seed


def _sweep(c: dict, knobs: dict) -> list[dict]:
    arms = []
    for level in knobs["thermal_levels"]:
        cc = {**c, "cohort": {**c["cohort"], "thermal_signal": level}}
        arms += [{"head": h, **cc, "name": f"{h} | thermal {level:g}"} for h in head_names() if RF not in head(h).inputs]
        arms += [{"head": h, **CONDITIONS["corrected"], **cc, "name": f"{h} | thermal {level:g}"}
                 for h in head_names() if RF in head(h).inputs]
        arms.append({"head": "baseline", **CONDITIONS["report"], **cc,
                     "name": f"baseline (report's conditions) | thermal {level:g}"})
    return arms


def _joint(c: dict, knobs: dict) -> list[dict]:
    return [{"head": h, **CONDITIONS["report"], **c, **({"image": "joint"} if joint else {}),
             "name": f"{h} | {'joint' if joint else 'frozen'}"} for h in ("baseline",) for joint in (False, True)]


#: The experiments, in the order the study runs them: the report's arms first (they train every fold's CNN and
#: RF that the others reuse), then the sweep (its own cohorts), then the rest.
EXPERIMENTS = {e.name: e for e in (
    Experiment("report", "The report's arms and the robust fusions",
               "The report's seven arms under the report's conditions (ordinal_original RF, in-sample training "
               "probabilities) and the corrected ones (ordinal RF, patient-grouped out-of-fold), and the robust "
               "fusions (stacking, log-linear pooling, validation-chosen alpha) under both.",
               _report, pages=("results", "hypotheses", "findings")),
    Experiment("sweep", "Thermal signal sweep",
               "Thermal signal strength from none to strong (a new synthetic cohort per level): metadata-only, the "
               "image CNN, every fusion head and the robust fusions under the corrected conditions.",
               _sweep, repeats={"default": 1}, pages=("sensitivity", "findings")),
    Experiment("grid", "The root-cause grid",
               "RF probability source x decomposition x head: every cell of the root-cause grid.",
               _grid, repeats={"default": 1}, pages=("rootcause", "findings")),
    Experiment("mechanisms", "Candidate mechanisms of the collapse",
               "Candidate mechanisms of the reported collapse, each switched on alone (and some together) under "
               "the report's conditions, for metadata-only, the baseline fusion and Fix #2+#3.",
               _mechanisms, repeats={"default": 1}, pages=("mechanisms", "findings", "summary")),
    Experiment("stability", "Seeds and batch sizes",
               "H3: the fusion heads and metadata-only under five initialisation seeds (same folds, RF, CNN and "
               "batch order); H2: a batch-size sweep.",
               _stability, repeats={"default": 1}, pages=("hypotheses", "findings")),
    Experiment("joint", "Frozen vs end-to-end image branch",
               "The baseline fusion with the CNN trained end to end with the head, against the frozen image "
               "input every other experiment uses, under the report's conditions.",
               _joint, repeats={"default": 1}, pages=("mechanisms", "findings")),
)}


def experiment(name: str) -> Experiment:
    """The record of experiment ``name``; ``ValueError`` naming the experiments there are."""
    if name not in EXPERIMENTS:
        raise ValueError(f"experiment={name!r}: use one of {tuple(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def common(scale: str, experiment_name: str = "report") -> dict:
    """The settings every arm of an experiment shares at ``scale`` (folds, repeats, forest, cohort, CNN)."""
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r}: use one of {list(SCALES)}")
    base = dict(SCALES[scale]["common"])
    base["n_repeats"] = experiment(experiment_name).repeats.get(scale, base["n_repeats"])
    return base


def scale_settings(scale: str) -> dict:
    """Everything a scale sets, for the appendix: its knobs (:data:`SCALES`) with the experiments' repeats where
    they differ from the scale's."""
    knobs = SCALES[scale]
    repeats = {e.name: e.repeats[scale] for e in EXPERIMENTS.values() if scale in e.repeats}
    return {"common": knobs["common"], "repeats": repeats, **{k: v for k, v in knobs.items() if k != "common"}}


def experiment_arms(name: str, scale: str) -> list[dict]:
    """The arm settings of experiment ``name`` (one of :data:`EXPERIMENTS`) at ``scale``."""
    return experiment(name).arms(common(scale, name), SCALES[scale])


def n_parts(name: str, scale: str) -> int:
    """How many jobs experiment ``name``'s folds are split into at ``scale``: the scale's ``parts``
    (:data:`SCALES`), at most the folds of its arms (1: one job runs them all)."""
    folds = min(a.get("n_splits", 5) * a.get("n_repeats", 1) for a in experiment_arms(name, scale))
    return max(1, min(SCALES[scale].get("parts", 1), folds))


def run(name: str, scale: str, out_dir: str, part: str = "", parts: list | tuple = (), on_fold=None,
        provenance: dict | None = None) -> list:
    """Run experiment ``name`` at ``scale`` into ``out_dir`` (:func:`fusionlib.arms.runner.run_arms`): all its folds;
    with ``part="k/n"`` only the k-th of n runs of them (a shard: :class:`fusionlib.arms.results.ArmPart` s); with
    ``parts`` (the shards' result folders) no training at all: their merge
    (:func:`fusionlib.arms.runner.merge_parts`), the results one run gives."""
    from fusionlib.arms import runner

    arms = experiment_arms(name, scale)
    if parts:
        return runner.merge_parts(arms, list(parts), out_dir=out_dir)
    k_of_n = tuple(int(x) for x in part.split("/")) if part else None
    return runner.run_arms(arms, progress=False, out_dir=out_dir, on_fold=on_fold, provenance=provenance,
                           part=k_of_n)


def results_table(results: list):
    """What an experiment's page shows of its results: κ per arm (:func:`fusionlib.arms.results.experiment_table`);
    for a shard, which folds each arm ran and how many predictions it made."""
    import pandas as pd

    from fusionlib.arms import results as arm_results

    if results and isinstance(results[0], arm_results.ArmPart):
        return pd.DataFrame([{"arm": p.settings.label, "part": "/".join(map(str, p.info["part"])),
                              "folds": " ".join(str(f + 1) for f in p.info["folds"]), "rows": len(p.predictions)}
                             for p in results]).set_index("arm")
    return arm_results.experiment_table(results).drop(columns="s (amortised)")


def labels_of(name: str, scale: str) -> list[str]:
    """The arm labels (result folder names before :func:`fusionlib.arms.results.safe_name`) of an experiment."""
    return [ArmSettings.from_dict(a).label for a in experiment_arms(name, scale)]


def describe(name: str) -> str:
    """One paragraph saying what experiment ``name`` runs."""
    return experiment(name).description


def read_by(page: str) -> tuple[str, ...]:
    """The experiments whose results page ``page`` reads (in run order)."""
    return tuple(e.name for e in EXPERIMENTS.values() if page in e.pages)


def main(argv: list[str] | None = None) -> int:
    """``python -m fusionstudy.experiments --preset report --n-splits 5 --n-repeats 3 --out results/report``."""
    import argparse
    import time
    from pathlib import Path

    import pandas as pd

    from fusionlib import io
    from fusionlib.arms.results import summary_table
    from fusionlib.arms.runner import run_arms
    from fusionlib.models.train import device_name

    ap = argparse.ArgumentParser(prog="python -m fusionstudy.experiments",
                                 description="Run the report's arms (the closing note of issue 2 quotes this run).")
    ap.add_argument("--preset", choices=["report"], default="report",
                    help="report: the report's seven arms under the report's and the corrected conditions")
    ap.add_argument("--heads", nargs="*", default=None, help="restrict to these heads")
    ap.add_argument("--conditions", nargs="*", default=list(CONDITIONS), choices=list(CONDITIONS))
    ap.add_argument("--n-splits", type=int, default=5)
    ap.add_argument("--n-repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--n-patients", type=int, default=None)
    ap.add_argument("--out", type=Path, required=True, help="results folder (one sub-folder per arm)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    common: dict = {"n_splits": a.n_splits, "n_repeats": a.n_repeats, "seed": a.seed}
    if a.epochs is not None:
        common["train"] = {"epochs": a.epochs}
    if a.n_patients is not None:
        common["cohort"] = {"n_patients": a.n_patients}
    arms = report_arms(tuple(a.conditions), **common)
    if a.heads:
        arms = [s for s in arms if s["head"] in a.heads]
    t0 = time.perf_counter()
    from fusionstudy.build.provenance import project_state

    results = run_arms(arms, progress=not a.quiet, out_dir=a.out, provenance=project_state())
    table = summary_table(results)
    io.write_csv(a.out / "summary.csv", table)
    cols = ["arm", "kappa_quadratic_visit", "kappa_quadratic_visit_fold_sd", "kappa_unweighted_visit",
            "kappa_quadratic_row", "kappa_unweighted_row", "kappa_quadratic_train_row", "wall_s"]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table[cols].round(3).to_string(index=False))
    print(f"total wall time {time.perf_counter() - t0:.0f} s on {device_name()}; results in {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
