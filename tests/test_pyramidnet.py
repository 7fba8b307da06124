"""PyramidNet (Han et al. 2017), ShakeDrop and PyramidSepDrop (Yamada et al.)."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import reszoo
from reszoo.layers import ZeroPadShortcut
from reszoo.layers.shakedrop import SeparatedStochasticDepth, ShakeDrop
from reszoo.models.pyramidnet import pyramid_plan, unit_drop_probs
from reszoo.registry import presets


def test_presets_are_registered():
    assert set(reszoo.list_models()["pyramidnet"]) == {
        "pyramidnet110_a48",
        "pyramidnet110_a84",
        "pyramidnet110_a270",
        "pyramidnet164_a270_bottleneck",
        "pyramidnet200_a240_bottleneck",
        "pyramidnet236_a220_bottleneck",
        "pyramidnet272_a200_bottleneck",
        "pyramidnet110_a270_shakedrop",
        "pyramidnet110_a270_sepdrop",
    }


def test_how_table4_counted():
    """Bottlenecks: conv kernels only; basic units: 0.07-0.19M below the official code (tests/test_presets.py)."""
    for preset in presets().values():
        if preset.family != "pyramidnet" or preset.published is None:
            continue
        basis = preset.extra["published_basis"]
        assert basis == ("conv_weights" if preset.kwargs.get("bottleneck") else "unexplained"), preset.name
        if basis == "unexplained":
            assert 0.0 < preset.exact / 1e6 - preset.published < 0.2, preset.name


def test_family_defaults_are_pyramidnet110_alpha48():
    model = reszoo.build("pyramidnet", alpha=48)
    assert model.name == "pyramidnet110_a48"
    assert reszoo.trainable_params(model) == 1_772_706


def test_width_plan_depth20_alpha48():
    # n = 3, step 48 / 9 = 5.33: 21.33, 26.67, 32, 37.33, 42.67, 48, 53.33, 58.67, 64, rounded.
    plan = pyramid_plan(units_per_stage=3, alpha=48)
    assert [s.filters for s in plan] == [21, 27, 32, 37, 43, 48, 53, 59, 64]
    assert [s.stride for s in plan] == [1, 1, 1, 2, 1, 1, 2, 1, 1]
    assert [s.name for s in plan][3] == "stage2_unit1"
    # PyramidNet-110: step 0.89; rounding (not floor, which gives 16, 17, 18, 19, 20, 21).
    assert [s.filters for s in pyramid_plan(18, 48)][:6] == [17, 18, 19, 20, 20, 21]


def test_basic_model_follows_the_plan():
    model = reszoo.build("pyramidnet", depth=20, alpha=48)
    widths = [21, 27, 32, 37, 43, 48, 53, 59, 64]
    inputs = [16, *widths[:-1]]
    units = [s.name for s in pyramid_plan(3, 48)]
    for unit, width, fan_in in zip(units, widths, inputs, strict=True):
        assert model.get_layer(f"{unit}_conv1").kernel.shape == (3, 3, fan_in, width)
        assert model.get_layer(f"{unit}_conv2").kernel.shape == (3, 3, width, width)
        skip = model.get_layer(f"{unit}_shortcut")
        assert isinstance(skip, ZeroPadShortcut) and skip.pooling == "average" and skip.filters == width
        assert skip.stride == (2 if unit in ("stage2_unit1", "stage3_unit1") else 1)
    # No projections: the stem and two convs per unit; the stem has BN but no ReLU.
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers) == 1 + 2 * 9
    names = [layer.name for layer in model.layers]
    assert "stem_bn" in names and "stem_relu" not in names
    assert model.get_layer("head_bn").gamma.shape == (64,)
    assert model.get_layer("predictions").kernel.shape == (64, 10)
    assert reszoo.trainable_params(model) == 310_845


def test_unit_is_han_variant_d():
    model = reszoo.build("pyramidnet", depth=8, alpha=12)
    branch = [
        type(layer).__name__
        for layer in model.layers
        if layer.name.startswith("stage1_unit1_") and not layer.name.endswith(("_shortcut", "_add"))
    ]
    bn = "FusedBatchNormalization"  # keras.layers.BatchNormalization with the fused training kernel
    assert branch == [bn, "Conv2D", bn, "ReLU", "Conv2D", bn]


def test_bottleneck_output_is_four_times_the_plan_width():
    model = reszoo.build("pyramidnet", depth=11, alpha=12, bottleneck=True)
    # n = 1, step 4: widths 20, 24, 28; outputs 80, 96, 112.
    assert model.get_layer("stage1_unit1_conv1").kernel.shape == (1, 1, 16, 20)
    assert model.get_layer("stage1_unit1_conv2").kernel.shape == (3, 3, 20, 20)
    assert model.get_layer("stage1_unit1_conv3").kernel.shape == (1, 1, 20, 80)
    assert model.get_layer("stage2_unit1_conv1").kernel.shape == (1, 1, 80, 24)
    assert model.get_layer("stage3_unit1_conv3").kernel.shape == (1, 1, 28, 112)
    assert model.get_layer("stage3_unit1_bn4").gamma.shape == (112,)
    assert model.get_layer("stage3_unit1_shortcut").filters == 112
    assert reszoo.trainable_params(model) == 30_874


def test_regularized_units_keep_the_plain_weight_layout(tmp_path):
    def layout(model):
        return [(w.path, tuple(w.shape)) for w in model.weights if "seed_generator" not in w.path]

    plain = reszoo.build("pyramidnet", depth=11, alpha=12, bottleneck=True)
    path = os.path.join(tmp_path, "plain.weights.h5")
    plain.save_weights(path)
    for option in ("shakedrop", "sepdrop"):
        regularized = reszoo.build("pyramidnet", depth=11, alpha=12, bottleneck=True, **{option: 0.5})
        assert layout(regularized) == layout(plain)
        regularized.load_weights(path)
        for ours, theirs in zip(regularized.trainable_weights, plain.trainable_weights, strict=True):
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_drop_probabilities_rise_linearly_to_p_L():
    assert unit_drop_probs(4, 0.5) == pytest.approx([0.125, 0.25, 0.375, 0.5])
    model = reszoo.build("pyramidnet", depth=20, alpha=48, shakedrop=0.5)
    layers = [layer for layer in model.layers if isinstance(layer, ShakeDrop)]
    assert [layer.name for layer in layers][0] == "stage1_unit1_shakedrop"
    assert [layer.drop_prob for layer in layers] == pytest.approx([0.5 * k / 9 for k in range(1, 10)])

    model = reszoo.build("pyramidnet", depth=20, alpha=48, sepdrop=0.4)
    layers = [layer for layer in model.layers if isinstance(layer, SeparatedStochasticDepth)]
    assert [layer.survival_prob for layer in layers] == pytest.approx([1 - 0.4 * k / 9 for k in range(1, 10)])
    # The first group is the channels that meet the identity: the unit's input width.
    assert [layer.split for layer in layers] == [16, 21, 27, 32, 37, 43, 48, 53, 59]


# ShakeDrop ---------------------------------------------------------------------------------------


def shakedrop_multipliers(layer, batch):
    """Per-image forward multiplier and gradient (backward multiplier) of ``layer`` on ones."""
    x = tf.ones((batch, 2, 2, 3))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        total = tf.reduce_sum(y)
    grad = tape.gradient(total, x).numpy()
    y = y.numpy()
    # One multiplier per image, shared by all its pixels and channels.
    assert np.all(y == y[:, :1, :1, :1]) and np.all(grad == grad[:, :1, :1, :1])
    return y[:, 0, 0, 0], grad[:, 0, 0, 0]


def test_shakedrop_inference_scales_by_one_minus_d():
    x = np.random.default_rng(0).normal(size=(4, 3, 3, 5)).astype("float32")
    np.testing.assert_allclose(ShakeDrop(0.3)(x, training=False), x * 0.7, rtol=1e-6)
    np.testing.assert_allclose(ShakeDrop(0.3)(x), x * 0.7, rtol=1e-6)
    # The expectation of the forward multiplier for another alpha range: 0.75 + 0.25 * 0.25.
    assert ShakeDrop(0.25, alpha_range=(-0.5, 1.0)).inference_scale == pytest.approx(0.8125)


def test_shakedrop_training_forward_and_backward_multipliers():
    forward, backward = shakedrop_multipliers(ShakeDrop(0.5, seed=1), batch=256)
    is_open = forward == 1.0
    closed = ~is_open
    assert 80 < closed.sum() < 176  # Binomial(256, 0.5)
    # Open gate: identity both ways.
    np.testing.assert_array_equal(backward[is_open], 1.0)
    # Closed gate: alpha in [-1, 1] forward, beta in [0, 1] backward, drawn independently.
    assert np.all((forward[closed] >= -1) & (forward[closed] <= 1))
    assert np.all((backward[closed] >= 0) & (backward[closed] <= 1))
    assert (forward[closed] < 0).sum() > 10
    assert not np.allclose(forward[closed], backward[closed], atol=0.05)
    assert abs(np.corrcoef(forward[closed], backward[closed])[0, 1]) < 0.4


def test_shakedrop_forward_multiplier_has_the_inference_mean():
    forward, _ = shakedrop_multipliers(ShakeDrop(0.5, seed=2), batch=4000)
    assert abs(forward.mean() - 0.5) < 0.06  # standard error 0.01


def test_shakedrop_is_reproducible_with_a_seed_and_off_at_zero():
    first, _ = shakedrop_multipliers(ShakeDrop(0.5, seed=3), batch=32)
    second, _ = shakedrop_multipliers(ShakeDrop(0.5, seed=3), batch=32)
    np.testing.assert_array_equal(first, second)
    forward, backward = shakedrop_multipliers(ShakeDrop(0.0, seed=3), batch=32)
    np.testing.assert_array_equal(forward, 1.0)
    np.testing.assert_array_equal(backward, 1.0)


def round_trip(layer, tmp_path):
    inputs = keras.Input((4, 4, 3))
    outputs = layer(keras.layers.Conv2D(6, 3, padding="same", name="conv")(inputs))
    model = keras.Model(inputs, outputs)
    path = os.path.join(tmp_path, "layer.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(reloaded(x, training=False), model(x, training=False), rtol=1e-6)
    return reloaded.layers[-1]


def test_shakedrop_keras_round_trip(tmp_path):
    layer = ShakeDrop(0.25, alpha_range=(-0.5, 1.0), beta_range=(0.0, 0.5), seed=7, name="sd")
    reloaded = round_trip(layer, tmp_path)
    assert isinstance(reloaded, ShakeDrop)
    assert reloaded.get_config() == layer.get_config()
    assert (reloaded.drop_prob, reloaded.alpha_range, reloaded.beta_range) == (0.25, (-0.5, 1.0), (0.0, 0.5))


# Separated stochastic depth ------------------------------------------------------------------------


def test_sepdrop_inference_scales_by_survival():
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 6)).astype("float32")
    np.testing.assert_allclose(SeparatedStochasticDepth(0.6, split=2)(x, training=False), x * 0.6, rtol=1e-6)


def test_sepdrop_gates_the_two_channel_groups_independently():
    layer = SeparatedStochasticDepth(0.5, split=2, per_sample=True, seed=4)
    y = layer(tf.ones((512, 1, 1, 6)), training=True).numpy()[:, 0, 0, :]
    old, new = y[:, :1], y[:, 2:3]
    assert np.all(y[:, :2] == old) and np.all(y[:, 2:] == new)  # one gate per group
    assert set(np.unique(y)) <= {0.0, 1.0}
    combos = {(int(a), int(b)): int(((old[:, 0] == a) & (new[:, 0] == b)).sum()) for a in (0, 1) for b in (0, 1)}
    assert all(64 < count < 192 for count in combos.values()), combos  # each ~128 if independent


def test_sepdrop_per_batch_gates_and_single_group():
    y = SeparatedStochasticDepth(0.5, split=2, seed=5)(tf.ones((16, 1, 1, 6)), training=True).numpy()
    assert np.all(y == y[:1])  # the same gates for every image of the mini-batch
    y = SeparatedStochasticDepth(0.5, split=6, per_sample=True, seed=5)(tf.ones((64, 1, 1, 6)), training=True).numpy()
    assert np.all(y == y[..., :1])  # no widening: the whole branch is one group


def test_sepdrop_keras_round_trip(tmp_path):
    layer = SeparatedStochasticDepth(0.75, split=4, per_sample=True, seed=8, name="sep")
    reloaded = round_trip(layer, tmp_path)
    assert isinstance(reloaded, SeparatedStochasticDepth)
    assert reloaded.get_config() == layer.get_config()


# Argument checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: reszoo.build("pyramidnet", depth=21), "depth must be 6n+2"),
        (lambda: reszoo.build("pyramidnet", depth=26, bottleneck=True), "depth must be 9n+2"),
        (lambda: reszoo.build("pyramidnet", depth=2), "depth must be 6n+2"),
        (
            lambda: reszoo.build("pyramidnet", alpha=-1),
            "alpha must be a number >= 0 (the total widening). Received: alpha=-1",
        ),
        (lambda: reszoo.build("pyramidnet", alpha="48"), "Received: alpha='48'"),
        (lambda: reszoo.build("pyramidnet", bottleneck="yes"), "bottleneck must be one of False, True"),
        (lambda: reszoo.build("pyramidnet", shakedrop=1.0), "shakedrop must be in [0, 1). Received: shakedrop=1.0"),
        (lambda: reszoo.build("pyramidnet", shakedrop=-0.1), "shakedrop must be in [0, 1)"),
        (lambda: reszoo.build("pyramidnet", sepdrop=1.5), "sepdrop must be in [0, 1)"),
        (lambda: reszoo.build("pyramidnet", shakedrop=0.5, sepdrop=0.5), "set at most one"),
        (lambda: reszoo.build("pyramidnet110_a48", alpha=84), "Preset 'pyramidnet110_a48' fixes alpha=48"),
        (lambda: ShakeDrop(1.0), "drop_prob must be in [0, 1). Received: drop_prob=1.0"),
        (lambda: ShakeDrop(True), "drop_prob must be in [0, 1)"),
        (lambda: ShakeDrop(0.5, alpha_range=(1, -1)), "alpha_range must be a pair (low, high) with low <= high"),
        (lambda: ShakeDrop(0.5, beta_range=0.5), "beta_range must be a pair"),
        (lambda: SeparatedStochasticDepth(0.0, split=2), "survival_prob must be in (0, 1]"),
        (lambda: SeparatedStochasticDepth(0.5, split=0), "split must be a positive integer. Received: split=0"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value)
