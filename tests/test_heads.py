import numpy as np
import pytest

from fusionlib.models.heads import build_model, head_block, inputs_of
from fusionlib.arms.settings import head_names


def trainable(model, layer):
    return [tuple(w.shape) for w in model.get_layer(layer).trainable_weights]


def layer_names(model):
    return {l.name for l in model.layers}


@pytest.mark.parametrize("head", head_names(kind="keras") + head_names(kind="cnn"))
def test_every_head_maps_its_inputs_to_three_probabilities(head):
    model = build_model(head, image_size=32, width=0.125)
    x = {"rf": np.full((4, 3), 1 / 3, "float32"), "image": np.zeros((4, 32, 32, 3), "float32")}
    out = np.asarray(model({k: x[k] for k in inputs_of(head)}, training=False))
    assert out.shape == (4, 3)
    assert np.allclose(out.sum(1), 1, atol=1e-5)


def test_metadata_only_trains_only_the_batchnorm():
    m = head_block("metadata_only", 1)
    assert [tuple(w.shape) for w in m.trainable_weights] == [(3,), (3,)]      # BN gamma and beta
    assert trainable(m, "rf_bn") == [(3,), (3,)]


def test_baseline_is_bn_rf_concat_image_probs_into_an_unconstrained_dense():
    m = head_block("baseline", 1)
    assert trainable(m, "output") == [(1, 6, 3), (1, 3)]                        # 21 weights, as the report counts
    assert {"rf_bn", "concat"} <= layer_names(m)
    assert "rf_softmax" not in layer_names(m)
    assert "image_probs" in layer_names(build_model("baseline"))


def test_fix1_renormalises_the_bn_rf_branch():
    m = head_block("fix1", 1)
    assert {"rf_bn", "rf_softmax"} <= layer_names(m)
    assert trainable(m, "output") == [(1, 6, 3), (1, 3)]


def test_fix3_drops_the_bn():
    m = head_block("fix3", 1)
    assert "rf_bn" not in layer_names(m) and "rf_softmax" not in layer_names(m)
    assert trainable(m, "output") == [(1, 6, 3), (1, 3)]


@pytest.mark.parametrize("head,bn", [("fix2", True), ("fix23", False)])
def test_alpha_heads_have_a_single_dense1_and_no_other_fusion_weights(head, bn):
    m = head_block(head, 1)
    assert trainable(m, "alpha") == [(1, 6, 1), (1, 1)]
    assert trainable(m, "output") == []                                          # the blend has no weights
    assert ("rf_bn" in layer_names(m)) == bn
    fusion = [l for l in m.layers if l.name in ("alpha", "output", "concat")]
    assert sum(int(np.prod(w.shape)) for l in fusion for w in l.trainable_weights) == 7


def test_fix23_with_alpha_one_returns_the_rf_probabilities_exactly():
    m = head_block("fix23", 2)
    alpha = m.get_layer("alpha")
    alpha.set_weights([np.zeros((2, 6, 1), "float32"), np.full((2, 1), 50.0, "float32")])   # sigmoid(50) == 1
    rf = np.random.default_rng(0).dirichlet([1, 1, 1], (5, 2)).astype("float32")
    out = m({"rf": rf, "image": np.random.rand(5, 2, 3).astype("float32")}, training=False)
    assert np.array_equal(np.asarray(out["output"]), rf)
    assert np.array_equal(np.asarray(out["alpha"]), np.ones((5, 2, 1), "float32"))


def test_copies_of_a_head_share_no_weight():
    m = head_block("baseline", 4)
    assert trainable(m, "output") == [(4, 6, 3), (4, 3)]
    assert [tuple(w.shape) for w in m.get_layer("rf_bn").weights] == [(12,)] * 4   # per (copy, class)
    x = np.random.default_rng(1).dirichlet([1, 1, 1], (8, 4)).astype("float32")
    y0 = np.asarray(m({"rf": x, "image": x}, training=True)["output"])
    x2 = x.copy()
    x2[:, 2] = x2[::-1, 2]                                        # change copy 2's inputs only
    y1 = np.asarray(m({"rf": x2, "image": x2}, training=True)["output"])
    assert np.array_equal(y0[:, [0, 1, 3]], y1[:, [0, 1, 3]]) and not np.allclose(y0[:, 2], y1[:, 2])


def test_image_only_ignores_rf_and_has_the_report_era_cnn():
    m = build_model("image_only", width=1.0)
    assert inputs_of("image_only") == ("image",)
    assert m.get_layer("img_conv1").filters == 128 and m.get_layer("img_conv2").filters == 64
    assert [m.get_layer(f"img_dense{i}").units for i in (1, 2, 3)] == [256, 128, 64]


def test_unknown_head_is_rejected():
    with pytest.raises(ValueError, match="head='fix4'"):
        build_model("fix4")
    with pytest.raises(ValueError, match="not a Keras head"):
        head_block("stacking", 1)
