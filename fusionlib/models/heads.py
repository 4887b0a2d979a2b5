"""The fusion heads, exactly as the root-cause report writes them — vectorised over a stack of heads.

Every head maps ``rf`` — the RF's three probabilities, ``(batch, H, 3)`` — and/or ``image_probs`` — the
image branch's ``Dense(3, softmax)`` output, ``(batch, H, 3)`` — to the output ``(batch, H, 3)``. ``H`` is
the number of independent copies of the head trained side by side (one per arm of a bundle, see
:mod:`fusionlib.models.bundle`); a single arm is ``H = 1``. The copies share no weight:

* ``BatchNormalization`` runs over the flattened ``H * 3`` features, so each (copy, class) has its own
  batch statistics, moving statistics, gamma and beta — exactly a per-copy ``BatchNormalization()``;
* the report's ``Dense(3)`` / ``Dense(1)`` on the 6 concatenated inputs is an ``EinsumDense`` with one
  ``(6, 3)`` / ``(6, 1)`` kernel and bias per copy (``PerHeadDense``).

Each fix is a few lines and reads as a diff against :func:`baseline`.
"""

from __future__ import annotations

import keras
from keras import layers

from fusionlib.arms import settings
from fusionlib.models.cnn import image_branch
from fusionlib.arms.settings import Head


class Blend(layers.Layer):
    """``alpha * rf + (1 - alpha) * image`` for ``alpha`` of shape ``(batch, H, 1)``; no weights."""

    def call(self, inputs):
        alpha, rf, image = inputs
        return alpha * rf + (1.0 - alpha) * image


def PerHeadBatchNorm(name: str):
    """``BatchNormalization()`` applied to each of the H copies separately: ``(batch, H, 3)`` -> same."""
    def apply(x):
        h = x.shape[1]
        flat = layers.Reshape((h * 3,), name=f"{name}_flat")(x)
        return layers.Reshape((h, 3), name=f"{name}_unflat")(layers.BatchNormalization(name=name)(flat))
    return apply


def PerHeadDense(units: int, activation: str, name: str):
    """``Dense(units, activation)`` with its own kernel ``(features, units)`` and bias per copy."""
    def apply(x):
        return layers.EinsumDense("bhi,hio->bho", output_shape=(x.shape[1], units), bias_axes="ho",
                                  activation=activation, name=name)(x)
    return apply


def metadata_only(rf):
    """RF -> BN -> softmax (the report's working metadata-only model; only BN's parameters train)."""
    rf = PerHeadBatchNorm("rf_bn")(rf)
    return layers.Activation("softmax", name="output")(rf)


def baseline(rf, image_probs):
    """The failing fusion: concat[BN(rf), softmax(image)] -> Dense(3, softmax)."""
    rf = PerHeadBatchNorm("rf_bn")(rf)
    merged = layers.Concatenate(name="concat")([rf, image_probs])
    return PerHeadDense(3, "softmax", name="output")(merged)


def fix1(rf, image_probs):
    """Fix #1: softmax re-normalises the BN'd RF branch before the unconstrained Dense."""
    rf = PerHeadBatchNorm("rf_bn")(rf)
    rf = layers.Activation("softmax", name="rf_softmax")(rf)
    merged = layers.Concatenate(name="concat")([rf, image_probs])
    return PerHeadDense(3, "softmax", name="output")(merged)


def fix2(rf, image_probs):
    """Fix #2: re-normalised RF branch, alpha = Dense(1, sigmoid)(both), output alpha*rf + (1-alpha)*image."""
    rf = PerHeadBatchNorm("rf_bn")(rf)
    rf = layers.Activation("softmax", name="rf_softmax")(rf)
    alpha = PerHeadDense(1, "sigmoid", name="alpha")(layers.Concatenate(name="concat")([rf, image_probs]))
    return Blend(name="output")([alpha, rf, image_probs])


def fix3(rf, image_probs):
    """Fix #3: no BN on the RF branch; the Dense stays unconstrained."""
    merged = layers.Concatenate(name="concat")([rf, image_probs])
    return PerHeadDense(3, "softmax", name="output")(merged)


def fix23(rf, image_probs):
    """Fix #2 + #3: raw RF probabilities (no BN), alpha-blended with the image probabilities."""
    alpha = PerHeadDense(1, "sigmoid", name="alpha")(layers.Concatenate(name="concat")([rf, image_probs]))
    return Blend(name="output")([alpha, rf, image_probs])


def _spec(head: str) -> Head:
    """The head's row of the head table; a CNN head (``image_only``) has no head block."""
    h = settings.head(head)
    if h.kind not in ("keras", "cnn"):
        raise ValueError(f"head={head!r} is a {h.kind} fusion (fusionlib.models.fusions), not a Keras head")
    return h


def inputs_of(head: str) -> tuple[str, ...]:
    """Names of the model inputs a head needs: ``"rf"`` and/or ``"image"`` (the head table's ``inputs``)."""
    return _spec(head).inputs


def head_block(head: str, n: int, name: str | None = None) -> keras.Model:
    """``n`` independent copies of ``head`` as one Keras model: inputs ``{"rf": (batch, n, 3)}`` (plus
    ``"image": (batch, n, 3)`` for fusion heads), outputs ``{"output": (batch, n, 3)}`` (plus ``"alpha":
    (batch, n, 1)`` for heads that learn alpha). The head is the function of this module that its row of
    :data:`fusionlib.arms.settings.HEADS` names."""
    h = _spec(head)
    if h.kind == "cnn":
        raise ValueError(f"{head} has no head block: it is the CNN itself (build_model)")
    ins = {k: keras.Input((n, 3), name=k) for k in h.inputs}
    out = globals()[h.builder](*ins.values())
    block = keras.Model(ins, {"output": out}, name=name or head)
    if h.learns_alpha:
        block = keras.Model(ins, {"output": out, "alpha": block.get_layer("alpha").output}, name=name or head)
    return block


def build_model(head: str, image_size: int = 32, width: float = 0.125) -> keras.Model:
    """One arm trained end to end with its CNN (``image="joint"``): inputs ``{"rf": (batch, 3), "image":
    (batch, size, size, 3)}`` (only those in :func:`inputs_of`), output ``(batch, 3)`` named ``"output"``;
    the image branch from :mod:`fusionlib.models.cnn`, the head a :func:`head_block` with ``H = 1``."""
    h = _spec(head)
    rf = keras.Input((3,), name="rf")
    image = keras.Input((image_size, image_size, 3), name="image")
    if h.kind == "cnn":
        probs = layers.Dense(3, activation="softmax", name="image_probs")(image_branch(image, width))
        return keras.Model({"image": image}, layers.Identity(name="output")(probs), name=head)
    block = head_block(head, 1, name=f"{head}_head")
    ins = {"rf": layers.Reshape((1, 3), name="rf_stack")(rf)}
    if h.is_fusion:
        probs = layers.Dense(3, activation="softmax", name="image_probs")(image_branch(image, width))
        ins["image"] = layers.Reshape((1, 3), name="image_stack")(probs)
    out = layers.Reshape((3,), name="output")(block(ins)["output"])
    return keras.Model({k: v for k, v in (("rf", rf), ("image", image)) if k in h.inputs}, out, name=head)
