"""reszoo: a Keras 3 zoo of deep residual networks for CIFAR-style image classification.

Public API: ``build``, ``list_models``, ``trainable_params``, ``load``.
"""

from __future__ import annotations

import math

# First: sets TF_ENABLE_ONEDNN_OPTS before TensorFlow is imported, and the recursion limit (see its docstring).
from reszoo import _runtime  # noqa: F401  # isort: skip

from reszoo import models as _models  # noqa: F401  (registers the families)
from reszoo.registry import build, list_models, presets

__version__ = "0.1.0"


def trainable_params(model) -> int:
    """Number of trainable parameters: what the papers count (Keras' ``count_params``
    also counts BatchNormalization's moving statistics)."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def load(export_dir):
    """Load an exported model as a ``reszoo.predict.Predictor``."""
    from reszoo.predict import Predictor

    return Predictor(export_dir)


__all__ = ["build", "list_models", "load", "presets", "trainable_params", "__version__"]
