"""Channel and spatial attention on a residual branch: SE and CBAM.

Both are applied to the residual branch just before the addition, as the SE
paper (Hu et al. 2018, Fig. 3) and CBAM (Woo et al. 2018, Fig. 3) place them.
"""

from __future__ import annotations

import keras
from keras import ops

from reszoo import _checks
from reszoo.layers import options
from reszoo.layers.core import batch_norm, dense, he_normal

ATTENTION_KINDS = (None, "se", "cbam")


def check_attention(attention: str | None) -> str | None:
    return _checks.check_choice("attention", attention, ATTENTION_KINDS)


def apply_attention(x, attention: str | None, *, name: str, reduction: int = 16):
    """Dispatch on the ``attention`` option of the residual families."""
    if attention == "se":
        return squeeze_excitation(x, reduction=reduction, name=f"{name}_se")
    if attention == "cbam":
        return cbam(x, reduction=reduction, name=f"{name}_cbam")
    return x


def _hidden_units(channels: int, reduction: int) -> int:
    return max(channels // reduction, 1)


def squeeze_excitation(x, *, reduction: int = 16, name: str):
    """SE block: GAP, FC(C/r)-ReLU-FC(C)-sigmoid, channel-wise scaling."""
    channels = x.shape[-1]
    s = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    s = dense(_hidden_units(channels, reduction), activation="relu", name=f"{name}_reduce")(s)
    s = dense(channels, activation="sigmoid", name=f"{name}_expand")(s)
    return keras.layers.Multiply(name=f"{name}_scale")([x, s])


@keras.saving.register_keras_serializable(package="reszoo")
class ChannelPool(keras.layers.Layer):
    """Mean and max over the channel axis, concatenated: (N, H, W, 2)."""

    def call(self, x):
        return ops.concatenate([ops.mean(x, axis=-1, keepdims=True), ops.max(x, axis=-1, keepdims=True)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2)


def cbam(x, *, reduction: int = 16, name: str, spatial_kernel: int = 7):
    """CBAM: channel attention (shared MLP over avg- and max-pooled descriptors),
    then spatial attention (7x7 conv + BN over channel-wise mean and max)."""
    channels = x.shape[-1]
    reduce = dense(_hidden_units(channels, reduction), activation="relu", name=f"{name}_mlp_reduce")
    expand = dense(channels, name=f"{name}_mlp_expand")
    avg = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_avg")(x)
    mx = keras.layers.GlobalMaxPooling2D(keepdims=True, name=f"{name}_max")(x)
    channel_logits = keras.layers.Add(name=f"{name}_channel_add")([expand(reduce(avg)), expand(reduce(mx))])
    channel_gate = keras.layers.Activation("sigmoid", name=f"{name}_channel_gate")(channel_logits)
    x = keras.layers.Multiply(name=f"{name}_channel_scale")([x, channel_gate])

    pooled = ChannelPool(name=f"{name}_channel_pool")(x)
    spatial = keras.layers.Conv2D(
        1,
        spatial_kernel,
        padding="same",
        use_bias=False,
        kernel_initializer=he_normal(),
        kernel_regularizer=options.current().regularizer(),
        name=f"{name}_spatial_conv",
    )(pooled)
    spatial = batch_norm(spatial, name=f"{name}_spatial_bn")
    spatial_gate = keras.layers.Activation("sigmoid", name=f"{name}_spatial_gate")(spatial)
    return keras.layers.Multiply(name=f"{name}_spatial_scale")([x, spatial_gate])
