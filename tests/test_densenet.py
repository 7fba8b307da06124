"""DenseNet / DenseNet-BC (Huang et al. 2017, Table 2)."""

import keras
import numpy as np
import pytest

import reszoo
from reszoo.models import densenet as densenet_module
from reszoo.registry import presets
from tests.family_checks import fixed_batch

DENSENET_PRESETS = [n for n, p in presets().items() if p.family == "densenet"]


def layer_types(model, cls):
    return [layer for layer in model.layers if isinstance(layer, cls)]


def test_every_table2_model_is_a_preset():
    table2 = {(40, 12, False), (100, 12, False), (100, 24, False), (100, 12, True), (250, 24, True), (190, 40, True)}
    configs = {
        (p.kwargs["depth"], p.kwargs["growth_rate"], p.kwargs.get("bottleneck", False))
        for p in map(presets().get, DENSENET_PRESETS)
    }
    assert configs == table2
    assert all(not presets()[n].slow and presets()[n].recipe == "densenet" for n in DENSENET_PRESETS)


def test_densenet40_shapes_channels_and_names_follow_table2():
    model = reszoo.build("densenet40_k12")
    shape = lambda layer: tuple(model.get_layer(layer).output.shape[1:])  # noqa: E731
    assert shape("stem_conv") == (32, 32, 16)
    # 12 layers per block, each adding k=12 maps to the concatenation.
    assert shape("block1_layer1_concat") == (32, 32, 16 + 12)
    assert shape("block1_layer12_concat") == (32, 32, 16 + 12 * 12)
    assert shape("transition1_pool") == (16, 16, 160)  # compression 1 keeps the width
    assert shape("block2_layer12_concat") == (16, 16, 304)
    assert shape("transition2_pool") == (8, 8, 304)
    assert shape("block3_layer12_concat") == (8, 8, 448)
    assert shape("head_relu") == (8, 8, 448)
    assert model.get_layer("block1_layer3_conv1").filters == 12
    assert model.get_layer("block1_layer3_conv1").kernel_size == (3, 3)
    assert not any(layer.use_bias for layer in layer_types(model, keras.layers.Conv2D))
    assert len(layer_types(model, keras.layers.Concatenate)) == 36
    assert not layer_types(model, keras.layers.Dropout)


def test_densenet_bc_has_bottlenecks_compression_and_a_2k_stem():
    model = reszoo.build("densenet_bc100_k12")
    shape = lambda layer: tuple(model.get_layer(layer).output.shape[1:])  # noqa: E731
    assert shape("stem_conv") == (32, 32, 24)
    assert shape("block1_layer1_conv1") == (32, 32, 48)  # 1x1 to 4k
    assert shape("block1_layer1_conv2") == (32, 32, 12)
    assert shape("block1_layer16_concat") == (32, 32, 24 + 16 * 12)
    assert shape("transition1_pool") == (16, 16, 108)  # floor(0.5 * 216)
    assert shape("transition2_pool") == (8, 8, 150)  # floor(0.5 * (108 + 192))
    assert shape("block3_layer16_concat") == (8, 8, 342)
    assert model.get_layer("transition1_conv1").kernel_size == (1, 1)


def test_stem_rule_and_the_official_torch_stem():
    assert densenet_module.block_plan(40, 12, False, 1.0, 16)[0].in_channels == 16
    # The official Torch code always starts with 2k maps: 1,059,298 for L=40, k=12 (REFERENCE.md's 1,019,722 uses 16).
    torch_stem = reszoo.build("densenet", depth=40, growth_rate=12, stem_filters=24)
    assert reszoo.trainable_params(torch_stem) == 1_059_298
    # DenseNet-C (compression only) counts as a modified DenseNet: 2k stem.
    c_only = reszoo.build("densenet", depth=10, growth_rate=4, compression=0.5)
    assert c_only.get_layer("stem_conv").filters == 8


def test_transition_width_is_floored_as_in_the_torch_code():
    plan = densenet_module.block_plan(16, 5, True, 0.5, 10)  # block 1: 10 + 2 * 5 = 20 -> 10; block 2: 20 -> 10
    assert [(b.layers, b.in_channels, b.out_channels, b.transition_filters) for b in plan] == [
        (2, 10, 20, 10),
        (2, 10, 20, 10),
        (2, 10, 20, None),
    ]
    plan = densenet_module.block_plan(7, 3, False, 0.3, 16)  # 19 * 0.3 = 5.7 -> 5
    assert [b.transition_filters for b in plan] == [5, 2, None]


def test_dropout_follows_every_conv_but_the_stem():
    model = reszoo.build("densenet", depth=10, growth_rate=4, dropout=0.2)
    drops = layer_types(model, keras.layers.Dropout)
    # 2 layers x 3 blocks, one conv each, plus 2 transitions.
    assert len(drops) == 8
    assert all(d.rate == 0.2 for d in drops)
    assert all(d.name.replace("_drop", "_conv") in {layer.name for layer in model.layers} for d in drops)
    images, _ = fixed_batch()
    first = np.asarray(model(images, training=False))
    np.testing.assert_allclose(np.asarray(model(images, training=False)), first)
    assert not np.allclose(np.asarray(model(images, training=True)), np.asarray(model(images, training=True)))


def test_cifar100_head_adds_90_times_final_width_plus_one():
    small = dict(depth=16, growth_rate=4, bottleneck=True, compression=0.5)
    c10 = reszoo.trainable_params(reszoo.build("densenet", **small))
    c100 = reszoo.trainable_params(reszoo.build("densenet", **small, num_classes=100))
    assert c100 - c10 == 90 * (8 + 2 * 4 + 1)  # final width: transition2's 8 maps + 2 layers x k=4


def test_weight_decay_defaults_to_the_paper_value():
    model = reszoo.build("densenet", depth=10, growth_rate=4)
    assert all(w.regularizer is not None for w in model.trainable_weights)
    expected = sum(1e-4 / 2 * float(np.sum(np.square(w.numpy()))) for w in model.trainable_weights)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(depth=41), "depth must be 3n+4 for a positive integer n (e.g. 7, 10, 13, 31, 58). Received: depth=41"),
        (
            dict(depth=31, bottleneck=True),
            "depth must be 6n+4 for a positive integer n (e.g. 10, 16, 22, 58, 112). Received: depth=31",
        ),
        (dict(depth=4), "depth must be 3n+4"),
        (dict(depth=40.0), "depth must be 3n+4"),
        (dict(growth_rate=0), "growth_rate must be a positive integer. Received: growth_rate=0"),
        (dict(growth_rate=2.5), "growth_rate must be a positive integer"),
        (dict(compression=0), "compression must be in (0, 1]. Received: compression=0"),
        (dict(compression=1.5), "compression must be in (0, 1]. Received: compression=1.5"),
        (dict(compression=True), "compression must be in (0, 1]"),
        (dict(depth=7, growth_rate=1, compression=0.01), "compression=0.01 leaves no channels after transition 1"),
        (dict(dropout=1.0), "dropout must be in [0, 1). Received: dropout=1.0"),
        (dict(bottleneck="yes"), "bottleneck must be one of False, True. Received: bottleneck='yes'"),
        (dict(stem_filters=0), "stem_filters must be a positive integer"),
        (dict(growth=12), "Unknown argument(s) growth"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError) as err:
        reszoo.build("densenet", **kwargs)
    assert message in str(err.value)


def test_presets_refuse_contradicting_overrides():
    with pytest.raises(ValueError, match="Preset 'densenet_bc100_k12' fixes growth_rate=12"):
        reszoo.build("densenet_bc100_k12", growth_rate=24)
