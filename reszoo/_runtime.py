"""Process-wide settings reszoo makes once, at ``import reszoo`` (imported first by ``reszoo/__init__.py``).

Both are documented speed/robustness defaults, kept here so that no build changes global state:

- ``TF_ENABLE_ONEDNN_OPTS=1`` unless the environment already sets it. TensorFlow enables its oneDNN CPU
  kernels by default only on CPUs with AVX-512 VNNI/BF16 or AMX; elsewhere (e.g. AVX2 AMD EPYC) it falls
  back to Eigen kernels built without AVX2/FMA, and training runs 1.6x slower (benchmarks/RESULTS.md,
  section 3). It must be set before TensorFlow is first imported; ``TF_ENABLE_ONEDNN_OPTS=0`` still turns
  it off.
- Python's recursion limit raised to ``DEEP_GRAPH_RECURSION_LIMIT``. Keras walks a functional graph
  recursively (keras/src/ops/function.py, ``_build_map_helper``): a few Python frames per layer, so
  ResNet-1202 / PreAct-1001 (3,000+ layers) overflow the default limit of 1,000 when built, saved as
  ``.keras`` or loaded. Python 3.11+ keeps pure-Python recursion off the C stack, so raising it is safe.
"""

from __future__ import annotations

import os
import sys

DEEP_GRAPH_RECURSION_LIMIT = 100_000


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up lines (oneDNN, CUDA stubs, CPU features, absl) kept off
    the terminal: they go to file descriptor 2 before any Python logging exists, so only a redirection of
    that descriptor during the import silences them (``TF_CPP_MIN_LOG_LEVEL=3`` leaves several). Python
    errors still surface: an import that fails raises as usual. ``--verbose`` skips this."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        # Level 3 also hides the first device probe's "failed call to cuInit" on machines without a GPU.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def configure() -> None:
    """Apply both settings; idempotent (``import reszoo`` runs it once)."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    if sys.getrecursionlimit() < DEEP_GRAPH_RECURSION_LIMIT:
        sys.setrecursionlimit(DEEP_GRAPH_RECURSION_LIMIT)


configure()
