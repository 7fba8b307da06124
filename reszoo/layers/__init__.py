"""Small serializable layers and block helpers shared by the families."""

from reszoo.layers.attention import ChannelPool, apply_attention, cbam, squeeze_excitation
from reszoo.layers.core import (
    BN_EPSILON,
    BN_MOMENTUM,
    StochasticDepth,
    ZeroPadShortcut,
    batch_norm,
    bn_relu,
    classifier,
    conv,
    he_normal,
    linear_survival,
    relu,
)
from reszoo.layers.fused_bn import FusedBatchNormalization
from reszoo.layers.shake import SHAKE_LEVELS, SHAKE_MODES, ShakeShake

__all__ = [
    "BN_EPSILON",
    "BN_MOMENTUM",
    "ChannelPool",
    "FusedBatchNormalization",
    "SHAKE_LEVELS",
    "SHAKE_MODES",
    "ShakeShake",
    "StochasticDepth",
    "ZeroPadShortcut",
    "apply_attention",
    "batch_norm",
    "bn_relu",
    "cbam",
    "classifier",
    "conv",
    "he_normal",
    "linear_survival",
    "relu",
    "squeeze_excitation",
]
