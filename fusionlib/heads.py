"""The fusion heads, exactly as the root-cause report writes them.

Every head maps ``rf`` — the RF's three probabilities per image row, ``(batch, 3)`` — and/or
``image_probs`` — the image branch's ``Dense(3, softmax)`` output, ``(batch, 3)`` — to the model output
``(batch, 3)``. Each fix is a few lines and reads as a diff against :func:`baseline`.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from .cnn import image_branch


class Blend(layers.Layer):
    """``alpha * rf + (1 - alpha) * image`` for ``alpha`` of shape ``(batch, 1)``; no weights."""

    def call(self, inputs):
        alpha, rf, image = inputs
        return alpha * rf + (1.0 - alpha) * image


def metadata_only(rf):
    """RF -> BN -> softmax (the report's working metadata-only model; only BN's parameters train)."""
    rf = layers.BatchNormalization(name="rf_bn")(rf)
    return layers.Activation("softmax", name="output")(rf)


def baseline(rf, image_probs):
    """The failing fusion: concat[BN(rf), softmax(image)] -> Dense(3, softmax)."""
    rf = layers.BatchNormalization(name="rf_bn")(rf)
    merged = layers.Concatenate(name="concat")([rf, image_probs])
    return layers.Dense(3, activation="softmax", name="output")(merged)


def fix1(rf, image_probs):
    """Fix #1: softmax re-normalises the BN'd RF branch before the unconstrained Dense."""
    rf = layers.BatchNormalization(name="rf_bn")(rf)
    rf = layers.Activation("softmax", name="rf_softmax")(rf)
    merged = layers.Concatenate(name="concat")([rf, image_probs])
    return layers.Dense(3, activation="softmax", name="output")(merged)


def fix2(rf, image_probs):
    """Fix #2: re-normalised RF branch, alpha = Dense(1, sigmoid)(both), output alpha*rf + (1-alpha)*image."""
    rf = layers.BatchNormalization(name="rf_bn")(rf)
    rf = layers.Activation("softmax", name="rf_softmax")(rf)
    alpha = layers.Dense(1, activation="sigmoid", name="alpha")(layers.Concatenate(name="concat")([rf, image_probs]))
    return Blend(name="output")([alpha, rf, image_probs])


def fix3(rf, image_probs):
    """Fix #3: no BN on the RF branch; the Dense stays unconstrained."""
    merged = layers.Concatenate(name="concat")([rf, image_probs])
    return layers.Dense(3, activation="softmax", name="output")(merged)


def fix23(rf, image_probs):
    """Fix #2 + #3: raw RF probabilities (no BN), alpha-blended with the image probabilities."""
    alpha = layers.Dense(1, activation="sigmoid", name="alpha")(layers.Concatenate(name="concat")([rf, image_probs]))
    return Blend(name="output")([alpha, rf, image_probs])


FUSION_HEADS = {"baseline": baseline, "fix1": fix1, "fix2": fix2, "fix3": fix3, "fix23": fix23}
HEADS = ("metadata_only", "image_only", *FUSION_HEADS)


def inputs_of(head: str) -> tuple[str, ...]:
    """Names of the model inputs a head needs: ``"rf"`` and/or ``"image"``."""
    check_head(head)
    return {"metadata_only": ("rf",), "image_only": ("image",)}.get(head, ("rf", "image"))


def check_head(head: str) -> None:
    if head not in HEADS:
        raise ValueError(f"head={head!r}: use one of {HEADS}")


def build_model(head: str, image_size: int = 32, width: float = 0.125) -> keras.Model:
    """The whole model of one arm: inputs ``{"rf": (batch, 3), "image": (batch, size, size, 3)}`` (only those
    in :func:`inputs_of`), output ``(batch, 3)`` named ``"output"``; image branch from :mod:`fusionlib.cnn`."""
    check_head(head)
    rf = keras.Input((3,), name="rf")
    image = keras.Input((image_size, image_size, 3), name="image")
    if head == "metadata_only":
        return keras.Model({"rf": rf}, metadata_only(rf), name=head)
    image_probs = layers.Dense(3, activation="softmax", name="image_probs")(image_branch(image, width))
    if head == "image_only":
        return keras.Model({"image": image}, layers.Identity(name="output")(image_probs), name=head)
    return keras.Model({"rf": rf, "image": image}, FUSION_HEADS[head](rf, image_probs), name=head)
