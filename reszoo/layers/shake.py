"""The Shake-Shake combination of two residual branches (Gastaldi 2017, Sec. 2).

Written with ``keras.ops`` / ``keras.random`` only, so it runs on every Keras
backend: the different forward and backward coefficients come from
``keras.ops.stop_gradient`` rather than a backend-specific custom gradient.
"""

from __future__ import annotations

import keras
from keras import ops

from reszoo import _checks

# The paper's Table 1 names a rule as <forward pass>-<backward pass>:
# "shake" draws a new coefficient, "even" uses 0.5, "keep" (backward only)
# reuses the forward pass's coefficient.
SHAKE_MODES: dict[str, tuple[str, str]] = {
    "shake_shake": ("shake", "shake"),
    "shake_even": ("shake", "even"),
    "shake_keep": ("shake", "keep"),
    "even_shake": ("even", "shake"),
    "even_even": ("even", "even"),
}
# "image": one coefficient per image of the mini-batch; "batch": one per mini-batch.
SHAKE_LEVELS = ("image", "batch")


def check_shake_mode(mode: str) -> str:
    return _checks.check_choice("mode", mode, SHAKE_MODES)


def check_shake_level(level: str) -> str:
    return _checks.check_choice("level", level, SHAKE_LEVELS)


@keras.saving.register_keras_serializable(package="reszoo")
class ShakeShake(keras.layers.Layer):
    """Stochastic affine combination of two branch outputs (Gastaldi 2017, eq. 2, Table 1).

    Called on ``[first, second]``. While training the forward pass returns
    ``alpha * first + (1 - alpha) * second`` and the backward pass sends
    ``beta`` / ``1 - beta`` of the incoming gradient to the two branches,
    with alpha and beta drawn independently from U(0, 1) (``mode="shake_shake"``,
    per image with ``level="image"``: the paper's S-S-I, its best CIFAR-10
    rule). This is ``beta_mix + stop_gradient(alpha_mix - beta_mix)``. At
    inference both coefficients are their expectation, 0.5.

    Args:
        mode: str. "<forward>_<backward>" from the paper's Table 1: one of
            "shake_shake", "shake_even", "shake_keep", "even_shake",
            "even_even". Defaults to "shake_shake".
        level: str. "image" (a coefficient per image) or "batch" (one per
            mini-batch). Defaults to "image".
        seed: int or None. Seed of the layer's random coefficients.
    """

    def __init__(self, mode: str = "shake_shake", level: str = "image", seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.mode = check_shake_mode(mode)
        self.level = check_shake_level(level)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _coefficient(self, rule: str, x):
        if rule == "even":
            return ops.cast(0.5, x.dtype)
        rank = len(x.shape)
        shape = (ops.shape(x)[0],) + (1,) * (rank - 1) if self.level == "image" else (1,) * rank
        return keras.random.uniform(shape, seed=self.seed_generator, dtype=x.dtype)

    def call(self, inputs, training=None):
        first, second = inputs
        if not training:
            return 0.5 * (first + second)
        forward_rule, backward_rule = SHAKE_MODES[self.mode]
        alpha = self._coefficient(forward_rule, first)
        forward_mix = second + alpha * (first - second)
        if backward_rule == "keep":
            return forward_mix
        beta = self._coefficient(backward_rule, first)
        backward_mix = second + beta * (first - second)
        return backward_mix + ops.stop_gradient(forward_mix - backward_mix)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "level": self.level, "seed": self.seed}
