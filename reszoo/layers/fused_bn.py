"""A BatchNormalization that runs TensorFlow's fused kernel while training.

Keras 3 computes BatchNormalization on every backend as separate ops
(``ops.moments`` then ``ops.batch_normalization``: a mean, a squared
difference, a second mean, then the affine transform, each with its own
gradient), where tf-keras 2 called TensorFlow's single ``FusedBatchNormV3``
kernel and its single gradient kernel. On a CPU this is a large part of a CIFAR
ResNet's training step (``benchmarks/RESULTS.md`` measures it).

``FusedBatchNormalization`` is ``keras.layers.BatchNormalization`` with the
same arguments, weights (gamma, beta, moving_mean, moving_variance, in that
order), config and moving-statistics rule; only its training-mode forward pass
on the TensorFlow backend calls ``tf.compat.v1.nn.fused_batch_norm``. Every
other case (inference, other backends, masks, renorm, synchronized BN, a
normalised axis that is not the last of a 4-D input, float64) is the parent's
code, so JAX and the exported inference graph are unchanged.

Every reszoo builder uses it (``reszoo.layers.batch_norm``). Numerics
(``tests/test_bench.py``, ``benchmarks/fused_bn_exactness.py``): outputs,
moving statistics and gradients of a layer match Keras' within 1e-5; a whole
network's float32 gradient is within ~1e-6 of the float64 network's, as Keras'
BN network's is, except where an activation within round-off of zero lands on
the other side of it (ReLU's derivative jumps there), which happens to either
layer alike and moves the gradient by ~1e-3.
"""

from __future__ import annotations

import keras


def _tensorflow_backend() -> bool:
    return keras.backend.backend() == "tensorflow"


@keras.saving.register_keras_serializable(package="reszoo")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` using TF's fused kernel in training (see the module docstring).

    Under a mixed policy the kernel takes the bfloat16 / float16 activations as they are (its statistics,
    scale and offset are float32 inside it), where Keras' BN casts them to float32 first: two casts and
    a float32 copy of every activation less per BN, forward and backward. ``half_inputs_in_kernel = False``
    is the cast-first behaviour (``bench variants``' ``fused_bn_float32`` measures the two).
    """

    half_inputs_in_kernel = True

    def _fused_applies(self, inputs, training, mask) -> bool:
        return (
            bool(training)
            and self.trainable
            and _tensorflow_backend()
            and mask is None
            and not self.renorm
            and not self.synchronized
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and self.scale
            and self.center
            # The kernel takes float32 (and the half types, cast up below), not float64.
            and keras.backend.standardize_dtype(inputs.dtype) in ("float32", "float16", "bfloat16")
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        # Imported here: this path runs only on the TensorFlow backend.
        import tensorflow as tf

        half = inputs.dtype in (tf.float16, tf.bfloat16)
        x = tf.cast(inputs, "float32") if half and not self.half_inputs_in_kernel else inputs
        outputs, batch_mean, batch_variance = tf.compat.v1.nn.fused_batch_norm(
            x,
            tf.cast(self.gamma, "float32"),  # float32 for half inputs too (the kernel's U type)
            tf.cast(self.beta, "float32"),
            epsilon=self.epsilon,
            data_format="NHWC",
            is_training=True,
        )
        # The kernel normalises with the biased batch variance but returns the
        # unbiased one (times n / (n - 1)); Keras' moving variance averages the
        # biased one, so undo the correction to keep the parent's statistics.
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), batch_variance.dtype)
        biased_variance = batch_variance * (count - 1.0) / tf.maximum(count, 1.0)
        momentum = tf.cast(self.momentum, batch_variance.dtype)
        self.moving_mean.assign(self.moving_mean * momentum + batch_mean * (1.0 - momentum))
        self.moving_variance.assign(self.moving_variance * momentum + biased_variance * (1.0 - momentum))
        return tf.cast(outputs, self.compute_dtype)
