"""The metadata arms: encodings fitted on training rows only, selection that never sees a reporting row, leaks
refused unless named, and the report's arm unchanged."""

import numpy as np
import pandas as pd
import pytest

from fusionstudy.chapters import metadata as md
from fusionstudy.chapters import metadata_tables as mt
from fusionstudy import plots
from fusionlib.data.features import labels
from fusionlib.models.rf import MetadataForest
from fusionlib.data.splits import patient_folds

from conftest import REAL_CSV, needs_real_csv

EXUDATE = "Exudate Appearance (Serous:1,Haemoserous,Bloody,Thick:4)"
FAST = {"n_estimators": 5}


@pytest.fixture(scope="module")
def visits(tiny_cohort):
    return tiny_cohort.visits


def small_frame() -> pd.DataFrame:
    """Six rows: a numeric column with a gap, a coded column and a nominal column."""
    return pd.DataFrame({
        "Age": [50.0, 60.0, np.nan, 70.0, 55.0, 65.0],
        EXUDATE: [1.0, 2.0, 1.0, np.nan, 4.0, np.nan],
        "Foot Aspect": ["Plantar", "Dorsal", "Plantar", "Dorsal", "Lateral", np.nan],
    }, index=[10, 11, 12, 13, 14, 15]).astype({"Foot Aspect": object})      # as clinical_features leaves it


# --- encodings ---------------------------------------------------------------------------------------------

def test_fill_is_the_reports_pipeline_and_throws_the_gap_away():
    X = small_frame()
    enc = md.MetadataEncoder("fill").fit(X)
    Z = enc.transform(X)
    names = list(enc.get_feature_names_out())
    assert not np.isnan(Z).any()
    assert EXUDATE in names                                     # one numeric column: 1..4, gaps imputed
    assert not any("missing" in n for n in names)
    exu = Z[:, names.index(EXUDATE)]
    assert np.all(exu[[3, 5]] != 0) and len(np.unique(exu[[0, 2]])) == 1   # standardised values, imputed gaps


def test_missing_level_makes_a_level_of_the_gap_only_from_training_rows():
    X = small_frame()
    train, val = X.iloc[:3], X.iloc[3:]                         # training rows: Exudate 1, 2, 1; no gap, no 4
    enc = md.MetadataEncoder("missing_level").fit(train)
    names = list(enc.get_feature_names_out())
    assert f"{EXUDATE}_1" in names and f"{EXUDATE}_2" in names
    assert f"{EXUDATE}_missing" not in names                    # the gap is only in validation rows
    assert f"{EXUDATE}_4" not in names                          # so is the category 4
    assert "Foot Aspect_Lateral" not in names and "Foot Aspect_missing" not in names
    Z = enc.transform(val)
    exu = [i for i, n in enumerate(names) if n.startswith(EXUDATE)]
    assert np.all(Z[:, exu] == 0)                               # 4 and the gap encode as all zeros

    enc = md.MetadataEncoder("missing_level").fit(X)            # now the training rows hold gaps
    names = list(enc.get_feature_names_out())
    Z = enc.transform(X)
    col = Z[:, names.index(f"{EXUDATE}_missing")]
    assert col.tolist() == X[EXUDATE].isna().astype(float).tolist()
    assert Z[:, names.index("Foot Aspect_missing")].tolist() == [0, 0, 0, 0, 0, 1]
    assert EXUDATE not in names                                 # not numeric any more


def test_indicators_add_one_column_per_gap_seen_in_training():
    X = small_frame()
    enc = md.MetadataEncoder("indicators").fit(X.iloc[:3])      # a gap only in Age among the training rows
    names = list(enc.get_feature_names_out())
    assert [n for n in names if n.endswith(" is missing")] == ["Age is missing"]
    Z = enc.transform(X)
    assert Z[:, names.index("Age is missing")].tolist() == [0, 0, 1, 0, 0, 0]
    full = md.MetadataEncoder("fill").fit(X.iloc[:3])
    assert np.array_equal(Z[:, :-1], full.transform(X))         # otherwise 'fill'


