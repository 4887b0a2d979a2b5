"""Agreement of a fusion's predictions with its RF input (metrics, tables) and the original's forest switch."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from fusionstudy.chapters import agreement
from fusionstudy import report
from fusionlib.models import rf
from fusionlib.data.features import clinical_features, labels
from fusionlib.evaluation.metrics import AGREEMENT_METRICS, METRICS, PROBA, RF, per_visit, rf_agreement_metrics, tidy_metrics
from fusionlib.arms.results import ArmResult
from fusionlib.arms.settings import ArmSettings


def table(copy: bool, seed: int = 0, n_visits: int = 60, rows_per_visit: int = 3, folds: int = 3) -> pd.DataFrame:
    """A predictions table (val and train rows) whose predictions copy the RF input (``copy``) or not."""
    rng = np.random.default_rng(seed)
    visit = np.repeat(np.arange(n_visits), rows_per_visit)
    y = np.repeat(rng.integers(0, 3, n_visits), rows_per_visit)
    rf_in = np.repeat(rng.dirichlet([1, 1, 1], n_visits), rows_per_visit, axis=0)
    p = rf_in * 0.9 + 0.01 if copy else rng.dirichlet([1, 1, 1], len(visit))
    frames = []
    for split in ("val", "train"):
        frames.append(pd.DataFrame({"split": split, "repeat": 0, "fold": visit % folds, "image": np.arange(len(visit)),
                                    "visit": visit, "patient": visit // 2, "y": y,
                                    **{c: rf_in[:, j] for j, c in enumerate(RF)},
                                    **{c: p[:, j] for j, c in enumerate(PROBA)}, "alpha": np.nan}))
    return pd.concat(frames, ignore_index=True)


def result(head: str, copy: bool, name: str = "", seed: int = 0) -> ArmResult:
    pred = table(copy, seed)
    s = ArmSettings.from_dict({"head": head, "decomposition": "ordinal_original", "source": "in_sample",
                               "n_splits": 3, "n_repeats": 1, "name": name})
    m = tidy_metrics(pred)
    return ArmResult(s, m, pred, [], {"wall_s": 0.0, "n_visits": 60})


def test_rf_agreement_metrics_count_the_rows_that_predict_the_rf_class():
    y = np.array([0, 1, 2, 1, 0, 2])
    rf_in = np.eye(3)[[0, 1, 1, 1, 2, 2]]
    proba = np.eye(3)[[0, 1, 2, 0, 2, 2]]                   # equal to the RF's class on rows 0, 1, 4, 5
    m = rf_agreement_metrics(y, proba, rf_in)
    assert m["rf_agreement"] == pytest.approx(4 / 6)
    k = cohen_kappa_score(y, proba.argmax(1), weights="quadratic")
    k_rf = cohen_kappa_score(y, rf_in.argmax(1), weights="quadratic")
    assert m["kappa_quadratic_rf"] == k_rf and m["kappa_quadratic_minus_rf"] == k - k_rf
    same = rf_agreement_metrics(y, rf_in * 0.5, rf_in)     # scaled (not summing to 1): same argmax
    assert same["rf_agreement"] == 1.0 and same["kappa_quadratic_minus_rf"] == 0.0


def test_tidy_metrics_add_agreement_and_keep_the_other_values_bit_identical():
    d = table(copy=False)
    with_rf = tidy_metrics(d)
    without = tidy_metrics(d.drop(columns=RF))
    keys = ["split", "repeat", "fold", "level", "metric"]
    classic = with_rf[with_rf["metric"].isin(METRICS)].reset_index(drop=True)
    assert classic[keys].equals(without[keys]) and (classic["value"].to_numpy() == without["value"].to_numpy()).all()
    extra = with_rf[with_rf["metric"].isin(AGREEMENT_METRICS)]
    assert set(extra["metric"]) == set(AGREEMENT_METRICS) and set(extra["level"]) == {"row", "visit"}
    v = extra.set_index(keys)["value"]
    k = with_rf.set_index(keys)["value"]
    for split, fold in (("val", "pooled"), ("val", "1"), ("train", "2")):
        assert v[(split, 0, fold, "visit", "kappa_quadratic_minus_rf")] == (
            k[(split, 0, fold, "visit", "kappa_quadratic")] - v[(split, 0, fold, "visit", "kappa_quadratic_rf")])
    nan_rf = d.assign(rf_I=np.nan, rf_P=np.nan, rf_R=np.nan)           # the image-only arm: no RF input
    assert not tidy_metrics(nan_rf)["metric"].isin(AGREEMENT_METRICS).any()


def test_per_visit_averages_the_rf_input_too():
    d = table(copy=False)
    v = per_visit(d[d["split"] == "val"])
    assert set(RF) <= set(v.columns)
    assert v.loc[v["visit"] == 5, "rf_P"].item() == pytest.approx(d.loc[(d["visit"] == 5) & (d["split"] == "val"),
                                                                           "rf_P"].mean())


def test_agreement_table_separates_a_copy_from_a_fusion_that_does_not_copy():
    res = {"copy": result("fix23", True, "copy"), "own": result("baseline", False, "own"),
           "img": result("metadata_only", True, "md")}
    t = agreement.agreement_table(res).set_index("arm")
    assert list(t.index) == ["copy", "own"]                          # metadata-only is not a fusion
    assert t.loc["copy", "agrees with RF (visit)"] == 1.0 and t.loc["copy", "κ − RF κ (visit)"] == 0.0
    assert t.loc["own", "agrees with RF (row)"] < 0.6
    assert t.loc["copy", "agrees with RF (training rows)"] == 1.0
    text = agreement.agreement_text(t.reset_index())
    assert "1 of 2 arms" in text and "`copy`" in text and "`own`" not in text.split("arms")[-1]
    old = ArmResult(res["own"].settings, res["own"].metrics[res["own"].metrics["metric"].isin(METRICS)],
                    res["own"].predictions, [], {})                  # written before the agreement metrics existed
    assert agreement.agreement_table([old]).iloc[0].equals(t.reset_index().iloc[1])


def test_collapse_by_fold_sets_the_history_beside_each_fold():
    rec = report.fusion_vs_rf_3fold()
    fusion, rf_alone = rec
    res = [result("fix23", True, "fix23 | original protocol"), result("baseline", False, "baseline | original protocol")]
    t = agreement.collapse_by_fold(res, rec)
    assert len(t) == 6 and list(t.index.unique("fold")) == [1, 2, 3]
    f1 = t.loc[(1, "fix23")]
    assert f1["agrees with RF (rows)"] == 1.0 and f1["κ − RF κ (rows)"] == 0.0
    assert f1["history: fusion κ"] == fusion.folds[0] and f1["history: RF alone κ"] == rf_alone.folds[0]
    text = agreement.collapse_text(t, rec)
    assert "`fix23` copies its RF input (≥ 95% of rows) in 3 of 3 folds" in text
    assert "`baseline` copies its RF input (≥ 95% of rows) in 0 of 3 folds" in text
    assert f"{fusion.folds[0] - rf_alone.folds[0]:+.4f}" in text


def test_the_recorded_history_numbers_are_data_with_their_commit():
    fusion, rf_alone = report.fusion_vs_rf_3fold()
    assert fusion.commit and fusion.file.endswith("INVESTIGATION_LOG.md") and fusion.lines
    assert len(fusion.folds) == len(rf_alone.folds) == 3
    # one record per fact: the RF alone's folds are the per-fold log's κ, recorded again in the fusion's log
    assert rf_alone.folds == tuple(f["kappa_quadratic"] for f in report.ORIGINAL_3FOLD)
    assert rf_alone.lines_in(fusion.commit, fusion.file)
    line = agreement.history_line(rec := (fusion, rf_alone))
    assert fusion.file in line and fusion.commit in line and rec[1].lines_in(fusion.commit, fusion.file) in line


def test_original_protocol_arms_are_valid_settings():
    arms = [ArmSettings.from_dict(a) for a in agreement.original_protocol_arms(3, 20, {"epochs": 2})]
    assert [a.head for a in arms] == list(agreement.ORIGINAL_PROTOCOL_HEADS)
    a = arms[1]
    assert (a.decomposition, a.source, a.forest, a.n_splits, a.n_repeats) == ("ordinal_original", "in_sample",
                                                                              "original", 3, 1)
    assert a.train_config().loss == "focal_ordinal" and a.train_config().oversample and a.train["epochs"] == 2


def test_forest_switch_is_validated_and_named():
    s = ArmSettings.from_dict({"head": "baseline", "decomposition": "ordinal_original", "source": "in_sample",
                               "forest": "original"})
    assert s.label == "baseline|ordinal_original|in_sample|forest=original"
    with pytest.raises(ValueError, match="forest='deep'"):
        ArmSettings.from_dict({"forest": "deep"})


def test_original_rows_repeat_each_visit_then_oversample_to_the_largest_class():
    y = np.array([0, 1, 1, 1, 2])
    rows = rf.original_rows(y, np.array([2, 1, 1, 1, 3]), seed=0)
    assert np.bincount(y[rows]).tolist() == [3, 3, 3]
    assert (np.bincount(rows[:8], minlength=5) == [2, 1, 1, 1, 3]).all()     # every repeated row kept once
    assert (rf.original_rows(y, None, 0)[:5] == np.arange(5)).all()
    assert (rows == rf.original_rows(y, np.array([2, 1, 1, 1, 3]), seed=0)).all()


def test_the_original_forest_memorises_its_repeated_training_visits(tiny_cohort):
    X, y = clinical_features(tiny_cohort.visits), labels(tiny_cohort.visits)
    reps = np.bincount(tiny_cohort.image_visit, minlength=len(y))
    kappa = {}
    for forest, kw in (("project", {}), ("original", {"repeats": reps})):
        m = rf.MetadataForest("ordinal_original", seed=0, n_estimators=40, forest=forest).fit(X, y, **kw)
        kappa[forest] = cohen_kappa_score(y, m.predict_proba(X).argmax(1), weights="quadratic")
    assert kappa["original"] > kappa["project"] and kappa["original"] > 0.9
    with pytest.raises(ValueError, match="repeats= applies to forest='original' only"):
        rf.MetadataForest().fit(X, y, repeats=reps)
    p = rf.MetadataForest("ordinal", seed=0, n_estimators=20, forest="original").fit(X, y, repeats=reps).predict_proba(X)
    assert np.allclose(p.sum(1), 1)
