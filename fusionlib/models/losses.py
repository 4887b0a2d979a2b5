"""Losses: plain categorical cross-entropy and the original's focal ordinal loss."""

from __future__ import annotations

from keras import ops

#: The original recipe's focal parameters (issue 4 / original-codebase-facts): gamma 3, class alpha.
ORIGINAL_FOCAL = {"gamma": 3.0, "alpha": (0.598, 0.315, 1.597)}


def _normalised(y_pred):
    """Clip and renormalise predictions (heads fed unnormalised RF vectors may not sum to 1)."""
    p = ops.clip(y_pred, 1e-7, 1.0)
    return p / ops.sum(p, axis=-1, keepdims=True)


def cross_entropy(y_true, y_pred):
    """Categorical cross-entropy of one-hot ``y_true`` ``(batch, 3)`` and probabilities ``y_pred``; ``(batch,)``."""
    return -ops.sum(y_true * ops.log(_normalised(y_pred)), axis=-1)


def focal_ordinal(gamma: float = 2.0, alpha=(1.0, 1.0, 1.0), ordinal_weight: float = 0.5):
    """The original's focal ordinal loss: ``-sum_c alpha_c y_c (1 - p_c)^gamma log p_c`` plus
    ``ordinal_weight * (E_p[class] - true class)^2`` (squared distance of the expected predicted class)."""
    alpha = ops.convert_to_tensor(alpha, dtype="float32")
    ranks = ops.convert_to_tensor([0.0, 1.0, 2.0], dtype="float32")

    def loss(y_true, y_pred):
        p = _normalised(y_pred)
        focal = -ops.sum(alpha * y_true * ops.power(1.0 - p, gamma) * ops.log(p), axis=-1)
        distance = ops.sum(p * ranks, axis=-1) - ops.sum(y_true * ranks, axis=-1)
        return focal + ordinal_weight * ops.square(distance)

    return loss
