"""Many heads on frozen inputs, trained side by side in one Keras model.

The root-cause grid needs hundreds of small head fits (every RF source x decomposition x head x fold).
Each is a handful of weights on 6 inputs, so one ``model.fit`` is almost all overhead. A *bundle* trains
``H`` heads at once — one :func:`fusionlib.models.heads.head_block` per head type, each holding its copies — and
keeps every head exactly what it would be alone:

* **no shared weights**: each copy has its own BN statistics and Dense kernel (see :mod:`fusionlib.models.heads`);
* **its own gradient**: the bundle's loss is the *sum* over copies of each copy's batch-mean loss, so the
  gradient of a copy's weights is that copy's gradient; Adam is element-wise, and ``clipnorm`` is applied per
  copy and per variable (:class:`HeadwiseAdam`), as it would be alone;
* **its own initialisation**: each copy's kernels are drawn from a generator seeded by the fit seed and the
  copy's key (its arm label), so a head's starting point does not depend on what else is in the bundle;
* **its own early stopping**: after every epoch the inner-validation ("stop") loss of each copy is computed;
  a copy whose loss has not improved for ``patience`` epochs is frozen at its best epoch (later epochs are
  ignored for it, exactly like ``EarlyStopping(restore_best_weights=True)``); the fit ends when every copy is
  frozen. ``select_on="train_kappa"`` instead keeps the epoch with the best training-row κ (a defect: a
  checkpoint chosen on a training metric).

All copies see the same batches in the same order (one shuffle per epoch from the fit seed), as separate
fits with the same seed would. Up to floating-point summation order, a head trained in a bundle equals the
same head trained alone (``tests/test_bundle.py`` checks this).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import ops

from fusionlib.arms import settings
from fusionlib.models.heads import head_block
from fusionlib.evaluation.metrics import quadratic_kappa_columns
from fusionlib.models.train import TrainConfig, inverse_frequency_weights, make_loss, oversample, set_determinism, steps_per_execution


@dataclass(frozen=True)
class HeadSpec:
    """One head of a bundle: ``key`` (unique, e.g. the arm label), ``head`` (a Keras fusion head or
    ``"metadata_only"``) and how its checkpoint is chosen (``select_on``, :data:`fusionlib.arms.settings.SWITCHES`)."""

    key: str
    head: str
    select_on: str = "stop_loss"


class HeadwiseAdam(keras.optimizers.Adam):
    """Adam whose ``clipnorm`` clips each head copy's slice of a variable separately (as separate models
    would), given ``copies[id(variable)]`` = the number of copies stacked on the variable's first axis."""

    def __init__(self, *args, copies: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._copies = copies or {}

    def _clip_gradients(self, grads):
        if not self.clipnorm:
            return super()._clip_gradients(grads)
        out = []
        for g, v in zip(grads, self._trainable_variables):
            if g is None:
                out.append(g)
                continue
            n = self._copies.get(id(v), 1)
            out.append(ops.reshape(self._clip_by_norm(ops.reshape(g, (n, -1)), axes=1), ops.shape(g)))
        return out


def _stable_seed(*parts) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:4], "little")


@dataclass
class Bundle:
    """The Keras model of a bundle and where each head lives in it."""

    model: keras.Model
    specs: list
    order: np.ndarray          # grouped position -> spec index
    blocks: list               # (head type, block model, spec indices in grouped order)
    var_copies: list           # per model.weights entry: (block index or -1, number of copies)

    @property
    def n(self) -> int:
        return len(self.specs)


