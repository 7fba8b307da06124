"""Hyperparameter search for a reszoo family with keras-tuner: ``python -m reszoo.tune``.

Each supported family has a search space written as data (``SPACES``): the
family's own builder arguments (depth, width, alpha, growth rate, cardinality,
unit type, dropout, ...) with valid values only -- depth 6n+2 for basic
ResNet-style units, 9n+2 for bottlenecks, 6n+4 for WRN, 3n+4 / 6n+4 for
DenseNet -- plus the training knobs every family shares (``TRAINING_KNOBS``:
learning rate, weight decay, batch size). The spaces refer to the families' own depth rules and
constants (``reszoo.tune.spaces``). ``FamilyHyperModel`` declares a space
as a ``keras_tuner.HyperModel`` and builds every trial through ``reszoo.build``
and the training library's own data loading, normalization layer, compile step,
learning-rate schedule and callbacks, so a trial trains exactly as
``python -m reszoo.train`` would with the printed command line::

    python -m reszoo.tune --family fast_resnet --max-trials 20 --epochs 15
    python -m reszoo.tune --family wrn --tuner bayesian --max-params 3000000 --dataset cifar100
    python -m reszoo.tune --family pyramidnet --tuner hyperband --epochs 27 --space bottleneck=False
    python -m reszoo.tune --family resnet --space depth=8,14 --space bottleneck=False \\
        --dataset folder:/data/flowers --image-size 64 --max-trials 4 --epochs 3
    python -m reszoo.tune --family densenet --show-space      # print the search space and exit

The objective is the validation accuracy (keras-tuner's ``val_accuracy``, the
best epoch of the trial) on images held out from the *training* split
(``--val-split N``, default 10% of the training images); the test split is never
looked at during the search. ``--space NAME=V1,V2`` narrows one knob of the
space to some of its listed values (ranges: to values inside the range).

Results. At the end a table (trial, status, hyperparameters, epochs, trainable
parameters, validation error %, mean training seconds per epoch, the first
epoch left out when there are others, as ``reszoo.report`` does) is printed and
written to ``results.json`` and ``results.csv`` in the project folder. The best
configuration is then retrained from scratch by ``reszoo.training.loop.run`` on
its ``TrainConfig`` (the trials' own: ``trial_config``), with the same data, epochs,
validation split and seed, so its export folder (default
``<project-dir>/best_trial_<id>``) is exactly a training run's: SavedModel,
``model.keras``, ``summary.json``, ``class_names.json``, ``history.csv``; the
equivalent ``python -m reszoo.train`` command is printed for people, and a rerun whose best is already exported does not retrain.
``--no-export`` skips it. A trial whose loss diverges (a too high learning rate)
is recorded as ``diverged``, not as a failure.

Tuners. ``random`` (default), ``bayesian`` (keras-tuner's Gaussian process; needs
scipy and scikit-learn, ``pip install 'keras-tuner[bayesian]'``) and
``hyperband`` (``--epochs`` is its maximum per trial; it trains its brackets
until they end or ``--max-trials`` trials have run). Trials run on one device,
or under ``MirroredStrategy`` when there are several GPUs.

Parameter budget. ``--max-params N`` rejects a trial whose network has more than
N *trainable* parameters before anything is trained: the count comes from
building the network once on a tiny 8x8 input (trainable counts of these
global-pooling networks do not depend on the input size), cached by
configuration in ``params.json``. A rejected trial raises keras-tuner's
``FailedTrialError``, so it stays in the project (and the table) as
``rejected``; rejected trials do not count towards ``--max-trials`` (the
trials that train do). Constraining the keras-tuner space instead is not
possible: the count depends on several knobs together. keras-tuner's own
``max_model_size`` builds the full training model first and counts BN moving
statistics too, which the papers' counts leave out. A ``--max-params`` below
the space's smallest network is refused up front (the first value of every
knob gives the smallest network).

Resuming. The project folder (``--project-dir``, default
``saved_models/tune-<family>-<dataset>``) is keras-tuner's, opened with
``overwrite=False``: the same command run again continues the search, finished
trials are not rerun, an interrupted trial resumes from its last epoch (its
``reszoo.train`` backup lives in the trial folder), and a higher
``--max-trials`` adds trials. A project of another family, dataset, space, seed
or epoch count is refused.

Exit status: 0 done; 2 bad arguments, unsupported family, missing data, or a
``--max-params`` nothing fits, with one ``error:`` line; 1 when trials keep
failing (three in a row, or every one) for reasons other than the parameter
budget or divergence, with the reason; 3 when the retraining diverged. From
Python, ``run(argv)`` (or ``run_search(parse_args(argv))``) returns the results
and raises ``UsageError`` (``reszoo.cli.UsageError``) or ``SearchError``.

Layout: ``spaces`` (the search spaces as data), ``options`` (the checked
command line, ``SearchOptions``), ``hypermodel`` (trial context, HyperModel,
tuners), ``results`` (the table, results.json, results.csv), ``search`` (one
search from start to end) and ``cli`` (argparse, ``main``).
"""

