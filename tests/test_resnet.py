"""ResNet, pre-activation ResNet (and unit variants) and FastResNet builders."""

import keras
import numpy as np
import pytest

import reszoo
from tests.family_checks import check_forward, fixed_batch


@pytest.mark.parametrize(
    "depth, shortcut, expected",
    [(20, "B", 272_474), (32, "B", 466_906), (56, "B", 855_770), (110, "B", 1_730_714), (44, "A", 658_586)],
)
def test_resnet_shortcut_options_match_official_counts(depth, shortcut, expected):
    model = reszoo.build("resnet", depth=depth, shortcut=shortcut)
    assert reszoo.trainable_params(model) == expected


def test_fastresnet_removes_exactly_one_bn_per_unit():
    base = reszoo.trainable_params(reszoo.build("preact_resnet", depth=20))
    type1 = reszoo.trainable_params(reszoo.build("fast_resnet", depth=20, unit_type=1))
    type2 = reszoo.trainable_params(reszoo.build("fast_resnet", depth=20, unit_type=2))
    # type 1 drops the BN on each unit's input, type 2 the one on its middle (output width):
    # stage widths 16/32/64, 3 units each; the first unit of stages 2, 3 sees the previous width.
    assert base - type1 == 2 * (16 * 3 + 16 + 32 * 2 + 32 + 64 * 2)
    assert base - type2 == 2 * 3 * (16 + 32 + 64)
    model = reszoo.build("fast_resnet", depth=20)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bns) == 9 + 1  # one per unit + the head's


def test_common_arguments():
    model = reszoo.build("resnet20", num_classes=100, input_shape=(24, 24, 1), name="tiny")
    assert model.name == "tiny"
    assert model.input_shape == (None, 24, 24, 1)
    images, _ = fixed_batch((24, 24, 1), 100, batch=2)
    check_forward(model, images, 100)
    # One input channel instead of three: the stem loses 2 x 16 x 9 weights.
    assert reszoo.trainable_params(model) == 269_722 + 90 * 65 - 2 * 16 * 9


def test_logits_when_classifier_activation_is_none():
    model = reszoo.build("resnet", depth=8, classifier_activation=None)
    images, _ = fixed_batch(batch=4)
    logits = np.asarray(model(images, training=False))
    assert logits.shape == (4, 10)
    assert not np.allclose(logits.sum(axis=1), 1.0)
    assert model.layers[-1].name == "predictions"


def test_cifar100_head_adds_90_times_final_width_plus_one():
    c10 = reszoo.trainable_params(reszoo.build("resnet110"))
    c100 = reszoo.trainable_params(reszoo.build("resnet110", num_classes=100))
    assert c100 - c10 == 90 * (64 + 1)


def test_layer_names_are_hierarchical():
    names = [layer.name for layer in reszoo.build("resnet20").layers]
    for expected in (
        "stem_conv",
        "stem_bn",
        "stage1_unit1_conv1",
        "stage2_unit1_shortcut",
        "stage3_unit3_add",
        "predictions",
    ):
        assert expected in names


def test_weight_decay_is_l2_on_every_trainable_weight():
    model = reszoo.build("resnet", depth=8, weight_decay=1e-4)
    weights = model.trainable_weights
    assert all(w.regularizer is not None for w in weights)
    expected = sum(1e-4 / 2 * float(np.sum(np.square(w.numpy()))) for w in weights)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-4)
    assert reszoo.build("resnet", depth=8, weight_decay=0).losses == []
    # BN momentum / epsilon are Torch's.
    bn = model.get_layer("stem_bn")
    assert (bn.momentum, bn.epsilon) == (0.9, 1e-5)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: reszoo.build("resnet", depth=21), "depth must be 6n+2"),
        (lambda: reszoo.build("resnet", depth=30, bottleneck=True), "depth must be 9n+2"),
        (lambda: reszoo.build("resnet", depth=-4), "depth must be 6n+2"),
        (lambda: reszoo.build("resnet", depth=20, shortcut="C"), "shortcut must be one of 'A', 'B', 'avg'"),
        (lambda: reszoo.build("preact_resnet", unit="relu_first"), "unit must be one of"),
        (lambda: reszoo.build("fast_resnet", unit_type=3), "unit_type must be one of 1, 2"),
        (lambda: reszoo.build("resnet", depth=20, widht=2), "Unknown argument(s) widht"),
        (lambda: reszoo.build("resnet110", depth=56), "Preset 'resnet110' fixes depth=110"),
        (lambda: reszoo.build("resnet111"), "Unknown model 'resnet111'. Did you mean"),
        (lambda: reszoo.build("resnet", drop_path=1.5), "drop_path must be in [0, 1)"),
        (lambda: reszoo.build("resnet", attention="eca"), "attention must be one of"),
        (lambda: reszoo.build("resnet", num_classes=1), "num_classes must be an integer >= 2"),
        (lambda: reszoo.build("resnet", input_shape=(32, 32)), "input_shape must be (height, width, channels)"),
        (lambda: reszoo.build("resnet", weight_decay=-1.0), "weight_decay must be >= 0"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value)


def test_none_arguments_are_ignored_and_presets_accept_matching_overrides():
    model = reszoo.build("resnet110", depth=110, dropout=None, num_classes=None)
    assert reszoo.trainable_params(model) == 1_727_962


def test_list_models_lists_families_and_presets():
    listing = reszoo.list_models()
    assert {"resnet", "preact_resnet", "fast_resnet"} <= set(listing)
    assert "resnet110" in listing["resnet"]
    assert "preact_resnet164" in listing["preact_resnet"]
    assert "fast_resnet110" in listing["fast_resnet"]


def test_preact_shortcuts_identity_takes_raw_input_projection_takes_shared_preactivation():
    model = reszoo.build("preact_resnet", depth=20, bottleneck=True)

    def inbound(layer_name):
        node = model.get_layer(layer_name)._inbound_nodes[0]
        return [t._keras_history[0].name for t in node.input_tensors]

    # Identity unit: the raw unit input (the previous unit's add), not its BN-ReLU.
    assert inbound("stage2_unit2_add")[0] == "stage2_unit1_add"
    # Dimension-changing unit: the 1x1 projection is fed by the unit's shared BN-ReLU (He et al. 2016 code).
    assert inbound("stage2_unit1_proj") == ["stage2_unit1_relu1"]
