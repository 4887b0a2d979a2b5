import numpy as np
import pytest

from fusionlib.data.features import clinical_features, labels
from fusionlib.models.rf import MetadataForest, fold_probabilities, training_probabilities
from fusionlib.data.splits import patient_folds


@pytest.fixture(scope="module")
def data(tiny_cohort):
    return clinical_features(tiny_cohort.visits), labels(tiny_cohort.visits), tiny_cohort.groups_visit


def test_ordinal_original_does_not_sum_to_one_ordinal_and_multiclass_do(data):
    X, y, _ = data
    sums = {d: MetadataForest(d, n_estimators=30).fit(X, y).predict_proba(X).sum(1)
            for d in ("ordinal_original", "ordinal", "multiclass")}
    assert sums["ordinal_original"].max() > 1.02 and (sums["ordinal_original"] >= 1 - 1e-12).all()
    assert np.allclose(sums["ordinal"], 1) and np.allclose(sums["multiclass"], 1)


def test_ordinal_original_is_one_plus_p2_times_one_minus_p1(data):
    X, y, _ = data
    p = MetadataForest("ordinal_original", n_estimators=30).fit(X, y).predict_proba(X)
    p1, p2 = 1 - p[:, 0], p[:, 2]
    assert np.allclose(p.sum(1), 1 + p2 * (1 - p1))


def test_in_sample_and_out_of_fold_training_probabilities_differ(data):
    X, y, g = data
    p = {s: training_probabilities(X, y, g, s, "ordinal", n_estimators=30) for s in ("in_sample", "oof", "oof_grouped")}
    assert not np.allclose(p["in_sample"], p["oof_grouped"], atol=0.05)
    assert not np.allclose(p["oof"], p["oof_grouped"], atol=0.05)
    acc = {s: (v.argmax(1) == y).mean() for s, v in p.items()}
    assert acc["in_sample"] > acc["oof_grouped"] + 0.1          # in-sample probabilities are optimistic
    conf = {s: v.max(1).mean() for s, v in p.items()}
    assert conf["in_sample"] > conf["oof_grouped"]
    assert not np.isnan(p["oof_grouped"]).any()


def test_validation_probabilities_come_from_the_full_training_fold(data):
    X, y, g = data
    f = patient_folds(y, g, n_splits=3, n_repeats=1)[0]
    p_tr, p_val = fold_probabilities(X, y, g, f.train, f.val, "oof_grouped", "ordinal", n_estimators=30)
    full = MetadataForest("ordinal", n_estimators=30).fit(X.iloc[f.train], y[f.train])
    assert np.allclose(p_val, full.predict_proba(X.iloc[f.val]))
    assert p_tr.shape == (len(f.train), 3)
    p_tr_in, _ = fold_probabilities(X, y, g, f.train, f.val, "in_sample", "ordinal", n_estimators=30)
    assert np.allclose(p_tr_in, full.predict_proba(X.iloc[f.train]))


def test_unknown_switch_values_are_rejected(data):
    X, y, g = data
    with pytest.raises(ValueError, match="decomposition='ordinals'"):
        MetadataForest("ordinals").fit(X, y)
    with pytest.raises(ValueError, match="source='oof_by_patient'"):
        training_probabilities(X, y, g, "oof_by_patient", "ordinal")
