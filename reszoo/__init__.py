"""reszoo: a Keras 3 zoo of deep residual networks for CIFAR-style image classification.

Public API: ``build``, ``list_models``, ``trainable_params``, ``features``, ``load``.
"""

from __future__ import annotations

import importlib
import math
from typing import Any

# First: sets TF_ENABLE_ONEDNN_OPTS before TensorFlow is imported, and the recursion limit (see its docstring).
from reszoo import _runtime  # noqa: F401  # isort: skip

__version__ = "0.1.0"

# Loaded on first use: ``import reszoo`` imports neither Keras nor TensorFlow, so that the command lines'
# ``--help`` and bad flags answer at once; ``reszoo.build`` imports them (and registers the families).
_LAZY = {
    "build": "reszoo.registry",
    "list_models": "reszoo.registry",
    "presets": "reszoo.registry",
    "features": "reszoo.backbone",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'reszoo' has no attribute {name!r}")


def trainable_params(model) -> int:
    """Number of trainable parameters: what the papers count (Keras' ``count_params``
    also counts BatchNormalization's moving statistics)."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def load(export_dir):
    """Load an exported model as a ``reszoo.predict.Predictor``."""
    from reszoo.predict import Predictor

    return Predictor(export_dir)


__all__ = ["build", "features", "list_models", "load", "presets", "trainable_params", "__version__"]