def test_encoder_rejects_unknown_encoding_and_missing_columns():
    with pytest.raises(ValueError, match="encoding='median'"):
        md.MetadataEncoder("median").fit(small_frame())
    enc = md.MetadataEncoder("fill").fit(small_frame())
    with pytest.raises(ValueError, match="Foot Aspect"):
        enc.transform(small_frame().drop(columns=["Foot Aspect"]))


# --- models -------------------------------------------------------------------------------------------------

def test_the_reports_arm_equals_the_metadata_forest(visits):
    X, y = md.metadata_features(visits), labels(visits)
    tr, te = np.arange(0, len(y), 2), np.arange(1, len(y), 2)
    ours = md.MetadataModel("ordinal_balanced", "fill", n_estimators=20).fit(X.iloc[tr], y[tr]).predict_proba(X.iloc[te])
    theirs = MetadataForest("ordinal", n_estimators=20).fit(X.iloc[tr], y[tr]).predict_proba(X.iloc[te])
    assert np.array_equal(ours, theirs)
    assert md.REPORT == md.MetadataConfig("ordinal_balanced", "fill", False)


@pytest.mark.parametrize("model", list(md.MODELS))
def test_every_model_gives_three_probabilities_per_visit(visits, model):
    X, y = md.metadata_features(visits), labels(visits)
    keep = y != 2                                                  # a class absent from the training rows
    p = md.MetadataModel(model, "missing_level", **{"n_estimators": 10}).fit(X[keep], y[keep]).predict_proba(X)
    assert p.shape == (len(X), 3)
    assert np.allclose(p.sum(1), 1) and (p >= 0).all()
    assert np.allclose(p[:, 2], 0)


def test_config_validation_and_labels():
    with pytest.raises(ValueError, match="model='forest'"):
        md.MetadataConfig(model="forest")
    with pytest.raises(ValueError, match="leak='peek'"):
        md.MetadataConfig(leak="peek")
    assert md.MetadataConfig("rf3", "indicators", True).label == "rf3 | indicators | temperatures"
    cands = md.candidates()
    assert cands[0] == md.REPORT and len(cands) == len(md.SELECTION_MODELS) * len(md.SELECTION_ENCODINGS)
    assert not any(c.temperatures or c.leak for c in cands)


# --- nested selection -------------------------------------------------------------------------------------

def test_nested_selection_never_sees_an_outer_validation_row(visits, monkeypatch):
    """Every fit and every prediction that feeds a choice uses rows of the outer training fold only; the
    outer validation rows are predicted once per fold, by a model fitted on the outer training fold."""
    monkeypatch.setenv("FUSIONLIB_CACHE", "off")
    calls, encoder_fits, current = [], [], {}
    real_fit_predict, real_outer, real_enc_fit = md._fit_predict, md._outer_fold, md.MetadataEncoder.fit

    def outer_spy(configs, tables, y, groups, fold, *a):
        current["fold"] = fold
        return real_outer(configs, tables, y, groups, fold, *a)

    def fit_predict_spy(configs, tables, y, fit_rows, predict_rows, *a):
        calls.append((current["fold"], np.array(fit_rows), np.array(predict_rows)))
        return real_fit_predict(configs, tables, y, fit_rows, predict_rows, *a)

    def enc_fit_spy(self, X, y=None):
        encoder_fits.append((current["fold"], X.index.to_numpy()))
        return real_enc_fit(self, X, y)

    monkeypatch.setattr(md, "_outer_fold", outer_spy)
    monkeypatch.setattr(md, "_fit_predict", fit_predict_spy)
    monkeypatch.setattr(md.MetadataEncoder, "fit", enc_fit_spy)
    configs = [md.REPORT, md.MetadataConfig("rf3", "missing_level")]
    res = md.nested_cv(visits, configs, n_splits=3, n_repeats=2, inner_splits=3, **FAST)

    assert len(res.folds) == 6 and len(calls) == 6 * (3 + 1)
    for fold in res.folds:
        mine = [(f, p) for fo, f, p in calls if fo is fold]
        outer = [(f, p) for f, p in mine if np.array_equal(p, fold.val)]
        assert len(outer) == 1 and np.array_equal(np.sort(outer[0][0]), np.sort(fold.train))
        inner = [(f, p) for f, p in mine if not np.array_equal(p, fold.val)]
        assert len(inner) == 3
        for fit_rows, predict_rows in inner:
            assert not np.intersect1d(fit_rows, fold.val).size
            assert not np.intersect1d(predict_rows, fold.val).size
            assert np.isin(fit_rows, fold.train).all() and np.isin(predict_rows, fold.train).all()
        seen = np.concatenate([p for _, p in inner])
        assert np.array_equal(np.sort(seen), np.sort(fold.train))      # inner OOF covers the training fold
        for fo, idx in encoder_fits:
            if fo is fold:
                assert np.isin(idx, fold.train).all()                   # encoders: training rows only
    assert len(res.choices) == 6 and set(res.choices["chosen"]) <= {c.label for c in configs}


