"""One set of behavioural checks that every family gets (see STYLE.md, point 9).

``check_model(model)`` runs them all on a small instance of a family:
forward shape and finite probabilities, gradients reaching every trainable
weight, a few SGD steps lowering the loss on a fixed batch, inference being
deterministic (stochastic layers off), ``.keras`` / ``model.export``
round trips reproducing the outputs, and a config round trip
(``get_config`` -> ``from_config``) rebuilding the same architecture.
tests/test_families.py runs them on every registered family's smoke configuration.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

import reszoo


def fixed_batch(input_shape=(32, 32, 3), num_classes=10, batch=8, seed=0, pixels=False):
    """Random images (N(0, 1), or uniform 0-255 ``pixels`` for models that normalise themselves) and labels."""
    rng = np.random.default_rng(seed)
    if pixels:
        images = rng.uniform(0, 255, size=(batch, *input_shape)).astype("float32")
    else:
        images = rng.normal(size=(batch, *input_shape)).astype("float32")
    labels = rng.integers(0, num_classes, size=(batch,)).astype("int32")
    return images, labels


def check_forward(model, images, num_classes):
    probs = np.asarray(model(images, training=False))
    assert probs.shape == (images.shape[0], num_classes)
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-4)
    return probs


def check_gradients_reach_every_weight(model, images, labels):
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(labels, model(images, training=True))
    grads = tape.gradient(loss, model.trainable_weights)
    missing = [w.path for w, g in zip(model.trainable_weights, grads, strict=True) if g is None]
    assert not missing, f"no gradient reaches {missing[:5]}"


def check_training_reduces_loss(model, images, labels, steps=10, lr=0.05):
    """Training-mode loss on one fixed batch falls over a few SGD steps."""
    # No XLA: compiling a 250-layer graph takes longer than the steps themselves.
    model.compile(
        optimizer=keras.optimizers.SGD(lr, momentum=0.9), loss="sparse_categorical_crossentropy", jit_compile=False
    )
    losses = [float(np.asarray(model.train_on_batch(images, labels)).ravel()[0]) for _ in range(steps)]
    assert np.mean(losses[-3:]) < losses[0], f"loss did not fall: {losses}"


def check_deterministic_inference(model, images):
    first = np.asarray(model(images, training=False))
    second = np.asarray(model.predict(images, verbose=0))
    np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-6)
    return first


def check_round_trips(model, images, tmp_path, atol=1e-5):
    expected = np.asarray(model(images, training=False))
    keras_path = os.path.join(tmp_path, "model.keras")
    model.save(keras_path)
    reloaded = keras.models.load_model(keras_path)
    np.testing.assert_allclose(np.asarray(reloaded(images, training=False)), expected, atol=atol)
    assert reszoo.trainable_params(reloaded) == reszoo.trainable_params(model)

    export_dir = os.path.join(tmp_path, "export")
    model.export(export_dir, verbose=False)
    served = tf.saved_model.load(export_dir)
    np.testing.assert_allclose(np.asarray(served.serve(tf.constant(images))), expected, atol=atol)


def architecture(model):
    """Layer names and classes, nested models included, and the weights' paths and shapes."""
    layers = [(layer.name, type(layer).__name__) for layer in model._flatten_layers(include_self=False)]
    return layers, [(w.path, tuple(w.shape)) for w in model.weights]


def check_config_round_trip(model, images, atol=1e-5):
    """``to_json`` -> ``model_from_json`` rebuilds the same layers, weights and regularisers; with the
    original weights set it computes the same outputs."""
    rebuilt = keras.models.model_from_json(model.to_json())
    assert type(rebuilt) is type(model)
    assert architecture(rebuilt) == architecture(model)
    assert reszoo.trainable_params(rebuilt) == reszoo.trainable_params(model)
    assert len(rebuilt.losses) == len(model.losses)  # weight decay survives the config
    rebuilt.set_weights(model.get_weights())
    expected = np.asarray(model(images, training=False))
    np.testing.assert_allclose(np.asarray(rebuilt(images, training=False)), expected, atol=atol)


def check_model(model, tmp_path, *, num_classes=10, batch=8, train=True):
    """All of the above on one model (build it small: these run in CI)."""
    input_shape = tuple(model.input_shape[1:])
    images, labels = fixed_batch(input_shape, num_classes, batch)
    check_forward(model, images, num_classes)
    check_deterministic_inference(model, images)
    check_gradients_reach_every_weight(model, images, labels)
    check_round_trips(model, images, str(tmp_path))
    check_config_round_trip(model, images)
    if train:
        check_training_reduces_loss(model, images, labels)
