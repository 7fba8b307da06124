"""What ``python -m reszoo.bench``'s flags may be, as plain data: no Keras or TensorFlow import.

The parser needs these names before any benchmark runs, so that ``--help`` and a bad flag answer at once;
the modules that use them (``timing``, ``variants``, ``profile``, ``envs``, ``machine``) import them from here.
"""

from __future__ import annotations

import argparse

from reszoo.training.choices import PRECISIONS  # reszoo.train --precision

# bench variants: reszoo's fused BN, Keras' own BN, XLA, and no BN at all (the ceiling of a BN speed-up).
VARIANTS = ("keras_bn", "fused_bn", "fused_bn_float32", "strided_slice_shortcut", "xla", "fused_bn+xla", "no_bn")
PROFILE_VARIANTS = ("keras_bn", "fused_bn", "no_bn")
# bench units / bench fit: the keys of ``units.UNIT_KINDS`` (pre-activation ResNet, FastResNet types 1 and 2).
UNIT_KIND_NAMES = ("resnet", "fast_type1", "fast_type2")


__all__ = ["PRECISIONS", "PROFILE_VARIANTS", "UNIT_KIND_NAMES", "VARIANTS", "WrongBackendError", "parse_environment"]


class WrongBackendError(RuntimeError):
    """A TensorFlow-only command run on another Keras backend: one ``error:`` line, exit status 1."""


def parse_environment(text: str) -> dict[str, str]:
    """``"TF_ENABLE_ONEDNN_OPTS=1,TF_NUM_INTRAOP_THREADS=2"`` -> a dict; ``"-"`` -> no change."""
    if text.strip() == "-":
        return {}
    pairs = [part.partition("=") for part in text.split(",") if part.strip()]
    if not pairs or any(not sep or not key.strip() for key, sep, _ in pairs):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE[,KEY=VALUE...] or '-'. Received: {text!r}")
    return {key.strip(): value.strip() for key, _, value in pairs}
