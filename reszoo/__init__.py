"""reszoo: a Keras 3 zoo of deep residual networks for CIFAR-style image classification.

Public API: ``build``, ``list_models``, ``trainable_params``, ``load``.
"""

from __future__ import annotations

import math
import os

# TensorFlow enables its oneDNN CPU kernels by default only on CPUs with AVX-512 VNNI/BF16 or AMX;
# elsewhere (e.g. AVX2 AMD EPYC) it falls back to Eigen kernels built without AVX2/FMA, and training
# runs 1.6x slower (benchmarks/RESULTS.md, section 3). Must be set before TensorFlow is first imported;
# TF_ENABLE_ONEDNN_OPTS=0 in the environment still turns it off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

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
