import numpy as np
import pytest

from fusionlib.models.fusions import AlphaGridFusion, LogLinearFusion, StackingFusion, make_fusion


@pytest.fixture(scope="module")
def probs():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 400)
    rf = 0.5 * rng.dirichlet([1, 1, 1], 400) + 0.5 * np.eye(3)[y]          # informative
    noise = rng.dirichlet([1, 1, 1], 400)                                    # an image branch at chance
    return rf, noise, y


def test_alpha_grid_keeps_the_rf_alone_when_the_image_is_noise(probs):
    rf, noise, y = probs
    f = AlphaGridFusion().fit(rf, noise, y)
    assert f.alpha_ == 1.0
    assert np.array_equal(f.predict_proba(rf, noise), rf)                    # alpha = 1 reproduces the RF exactly


def test_alpha_grid_must_contain_one():
    with pytest.raises(ValueError, match="include 1"):
        AlphaGridFusion(alphas=(0.0, 0.5))


def test_log_linear_pooling_weights_the_informative_modality(probs):
    rf, noise, y = probs
    f = LogLinearFusion().fit(rf, noise, y)
    assert f.weight_ >= 0.8
    p = f.predict_proba(rf, noise)
    assert p.shape == (400, 3) and np.allclose(p.sum(1), 1)
    f1 = LogLinearFusion(weights=(1.0,), temperatures=(1.0,)).fit(rf, noise, y)
    assert np.allclose(f1.predict_proba(rf, noise), rf / rf.sum(1, keepdims=True))   # w = 1, T = 1: the RF


def test_stacking_learns_from_both_and_returns_probabilities(probs):
    rf, noise, y = probs
    f = StackingFusion().fit(rf, noise, y)
    p = f.predict_proba(rf, noise)
    assert p.shape == (400, 3) and np.allclose(p.sum(1), 1)
    assert (p.argmax(1) == y).mean() > 0.6
    assert f.params_["coef_rf"] > f.params_["coef_image"]


def test_bad_input_is_rejected(probs):
    rf, noise, y = probs
    with pytest.raises(ValueError, match="need two"):
        StackingFusion().fit(rf, noise[:, :2], y)
    with pytest.raises(ValueError, match="y has 3 rows"):
        AlphaGridFusion().fit(rf, noise, y[:3])
    with pytest.raises(ValueError, match="head='average': use one of"):
        make_fusion("average")
    with pytest.raises(ValueError, match="robust fusions are"):
        make_fusion("baseline")
