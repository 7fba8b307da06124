"""Training as a library: the frozen ``TrainConfig``, its resolution, the run and the backup folder.

- ``config``: ``TrainConfig`` and ``resolve`` (flags, else the recipe, else the defaults; once).
- ``loop``: data, model, compile, callbacks, ``model.fit``, metrics and export of a config.
- ``backup``: the backup folder a killed run resumes from.
- ``cli``: the flags of ``python -m reszoo.train``; ``reszoo.train`` is its name. ``choices``: its
  choices and defaults as plain data (no TensorFlow import, so ``--help`` answers at once).

The names below load on first use, so that importing ``reszoo.training.cli`` does not import TensorFlow.

Examples:
    from reszoo.training import TrainConfig, run
    config = TrainConfig.create(model="fast_resnet", dataset="synthetic:64", overrides={"depth": 8}, epochs=1)
    summary = run(config)   # trains, exports, writes summary.json with summary["config"] == config.to_dict()
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "Backup": "reszoo.training.backup",
    "TrainConfig": "reszoo.training.config",
    "resolve": "reszoo.training.config",
    "run": "reszoo.training.loop",
}
__all__ = ["Backup", "TrainConfig", "resolve", "run"]


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    if name in ("backup", "choices", "cli", "config", "loop"):
        return importlib.import_module(f"reszoo.training.{name}")
    raise AttributeError(f"module 'reszoo.training' has no attribute {name!r}")
