"""Training one head on one fold: seeded, deterministic, early-stopped on the inner validation split only.

Determinism: :func:`set_determinism` seeds Python, NumPy and the backend (``keras.utils.set_random_seed``)
and switches TensorFlow to deterministic kernels (``tf.config.experimental.enable_op_determinism``).
With these, a run repeated with the same settings on the same machine (same core count) is bit-identical.
The GPU is used automatically when TensorFlow sees one (install the ``gpu`` extra; see the README).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import keras
import numpy as np

from fusionlib.models import losses
from fusionlib.models.heads import build_model, inputs_of
from fusionlib.arms.settings import TrainConfig

_DETERMINISTIC = False


def set_determinism(seed: int) -> None:
    """Seed everything and switch the Keras backend to deterministic kernels (idempotent).

    TensorFlow (the project's backend): ``tf.config.experimental.enable_op_determinism``. PyTorch (Keras 3's
    ``KERAS_BACKEND=torch``, used where TensorFlow is not installed, e.g. the GPU benchmark):
    ``torch.use_deterministic_algorithms`` with the cuBLAS workspace setting it needs on a GPU. Other
    backends are seeded only."""
    global _DETERMINISTIC
    if not _DETERMINISTIC:
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
        elif backend == "torch":
            import torch

            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=True)  # warn where no deterministic kernel exists
            torch.backends.cudnn.benchmark = False
        _DETERMINISTIC = True
    keras.utils.set_random_seed(seed)


def device_name() -> str:
    """``"GPU: <name>"`` for the first GPU the Keras backend sees, else ``"CPU"``."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        return f"GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "CPU"
    if backend != "tensorflow":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        return f"GPU: {gpus[0].device_kind}" if gpus else "CPU"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"GPU: {details.get('device_name', gpus[0].name)}"


def steps_per_execution(n: int) -> int:
    """Training steps per compiled call: ``n`` on TensorFlow (fewer Python round trips for tiny models), 1 on
    backends that allow no other value (PyTorch)."""
    return n if keras.backend.backend() == "tensorflow" else 1


def inverse_frequency_weights(y: np.ndarray, n_classes: int = 3) -> np.ndarray:
    """Per-row weights ``n / (n_classes * count[y])`` (scikit-learn's "balanced"), shape ``(len(y),)``."""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    w = len(y) / (n_classes * np.maximum(counts, 1.0))
    return w[y]


def oversample(y: np.ndarray, seed: int) -> np.ndarray:
    """Row indices that repeat rows of the smaller classes at random until every class present has as many
    rows as the largest; all original rows are kept once. Returns ``(n_out,)`` indices into ``y``."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(y, minlength=3)
    out = [np.arange(len(y))]
    for c in np.flatnonzero(counts):
        extra = counts.max() - counts[c]
        if extra:
            out.append(rng.choice(np.flatnonzero(y == c), extra, replace=True))
    return np.concatenate(out)


def make_loss(config: TrainConfig):
    if config.loss == "cross_entropy":
        return losses.cross_entropy
    if config.loss == "focal_ordinal":
        return losses.focal_ordinal(config.focal_gamma, config.focal_alpha)
    raise ValueError(f"loss={config.loss!r}: use 'cross_entropy' or 'focal_ordinal'")


@dataclass
class FitResult:
    model: keras.Model
    history: dict
    best_epoch: int


def fit_head(head: str, x_train: dict, y_train: np.ndarray, x_stop: dict, y_stop: np.ndarray,
             config: TrainConfig, seed: int) -> FitResult:
    """Build and train ``head`` on ``x_train`` (dict of arrays keyed by input name, rows = image rows), early
    stopping on ``x_stop`` / ``y_stop`` (the inner validation rows). Labels are integer classes."""
    set_determinism(seed)
    keys = inputs_of(head)
    image_size = x_train["image"].shape[1] if "image" in x_train else 32
    model = build_model(head, image_size=image_size, width=config.width)
    optimizer = keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm)
    model.compile(optimizer=optimizer, loss=make_loss(config), steps_per_execution=steps_per_execution(8))
    onehot = np.eye(3, dtype="float32")
    if config.oversample:
        rows = oversample(y_train, seed)
        x_train, y_train = {k: v[rows] for k, v in x_train.items()}, y_train[rows]
    sw = inverse_frequency_weights(y_train) if config.class_weight else None
    sw_stop = inverse_frequency_weights(y_stop) if config.class_weight else None
    stop = keras.callbacks.EarlyStopping("val_loss", patience=config.patience, restore_best_weights=True)
    hist = model.fit({k: x_train[k] for k in keys}, onehot[y_train], sample_weight=sw,
                     validation_data=({k: x_stop[k] for k in keys}, onehot[y_stop], sw_stop),
                     epochs=config.epochs, batch_size=config.batch_size, shuffle=True, verbose=0,
                     callbacks=[stop])
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    best = int(np.argmin(history["val_loss"])) + 1
    return FitResult(model, history, best)


def predict(model: keras.Model, x: dict, batch_size: int = 512) -> np.ndarray:
    """Model output for the inputs the model takes, ``(n, 3)`` float64."""
    names = inputs_of(model.name)
    return np.asarray(model.predict({k: x[k] for k in names}, batch_size=batch_size, verbose=0), dtype=np.float64)


def environment(provenance: dict | None = None) -> dict[str, str]:
    """Device and versions of what the results depend on (for ``info.json`` and pages): the device, the caller's
    ``provenance`` (e.g. the study's commit, tree state and lock digest), the CPU model and instruction sets
    (``cpu_model``, ``cpu_isa``), TensorFlow's numeric environment variables where set (:mod:`fusionlib.environment`)
    and package versions."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from fusionlib.environment import cpu_info, numeric_env

    out = {"device": device_name(), **(provenance or {}), "python": platform.python_version(),
           "cpu_count": str(os.cpu_count()), **cpu_info(), **numeric_env(), "keras_backend": keras.backend.backend()}
    for pkg in ("fusionlib", "tensorflow", "tensorflow-cpu", "torch", "keras", "scikit-learn", "numpy", "pandas",
                "matplotlib", "papermill", "jupyter-book"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
