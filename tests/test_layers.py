"""Shared layers: ZeroPadShortcut, StochasticDepth, ResizeImages."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from reszoo.layers import StochasticDepth, ZeroPadShortcut
from reszoo.layers.core import ResizeImages


def test_zero_pad_shortcut_subsamples_and_appends_zero_channels():
    x = np.arange(2 * 4 * 4 * 3, dtype="float32").reshape(2, 4, 4, 3)
    y = np.asarray(ZeroPadShortcut(5, stride=2)(x))
    assert y.shape == (2, 2, 2, 5)
    np.testing.assert_array_equal(y[..., :3], x[:, ::2, ::2, :])
    assert not y[..., 3:].any()


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
@pytest.mark.parametrize(("height", "width", "stride"), [(8, 8, 2), (7, 9, 2), (9, 10, 3)])
def test_zero_pad_shortcut_pools_exactly_the_pixels_and_gradient_of_a_strided_slice(dtype, height, width, stride):
    x = tf.cast(tf.random.stateless_normal((2, height, width, 3), seed=(1, 2)), dtype)
    layer = ZeroPadShortcut(7, stride=stride, dtype=dtype)
    assert layer.subsample_by_pooling
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        pooled = layer(x)
        sliced = x[:, ::stride, ::stride, :]
    assert pooled.shape == (2, -(-height // stride), -(-width // stride), 7) == layer.compute_output_shape(x.shape)
    assert pooled.dtype == x.dtype
    np.testing.assert_array_equal(np.asarray(tf.cast(pooled[..., :3], "float32")), tf.cast(sliced, "float32"))
    upstream = tf.cast(tf.random.stateless_normal(pooled.shape, seed=(3, 4)), dtype)
    np.testing.assert_array_equal(
        np.asarray(tf.cast(tape.gradient(pooled, x, upstream), "float32")),
        np.asarray(tf.cast(tape.gradient(sliced, x, upstream[..., :3]), "float32")),
    )


def test_zero_pad_shortcut_average_pooling_ceils_odd_sizes():
    x = np.ones((1, 5, 5, 2), dtype="float32")
    layer = ZeroPadShortcut(4, stride=2, pooling="average")
    y = np.asarray(layer(x))
    assert y.shape == (1, 3, 3, 4) == layer.compute_output_shape((1, 5, 5, 2))
    np.testing.assert_allclose(y[..., :2], 1.0)  # padding excluded from the average


def test_zero_pad_shortcut_refuses_to_shrink_and_bad_pooling():
    with pytest.raises(ValueError, match="cannot shrink 3 channels to 2"):
        ZeroPadShortcut(2)(np.zeros((1, 2, 2, 3), "float32"))
    with pytest.raises(ValueError, match="pooling must be one of 'subsample', 'average'. Received: pooling="):
        ZeroPadShortcut(2, pooling="max")


def test_stochastic_depth_scales_at_inference_and_gates_in_training():
    x = np.ones((64, 2, 2, 1), dtype="float32")
    layer = StochasticDepth(0.75, per_sample=True, seed=1)
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), 0.75)
    gated = np.asarray(layer(x, training=True))[:, 0, 0, 0]
    assert set(np.unique(gated)) == {0.0, 1.0}
    assert 0.5 < gated.mean() < 0.95
    whole_batch = np.asarray(StochasticDepth(0.5, seed=3)(x, training=True))
    assert len(np.unique(whole_batch)) == 1  # the paper's one gate per mini-batch
    with pytest.raises(ValueError, match=r"survival_prob must be in \(0, 1\]"):
        StochasticDepth(0.0)


def test_resize_images_exports_correctly_where_keras_resizing_does_not(tmp_path):
    inputs = keras.Input((4, 4, 2))
    a = keras.layers.BatchNormalization(name="bn_a")(inputs)
    up = ResizeImages(4, 4)(keras.layers.MaxPooling2D(2)(inputs))
    b = keras.layers.BatchNormalization(name="bn_b")(keras.layers.Add()([a, up]))
    model = keras.Model(inputs, b)
    for layer in ("bn_a", "bn_b"):
        for w in model.get_layer(layer).non_trainable_weights:
            w.assign(w.numpy() + 0.5)
    x = np.random.default_rng(0).random((2, 4, 4, 2)).astype("float32")
    model.export(str(tmp_path / "export"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "export"))
    np.testing.assert_allclose(
        np.asarray(served.serve(tf.constant(x))), np.asarray(model(x, training=False)), atol=1e-5
    )
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    assert reloaded.layers[3].get_config()["height"] == 4
