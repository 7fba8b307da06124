"""Training as a library: the frozen ``TrainConfig``, its resolution, the run and the backup folder.

- ``config``: ``TrainConfig`` and ``resolve`` (flags, else the recipe, else the defaults; once).
- ``loop``: data, model, compile, callbacks, ``model.fit``, metrics and export of a config.
- ``backup``: the backup folder a killed run resumes from.
- ``cli``: the flags of ``python -m reszoo.train``; ``reszoo.train`` is its name.

Examples:
    from reszoo.training import TrainConfig, run
    config = TrainConfig.create(model="fast_resnet", dataset="synthetic:64", overrides={"depth": 8}, epochs=1)
    summary = run(config)   # trains, exports, writes summary.json with summary["config"] == config.to_dict()
"""

from __future__ import annotations

from reszoo.training.backup import Backup
from reszoo.training.config import TrainConfig, resolve
from reszoo.training.loop import run

__all__ = ["Backup", "TrainConfig", "resolve", "run"]