def build_bundle(specs: list[HeadSpec], seed: int = 0) -> Bundle:
    """A model with inputs ``{"rf": (batch, H, 3), "image": (batch, H, 3)}`` in *grouped* order (heads of one
    type contiguous; ``Bundle.order``) and outputs ``{"output": (batch, H, 3)}`` plus ``"alpha_<type>"``."""
    for s in specs:
        settings.check("select_on", s.select_on)
    if len({s.key for s in specs}) != len(specs):
        raise ValueError("head keys in a bundle must be unique")
    types = list(dict.fromkeys(s.head for s in specs))
    order = np.array([i for t in types for i, s in enumerate(specs) if s.head == t])
    n = len(specs)
    rf = keras.Input((n, 3), name="rf")
    image = keras.Input((n, 3), name="image")
    outputs, alphas, blocks, start = [], {}, [], 0
    for t in types:
        idx = [i for i in order if specs[i].head == t]
        block = head_block(t, len(idx), name=f"block_{t}")
        sl = slice(start, start + len(idx))
        ins = {"rf": rf[:, sl]} if t == "metadata_only" else {"rf": rf[:, sl], "image": image[:, sl]}
        out = block(ins)
        outputs.append(out["output"])
        if settings.head(t).learns_alpha:
            alphas[f"alpha_{t}"] = out["alpha"]
        blocks.append((t, block, list(range(start, start + len(idx)))))
        start += len(idx)
    merged = outputs[0] if len(outputs) == 1 else keras.layers.Concatenate(axis=1, name="heads")(outputs)
    model = keras.Model({"rf": rf, "image": image}, {"output": merged, **alphas}, name="bundle")
    owner = {}
    for b, (_, block, pos) in enumerate(blocks):
        for w in block.weights:
            owner[id(w)] = (b, len(pos))
    var_copies = [owner.get(id(w), (-1, 1)) for w in model.weights]
    bundle = Bundle(model, list(specs), order, blocks, var_copies)
    _initialise(bundle, seed)
    return bundle


def _initialise(bundle: Bundle, seed: int) -> None:
    """Glorot-uniform kernels per copy from a generator keyed by (seed, head key); biases stay zero."""
    for t, block, pos in bundle.blocks:
        for layer in block.layers:
            if not isinstance(layer, keras.layers.EinsumDense):
                continue
            kernel = np.array(layer.kernel.numpy())
            fan_in, fan_out = kernel.shape[1], kernel.shape[2]
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            for j, p in enumerate(pos):
                key = bundle.specs[bundle.order[p]].key
                rng = np.random.default_rng(_stable_seed(seed, key, layer.name))
                kernel[j] = rng.uniform(-limit, limit, kernel.shape[1:])
            layer.kernel.assign(kernel.astype("float32"))


def stacked_loss(loss_fn):
    """Sum over the head axis of a per-row loss: ``(batch, H, 3)`` x 2 -> ``(batch,)``."""
    def loss(y_true, y_pred):
        return ops.sum(loss_fn(y_true, y_pred), axis=-1)
    return loss


