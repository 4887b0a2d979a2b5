import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

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
