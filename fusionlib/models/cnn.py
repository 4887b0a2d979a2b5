"""The image arm: the report-era thermal CNN, with its width scaled by a parameter so CPU runs stay small.

Conv2D(128, 3) -> BN -> Conv2D(64, 3) -> BN -> GlobalAveragePooling -> Dense 256 / 128 / 64 (ReLU, each
followed by BN and dropout). ``width = 1`` is the original; ``width = 0.125`` gives 16 / 8 filters and
32 / 16 / 8 units. The branch ends in the 64 x ``width`` feature vector; the heads in
:mod:`fusionlib.models.heads` put the ``Dense(3, softmax)`` image classifier on top of it.
"""

from __future__ import annotations

import keras
from keras import layers


def _units(n: int, width: float) -> int:
    return max(2, round(n * width))


def image_branch(image: keras.KerasTensor, width: float = 1.0, dropout: float = 0.3) -> keras.KerasTensor:
    """Features of a batch of RGB images ``(batch, size, size, 3)`` with values in 0..255 -> ``(batch, 64*width)``."""
    x = layers.Rescaling(1.0 / 255, name="img_scale")(image)
    x = layers.Conv2D(_units(128, width), 3, activation="relu", name="img_conv1")(x)
    x = layers.BatchNormalization(name="img_bn1")(x)
    x = layers.Conv2D(_units(64, width), 3, activation="relu", name="img_conv2")(x)
    x = layers.BatchNormalization(name="img_bn2")(x)
    x = layers.GlobalAveragePooling2D(name="img_gap")(x)
    for i, n in enumerate((256, 128, 64), start=1):
        x = layers.Dense(_units(n, width), activation="relu", name=f"img_dense{i}")(x)
        x = layers.BatchNormalization(name=f"img_dense_bn{i}")(x)
        x = layers.Dropout(dropout, name=f"img_dropout{i}")(x)
    return x