class _PerHeadSelection(keras.callbacks.Callback):
    """Per-head checkpoint selection and early stopping; see the module docstring."""

    def __init__(self, bundle: Bundle, x_stop, y_stop, w_stop, x_train, y_train, w_train, loss_fn, patience):
        super().__init__()
        self.b, self.loss_fn, self.patience = bundle, loss_fn, patience
        self.x_stop, self.y_stop, self.w_stop = x_stop, y_stop, w_stop
        self.x_train, self.y_train, self.w_train = x_train, y_train, w_train
        n = bundle.n
        self.select = [bundle.specs[i].select_on for i in bundle.order]      # grouped order
        self.best_score = np.full(n, np.inf)
        self.best_epoch = np.zeros(n, dtype=int)
        self.wait = np.zeros(n, dtype=int)
        self.frozen = np.zeros(n, dtype=bool)
        self.history = {"loss": [], "val_loss": [], "train_kappa": [], "val_kappa": []}
        self.best_weights = None

    def _losses(self, x, y, w):
        p = np.asarray(self.b.model.predict_on_batch(x)["output"])
        onehot = np.repeat(np.eye(3, dtype="float32")[y][:, None, :], p.shape[1], axis=1)
        per_row = ops.convert_to_numpy(self.loss_fn(ops.convert_to_tensor(onehot), ops.convert_to_tensor(p)))  # (rows, H)
        w = np.ones(len(y)) if w is None else w
        return (per_row * w[:, None]).sum(0) / len(y), p

    def on_train_begin(self, logs=None):
        self.best_weights = [np.array(w) for w in self.model.get_weights()]

    def on_epoch_end(self, epoch, logs=None):
        stop_loss, p_stop = self._losses(self.x_stop, self.y_stop, self.w_stop)
        train_loss, p_train = self._losses(self.x_train, self.y_train, self.w_train)
        train_kappa = quadratic_kappa_columns(self.y_train, p_train.argmax(-1))
        stop_kappa = quadratic_kappa_columns(self.y_stop, p_stop.argmax(-1))
        for k, v in (("loss", train_loss), ("val_loss", stop_loss), ("train_kappa", train_kappa),
                     ("val_kappa", stop_kappa)):
            self.history[k].append(v.astype(float))
        score = np.where(np.array(self.select) == "train_kappa", -train_kappa, stop_loss)
        improved = (score < self.best_score) & ~self.frozen
        self.wait = np.where(improved, 0, self.wait + 1)
        self.best_score = np.where(improved, score, self.best_score)
        self.best_epoch = np.where(improved, epoch + 1, self.best_epoch)
        if improved.any():
            self._keep(np.flatnonzero(improved), self.model.get_weights())
        patient = np.array(self.select) == "stop_loss"
        self.frozen |= patient & (self.wait >= self.patience)
        if self.frozen.all():
            self.model.stop_training = True

    def _keep(self, heads: np.ndarray, weights: list) -> None:
        pos_block = {}
        for b, (_, _, pos) in enumerate(self.b.blocks):
            for j, p in enumerate(pos):
                pos_block[p] = (b, j)
        for i, ((b, n), w) in enumerate(zip(self.b.var_copies, weights)):
            if b < 0:
                continue
            dst = self.best_weights[i].reshape(n, -1)
            src = np.asarray(w).reshape(n, -1)
            for h in heads:
                hb, j = pos_block[h]
                if hb == b:
                    dst[j] = src[j]

    def on_train_end(self, logs=None):
        self.model.set_weights(self.best_weights)


@dataclass
class BundleFit:
    """A trained bundle; ``history[key]`` (per epoch: loss, val_loss, train_kappa, val_kappa) and
    ``best_epoch[key]`` per head key."""

    bundle: Bundle
    history: dict = field(default_factory=dict)
    best_epoch: dict = field(default_factory=dict)


def _grouped(bundle: Bundle, x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x[:, bundle.order]).astype("float32")


def fit_bundle(specs: list[HeadSpec], rf: np.ndarray, image: np.ndarray, y: np.ndarray, train: np.ndarray,
               stop: np.ndarray, config: TrainConfig, seed: int) -> BundleFit:
    """Train every head of ``specs`` on the rows ``train`` and select/stop on the rows ``stop``.

    ``rf`` and ``image``: per row and head, the head's inputs, ``(n_rows, H, 3)`` in ``specs`` order (a head
    type without an image input ignores ``image``); ``y``: integer labels ``(n_rows,)``.
    """
    set_determinism(seed)
    bundle = build_bundle(specs, seed)
    copies = {id(w): n for (b, n), w in zip(bundle.var_copies, bundle.model.weights) if b >= 0}
    optimizer = HeadwiseAdam(config.learning_rate, clipnorm=config.clipnorm, copies=copies)
    loss_fn = make_loss(config)
    bundle.model.compile(optimizer=optimizer, loss={"output": stacked_loss(loss_fn)}, steps_per_execution=steps_per_execution(64))
    x = {"rf": _grouped(bundle, rf), "image": _grouped(bundle, image)}
    fit_rows = oversample(y[train], seed) if config.oversample else np.arange(len(train))
    fit_rows = train[fit_rows]
    weights = inverse_frequency_weights if config.class_weight else (lambda yy: None)
    sel = _PerHeadSelection(bundle, {k: v[stop] for k, v in x.items()}, y[stop], weights(y[stop]),
                            {k: v[train] for k, v in x.items()}, y[train], weights(y[train]), loss_fn,
                            config.patience)
    onehot = np.repeat(np.eye(3, dtype="float32")[y[fit_rows]][:, None, :], bundle.n, axis=1)
    bundle.model.fit({k: v[fit_rows] for k, v in x.items()}, {"output": onehot}, sample_weight=weights(y[fit_rows]),
                     epochs=config.epochs, batch_size=config.batch_size, shuffle=True, verbose=0, callbacks=[sel])
    fit = BundleFit(bundle)
    for p, i in enumerate(bundle.order):
        key = bundle.specs[i].key
        fit.best_epoch[key] = int(sel.best_epoch[p])
        fit.history[key] = {k: [float(v[p]) for v in vals] for k, vals in sel.history.items()}
    return fit


