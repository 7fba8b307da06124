"""Shake-Shake ResNets (Gastaldi 2017) and the ShakeShake layer."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import reszoo
from reszoo.layers.shake import SHAKE_MODES, ShakeShake
from reszoo.models import shake_shake as shake_module
from reszoo.registry import presets
from tests.family_checks import fixed_batch

PRESETS = [n for n, p in presets().items() if p.family == "shake_shake"]
TINY = dict(depth=8, width=8)


def expected_params(depth, width, num_classes=10):
    """Trainable parameters of the official model (xgastaldi/shake-shake), counted by hand."""
    n = (depth - 2) // 6
    total = 3 * 3 * 3 * 16 + 2 * 16  # stem conv + BN
    channels = 16
    for out in (width, 2 * width, 4 * width):
        for _ in range(n):
            total += 2 * (9 * channels * out + 2 * out + 9 * out * out + 2 * out)  # two branches
            if channels != out:
                total += 2 * channels * (out // 2) + 2 * out  # two 1x1 paths + BN
            channels = out
    return total + channels * num_classes + num_classes


# --- the networks -----------------------------------------------------------------


@pytest.mark.parametrize("name", PRESETS)
def test_official_counts_follow_the_papers_description(name):
    """The official code's count (tests/test_presets.py checks our builds against it) is the paper's S-S-I."""
    preset = presets()[name]
    assert preset.exact == expected_params(preset.kwargs["depth"], preset.kwargs["width"])


def test_presets_are_s_s_i_26_2xkd():
    assert {n: presets()[n].kwargs["width"] for n in PRESETS} == {
        "shake_shake26_2x32d": 32,
        "shake_shake26_2x64d": 64,
        "shake_shake26_2x96d": 96,
    }
    for name in PRESETS:
        assert presets()[name].kwargs | {"width": 0} == dict(depth=26, width=0, mode="shake_shake", level="image")
    assert [presets()[n].c10_error for n in PRESETS] == [3.55, 2.98, 2.86]


@pytest.mark.parametrize("depth, width", [(8, 8), (8, 2), (14, 16), (20, 6)])
def test_parameter_count_formula(depth, width):
    model = reszoo.build("shake_shake", depth=depth, width=width)
    assert reszoo.trainable_params(model) == expected_params(depth, width)


def test_training_forward_is_stochastic_and_inference_is_the_even_mix():
    model = reszoo.build("shake_shake", **TINY, classifier_activation=None)
    even = reszoo.build("shake_shake", **TINY, mode="even_even", classifier_activation=None)
    even.set_weights(model.get_weights())
    images, _ = fixed_batch(batch=4)
    # Every mode mixes 0.5/0.5 at inference.
    expected = np.asarray(model(images, training=False))
    np.testing.assert_allclose(np.asarray(even(images, training=False)), expected, atol=1e-5)
    # Training: shake_shake draws new coefficients per call, even_even does not (BN uses batch statistics).
    first, second = (np.asarray(model(images, training=True)) for _ in range(2))
    assert not np.allclose(first, second, atol=1e-4)
    repeat = np.asarray(even(images, training=True))
    np.testing.assert_allclose(np.asarray(even(images, training=True)), repeat, atol=1e-6)


def test_block_structure():
    model = reszoo.build("shake_shake", depth=14, width=8)
    names = {layer.name for layer in model.layers}
    # Stem conv + BN without ReLU; head ReLU before pooling; no BN in the head.
    assert {"stem_conv", "stem_bn", "head_relu"} <= names
    assert "stem_relu" not in names and "head_bn" not in names
    assert len([layer for layer in model.layers if isinstance(layer, ShakeShake)]) == 6
    for stage, (width, size) in enumerate([(8, 32), (16, 16), (32, 8)], start=1):
        for branch in (1, 2):
            conv1 = model.get_layer(f"stage{stage}_unit1_branch{branch}_conv1")
            assert conv1.filters == width
        assert model.get_layer(f"stage{stage}_unit1_add").output.shape == (None, size, size, width)
        assert model.get_layer(f"stage{stage}_unit1_shortcut_conv2").filters == width // 2
        assert f"stage{stage}_unit2_shortcut_conv1" not in names  # identity inside a stage
    assert "stage1_unit1_shortcut_pool1" not in names  # stride 1: no subsampling
    assert model.get_layer("stage2_unit1_shortcut_pool1").strides == (2, 2)


def test_shortcut_second_path_sees_the_pixels_the_first_skips():
    """Path 1 reads x[2i, 2j]; path 2 reads x[2i-1, 2j-1] (zeros on the first row/column),
    as Torch's SpatialZeroPadding(1, -1, 1, -1) in the official shortcut."""
    inputs = keras.Input((6, 6, 2))
    outputs = shake_module.shake_shortcut(inputs, 4, 2, name="s")
    model = keras.Model(inputs, outputs)
    for path in (1, 2):
        model.get_layer(f"s_shortcut_conv{path}").set_weights([np.eye(2, dtype="float32")[None, None]])
    x = np.arange(1, 73, dtype="float32").reshape(1, 6, 6, 2)
    x[0, 0, 0, 0] = -5.0  # the ReLU at the shortcut's start
    y = np.asarray(model(x, training=False)) * np.sqrt(1 + 1e-5)  # undo BN's epsilon
    relu_x = np.maximum(x, 0)
    np.testing.assert_allclose(y[..., :2], relu_x[:, ::2, ::2], rtol=1e-5)
    shifted = np.zeros_like(relu_x)
    shifted[:, 1:, 1:] = relu_x[:, :-1, :-1]
    np.testing.assert_allclose(y[..., 2:], shifted[:, ::2, ::2], rtol=1e-5)
    assert np.all(y[0, 0, :, 2:] == 0) and np.all(y[0, :, 0, 2:] == 0)
    assert y[0, 1, 1, 2] == pytest.approx(relu_x[0, 1, 1, 0])