def test_the_choice_does_not_move_when_the_reporting_labels_change(visits, monkeypatch):
    """Scramble the labels of one outer fold's validation visits (same folds): that fold's inner scores and
    choice stay exactly the same; only its reported predictions can be scored differently."""
    y = labels(visits)
    folds = patient_folds(y, visits["Patient#"].to_numpy(), 3, 1, seed=0)
    val = folds[0].val
    other = visits.copy()
    other.loc[val, "Healing Phase Abs"] = np.roll(other.loc[val, "Healing Phase Abs"].to_numpy(), 1)
    assert (labels(other)[val] != y[val]).any()
    configs = [md.REPORT, md.MetadataConfig("hgb", "fill"), md.MetadataConfig("logistic", "fill")]
    a = md.nested_cv(visits, configs, folds=folds, inner_splits=3, **FAST)
    b = md.nested_cv(other, configs, folds=folds, inner_splits=3, **FAST)
    ia, ib = (r.inner[r.inner["fold"] == 0].reset_index(drop=True) for r in (a, b))
    pd.testing.assert_frame_equal(ia, ib)
    assert a.choices.loc[0, "chosen"] == b.choices.loc[0, "chosen"]
    pa, pb = (r.nested[r.nested["fold"] == 0][md.PROBA].to_numpy() for r in (a, b))
    assert np.array_equal(pa, pb)                               # the fold-0 model never saw those labels


def test_nested_result_tables_and_the_same_folds_as_the_runner(visits, tiny_cohort):
    res = md.nested_cv(visits, [md.REPORT, md.MetadataConfig("rf3", "fill")], n_splits=3, n_repeats=1,
                       inner_splits=2, **FAST)
    assert len(res.nested) == len(visits)                       # every visit reported once per repeat
    assert set(res.nested["visit"]) == set(range(len(visits)))
    from fusionlib.arms.runner import _Data
    from fusionlib.arms.settings import ArmSettings

    runner_folds = _Data(tiny_cohort, ArmSettings.from_dict({"n_splits": 3, "n_repeats": 1})).folds
    for f, g in zip(res.folds, runner_folds):
        assert np.array_equal(f.train, g.train) and np.array_equal(f.val, g.val)
    table = mt.candidate_table(res)
    assert table["chosen in folds"].sum() == 3
    with pytest.raises(ValueError, match="inner_splits=1"):
        md.nested_cv(visits, [md.REPORT], inner_splits=1)


