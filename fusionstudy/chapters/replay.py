"""The replay chapter, section by section: what ``notebooks/replay.ipynb`` shows, computed here.

:class:`ReplayChapter` runs each section of the chapter on the public row table (:mod:`fusionstudy.replay.protocol`,
:mod:`fusionstudy.replay.studies`) at a scale's settings (:data:`fusionstudy.scales.SCALES` ``["replay"]``), keeps
its tables and timings, and returns what the page shows as a list of parts (Markdown text or tables;
:func:`fusionstudy.present.show`). :meth:`ReplayChapter.save` writes its tables and the facts the findings and the pins read
(:class:`fusionstudy.replay.facts.ReplayFacts`).
Without the row table every section returns nothing and :meth:`save` records why.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import pandas as pd

from fusionlib.data import datasets
from fusionstudy import plots, present, report
from fusionstudy.chapters.base import DataChapter
from fusionstudy.replay import protocol as replay
from fusionstudy.replay import facts, studies
from fusionstudy.scales import SCALES


def _table(frame: pd.DataFrame) -> present.Table:
    return present.table(frame, digits=4)


class ReplayChapter(DataChapter):
    """The chapter at ``scale`` on the files of ``data_dir`` (``data_unavailable``: why the study could not get them)."""

    def __init__(self, data_dir: str, data_unavailable: str, scale: str):
        self.data_dir = data_dir or None
        self.scale = scale
        self.knobs = SCALES[scale]["replay"]
        self.timings: dict[str, float] = {}
        self.tables: dict[str, pd.DataFrame] = {}
        self.engines = self.fixed = None
        super().__init__(data_dir, data_unavailable, require=[datasets.BEST_MATCHING_CSV])
        try:
            if not self.enabled:
                raise ValueError(self.data.reason)
            self.rows = replay.read_rows(self.data.folder)
            self.enabled, self.skipped = True, ""
        except ValueError as e:  # fusionlib.data.dfu.DFUDataError and replay.ReplayDataError are ValueErrors
            self.enabled, self.skipped = False, str(e)
        self.engine = replay.choose_engine("auto") if self.enabled else None

    @contextmanager
    def _timed(self, part: str):
        t0 = time.perf_counter()
        yield
        self.timings[part] = time.perf_counter() - t0

    def _run(self, n_folds: int, variants: tuple, heads: tuple, engine: str | None = None, **kw):
        return replay.run(self.data_dir, n_folds=n_folds, variants=variants, heads=heads,
                          engine=engine or self.engine, n_jobs=2, **kw)

    # The chapter's forest work, one place: the sections run these, :meth:`forest_jobs` lists their forests.
    def replays(self) -> dict[str, dict]:
        """The chapter's runs of :func:`fusionstudy.replay.protocol.run`, by section (its timing's name): keyword
        arguments of :meth:`_run`. The project-environment replay only where the chapter compares engines."""
        k, both = self.knobs, ("e0ba25c", "1ea5ac0")
        sized = {"n_trees": k["trees"], "bn_epochs": k["bn_epochs"]}
        runs = {"3-fold replay": {"n_folds": 3, "variants": ("as recorded",), "heads": ("e0ba25c",)}}
        if self._compares_engines():
            runs["3-fold replay, project environment"] = {"n_folds": 3, "variants": ("as recorded",),
                                                          "heads": ("e0ba25c",), "engine": "current"}
        return {**runs,
                "5-fold replay with the BN head": {"n_folds": 5, "variants": ("as recorded",), "heads": both, **sized},
                "defects switched off": {"n_folds": 3, "variants": tuple(replay.DEFECTS), "heads": both, **sized}}

    def distributions(self) -> dict[str, dict]:
        """The chapter's seeded-split runs, by section: keyword arguments of
        :func:`fusionstudy.replay.studies.split_distribution` and :func:`~fusionstudy.replay.studies.forest_size_check`."""
        k = self.knobs
        return {"split distribution": {"designs": k["distribution"], "n_trees": k["distribution_trees"]},
                "forest-size check": {"n_folds": 3, "n_splits": k["forest_check"], "small": k["distribution_trees"],
                                      "full": replay.FOREST["n_estimators"]}}

    def forest_jobs(self) -> list[tuple[str, str, dict]]:
        """Every forest stage the chapter computes, once each, in the order it computes them: ``(section,
        engine, job)`` with ``job`` the keyword arguments of :func:`fusionstudy.replay.protocol.forest_stage`
        (a stage two sections share is listed under the first; the disk cache computes it once). Empty when the
        chapter is disabled. What ``benchmarks/replay_floor.py`` times."""
        if not self.enabled:
            return []
        folder = str(self.rows.path.parent)
        work = []
        for section, kw in self.replays().items():
            chosen = replay.variants_of(kw["variants"], kw.get("n_trees"))
            work += [(section, kw.get("engine", self.engine), job)
                     for job in replay.run_jobs(folder, kw["n_folds"], chosen)[0]]
        dist, check = self.distributions().values()
        work += [("split distribution", self.engine, job)
                 for job in studies.distribution_jobs(folder, dist["designs"], dist["n_trees"])[1]]
        for trees in (check["small"], check["full"]):
            work += [("forest-size check", self.engine, job)
                     for job in studies.distribution_jobs(folder, {check["n_folds"]: check["n_splits"]}, trees)[1]]
        out, seen = [], []
        for section, engine, job in work:
            if (engine, job) not in seen:
                seen.append((engine, job))
                out.append((section, engine, job))
        return out

    def _compares_engines(self) -> bool:
        return bool(self.knobs["compare_current"] and self.engine == "pinned")

    def row_table(self) -> list:
        """The row table and the environment that grows the forests, or why the chapter is skipped."""
        if not self.enabled:
            why = self.skipped.replace("<", "&lt;").replace(">", "&gt;")
            return [f"**Skipped: this chapter needs the public row table `best_matching.csv`, which was not found "
                    f"({why}).** The other chapters build without it; *Findings* says what is missing."]
        parts = [_table(pd.DataFrame(list(self.rows.summary().items()), columns=["row table", "value"])),
                 _table(pd.DataFrame([{"forests computed by": "", **replay.engine_info(self.engine)}]))]
        if self.engine != "pinned":
            parts.append("**The pinned environment is absent** (`make replay-env`), so the forests below were grown "
                         "by this environment's scikit-learn, which draws other bootstraps from the same seeds: the "
                         "fold-level numbers cannot equal the recorded ones.")
        return parts

    def three_fold(self) -> list:
        """The exact replay of the recorded 3-fold run, fold by fold, with its confusion matrices."""
        if not self.enabled:
            return []
        with self._timed("3-fold replay"):
            self.exact = self._run(**self.replays()["3-fold replay"])
        t = self.tables["three_fold"] = studies.recorded_comparison(self.exact)
        parts = [_table(t.drop(columns=["confusion recorded", "confusion replay"]))]
        parts += [f"Fold {r['fold']}: recorded `{r['confusion recorded']}`, replay `{r['confusion replay']}` (rows true "
                  f"I, P, R; columns predicted) — {'identical' if r['identical matrix'] else '**different**'}."
                  for r in t.to_dict("records")]
        same = bool(t["identical matrix"].all())
        forests = self.exact.info["forests"]
        parts.append(f"**{'Every' if same else 'Not every'} confusion matrix is identical** "
                     f"({int(t['identical matrix'].sum())} of {len(t)}), forests by scikit-learn "
                     f"{forests['scikit-learn']} ({forests['engine']} environment). Mean κ: replay "
                     f"{t['κ replay'].mean():.4f}, recorded {report.HISTORY['metadata_3fold'].value:.4f}.")
        return parts

    def engines_compared(self) -> list:
        """The 3 folds again with the project's own scikit-learn (where the scale asks and the pinned one ran)."""
        if not self.enabled:
            return []
        if not self._compares_engines():
            return [f"Not run at scale `{self.scale}`" + (" (the pinned environment is absent)."
                                                         if self.engine != "pinned" else ".")]
        with self._timed("3-fold replay, project environment"):
            current = self._run(**self.replays()["3-fold replay, project environment"])
        self.engines = self.tables["engines"] = studies.engine_difference(self.exact, current)
        return [_table(self.engines)]

    def five_fold(self) -> list:
        """The 5-fold run with the BN head of both commits."""
        if not self.enabled:
            return []
        k = self.knobs
        with self._timed("5-fold replay with the BN head"):
            self.five = self._run(**self.replays()["5-fold replay with the BN head"])
        reduced = not self._full_scale()
        note = (f"Forests of {k['trees']} trees, BN head trained for at most {k['bn_epochs']} epochs"
                + (" — **reduced at this scale, so the numbers are not comparable with the recorded ones**"
                   if reduced else "") + ".")
        epochs = facts.fold_rows(self.five.folds, facts.BN_HEAD)["best_epoch"]
        table = facts.FiveFold.from_folds(self.five.folds, not reduced).table(epochs)
        return [note, _table(self.tables.setdefault("five_fold", table))]

    def _full_scale(self) -> bool:
        return self.knobs["trees"] == replay.FOREST["n_estimators"] and self.knobs["bn_epochs"] == 300

    def defects(self) -> list:
        """The 3-fold run with each defect switched off."""
        if not self.enabled:
            return []
        with self._timed("defects switched off"):
            self.defect_runs = self._run(**self.replays()["defects switched off"])
        self.tables["defects"] = studies.defect_table(self.defect_runs)
        return [f"Forests of {self.knobs['trees']} trees.", _table(self.tables["defects"])]

    def agreement(self) -> list:
        """How often the fused model predicts its RF input's class, on the 3 and the 5 folds; the history's fusions."""
        parts = []
        if self.enabled:
            self.tables["agreement"] = pd.concat([studies.agreement_table(self.defect_runs).assign(split="3 folds"),
                                                  studies.agreement_table(self.five).assign(split="5 folds")],
                                                 ignore_index=True)
            parts.append(_table(self.tables["agreement"]))
        return parts + [_table(studies.history_fusion_table())]

    def split_distribution(self) -> list:
        """κ over many seeded patient splits of 3 and 5 folds (the RF alone), with the recorded numbers marked."""
        if not self.enabled:
            return []
        k = self.knobs
        with self._timed("split distribution"):
            dist = self.tables["distribution"] = studies.split_distribution(
                self.data_dir, **self.distributions()["split distribution"], engine=self.engine, n_jobs=2)
        n_splits = dist.groupby("n_folds")["split_seed"].nunique()
        self.tables["distribution_summary"] = studies.distribution_summary(dist)
        return ["; ".join(f"{n_folds} folds: {n} seeded splits" for n_folds, n in n_splits.items())
                + f"; forests of {k['distribution_trees']} trees.",
                plots.split_distribution(dist), _table(self.tables["distribution_summary"])]

    def forest_size(self) -> list:
        """The same splits scored with the distribution's forests and the original's."""
        if not self.enabled:
            return []
        with self._timed("forest-size check"):
            self.tables["forest_check"] = studies.forest_size_check(
                self.data_dir, **self.distributions()["forest-size check"], engine=self.engine, n_jobs=2)
        self.tables["forest_check_summary"] = studies.forest_size_summary(self.tables["forest_check"])
        return [_table(self.tables["forest_check_summary"])]

    def normalisation(self) -> list:
        """The recorded effect of normalising the RF vector, and what it changes on the replayed folds."""
        before, after = report.HISTORY["normalisation_before"], report.HISTORY["normalisation_after"]
        parts = [f"Recorded: κ {before.value:g} → {after.value:g} ({before.what}; {before.commit}, `{before.file}`; "
                 f"{before.note})."]
        if not self.enabled:
            return parts
        with self._timed("normalisation"):
            stages3 = {f: self.exact.stages[("as recorded", f)] for f in range(3)}
            try:
                image, self.image_info = studies.semi_real_image_probabilities(
                    stages3, self.data_dir, self.scale, draws_per_visit=self.knobs["cnn_draws"])
            except ValueError as e:  # the clinical CSV is needed for the semi-real cohort
                image, self.image_info = None, {"skipped": str(e)}
            self.normalised = studies.normalisation_effect(stages3, image)
        self.tables["normalisation"] = self.normalised.table()
        parts += [_table(pd.DataFrame([self.image_info])), _table(self.tables["normalisation"])]
        if image is not None:
            self.fixed = studies.fixed_average(stages3, image)
            self.tables["fixed_average"] = self.fixed.table()
            parts += ["The fixed average per fold (RF vector normalised), beside the RF alone and the image alone:",
                      _table(self.tables["fixed_average"])]
        return parts

    def timing(self) -> list:
        """Seconds per part of this chapter."""
        if not self.enabled:
            return []
        return [_table(pd.DataFrame({"part": list(self.timings), "seconds": [round(t) for t in self.timings.values()]}))]

    def save(self, out_dir: str) -> None:
        """Write the chapter's tables and info for the findings page and the pins (nothing without ``out_dir``;
        without the row table, an info saying why, replacing any earlier run's tables)."""
        if not out_dir:
            return
        if not self.enabled:
            studies.save_results(out_dir, {}, {"skipped": self.skipped})
            return
        order = ("three_fold", "five_fold", "defects", "agreement", "distribution", "distribution_summary",
                 "forest_check", "forest_check_summary", "normalisation")
        tables = {name: self.tables[name] for name in order}
        tables.update(folds_exact=self.exact.folds, folds_five=self.five.folds, folds_defects=self.defect_runs.folds)
        for name in ("engines", "fixed_average"):
            if name in self.tables:
                tables[name] = self.tables[name]
        record = facts.replay_facts(self.exact.info["forests"], self.exact.folds, self.five.folds,
                                    self.defect_runs.folds, self.tables["distribution"], self.normalised, self.fixed,
                                    self._full_scale())
        studies.save_results(out_dir, tables, {"scale": self.scale, "engine": self.exact.info["forests"],
                                               "rows": self.exact.info["rows"], "knobs": self.knobs,
                                               "timings_s": self.timings, "image": self.image_info}, record)
