"""Is a network with FusedBatchNormalization as exact as one with Keras' BatchNormalization?

For each seed: a pre-activation ResNet (``--depth``, default 8) with random He
weights, one synthetic batch (``--batch-size``, default 8), and the gradient of
its cross-entropy loss (training mode, in a ``tf.function`` as ``fit`` runs it)
computed three ways from the same weights: in float64 with Keras' BN (the
truth), in float32 with Keras' BN, in float32 with reszoo's
``FusedBatchNormalization`` (TensorFlow's fused kernel, what the builders use).
Prints, per seed and float32 network, the relative error ``||g - g64|| /
||g64||`` and the ReLU sign flips: BN outputs whose sign differs from the
float64 network's (ReLU's derivative jumps there, so one flipped activation
moves the gradient by ~1e-3 however small the round-off that flipped it),
with the largest float64 magnitude among them. Writes JSON with ``--out``.

    python benchmarks/fused_bn_exactness.py --seeds 0-7
    TF_ENABLE_ONEDNN_OPTS=0 python benchmarks/fused_bn_exactness.py --seeds 0-7

On 2026-12-03 (TensorFlow 2.21, Keras 3.15.1, 2-core x86 CPU, oneDNN on) both
float32 networks were at ~1e-6 for six of eight seeds; the fused one at 1.0e-3
for seed 0 (one flip, an activation 7e-7 from zero) and Keras' at 8.0e-4 for
seed 1 (one flip, 5e-9 from zero): benchmarks/RESULTS.md, section 3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import reszoo  # noqa: E402  (sets TF_ENABLE_ONEDNN_OPTS=1 unless the environment chose)
from reszoo import bench  # noqa: E402


def parse_seeds(text: str) -> list[int]:
    """``"0-5"`` or ``"0,3,7"`` -> a list of seeds."""
    if "-" in text:
        first, last = (int(v) for v in text.split("-", 1))
        return list(range(first, last + 1))
    return [int(v) for v in text.split(",")]


def network_gradient(model, images, labels) -> np.ndarray:
    import keras
    import tensorflow as tf

    @tf.function
    def gradient(x):
        with tf.GradientTape() as tape:
            predictions = model(x, training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, predictions))
        return tape.gradient(loss, model.trainable_weights)

    grads = gradient(tf.constant(images.astype(model.dtype)))
    return np.concatenate([g.numpy().astype("float64").ravel() for g in grads])


def float64_copy(model, depth: int):
    """The same network and weights in float64, with Keras' BatchNormalization (the fused kernel is float32)."""
    import keras

    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy("float64")
    try:
        exact = bench.with_keras_batch_norm(reszoo.build("preact_resnet", depth=depth))
    finally:
        keras.config.set_dtype_policy(previous)
    exact.set_weights([w.astype("float64") for w in model.get_weights()])
    return exact


def batch_norm_outputs(model, images) -> list[np.ndarray]:
    """Every BN layer's training-mode output (what the following ReLU sees)."""
    import keras
    import tensorflow as tf

    names = [layer.name for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    probe = keras.Model(model.input, [model.get_layer(name).output for name in names])
    outputs = tf.function(lambda x: probe(x, training=True))(tf.constant(images.astype(model.dtype)))
    return [o.numpy().astype("float64") for o in outputs]


def sign_flips(outputs, exact_outputs) -> tuple[int, float]:
    """How many BN outputs differ in sign from the float64 network's, and the largest |float64 value| among them."""
    flips, largest = 0, 0.0
    for ours, exact in zip(outputs, exact_outputs, strict=True):
        flipped = (ours > 0) != (exact > 0)
        flips += int(flipped.sum())
        if flipped.any():
            largest = max(largest, float(np.abs(exact[flipped]).max()))
    return flips, largest


def check_seed(seed: int, depth: int, batch_size: int) -> dict:
    import keras

    keras.utils.set_random_seed(seed)
    fused = reszoo.build("preact_resnet", depth=depth)  # FusedBatchNormalization
    networks = {"keras_bn": bench.with_keras_batch_norm(fused), "fused_bn": fused}
    exact = float64_copy(fused, depth)
    images, labels = bench.synthetic_batches(batch_size, count=1, seed=seed)[0]
    truth = network_gradient(exact, images, labels)
    exact_outputs = batch_norm_outputs(exact, images)
    row: dict = {"seed": seed}
    for name, model in networks.items():
        error = np.linalg.norm(network_gradient(model, images, labels) - truth) / np.linalg.norm(truth)
        flips, largest = sign_flips(batch_norm_outputs(model, images), exact_outputs)
        row[name] = {"error": float(error), "sign_flips": flips, "largest_flipped": largest}
    return row


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0-5", help="a range 0-5 or a list 0,3 (default 0-5)")
    parser.add_argument("--depth", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    rows = [check_seed(seed, args.depth, args.batch_size) for seed in parse_seeds(args.seeds)]
    result = {
        "depth": args.depth,
        "batch_size": args.batch_size,
        "onednn": bench.onednn_enabled(),
        "rows": rows,
        "machine": bench.machine_info(),
    }
    print(f"relative gradient error against float64 (oneDNN {'on' if result['onednn'] else 'off'})")
    print("seed  keras_bn error  flips  fused_bn error  flips")
    for row in rows:
        keras_bn, fused_bn = row["keras_bn"], row["fused_bn"]
        print(
            f"{row['seed']:>4}  {keras_bn['error']:14.1e}  {keras_bn['sign_flips']:5d}"
            f"  {fused_bn['error']:14.1e}  {fused_bn['sign_flips']:5d}"
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
