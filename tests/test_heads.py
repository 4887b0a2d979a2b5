import numpy as np
import pytest

from fusionlib.heads import HEADS, build_model, inputs_of


def trainable(model, layer):
    return [tuple(w.shape) for w in model.get_layer(layer).trainable_weights]


def layer_names(model):
    return {l.name for l in model.layers}


@pytest.mark.parametrize("head", HEADS)
def test_every_head_maps_its_inputs_to_three_probabilities(head):
    model = build_model(head, image_size=32, width=0.125)
    x = {"rf": np.full((4, 3), 1 / 3, "float32"), "image": np.zeros((4, 32, 32, 3), "float32")}
    out = np.asarray(model({k: x[k] for k in inputs_of(head)}, training=False))
    assert out.shape == (4, 3)
    assert np.allclose(out.sum(1), 1, atol=1e-5)


def test_metadata_only_trains_only_the_batchnorm():
    m = build_model("metadata_only")
    assert [tuple(w.shape) for w in m.trainable_weights] == [(3,), (3,)]      # BN gamma and beta
    assert trainable(m, "rf_bn") == [(3,), (3,)]


def test_baseline_is_bn_rf_concat_image_probs_into_an_unconstrained_dense():
    m = build_model("baseline")
    assert trainable(m, "output") == [(6, 3), (3,)]                              # 21 weights, as the report counts
    assert {"rf_bn", "image_probs", "concat"} <= layer_names(m)
    assert "rf_softmax" not in layer_names(m)


def test_fix1_renormalises_the_bn_rf_branch():
    m = build_model("fix1")
    assert {"rf_bn", "rf_softmax"} <= layer_names(m)
    assert trainable(m, "output") == [(6, 3), (3,)]


def test_fix3_drops_the_bn():
    m = build_model("fix3")
    assert "rf_bn" not in layer_names(m) and "rf_softmax" not in layer_names(m)
    assert trainable(m, "output") == [(6, 3), (3,)]


@pytest.mark.parametrize("head,bn", [("fix2", True), ("fix23", False)])
def test_alpha_heads_have_a_single_dense1_and_no_other_fusion_weights(head, bn):
    m = build_model(head)
    assert trainable(m, "alpha") == [(6, 1), (1,)]
    assert trainable(m, "output") == []                                          # the blend has no weights
    assert ("rf_bn" in layer_names(m)) == bn
    fusion = [l for l in m.layers if l.name in ("alpha", "output", "concat")]
    assert sum(w.shape.num_elements() if hasattr(w.shape, "num_elements") else int(np.prod(w.shape))
               for l in fusion for w in l.trainable_weights) == 7


def test_fix23_with_alpha_one_returns_the_rf_probabilities_exactly():
    m = build_model("fix23")
    alpha = m.get_layer("alpha")
    alpha.set_weights([np.zeros((6, 1), "float32"), np.array([50.0], "float32")])   # sigmoid(50) == 1 in float32
    rf = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], "float32")
    out = np.asarray(m({"rf": rf, "image": np.random.rand(2, 32, 32, 3).astype("float32") * 255}, training=False))
    assert np.array_equal(out, rf)


def test_image_only_ignores_rf_and_has_the_report_era_cnn():
    m = build_model("image_only", width=1.0)
    assert inputs_of("image_only") == ("image",)
    assert m.get_layer("img_conv1").filters == 128 and m.get_layer("img_conv2").filters == 64
    assert [m.get_layer(f"img_dense{i}").units for i in (1, 2, 3)] == [256, 128, 64]


def test_unknown_head_is_rejected():
    with pytest.raises(ValueError, match="head='fix4'"):
        build_model("fix4")
