import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from fusionlib.evaluation.metrics import kappa_columns, kappa_of_confusion
from fusionlib.evaluation.stats import corrected_ttest, fold_differences, paired_bootstrap


def arm_predictions(y, patient, accuracy, rng, repeat=0):
    """One prediction table: each visit's prediction is right with probability ``accuracy``, else random."""
    n = len(y)
    right = rng.random(n) < accuracy
    pred = np.where(right, y, rng.integers(0, 3, n))
    proba = np.eye(3)[pred] * 0.9 + 0.1 / 3
    return pd.DataFrame({"split": "val", "repeat": repeat, "fold": 0, "visit": np.arange(n), "patient": patient,
                         "y": y, "p_I": proba[:, 0], "p_P": proba[:, 1], "p_R": proba[:, 2]})


def test_bootstrap_interval_contains_the_true_difference():
    rng = np.random.default_rng(1)
    # the truth: the difference in κ between the two prediction rules on a very large sample
    y_big = rng.integers(0, 3, 200_000)
    truth = (cohen_kappa_score(y_big, arm_predictions(y_big, y_big, 0.7, rng)[["p_I", "p_P", "p_R"]].to_numpy().argmax(1), weights="quadratic")
             - cohen_kappa_score(y_big, arm_predictions(y_big, y_big, 0.4, rng)[["p_I", "p_P", "p_R"]].to_numpy().argmax(1), weights="quadratic"))
    patient = np.repeat(np.arange(150), 3)
    y = rng.integers(0, 3, len(patient))
    a, b = arm_predictions(y, patient, 0.7, rng), arm_predictions(y, patient, 0.4, rng)
    d = paired_bootstrap(a, b, n_boot=400, seed=0)
    assert d.low < truth < d.high
    assert d.low > 0 and d.p_value < 0.05                        # a real difference is detected
    same = paired_bootstrap(a, a, n_boot=50)
    assert same.estimate == same.low == same.high == 0.0


def resampled_rows_statistic(a, b, weights, n_boot, seed):
    """The bootstrap written out row by row: each draw's rows (a patient drawn twice brings its rows twice),
    κ of each arm on them per repeat (:func:`kappa_columns`), the mean over repeats of the difference."""
    def visits(p):
        return p.assign(pred=p[["p_I", "p_P", "p_R"]].to_numpy().argmax(1))
    a, b = visits(a), visits(b)
    patients = np.sort(a["patient"].unique())
    rng = np.random.default_rng(seed)
    out = []
    for draw in [patients] + [rng.choice(patients, size=len(patients), replace=True) for _ in range(n_boot)]:
        diffs = []
        for r in sorted(a["repeat"].unique()):
            ra, rb = a[a["repeat"] == r], b[b["repeat"] == r]
            idx = np.concatenate([np.flatnonzero(ra["patient"].to_numpy() == p) for p in draw])
            y = ra["y"].to_numpy()[idx]
            diffs.append(kappa_columns(y, ra["pred"].to_numpy()[idx, None], weights)[0]
                         - kappa_columns(y, rb["pred"].to_numpy()[idx, None], weights)[0])
        out.append(float(np.mean(diffs)))
    return out[0], np.array(out[1:])


@pytest.mark.parametrize("weights", ["quadratic", None])
def test_bootstrap_counts_give_the_kappa_of_the_resampled_rows_bit_for_bit(weights):
    # patients with 1..5 visits each, three repeats, one patient with a single class: every κ of a draw is
    # computed from summed per-patient counts and must equal κ on the drawn rows themselves, to the last bit
    rng = np.random.default_rng(7)
    patient = np.repeat(np.arange(40), rng.integers(1, 6, 40))
    y = rng.integers(0, 3, len(patient))
    y[patient == 3] = 2
    a = pd.concat([arm_predictions(y, patient, 0.6, rng, repeat=r) for r in range(3)], ignore_index=True)
    b = pd.concat([arm_predictions(y, patient, 0.5, rng, repeat=r) for r in range(3)], ignore_index=True)
    d = paired_bootstrap(a, b, weights, n_boot=300, level=0.9, seed=3)
    estimate, boots = resampled_rows_statistic(a, b, weights, 300, 3)
    assert d.estimate == estimate
    alpha = (1 - 0.9) / 2                                 # as paired_bootstrap computes it (not exactly 0.05)
    assert (d.low, d.high) == tuple(np.quantile(boots, [alpha, 1 - alpha]))
    assert d.p_value == min(1.0, 2 * min((boots <= 0).mean(), (boots >= 0).mean()))


def test_kappa_of_confusion_is_kappa_columns_on_the_counted_rows():
    rng = np.random.default_rng(0)
    y, pred = rng.integers(0, 3, 50), rng.integers(0, 3, (50, 4))
    counts = np.stack([np.bincount(y * 3 + pred[:, h], minlength=9).reshape(3, 3) for h in range(4)])
    for weights in ("quadratic", None):
        assert np.array_equal(kappa_of_confusion(counts, weights), kappa_columns(y, pred, weights))
        assert np.allclose(kappa_of_confusion(counts, weights),
                           [cohen_kappa_score(y, pred[:, h], weights=weights) for h in range(4)], atol=1e-12)
    # undefined κ (no rows; a single class on both sides) is 0, without warnings
    with np.errstate(all="raise"):
        assert kappa_of_confusion(np.zeros((1, 3, 3), int)).tolist() == [0.0]
        assert kappa_of_confusion(np.array([[[0, 0, 0], [0, 5, 0], [0, 0, 0]]])).tolist() == [0.0]


def test_bootstrap_rejects_arms_on_different_visits():
    rng = np.random.default_rng(0)
    patient = np.repeat(np.arange(20), 2)
    y = rng.integers(0, 3, 40)
    a = arm_predictions(y, patient, 0.7, rng)
    with pytest.raises(ValueError, match="differ in their evaluated visits"):
        paired_bootstrap(a, a.iloc[:30], n_boot=10)


def test_corrected_ttest_matches_a_hand_computation():
    # d = [.1, .2, 0, .3, .1]: mean .14, sample variance .013; corrected variance (1/5 + 20/80) * .013 = .00585
    d = corrected_ttest(np.array([0.1, 0.2, 0.0, 0.3, 0.1]), n_train=80, n_test=20)
    se = np.sqrt(0.00585)
    assert d.estimate == pytest.approx(0.14)
    assert (d.high - d.estimate) == pytest.approx(2.776445 * se, rel=1e-5)   # t(0.975, df=4) = 2.776445
    assert d.p_value == pytest.approx(0.1412, abs=5e-4)                      # t = .14 / .076485 = 1.8304, df 4
    # the correction makes the test more conservative than the naive one
    naive = 0.14 / np.sqrt(0.013 / 5)
    assert 0.14 / se < naive


def test_fold_differences_pair_the_folds():
    def metrics(values):
        return pd.DataFrame({"split": "val", "repeat": 0, "fold": ["0", "1", "pooled"], "level": "visit",
                             "metric": "kappa_quadratic", "value": values})
    assert np.allclose(fold_differences(metrics([0.3, 0.2, 0.25]), metrics([0.1, 0.3, 0.2])), [0.2, -0.1])
    other = metrics([0.1, 0.3, 0.2]).assign(fold=["0", "2", "pooled"])
    with pytest.raises(ValueError, match="same folds"):
        fold_differences(metrics([0.3, 0.2, 0.25]), other)