from __future__ import annotations

import importlib
from typing import Any

from reszoo.cli import UsageError

# The command line and its options import no TensorFlow (``python -m reszoo.tune --help`` answers at once);
# the rest loads on first use, as ``reszoo.tune.<name>`` or ``from reszoo.tune import <name>``.
from reszoo.tune.cli import (
    EXIT_DIVERGED,
    EXIT_FAILED,
    EXIT_USAGE,
    RetrainingDiverged,
    build_parser,
    main,
    parse_args,
    parse_space_item,
    run,
)
from reszoo.tune.options import (
    CONFIG_FILE,
    DEFAULT_EPOCHS,
    DEFAULT_MAX_TRIALS,
    DEFAULT_SEED,
    DEFAULT_VAL_FRACTION,
    EXPORT_FILE,
    PARAMS_FILE,
    TRIAL_BACKUP,
    TUNERS,
    SearchOptions,
)

_LAZY = {
    **dict.fromkeys(
        (
            "COUNT_INPUT_SIZE",
            "MAX_CONSECUTIVE_FAILURES",
            "MAX_CONSECUTIVE_REJECTIONS",
            "TUNER_CLASSES",
            "BayesianTuner",
            "Context",
            "FamilyHyperModel",
            "HyperbandTuner",
            "ParamCounter",
            "RandomTuner",
            "SearchError",
            "SearchStopped",
            "load_bundle",
            "make_tuner",
            "open_trial_backup",
            "trial_config",
        ),
        "reszoo.tune.hypermodel",
    ),
    **dict.fromkeys(
        (
            "RESULTS_CSV",
            "RESULTS_JSON",
            "TRIAL_RECORD",
            "best_row",
            "failure_reason",
            "format_table",
            "read_trial_record",
            "results_rows",
            "trial_status",
            "write_results",
            "write_trial_record",
        ),
        "reszoo.tune.results",
    ),
    **dict.fromkeys(
        (
            "BAYESIAN_NEEDS",
            "RESUME_KEYS",
            "check_budget",
            "check_environment",
            "open_project",
            "resolve_val_split",
            "run_search",
        ),
        "reszoo.tune.search",
    ),
    **dict.fromkeys(
        ("NONE", "SPACES", "TRAINING_KNOBS", "Knob", "SearchSpace", "search_space", "supported_families"),
        "reszoo.tune.spaces",
    ),
}
_SUBMODULES = ("cli", "hypermodel", "options", "results", "search", "spaces")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BAYESIAN_NEEDS",
    "CONFIG_FILE",
    "COUNT_INPUT_SIZE",
    "DEFAULT_EPOCHS",
    "DEFAULT_MAX_TRIALS",
    "DEFAULT_SEED",
    "DEFAULT_VAL_FRACTION",
    "EXIT_DIVERGED",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "EXPORT_FILE",
    "MAX_CONSECUTIVE_FAILURES",
    "MAX_CONSECUTIVE_REJECTIONS",
    "NONE",
    "PARAMS_FILE",
    "RESULTS_CSV",
    "RESULTS_JSON",
    "RESUME_KEYS",
    "SPACES",
    "TRAINING_KNOBS",
    "TRIAL_BACKUP",
    "TRIAL_RECORD",
    "TUNERS",
    "TUNER_CLASSES",
    "BayesianTuner",
    "Context",
    "FamilyHyperModel",
    "HyperbandTuner",
    "Knob",
    "ParamCounter",
    "RandomTuner",
    "RetrainingDiverged",
    "SearchError",
    "SearchOptions",
    "SearchSpace",
    "SearchStopped",
    "UsageError",
    "best_row",
    "build_parser",
    "check_budget",
    "check_environment",
    "failure_reason",
    "format_table",
    "load_bundle",
    "main",
    "make_tuner",
    "open_project",
    "open_trial_backup",
    "parse_args",
    "parse_space_item",
    "read_trial_record",
    "resolve_val_split",
    "results_rows",
    "run",
    "run_search",
    "search_space",
    "supported_families",
    "trial_config",
    "trial_status",
    "write_results",
    "write_trial_record",
]
