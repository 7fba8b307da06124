"""The registered families' names as plain data: no TensorFlow or Keras import.

``reszoo.registry`` learns its families when ``reszoo.models`` is imported, and the model modules import
Keras (and so TensorFlow, ~5 s). A command line that only needs the names reads them here and answers a bad
flag at once: ``python -m reszoo.tune --family foo`` says whether ``foo`` is a family without a search
space or no family at all. ``tests/test_cli_startup.py`` checks that this is ``registry.families()``, in
its order, so a new family adds its name here too.
"""

from __future__ import annotations

FAMILIES: tuple[str, ...] = (
    "resnet",
    "preact_resnet",
    "fast_resnet",
    "attention",
    "densenet",
    "efficientnet",
    "pyramidnet",
    "resnext",
    "ror",
    "shake_shake",
    "wrn",
)
