"""Train a reszoo model and export it: ``python -m reszoo.train`` (console script ``reszoo-train``).

The defaults reproduce the FastResNet recipe on CIFAR-10 (the seed, Sec. 3.2;
REFERENCE.md): FastResNet-20, 160 epochs, batch 128, SGD with Nesterov momentum
0.9, weight decay 1e-4, lr 0.1, 0.01 from epoch 80, 0.001 from epoch 120
(counted from 0), crop + flip augmentation, per-channel mean/std normalization::

    python -m reszoo.train
    python -m reszoo.train --model resnet110                # He et al.'s recipe, picked from the preset
    python -m reszoo.train --model resnet --set depth=56 --set shortcut=B --recipe he2015
    python -m reszoo.train --model fast_resnet --set depth=8 --dataset synthetic:256 --epochs 2
    python -m reszoo.train --list-recipes

Recipes. ``--recipe NAME`` takes the defaults from a paper's recipe
(``reszoo.recipes``: budget, batch, schedule, weight decay, Nesterov, warm-up,
augmentation, model arguments such as WRN's dropout); explicit flags override
it. The default ``--recipe auto`` takes the recipe of the preset being trained
(``reszoo.presets()[name].recipe``; FastResNet-20's is ``fastresnet``), for a
family name the recipe most of its presets use, and otherwise the FastResNet
schedule with the family's own weight decay (``--recipe none``). When
``--epochs`` differs from the recipe's, the milestones move to the same
fractions of training (80/120 of 160 become 20/30 of 40).

Reliability. Training state is backed up after every epoch (``--backup-dir``,
default ``<export-dir>.backup``; ``keras.callbacks.BackupAndRestore``): a run
that is killed and started again with the same command resumes from the last
completed epoch, with its weights, optimizer state, learning-rate schedule,
history and epoch timings. The export folder appears only when the run is
complete, and the backup goes once it is. A diverging loss stops the run with
exit status 3 and leaves the last good backup. ``--val-split N`` holds out
validation images (``--keep-best`` exports the epoch with the best validation
accuracy); the test split is then evaluated once, at the end. ``--seed`` fixes
weights, data order and augmentation; ``--deterministic`` also makes
TensorFlow's ops deterministic (bit-identical reruns on the same hardware).

Data flows one way: arguments -> recipe -> dataset and model (registry) ->
strategy scope -> ``model.fit`` with callbacks -> export folder. The trained
model is ``raw images -> normalization -> network``, so the export takes 0-255
images. See ``reszoo.export`` for the folder's files. ``summary.json`` records
the resolved arguments, trainable parameters, per-epoch training seconds
(evaluation excluded), images per second, final train / validation / test error
in percent (100 * (1 - accuracy), as the papers report) and library versions.

Training runs on Keras' TensorFlow backend (``tf.distribute`` strategies, SavedModel
export); the models themselves also build and train on JAX.

The code lives in ``reszoo.training``: ``cli`` (these flags), ``config`` (the frozen
``TrainConfig`` and its one resolution), ``loop`` (the run) and ``backup``. This module is
the command line's name and keeps the names earlier versions exported.

Exit status: 0 done; 2 bad arguments, unknown model or missing data, with a
one-line ``error: ...`` before any training starts; 3 training diverged. From
Python, ``run(args)`` raises ``UsageError`` (a ``ValueError``) or
``reszoo.callbacks.DivergenceError`` and returns the summary dict otherwise.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from reszoo.training.choices import DEFAULTS, PRECISION_CHOICES, PRECISIONS
from reszoo.training.cli import (
    DEFAULT_MODEL,
    EXIT_DIVERGED,
    EXIT_USAGE,
    RECIPE_CHOICES,
    STRATEGIES,
    UsageError,
    build_parser,
    main,
    parse_args,
)

# The library's names, loaded on first use (they import TensorFlow; the command line does not need them).
_LIBRARY = {
    "Backup": "reszoo.training.backup",
    "TrainConfig": "reszoo.training.config",
    "epoch_schedule": "reszoo.training.config",
    "resolve": "reszoo.training.config",
    **{
        name: "reszoo.training.loop"
        for name in (
            "build_training_model",
            "compile_model",
            "dataset_tag",
            "default_backup_dir",
            "load_data",
            "make_callbacks",
            "make_strategy",
            "run",
            "training_set",
        )
    },
}


def __getattr__(name: str) -> Any:
    if name in _LIBRARY:
        return getattr(importlib.import_module(_LIBRARY[name]), name)
    raise AttributeError(f"module 'reszoo.train' has no attribute {name!r}")


__all__ = [
    "DEFAULTS",
    "DEFAULT_MODEL",
    "EXIT_DIVERGED",
    "EXIT_USAGE",
    "PRECISIONS",
    "PRECISION_CHOICES",
    "RECIPE_CHOICES",
    "STRATEGIES",
    "UsageError",
    "build_parser",
    "main",
    "parse_args",
    *_LIBRARY,
]

if __name__ == "__main__":
    sys.exit(main())
