import numpy as np
import pytest

from fusionlib.models.bundle import HeadSpec, fit_bundle, head_weights, predict_bundle
from fusionlib.arms.settings import ORIGINAL_RECIPE, TrainConfig

N = 600
TRAIN, STOP = np.arange(400), np.arange(400, 520)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, N)
    rf = np.stack([0.6 * rng.dirichlet([1, 1, 1], N) + 0.4 * np.eye(3)[y] for _ in range(4)], axis=1).astype("float32")
    image = np.repeat(rng.dirichlet([1, 1, 1], N)[:, None], 4, axis=1).astype("float32")
    return rf, image, y


SPECS = [HeadSpec("a", "baseline"), HeadSpec("b", "fix23"), HeadSpec("c", "metadata_only"), HeadSpec("d", "fix2")]


@pytest.mark.parametrize("config", [TrainConfig(epochs=6), TrainConfig(epochs=4, **ORIGINAL_RECIPE)],
                         ids=["default", "original-recipe"])
def test_a_head_in_a_bundle_equals_the_head_alone(data, config):
    """Disjoint weights, summed losses, per-copy clipnorm, per-key initialisation: bundle == alone."""
    rf, image, y = data
    together = fit_bundle(SPECS, rf, image, y, TRAIN, STOP, config, seed=3)
    p_together = predict_bundle(together, rf, image)
    for j, spec in enumerate(SPECS):
        alone = fit_bundle([spec], rf[:, [j]], image[:, [j]], y, TRAIN, STOP, config, seed=3)
        assert alone.best_epoch[spec.key] == together.best_epoch[spec.key]
        assert np.allclose(predict_bundle(alone, rf[:, [j]], image[:, [j]])[spec.key]["p"],
                           p_together[spec.key]["p"], atol=1e-5), spec


def test_early_stopping_keeps_each_heads_best_epoch(data):
    rf, image, y = data
    fit = fit_bundle(SPECS, rf, image, y, TRAIN, STOP, TrainConfig(epochs=12, patience=2), seed=0)
    for spec in SPECS:
        h = fit.history[spec.key]
        best = fit.best_epoch[spec.key]
        assert 1 <= best <= len(h["val_loss"])
        assert h["val_loss"][best - 1] == min(h["val_loss"][:best + 2])       # the best within its patience window


def test_training_kappa_selection_picks_the_best_training_kappa(data):
    rf, image, y = data
    spec = HeadSpec("k", "baseline", select_on="train_kappa")
    fit = fit_bundle([spec], rf[:, :1], image[:, :1], y, TRAIN, STOP, TrainConfig(epochs=5), seed=0)
    kap = fit.history["k"]["train_kappa"]
    assert len(kap) == 5 and fit.best_epoch["k"] == int(np.argmax(kap)) + 1


def test_bn_in_training_mode_on_single_class_batches_changes_predictions_but_not_weights(data):
    rf, image, y = data
    fit = fit_bundle(SPECS[:1], rf[:, :1], image[:, :1], y, TRAIN, STOP, TrainConfig(epochs=3), seed=0)
    before = head_weights(fit)["a"]
    moving = predict_bundle(fit, rf[:, :1], image[:, :1])["a"]["p"]
    batch = predict_bundle(fit, rf[:, :1], image[:, :1], "batch_by_class", y=y)["a"]["p"]
    assert not np.allclose(moving, batch)
    after = head_weights(fit)["a"]
    assert all(np.array_equal(before[k], after[k]) for k in before)
    with pytest.raises(ValueError, match="needs the labels"):
        predict_bundle(fit, rf[:, :1], image[:, :1], "batch_by_class")


def test_bad_specs_are_rejected(data):
    rf, image, y = data
    with pytest.raises(ValueError, match="unique"):
        fit_bundle([HeadSpec("a", "baseline")] * 2, rf[:, :2], image[:, :2], y, TRAIN, STOP, TrainConfig(epochs=1), 0)
    with pytest.raises(ValueError, match="select_on='val_kappa'"):
        fit_bundle([HeadSpec("a", "baseline", "val_kappa")], rf[:, :1], image[:, :1], y, TRAIN, STOP,
                   TrainConfig(epochs=1), 0)