def predict_bundle(fit: BundleFit, rf: np.ndarray, image: np.ndarray, inference: str = "moving",
                   y: np.ndarray | None = None, batch_size: int = 32) -> dict[str, np.ndarray]:
    """Per head key: ``{"p": (n_rows, 3), "alpha": (n_rows,) or absent}``.

    ``inference``: ``"moving"`` — BatchNorm uses its moving statistics (correct); ``"batch_by_class"`` —
    BatchNorm in training mode on batches of ``batch_size`` rows sorted by the true label ``y`` (single-class
    batches: a defect); ``"batch_single"`` — training mode on batches of one row. The defects leave the
    model's weights (moving statistics included) as they were.
    """
    settings.check("inference", inference)
    b = fit.bundle
    x = {"rf": _grouped(b, rf), "image": _grouped(b, image)}
    if inference == "moving":
        outs = {k: np.asarray(v) for k, v in b.model.predict(x, batch_size=2048, verbose=0).items()}
    else:
        if inference == "batch_by_class":
            if y is None:
                raise ValueError("inference='batch_by_class' needs the labels y")
            rows, size = np.argsort(y, kind="stable"), batch_size
        else:
            rows, size = np.arange(len(x["rf"])), 1
        saved = b.model.get_weights()
        forward = _training_forward(b.model)
        parts: dict = {}
        for start in range(0, len(rows), size):
            r = rows[start:start + size]
            for k, v in forward({k: v[r] for k, v in x.items()}).items():
                parts.setdefault(k, []).append(ops.convert_to_numpy(v))
        b.model.set_weights(saved)
        inv = np.argsort(rows)
        outs = {k: np.concatenate(v)[inv] for k, v in parts.items()}
    result = {}
    for p, i in enumerate(b.order):
        spec = b.specs[i]
        res = {"p": outs["output"][:, p].astype(np.float64)}
        if settings.head(spec.head).learns_alpha:
            _, _, pos = next(blk for blk in b.blocks if blk[0] == spec.head)
            res["alpha"] = outs[f"alpha_{spec.head}"][:, pos.index(p), 0].astype(np.float64)
        result[spec.key] = res
    return result


def _training_forward(model: keras.Model):
    """``batch -> model(batch, training=True)``, compiled once with ``tf.function`` on TensorFlow (eager
    calls per batch of one would be slow), plain on other Keras backends."""
    if keras.backend.backend() != "tensorflow":
        return lambda batch: model(batch, training=True)
    import tensorflow as tf

    return tf.function(lambda batch: model(batch, training=True), reduce_retracing=True)


def head_weights(fit: BundleFit) -> dict[str, dict[str, np.ndarray]]:
    """Per head key, its own slice of every weight of its block (name -> array), e.g. ``output/kernel``
    ``(6, 3)``, ``rf_bn/moving_mean`` ``(3,)`` — the inputs of the H1/H2 figures."""
    b = fit.bundle
    out = {}
    for t, block, pos in b.blocks:
        for j, p in enumerate(pos):
            key = b.specs[b.order[p]].key
            out[key] = {}
            for w in block.weights:
                arr = np.asarray(w.numpy())
                shape = arr.shape[1:] if arr.ndim > 1 else (-1,)
                out[key]["/".join(w.path.split("/")[-2:])] = arr.reshape(len(pos), -1)[j].reshape(shape)
    return out