def test_weight_decay_and_name():
    model = reszoo.build("shake_shake", **TINY)
    assert model.name == "shake_shake8_2x8d"
    assert all(w.regularizer.l2 == pytest.approx(1e-4 / 2) for w in model.trainable_weights)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(depth=26.0), "depth must be 6n+2 for a positive integer n (e.g. 8, 14, 20"),
        (dict(depth=27), "Received: depth=27"),
        (dict(width=0), "width must be a positive integer. Received: width=0"),
        (dict(width=7), "width must be a positive even integer"),
        (
            dict(mode="shake"),
            "mode must be one of 'shake_shake', 'shake_even', 'shake_keep', 'even_shake', 'even_even'.",
        ),
        (dict(level="pixel"), "level must be one of 'image', 'batch'. Received: level='pixel'"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError) as err:
        reszoo.build("shake_shake", **kwargs)
    assert message in str(err.value)


# --- the ShakeShake layer ------------------------------------------------------------


def mix_and_gradients(layer, batch=16, training=True):
    """Forward output and branch gradients for branch outputs ones / zeros.

    With first = 1 and second = 0 the output is the forward coefficient alpha,
    and d(sum y)/d first, d(sum y)/d second are the backward coefficients beta, 1 - beta.
    """
    first = tf.ones((batch, 2, 2, 3))
    second = tf.zeros((batch, 2, 2, 3))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([first, second])
        y = layer([first, second], training=training)
        total = tf.reduce_sum(y)
    return np.asarray(y), np.asarray(tape.gradient(total, first)), np.asarray(tape.gradient(total, second))


def per_image(values):
    """One value per image, checking it is constant over each image's positions and channels."""
    flat = values.reshape(values.shape[0], -1)
    np.testing.assert_allclose(flat - flat[:, :1], 0.0, atol=1e-6)  # float32 rounding of the mix
    return flat[:, 0]


def test_inference_is_the_mean_of_the_branches():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 4, 3, 3, 5)).astype("float32")
    for mode in SHAKE_MODES:
        out = np.asarray(ShakeShake(mode)([a, b], training=False))
        np.testing.assert_allclose(out, (a + b) / 2, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(ShakeShake()([a, b])), (a + b) / 2, rtol=1e-6)


