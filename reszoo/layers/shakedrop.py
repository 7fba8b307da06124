"""Yamada et al.'s regularizers for PyramidNet's residual branch.

``ShakeDrop`` (Yamada, Iwamura, Akiba, Kise, "ShakeDrop Regularization for Deep
Residual Learning", IEEE Access 2019, eq. 8-10) and the separated stochastic
depth of PyramidSepDrop (Yamada, Iwamura, Kise, "Deep Pyramidal Residual Networks
with Separated Stochastic Depth", 2016). Both sit at the end of the residual
branch, just before the addition.

Written with ``keras.ops`` / ``keras.random`` only, so they run on every Keras
backend: ShakeDrop's different forward and backward multipliers come from
``keras.ops.stop_gradient`` rather than a backend-specific custom gradient.
"""

from __future__ import annotations

import keras
from keras import ops

from reszoo import _checks


def _check_drop_prob(drop_prob) -> float:
    return _checks.check_rate("drop_prob", drop_prob)


def _check_range(arg: str, value) -> tuple[float, float]:
    return _checks.check_range(arg, value)


def _per_image_shape(x):
    """(batch, 1, ..., 1): one random draw per image, broadcast over the rest."""
    return (ops.shape(x)[0],) + (1,) * (len(x.shape) - 1)


@keras.saving.register_keras_serializable(package="reszoo")
class ShakeDrop(keras.layers.Layer):
    """ShakeDrop on a residual branch (Yamada et al. 2019, eq. 8-10, Table 2).

    While training, each image draws a gate ``b ~ Bernoulli(1 - drop_prob)``.
    An open gate (b = 1) passes the branch unchanged; a closed one multiplies it
    by ``alpha ~ U[-1, 1]`` in the forward pass and the gradient by an
    independent ``beta ~ U[0, 1]`` in the backward pass. This is
    ``x * m_beta + stop_gradient(x * m_alpha - x * m_beta)`` with
    ``m = b + (1 - b) * coefficient``. At inference the branch is multiplied by
    the forward multiplier's expectation, ``E[b + (1 - b) alpha] = 1 - drop_prob``
    for the default alpha range.

    In PyramidNet the drop probability of unit l of L is ``d_l = (l / L) * p_L``
    with ``p_L = 0.5`` (the paper's linear decay rule); the model builder sets it.

    Args:
        drop_prob: float in [0, 1). Probability that an image's gate is closed.
        alpha_range: (low, high). Forward coefficient range. Defaults to (-1, 1).
        beta_range: (low, high). Backward coefficient range. Defaults to (0, 1).
        seed: int or None. Seed of the layer's random draws.
    """

    def __init__(
        self,
        drop_prob: float,
        alpha_range: tuple[float, float] = (-1.0, 1.0),
        beta_range: tuple[float, float] = (0.0, 1.0),
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.drop_prob = _check_drop_prob(drop_prob)
        self.alpha_range = _check_range("alpha_range", alpha_range)
        self.beta_range = _check_range("beta_range", beta_range)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def inference_scale(self) -> float:
        """E[b + (1 - b) * alpha] = (1 - d) + d * mean(alpha_range)."""
        return (1.0 - self.drop_prob) + self.drop_prob * sum(self.alpha_range) / 2.0

    def call(self, x, training=None):
        if not training:
            return x * self.inference_scale
        if self.drop_prob == 0.0:
            return x
        shape = _per_image_shape(x)
        draw = keras.random.uniform(shape, seed=self.seed_generator, dtype=x.dtype)
        gate = ops.cast(draw >= self.drop_prob, x.dtype)  # P(open) = 1 - drop_prob
        alpha = keras.random.uniform(shape, *self.alpha_range, seed=self.seed_generator, dtype=x.dtype)
        beta = keras.random.uniform(shape, *self.beta_range, seed=self.seed_generator, dtype=x.dtype)
        forward = x * (gate + (1.0 - gate) * alpha)
        backward = x * (gate + (1.0 - gate) * beta)
        return backward + ops.stop_gradient(forward - backward)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "drop_prob": self.drop_prob,
            "alpha_range": list(self.alpha_range),
            "beta_range": list(self.beta_range),
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="reszoo")
class SeparatedStochasticDepth(keras.layers.Layer):
    """Separated stochastic depth on a widening residual branch (PyramidSepDrop).

    In PyramidNet the branch F(x) is wider than x: its first ``split`` channels
    are added to the identity, the rest to the shortcut's zero padding. Yamada
    et al. (2016) drop these two channel groups with independent Bernoulli gates
    of the same survival probability, instead of dropping the whole branch as
    Huang et al.'s stochastic depth does. At inference the branch is scaled by
    ``survival_prob``, as in stochastic depth.

    Args:
        survival_prob: float in (0, 1]. Probability that a channel group is kept.
        split: int. Number of leading channels that meet the identity (the
            unit's input width); the others form the second group.
        per_sample: bool. One pair of gates per image (True) or per mini-batch
            (False, as Huang et al.'s stochastic depth). Defaults to False.
        seed: int or None. Seed of the layer's random gates.
    """

    def __init__(self, survival_prob: float, split: int, per_sample: bool = False, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        _checks.check_interval("survival_prob", survival_prob, closed_lower=False, closed_upper=True)
        _checks.check_positive_int("split", split)
        self.survival_prob = float(survival_prob)
        self.split = split
        self.per_sample = bool(per_sample)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training:
            return x * self.survival_prob
        if self.survival_prob == 1.0:
            return x
        shape = _per_image_shape(x) if self.per_sample else (1,) * len(x.shape)
        old_gate, new_gate = (
            ops.cast(keras.random.uniform(shape, seed=self.seed_generator, dtype=x.dtype) < self.survival_prob, x.dtype)
            for _ in range(2)
        )
        is_new_channel = ops.cast(ops.arange(x.shape[-1]) >= self.split, x.dtype)
        return x * (old_gate + (new_gate - old_gate) * is_new_channel)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "survival_prob": self.survival_prob,
            "split": self.split,
            "per_sample": self.per_sample,
            "seed": self.seed,
        }
