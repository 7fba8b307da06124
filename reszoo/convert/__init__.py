"""Pretrained CIFAR weights: pytorchcv's checkpoints as reszoo models, and weights from one model to another.

``from_pytorchcv(name, weights_file=None)`` converts a pytorchcv CIFAR-10/100 checkpoint into the
reszoo model of the same architecture (raw 0-255 images in, probabilities out); ``entries()`` is the
weights table; ``init_from(model, source)`` copies weights by layer name from an export, a ``.keras``
or ``.weights.h5`` file or ``pytorchcv:NAME`` (fine-tuning). ``python -m reszoo.convert`` is the
command line. torch and pytorchcv (``pip install -e ".[convert]"``) are imported only when a
checkpoint is read.
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use, as in ``reszoo`` itself: ``python -m reszoo.convert --help`` and a bad flag answer without
# importing Keras and TensorFlow (``reszoo.convert.cli`` imports this package first).
_LAZY = {
    **dict.fromkeys(
        (
            "CLASS_NAMES",
            "PYTORCHCV_MEAN",
            "PYTORCHCV_STD",
            "Conversion",
            "Entry",
            "WeightsUnavailableError",
            "convert",
            "entries",
            "entry",
            "from_pytorchcv",
            "normalization_layer",
            "read_checkpoint",
        ),
        "reszoo.convert.pytorchcv",
    ),
    **dict.fromkeys(("init_from", "load_weights"), "reszoo.convert.transfer"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CLASS_NAMES",
    "PYTORCHCV_MEAN",
    "PYTORCHCV_STD",
    "Conversion",
    "Entry",
    "WeightsUnavailableError",
    "convert",
    "entries",
    "entry",
    "from_pytorchcv",
    "init_from",
    "load_weights",
    "normalization_layer",
    "read_checkpoint",
]