def test_training_forward_is_a_convex_combination_per_image():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 8, 4, 4, 3)).astype("float32")
    y = np.asarray(ShakeShake(seed=1)([a, b], training=True))
    # y = b + alpha (a - b) with one alpha per image: least-squares alpha, then the exact fit.
    diff = a - b
    alpha = np.sum((y - b) * diff, axis=(1, 2, 3)) / np.sum(diff * diff, axis=(1, 2, 3))
    np.testing.assert_allclose(y, b + alpha[:, None, None, None] * diff, atol=1e-5)
    assert np.all((alpha >= 0) & (alpha <= 1))
    assert np.ptp(alpha) > 0.1  # differs across the images of the batch
    alpha, _, _ = mix_and_gradients(ShakeShake(seed=3), batch=2000)
    alpha = per_image(alpha)
    assert abs(alpha.mean() - 0.5) < 0.03 and abs(alpha.var() - 1 / 12) < 0.01  # U(0, 1)


def test_gradients_follow_beta_not_alpha():
    y, grad_first, grad_second = mix_and_gradients(ShakeShake("shake_shake", "image", seed=7), batch=512)
    alpha, beta = per_image(y), per_image(grad_first)
    np.testing.assert_allclose(per_image(grad_second), 1 - beta, atol=1e-6)
    assert np.all((beta >= 0) & (beta <= 1)) and np.ptp(beta) > 0.5
    assert np.max(np.abs(alpha - beta)) > 0.5
    assert abs(np.corrcoef(alpha, beta)[0, 1]) < 0.15  # drawn independently


@pytest.mark.parametrize(
    "mode, level, forward, backward",
    [
        ("shake_keep", "image", "random", "alpha"),
        ("shake_even", "image", "random", 0.5),
        ("even_shake", "image", 0.5, "random"),
        ("even_even", "image", 0.5, 0.5),
        ("shake_shake", "batch", "random", "random"),
    ],
)
def test_modes_and_levels(mode, level, forward, backward):
    y, grad_first, grad_second = mix_and_gradients(ShakeShake(mode, level, seed=5), batch=64)
    alpha, beta = per_image(y), per_image(grad_first)
    np.testing.assert_allclose(per_image(grad_second), 1 - beta, atol=1e-6)
    for coefficient, rule in ((alpha, forward), (beta, backward)):
        if rule == "random":
            spread = np.ptp(coefficient)
            assert spread == 0 if level == "batch" else spread > 0.5
        elif rule == "alpha":
            np.testing.assert_allclose(coefficient, alpha, atol=1e-6)
        else:
            np.testing.assert_allclose(coefficient, rule, atol=1e-6)


def test_coefficients_are_redrawn_every_call():
    layer = ShakeShake(seed=11)
    first, _, _ = mix_and_gradients(layer, batch=4)
    second, _, _ = mix_and_gradients(layer, batch=4)
    assert not np.allclose(first, second)


def test_layer_keras_round_trip(tmp_path):
    a = keras.Input((4, 4, 3))
    b = keras.Input((4, 4, 3))
    model = keras.Model([a, b], ShakeShake("shake_even", "batch", seed=3, name="mix")([a, b]))
    path = os.path.join(tmp_path, "mix.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    layer = reloaded.get_layer("mix")
    assert isinstance(layer, ShakeShake)
    assert (layer.mode, layer.level, layer.seed) == ("shake_even", "batch", 3)
    assert layer.get_config() == model.get_layer("mix").get_config()
    rng = np.random.default_rng(4)
    x = [rng.normal(size=(2, 4, 4, 3)).astype("float32") for _ in range(2)]
    np.testing.assert_allclose(np.asarray(reloaded(x)), (x[0] + x[1]) / 2, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(mode="shake_shake_image"), "mode must be one of 'shake_shake'"),
        (dict(mode="keep_shake"), "Received: mode='keep_shake'"),
        (dict(level="pixel"), "level must be one of 'image', 'batch'. Received: level='pixel'"),
    ],
)
def test_layer_bad_arguments(kwargs, message):
    with pytest.raises(ValueError) as err:
        ShakeShake(**kwargs)
    assert message in str(err.value)
