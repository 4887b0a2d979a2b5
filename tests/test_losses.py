import numpy as np

from fusionlib.models.losses import cross_entropy, focal_ordinal

Y = np.eye(3, dtype="float32")[[0, 2]]
P = np.array([[0.6, 0.3, 0.1], [0.2, 0.3, 0.5]], "float32")


def test_focal_without_focus_weights_or_distance_is_cross_entropy():
    ce = np.asarray(cross_entropy(Y, P))
    assert np.allclose(ce, -np.log([0.6, 0.5]), atol=1e-6)
    assert np.allclose(np.asarray(focal_ordinal(0.0, (1, 1, 1), 0.0)(Y, P)), ce, atol=1e-6)


def test_ordinal_term_punishes_far_mistakes_more():
    loss = focal_ordinal(2.0, (1, 1, 1), 0.5)
    y = np.eye(3, dtype="float32")[[0, 0]]
    near = np.array([[0.2, 0.7, 0.1]], "float32")
    far = np.array([[0.2, 0.1, 0.7]], "float32")
    assert float(np.asarray(loss(y[:1], far))[0]) > float(np.asarray(loss(y[:1], near))[0])


def test_losses_accept_unnormalised_predictions():
    p = np.array([[0.6, 0.3, 0.2]], "float32")            # sums to 1.1, like the original ordinal RF
    assert np.allclose(np.asarray(cross_entropy(Y[:1], p)), -np.log(0.6 / 1.1), atol=1e-6)