def test_cached_and_parallel_results_are_bit_identical(visits, tmp_path, monkeypatch):
    configs = [md.MetadataConfig("rf3", "indicators")]
    monkeypatch.setenv("FUSIONLIB_CACHE", str(tmp_path))
    a = md.nested_cv(visits, configs, n_splits=3, n_repeats=1, inner_splits=2, **FAST)
    b = md.nested_cv(visits, configs, n_splits=3, n_repeats=1, inner_splits=2, **FAST)     # from the cache
    monkeypatch.setenv("FUSIONLIB_CACHE", "off")
    c = md.nested_cv(visits, configs, n_splits=3, n_repeats=1, inner_splits=2, n_jobs=2, **FAST)
    for r in (b, c):
        pd.testing.assert_frame_equal(a.nested, r.nested)
        pd.testing.assert_frame_equal(a.inner, r.inner)


# --- leaks ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("leak", list(md.LEAKS))
def test_leak_arms_are_refused_unless_asked_for_by_name(visits, leak):
    config = md.MetadataConfig("rf3", "fill", leak=leak)
    for allow in (None, "", [l for l in md.LEAKS if l != leak]):
        with pytest.raises(md.LeakRefused, match=f"allow_leak='{leak}'"):
            md.evaluate(visits, config, n_splits=3, n_repeats=1, allow_leak=allow, **FAST)
    with pytest.raises(md.LeakRefused, match="leak"):
        md.nested_cv(visits, [md.REPORT, config], n_splits=3, n_repeats=1, **FAST)
    pred = md.evaluate(visits, config, n_splits=3, n_repeats=1, allow_leak=leak, **FAST)
    assert len(pred) == len(visits)


def test_the_leaks_do_what_they_say(visits):
    with pytest.raises(md.LeakRefused):
        md.metadata_features(visits, label_columns=True)
    X = md.metadata_features(visits, label_columns=True, allow_leak="label_columns")
    assert set(md.LABEL_COLUMNS) <= set(X.columns)
    assert not set(md.LABEL_COLUMNS) & set(md.metadata_features(visits).columns)
    y, groups = labels(visits), visits["Patient#"].to_numpy()
    shared = [np.intersect1d(groups[f.train], groups[f.val]).size for f in md.ungrouped_folds(y, 3, 1)]
    assert max(shared) > 0                                      # patients on both sides
    pred = md.evaluate(visits, md.MetadataConfig("logistic", "fill", leak="label_columns"), n_splits=3,
                       n_repeats=1, allow_leak="label_columns", **FAST)
    assert (pred[md.PROBA].to_numpy().argmax(1) == pred["y"]).mean() > 0.95    # the label, restated


# --- statistics and tables --------------------------------------------------------------------------------

def test_bootstrap_kappa_estimate_is_the_pooled_kappa_and_its_interval_covers_it(visits):
    pred = md.evaluate(visits, md.MetadataConfig("rf3", "fill"), n_splits=3, n_repeats=2, **FAST)
    from sklearn.metrics import cohen_kappa_score

    per_repeat = [cohen_kappa_score(g["y"], g[md.PROBA].to_numpy().argmax(1), weights="quadratic")
                  for _, g in pred.groupby("repeat")]
    est, low, high = mt.bootstrap_kappa(pred, "quadratic", n_boot=200)
    assert est == pytest.approx(np.mean(per_repeat), abs=1e-12)
    assert low < est < high


def test_ablation_rows_pair_each_choice_and_mark_the_leaks(visits):
    configs = [md.REPORT, md.MetadataConfig("rf3_balanced", "missing_level")]
    res = md.nested_cv(visits, configs, n_splits=3, n_repeats=1, inner_splits=2, **FAST)
    table = mt.ablation(visits, res, n_boot=20)
    assert not table["leak"].any()                              # leaks only when named
    table = mt.ablation(visits, res, n_boot=20, allow_leak=tuple(md.LEAKS))
    assert table["leak"].sum() == 2 and (table.loc[table["leak"], "factor"] == "LEAK").all()
    assert table.loc[0, "arm"] == md.BEST_LABEL
    row = table[table["change"] == "+ temperature columns"].iloc[0]
    assert row["Δκ quad"] == pytest.approx(row["κ quad"] - row["ref κ quad"])
    fig = plots.ablation(table)
    assert len(fig.axes) == 2
    text = mt.reading_text(res, table)
    assert f"of the {len(res.choices)} outer folds" in text and all(c in text for c in md.LEAK_CHANGES.values())
    refs = mt.reference_table(mt.headline(res, 20), table)
    assert refs["kind"].str.contains("FILTERED").sum() == 2 and refs["kind"].str.contains("a leak").sum() == 2


