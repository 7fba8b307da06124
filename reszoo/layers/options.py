"""The options of one build, read by the conv / BN / dense helpers.

``reszoo.build()`` sets a frozen ``BuildOptions`` in a ``ContextVar`` for the duration of the
builder call (``building(options)``); ``conv``, ``batch_norm``, ``dense`` and the attention blocks
read it with ``current()``. A scoped context instead of arguments because every unit of every family
would otherwise thread ``weight_decay`` and ``fused_bn`` through ~50 signatures. Outside a
``build()`` (a builder called directly) the defaults apply: no weight decay, fused BN. A
``ContextVar`` is per thread / task and restored on exit, so nested or concurrent builds cannot leak
into each other, and nothing global is changed.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import keras


@dataclass(frozen=True)
class BuildOptions:
    """``weight_decay``: L2(weight_decay / 2) on every trainable weight (0: none).
    ``fused_bn``: ``FusedBatchNormalization`` (True) or Keras' own ``BatchNormalization``.
    ``include_top``, ``pooling``, ``input_tensor``: keras.applications' head and input arguments,
    read by ``reszoo.models.common.model_inputs`` / ``finish`` (checked by ``reszoo.build``)."""

    weight_decay: float = 0.0
    fused_bn: bool = True
    include_top: bool = True
    pooling: str | None = None
    input_tensor: Any = None

    def regularizer(self) -> keras.regularizers.Regularizer | None:
        """L2(wd / 2), whose gradient is Torch SGD's ``wd * w``; None without weight decay."""
        return keras.regularizers.L2(self.weight_decay / 2) if self.weight_decay else None


# What a builder called directly (not through reszoo.build()) gets. Frozen, so a shared default is safe.
DEFAULT_OPTIONS = BuildOptions()
_CURRENT: contextvars.ContextVar[BuildOptions] = contextvars.ContextVar("reszoo_build_options", default=DEFAULT_OPTIONS)


def current() -> BuildOptions:
    """The options of the build in progress (the defaults outside ``reszoo.build()``)."""
    return _CURRENT.get()


@contextlib.contextmanager
def building(options: BuildOptions) -> Iterator[BuildOptions]:
    """Make ``options`` current for the helpers while the ``with`` block builds a model."""
    token = _CURRENT.set(options)
    try:
        yield options
    finally:
        _CURRENT.reset(token)
