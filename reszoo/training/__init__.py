"""Training as a library: the frozen ``TrainConfig``, its resolution, the backup folder, and the run.

``reszoo.train`` is the command line (``python -m reszoo.train``); tuning and notebooks import from here.

Examples:
    from reszoo.training import TrainConfig, run
    config = TrainConfig.create(model="fast_resnet", dataset="synthetic:64", overrides={"depth": 8}, epochs=1)
    summary = run(config)   # trains, exports, writes summary.json with summary["config"] == config.to_dict()
"""

from __future__ import annotations

from typing import Any

from reszoo.training.backup import Backup
from reszoo.training.config import TrainConfig, resolve


def run(config: TrainConfig) -> dict[str, Any]:
    """Train and export from ``config`` as ``reszoo.train.run`` does; returns the summary."""
    from reszoo import train  # the run's steps still live beside the command line

    return train.run(config)


def __getattr__(name: str):
    """The run's building blocks (``build_training_model``, ``make_callbacks``, ``training_set``, ...), lazily."""
    if name in ("build_training_model", "compile_model", "make_callbacks", "training_set", "load_data", "fit"):
        from reszoo import train

        return getattr(train, name)
    raise AttributeError(f"module 'reszoo.training' has no attribute {name!r}")


__all__ = ["Backup", "TrainConfig", "resolve", "run"]