@needs_real_csv
@pytest.mark.filterwarnings("ignore:.*duplicated visit")
def test_real_csv_exudate_gap_is_a_level_and_the_semi_real_visits_are_the_same_table():
    from fusionlib.data import dfu

    v = dfu.read_clinical(REAL_CSV, on_duplicate="first")
    enc = md.MetadataEncoder("missing_level").fit(md.metadata_features(v))
    assert f"{EXUDATE}_missing" in enc.get_feature_names_out()
    semi = dfu.semi_real_cohort(REAL_CSV, draws_per_visit=1, image_size=8)
    pd.testing.assert_frame_equal(semi.visits, v)           # so the chapter and the real-data page share folds


def test_the_scales_share_the_studys_folds_and_forests():
    from fusionstudy.scales import SCALES

    for scale, table in SCALES.items():
        knobs, common = table["metadata"], table["common"]
        assert (knobs["n_splits"], knobs["n_repeats"], knobs["n_estimators"]) == \
            (common["n_splits"], common["n_repeats"], common["rf_trees"]), scale
        assert knobs["inner_splits"] >= 2 and knobs["inner_estimators"] <= knobs["n_estimators"]


def test_the_bar_pairs_every_fusion_with_the_new_bar_and_the_reports_arm(visits):
    """The real-data page's comparison: fusion arms against the nested arm and the report's metadata arm,
    through :func:`fusionstudy.chapters.analysis.comparison_table` (here with stand-in arms on the same folds)."""
    from dataclasses import replace as _replace

    from fusionstudy.chapters import analysis

    res = md.nested_cv(visits, [md.REPORT, md.MetadataConfig("rf3_balanced", "missing_level")], n_splits=3,
                       n_repeats=2, inner_splits=2, **FAST)
    bar = mt.as_arm_result(res.nested, md.BEST_LABEL, 3, 2)
    report = mt.as_arm_result(res.candidates[md.REPORT.label], "metadata_only|ordinal|oof_grouped", 3, 2)
    fusion = mt.as_arm_result(res.candidates["rf3_balanced | missing_level | no temperatures"], "stacking|x", 3, 2)
    fusion = _replace(fusion, settings=_replace(fusion.settings, head="stacking"))
    by_label = {"stacking|x": fusion, md.BEST_LABEL: bar, "metadata_only|ordinal|oof_grouped": report}
    pairs = mt.bar_pairs(by_label)
    assert pairs == [("stacking|x", md.BEST_LABEL), ("stacking|x", "metadata_only|ordinal|oof_grouped")]
    table = analysis.comparison_table(by_label, pairs, n_boot=50)
    assert table.loc[0, "ref κ quad"] == pytest.approx(mt.bootstrap_kappa(res.nested, n_boot=0)[0])
    assert table.loc[1, "ref κ quad"] == pytest.approx(analysis.kappa(report))
    only_some = mt.as_arm_result(res.nested, md.BEST_LABEL, 3, 2, visits=np.arange(10))
    assert set(only_some.predictions["visit"]) == set(range(10))


def test_prediction_shares_sum_to_one_and_match_the_true_labels_row(visits):
    res = md.nested_cv(visits, [md.REPORT, md.MetadataConfig("rf3", "fill")], n_splits=3, n_repeats=1,
                       inner_splits=2, **FAST)
    shares = mt.prediction_shares(res)
    assert shares["arm"].iloc[0] == "true labels" and md.BEST_LABEL in set(shares["arm"])
    assert np.allclose(shares.filter(like="share").sum(axis=1), 1)
    assert shares.iloc[0]["share R"] == pytest.approx(np.mean(labels(visits) == 2))
