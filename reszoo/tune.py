"""Hyperparameter search for a reszoo family with keras-tuner: ``python -m reszoo.tune``.

Each supported family has a search space written as data (``SPACES``): the
family's own builder arguments (depth, width, alpha, growth rate, cardinality,
unit type, dropout, ...) with valid values only -- depth 6n+2 for basic
ResNet-style units, 9n+2 for bottlenecks, 6n+4 for WRN, 3n+4 / 6n+4 for
DenseNet -- plus the training knobs every family shares (``TRAINING_KNOBS``:
learning rate, weight decay, batch size). ``FamilyHyperModel`` declares a space
as a ``keras_tuner.HyperModel`` and builds every trial through ``reszoo.build``
and ``reszoo.train``'s own argument resolution, data loading, normalization
layer, compile step, learning-rate schedule and callbacks, so a trial trains
exactly as ``python -m reszoo.train`` would with the same arguments::

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
configuration is then retrained from scratch by ``reszoo.train.run`` with
``--model FAMILY --set ... --lr ... --weight-decay ... --batch-size ...`` and the
same data, epochs, validation split and seed, so its export folder (default
``<project-dir>/best_trial_<id>``) is exactly a training run's: SavedModel,
``model.keras``, ``summary.json``, ``class_names.json``, ``history.csv``; the
command is printed, and a rerun whose best is already exported does not retrain.
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
Python, ``run(argv)`` returns the results and raises ``reszoo.train.UsageError``
or ``SearchError``.
"""

from __future__ import annotations

import argparse
import ast
import csv
import dataclasses
import importlib.util
import json
import os
import shlex
import shutil
import statistics
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import keras
import keras_tuner as kt

import reszoo
from reszoo import registry, train
from reszoo.callbacks import DivergenceError, read_json, write_json_atomic

TUNERS = ("random", "bayesian", "hyperband")
BAYESIAN_NEEDS = ("scipy", "sklearn")  # keras-tuner's BayesianOptimization imports them (keras-tuner[bayesian])
DEFAULT_VAL_FRACTION = 0.1
DEFAULT_SEED = 0
DEFAULT_EPOCHS = 10
DEFAULT_MAX_TRIALS = 10
# keras-tuner Choice values cannot be None: this string stands for a builder argument's None.
NONE = "none"
# Side of the square input a network is built on to count its parameters (stride 2 twice leaves 2x2).
COUNT_INPUT_SIZE = 8
# Real failures in a row that end the search (keras-tuner's own default limit, which would also count
# rejected and diverged trials and is therefore replaced by ours).
MAX_CONSECUTIVE_FAILURES = 3
# Candidates over --max-params in a row after which the search stops: the space is mostly too big.
MAX_CONSECUTIVE_REJECTIONS = 50
EXIT_FAILED, EXIT_USAGE, EXIT_DIVERGED = 1, train.EXIT_USAGE, train.EXIT_DIVERGED
# Files in the project folder besides keras-tuner's.
CONFIG_FILE, PARAMS_FILE, RESULTS_JSON, RESULTS_CSV, EXPORT_FILE = (
    "tune.json",
    "params.json",
    "results.json",
    "results.csv",
    "export.json",
)
TRIAL_RECORD = "reszoo_trial.json"  # in each trial folder
TRIAL_BACKUP = "train"  # reszoo.train's backup folder inside each trial folder
# What must match for a project folder to be continued.
RESUME_KEYS = ("family", "dataset", "image_size", "val_split", "seed", "epochs", "tuner", "recipe", "space")
UsageError = train.UsageError


class SearchError(RuntimeError):
    """Trials keep failing for reasons other than the parameter budget or divergence."""


class _SearchStopped(Exception):
    """Too many candidates in a row exceeded --max-params: the search ends with what it has."""


# Search spaces as data ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Knob:
    """One hyperparameter of a search space.

    Args:
        name: the keras-tuner name, unique within a space.
        values: the allowed values, listed smallest network first (so the first value of every
            knob gives the space's smallest network). Empty for a log-uniform ``span``.
        span: (low, high) of a float sampled log-uniformly, instead of ``values``.
        arg: the builder argument (or training flag) the knob sets; defaults to ``name``.
            ``None`` for a selector that only switches other knobs on (``when``).
        when: (parent knob, parent values): the knob is active only then (keras-tuner's
            conditional scope).
        training: a training hyperparameter (``--lr``, ``--weight-decay``, ``--batch-size``).
    """

    name: str
    values: tuple[Any, ...] = ()
    span: tuple[float, float] | None = None
    arg: str | None = ""
    when: tuple[str, tuple[Any, ...]] | None = None
    training: bool = False

    @property
    def target(self) -> str | None:
        return self.name if self.arg == "" else self.arg

    def declare(self, hp: kt.HyperParameters):
        """Register the knob in ``hp`` (under its condition); its value, or None when inactive."""
        if self.when is None:
            return self._register(hp)
        parent, parent_values = self.when
        with hp.conditional_scope(parent, list(parent_values)):
            return self._register(hp)

    def _register(self, hp: kt.HyperParameters):
        if self.span is not None:
            return hp.Float(self.name, self.span[0], self.span[1], sampling="log")
        return hp.Choice(self.name, list(self.values))

    def decode(self, value):
        """keras-tuner's stored value as the builder wants it (keras-tuner keeps booleans as 0/1)."""
        if self.span is not None:
            return float(value)
        if isinstance(self.values[0], bool):
            return bool(value)
        return value

    def smallest(self):
        return self.span[0] if self.span is not None else self.values[0]

    def restricted(self, values: tuple[Any, ...]) -> Knob:
        """This knob narrowed to ``values`` (a subset of its values, or values inside its span)."""
        if self.span is not None:
            low, high = self.span
            bad = [v for v in values if not _is_number(v) or not low <= v <= high]
            allowed = f"numbers in [{low:g}, {high:g}]"
            keep = tuple(sorted(float(v) for v in values if v not in bad))
        else:
            bad = [v for v in values if not any(_same(v, allowed) for allowed in self.values)]
            allowed = ", ".join(_show(v) for v in self.values)
            keep = tuple(v for v in self.values if any(_same(v, given) for given in values))
        if bad:
            raise UsageError(
                f"--space {self.name} allows {allowed}. Received: --space {self.name}={','.join(map(_show, values))}"
            )
        return dataclasses.replace(self, values=keep, span=None)

    def describe(self) -> str:
        if self.span is not None:
            text = f"{self.span[0]:g} .. {self.span[1]:g} (log-uniform)"
        else:
            text = ", ".join(_show(v) for v in self.values)
        if self.when:
            text += f"   [when {self.when[0]} = {', '.join(_show(v) for v in self.when[1])}]"
        if self.target not in (self.name, None):
            text += f"   [sets {self.target}]"
        return f"{self.name:<18} {text}"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(a, b) -> bool:
    """Equal and of the same kind (True is not 1 here)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# n units per stage: basic 1, 2, 3, 5, 7, 9, 18 (ResNet-8 ... ResNet-110); bottleneck 1, 2, 3, 5, 6, 12, 18
# (... ResNet-164): the papers' CIFAR depths and small ones for quick searches.
BASIC_DEPTHS = (8, 14, 20, 32, 44, 56, 110)  # 6n+2
BOTTLENECK_DEPTHS = (11, 20, 29, 47, 56, 110, 164)  # 9n+2
RATES = (0.0, 0.1, 0.2, 0.3)
DROP_PATHS = (0.0, 0.1, 0.2, 0.5)  # stochastic depth: the last unit's drop probability
ATTENTION = (NONE, "se", "cbam")


def _with_bottleneck(basic_depths=BASIC_DEPTHS, bottleneck_depths=BOTTLENECK_DEPTHS) -> tuple[Knob, ...]:
    """``bottleneck`` and a depth knob for each unit kind (keras-tuner needs distinct names)."""
    return (
        Knob("bottleneck", (False, True)),
        Knob("depth", basic_depths, when=("bottleneck", (False,))),
        Knob("bottleneck_depth", bottleneck_depths, arg="depth", when=("bottleneck", (True,))),
    )


SPACES: dict[str, tuple[Knob, ...]] = {
    "resnet": (
        *_with_bottleneck(),
        Knob("shortcut", ("A", "B")),
        Knob("dropout", RATES),
        Knob("drop_path", DROP_PATHS),
        Knob("attention", ATTENTION),
    ),
    "preact_resnet": (
        *_with_bottleneck(),
        Knob("unit", ("preact", "no_first_relu", "bn_end", "no_first_relu_bn_end")),
        Knob("shortcut", ("A", "B")),
        Knob("dropout", RATES),
        Knob("drop_path", DROP_PATHS),
        Knob("attention", ATTENTION),
    ),
    "fast_resnet": (
        Knob("depth", BASIC_DEPTHS),
        Knob("unit_type", (2, 1)),  # type 2 has fewer BN parameters
        Knob("shortcut", ("A", "B")),
        Knob("dropout", RATES),
        Knob("drop_path", DROP_PATHS),
        Knob("attention", ATTENTION),
    ),
    "wrn": (
        Knob("depth", (10, 16, 22, 28, 40)),  # 6n+4
        Knob("width", (1, 2, 4, 8, 10)),
        Knob("dropout", RATES),
        Knob("drop_path", DROP_PATHS),
        Knob("attention", ATTENTION),
    ),
    "pyramidnet": (
        *_with_bottleneck(BASIC_DEPTHS, (11, 20, 29, 56, 110, 164, 200, 236, 272)),
        Knob("alpha", (12, 24, 48, 84, 150, 200, 270)),
        Knob("branch_drop", (NONE, "shakedrop", "sepdrop"), arg=None),
        Knob("shakedrop", (0.1, 0.3, 0.5), when=("branch_drop", ("shakedrop",))),
        Knob("sepdrop", (0.1, 0.3, 0.5), when=("branch_drop", ("sepdrop",))),
    ),
    "densenet": (
        *_with_bottleneck((7, 13, 22, 40, 100), (10, 16, 28, 40, 100, 190, 250)),  # 3n+4, 6n+4
        Knob("growth_rate", (8, 12, 16, 24, 32, 40)),
        Knob("compression", (0.5, 1.0)),
        Knob("dropout", (0.0, 0.2)),
    ),
    "resnext": (
        Knob("depth", (11, 20, 29)),  # 9n+2
        Knob("cardinality", (2, 4, 8, 16, 32)),
        Knob("bottleneck_width", (4, 8, 16, 32, 64)),
    ),
    "shake_shake": (
        Knob("depth", (8, 14, 20, 26, 32)),  # 6n+2
        Knob("width", (16, 32, 64, 96, 112)),  # even
        Knob("mode", ("shake_shake", "shake_even", "shake_keep", "even_shake", "even_even")),
        Knob("level", ("image", "batch")),
    ),
}

# Shared by every family: each sets the reszoo.train flag of its name (lr -> --lr).
TRAINING_KNOBS: tuple[Knob, ...] = (
    Knob("lr", span=(0.01, 0.4), training=True),
    Knob("weight_decay", span=(5e-5, 1e-3), training=True),
    Knob("batch_size", (64, 128, 256), training=True),
)


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """A family's knobs and the shared training knobs."""

    family: str
    knobs: tuple[Knob, ...]

    def declare(self, hp: kt.HyperParameters) -> dict[str, Any]:
        """Register every knob in ``hp``; the active values, decoded."""
        for knob in self.knobs:
            knob.declare(hp)
        return self.decode(hp.values)

    def decode(self, stored: dict[str, Any]) -> dict[str, Any]:
        """keras-tuner values (active ones; ``tuner/...`` entries dropped) as the builders want them."""
        return {k.name: k.decode(stored[k.name]) for k in self.knobs if k.name in stored}

    def builder_kwargs(self, values: dict[str, Any]) -> dict[str, Any]:
        """``reszoo.build`` keyword arguments of a configuration ("none" -> None; selectors dropped)."""
        return {
            k.target: None if values[k.name] == NONE else values[k.name]
            for k in self.knobs
            if k.name in values and k.target and not k.training
        }

    def training_values(self, values: dict[str, Any]) -> dict[str, Any]:
        return {k.name: values[k.name] for k in self.knobs if k.training and k.name in values}

    def smallest(self, **overrides: Any) -> dict[str, Any]:
        """The first value of every active knob: the smallest network; ``overrides`` replace some values."""
        values: dict[str, Any] = {}
        for knob in self.knobs:
            if knob.when is None or any(_same(values.get(knob.when[0]), v) for v in knob.when[1]):
                values[knob.name] = overrides.get(knob.name, knob.smallest())
        return values

    def model_configurations(self) -> Iterator[dict[str, Any]]:
        """Every combination of the active architecture knobs (training knobs at their first value)."""
        yield from self._combinations(0, {})

    def _combinations(self, index: int, values: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if index == len(self.knobs):
            yield dict(values)
            return
        knob = self.knobs[index]
        active = knob.when is None or any(_same(values.get(knob.when[0]), v) for v in knob.when[1])
        if not active:
            yield from self._combinations(index + 1, values)
            return
        for value in (knob.smallest(),) if knob.training else knob.values:
            yield from self._combinations(index + 1, {**values, knob.name: value})

    def restricted(self, narrowed: dict[str, tuple[Any, ...]]) -> SearchSpace:
        """The space with some knobs narrowed (``--space``)."""
        names = [k.name for k in self.knobs]
        unknown = sorted(set(narrowed) - set(names))
        if unknown:
            raise UsageError(
                f"--space names a knob {self.family} does not have: {', '.join(unknown)}. "
                f"Its knobs: {', '.join(names)}."
            )
        knobs = tuple(k.restricted(narrowed[k.name]) if k.name in narrowed else k for k in self.knobs)
        return SearchSpace(self.family, knobs)

    def description(self) -> dict[str, Any]:
        """The space as JSON-able data (what a project folder must match to be continued)."""
        return {k.name: (list(k.span) if k.span else list(k.values), k.when and list(k.when)) for k in self.knobs}

    def table(self) -> str:
        return "\n".join(
            [f"{self.family} search space (values smallest network first):"] + [k.describe() for k in self.knobs]
        )


def supported_families() -> list[str]:
    return list(SPACES)


def search_space(family: str) -> SearchSpace:
    """The search space of ``family``; ``UsageError`` (a ValueError) for others."""
    if family not in SPACES:
        known = family in registry.families()
        what = "has no search space in reszoo.tune" if known else "is not a reszoo family"
        raise UsageError(f"--family {family!r} {what}. Supported: {', '.join(SPACES)}. Received: --family={family}")
    return SearchSpace(family, SPACES[family] + TRAINING_KNOBS)


# Arguments -----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Raises ``UsageError`` instead of printing usage and exiting (as ``reszoo.train``'s parser)."""

    def error(self, message):
        raise UsageError(message)


def parse_space_item(text: str) -> tuple[str, tuple[Any, ...]]:
    """``"depth=8,14"`` -> ``("depth", (8, 14))``; each value via ``ast.literal_eval``, else a string."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    items = [item.strip() for item in raw.split(",")]
    if not sep or not name.isidentifier() or not all(items):
        raise argparse.ArgumentTypeError(f"expected NAME=V1[,V2...], e.g. depth=8,14. Received: {text!r}")
    return name, tuple(_literal(item) for item in items)


def _set_text(value) -> str:
    """A value as ``--set`` reads it back (``ast.literal_eval``, else the raw string): B, not 'B'."""
    return str(value) if _same(_literal(str(value)), value) else repr(value)


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m reszoo.tune",
        description="Search a reszoo family's hyperparameters with keras-tuner, then retrain and export the best.",
        epilog="Objective: validation accuracy on images held out from the training split. Exit status 2: "
        "bad input; 1: trials keep failing; 3: the retraining diverged.",
    )
    p.add_argument("--family", default="fast_resnet", help=f"one of {', '.join(SPACES)} (default fast_resnet)")
    p.add_argument("--tuner", choices=TUNERS, default="random", help="keras-tuner algorithm (default random)")
    p.add_argument(
        "--max-trials",
        type=int,
        default=DEFAULT_MAX_TRIALS,
        help=f"trials that train ({DEFAULT_MAX_TRIALS}); rejected ones (--max-params) do not count",
    )
    p.add_argument(
        "--epochs", type=int, default=DEFAULT_EPOCHS, help=f"epochs per trial, hyperband's maximum ({DEFAULT_EPOCHS})"
    )
    p.add_argument("--dataset", default="cifar10", help="cifar10 | cifar100 | folder:DIR | synthetic[:N]")
    p.add_argument("--data-dir", default=None, help="tfds data directory (default: tfds' own)")
    p.add_argument("--image-size", type=int, default=None, help="resize images to this square size")
    p.add_argument(
        "--val-split",
        type=int,
        default=None,
        help="training images held out for the objective (default: 10%% of the training split)",
    )
    p.add_argument(
        "--recipe",
        choices=train.RECIPE_CHOICES,
        default="auto",
        help="reszoo.train recipe for everything not searched (momentum, schedule, augmentation...)",
    )
    p.add_argument(
        "--space",
        action="append",
        type=parse_space_item,
        default=[],
        metavar="NAME=V1,V2",
        help="narrow a knob to some of its values, repeatable: --space depth=8,14 --space lr=0.1",
    )
    p.add_argument("--max-params", type=int, default=None, help="reject networks with more trainable parameters")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"tuner, weights, data and hold-out ({DEFAULT_SEED})")
    p.add_argument("--project-dir", default=None, help="keras-tuner folder (saved_models/tune-<family>-<dataset>)")
    p.add_argument("--export-dir", default=None, help="export of the retrained best (<project-dir>/best_trial_<id>)")
    p.add_argument("--no-export", action="store_true", help="do not retrain and export the best configuration")
    p.add_argument("--show-space", action="store_true", help="print the family's search space and exit")
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and check the arguments that need no data; ``UsageError`` on bad input."""
    args = build_parser().parse_args(argv)
    checks = [
        ("max_trials", lambda v: v >= 1, ">= 1"),
        ("epochs", lambda v: v >= 1, ">= 1"),
        ("max_params", lambda v: v is None or v >= 1, ">= 1"),
        ("image_size", lambda v: v is None or v >= 1, ">= 1"),
        ("val_split", lambda v: v is None or v >= 1, ">= 1 (the objective needs validation images)"),
    ]
    for name, ok, allowed in checks:
        value = getattr(args, name)
        if not ok(value):
            flag = "--" + name.replace("_", "-")
            raise UsageError(f"{flag} must be {allowed}. Received: {flag}={value}")
    names = [name for name, _ in args.space]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"--space gives {', '.join(twice)} more than once.")
    args.search_space = search_space(args.family).restricted(dict(args.space))
    args.project_dir = os.path.abspath(
        args.project_dir or os.path.join("saved_models", f"tune-{args.family}-{train.dataset_tag(args.dataset)}")
    )
    args.export_dir = os.path.abspath(args.export_dir) if args.export_dir else None
    return args


# Data and training (reszoo.train's pieces) -----------------------------------------------


def load_bundle(args: argparse.Namespace, *, batch_size: int, augment: str, val_split: int):
    """``reszoo.train.load_data`` with the search's data arguments (the hold-out depends only on the seed)."""
    data_args = argparse.Namespace(
        dataset=args.dataset,
        data_dir=args.data_dir,
        batch_size=batch_size,
        image_size=args.image_size,
        augment=augment,
        val_split=val_split,
        seed=args.seed,
    )
    return train.load_data(data_args)


def train_argv(
    args: argparse.Namespace, space: SearchSpace, values: dict[str, Any], export_dir: str | None = None
) -> list[str]:
    """The ``reszoo.train`` command line of a configuration: trials resolve it, the retraining runs it."""
    argv = ["--model", args.family, "--dataset", args.dataset, "--epochs", str(args.epochs), "--recipe", args.recipe]
    argv += ["--val-split", str(args.val_split), "--seed", str(args.seed)]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    if args.image_size:
        argv += ["--image-size", str(args.image_size)]
    for name, value in space.builder_kwargs(values).items():
        if value is not None:
            argv += ["--set", f"{name}={_set_text(value)}"]
    for name, value in space.training_values(values).items():
        argv += ["--" + name.replace("_", "-"), repr(value)]
    if export_dir:
        argv += ["--export-dir", export_dir]
    return argv


class Context:
    """What every trial shares: the arguments, the data (one bundle per batch size), the strategy and a
    parameter counter."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.space: SearchSpace = args.search_space
        self.strategy = train.make_strategy("auto")  # MirroredStrategy only with several GPUs
        self._bundles: dict[tuple[int, str], Any] = {}
        self.probe = self.bundle(self.space.smallest()["batch_size"], "standard")
        self.counter = ParamCounter(
            os.path.join(args.project_dir, PARAMS_FILE), self.probe.num_classes, self.probe.image_shape[-1]
        )

    def bundle(self, batch_size: int, augment: str):
        """The data batched by ``batch_size``, loaded once per batch size."""
        key = (batch_size, augment)
        if key not in self._bundles:
            self._bundles[key] = load_bundle(
                self.args, batch_size=batch_size, augment=augment, val_split=self.args.val_split
            )
        return self._bundles[key]

    def trial_bundle(self, args: argparse.Namespace):
        return self.bundle(args.batch_size, train.augment.BASE_AUGMENTATION[args.augment])

    def train_argv(self, values: dict[str, Any], export_dir: str | None = None) -> list[str]:
        return train_argv(self.args, self.space, values, export_dir)

    def train_args(self, values: dict[str, Any]) -> argparse.Namespace:
        """Every training argument of a configuration, resolved as ``reszoo.train`` resolves them."""
        given = train.parse_args(self.train_argv(values))
        return train.resolve_everything(given, self.probe.train_size, self.probe.num_classes)


class ParamCounter:
    """Trainable parameters of a configuration, from a network built on a tiny input; cached in a JSON file."""

    def __init__(self, path: str, num_classes: int, channels: int):
        self.path = path
        self.num_classes = num_classes
        self.channels = channels
        self.cache: dict[str, int] = read_json(path, {})

    def count(self, family: str, builder_kwargs: dict[str, Any]) -> int:
        key = json.dumps([family, self.num_classes, self.channels, builder_kwargs], sort_keys=True, default=str)
        if key not in self.cache:
            net = reszoo.build(
                family,
                **builder_kwargs,
                num_classes=self.num_classes,
                input_shape=(COUNT_INPUT_SIZE, COUNT_INPUT_SIZE, self.channels),
            )
            self.cache[key] = reszoo.trainable_params(net)
            del net
            if os.path.isdir(os.path.dirname(self.path)):
                write_json_atomic(self.path, self.cache)
        return self.cache[key]


class FamilyHyperModel(kt.HyperModel):
    """A family's search space as a keras-tuner HyperModel; trials train as ``reszoo.train`` does."""

    def __init__(self, context: Context):
        super().__init__(name=f"reszoo_{context.space.family}")
        self.context = context
        self.space = context.space

    def declare_hyperparameters(self, hp):
        self.space.declare(hp)

    def build(self, hp):
        """raw images -> normalization -> the family's network, compiled with the trial's lr."""
        args = self.context.train_args(self.space.declare(hp))
        model, _ = train.build_training_model(args, self.context.trial_bundle(args))
        train.compile_model(model, args)
        return model

    def fit(self, hp, model, *fit_args, trial_dir: str, callbacks=(), epochs: int, initial_epoch: int = 0, **kwargs):
        """``model.fit`` with reszoo.train's callbacks, backed up in the trial folder; the best epoch's metrics."""
        args = self.context.train_args(self.space.declare(hp))
        bundle = self.context.trial_bundle(args)
        backup = open_trial_backup(trial_dir, args)
        schedule = train.epoch_schedule(args)
        ours, named = train.make_callbacks(args, backup, schedule)
        record = {"params": reszoo.trainable_params(model), "epochs": epochs}
        try:
            model.fit(
                train.training_set(args, bundle, self.context.strategy),
                validation_data=bundle.val,
                epochs=epochs,
                initial_epoch=initial_epoch,
                callbacks=[*ours, *callbacks],
                verbose=1 if sys.stdout.isatty() else 2,
            )
        except DivergenceError as error:
            write_trial_record(trial_dir, status="diverged", reason=str(error), **record)
            raise kt.errors.FailedTrialError(f"diverged: {error}") from None
        _, rows = backup.merged_history()
        seconds = [named["timer"].seconds_by_epoch[e] for e in sorted(named["timer"].seconds_by_epoch)]
        write_trial_record(trial_dir, status="completed", epoch_seconds=seconds, **record)
        shutil.rmtree(backup.checkpoint, ignore_errors=True)  # the weights are kept by keras-tuner
        best = max(rows, key=lambda r: float(r["val_accuracy"]))
        return {"val_accuracy": float(best["val_accuracy"]), "val_loss": float(best["val_loss"])}


def open_trial_backup(trial_dir: str, args: argparse.Namespace) -> train.Backup:
    """reszoo.train's backup folder in the trial folder: an interrupted trial resumes at its last epoch.

    A backup of another configuration (the trial id was given out again by a search that restarted
    from scratch) is stale and removed.
    """
    backup = train.Backup(os.path.join(trial_dir, TRIAL_BACKUP))
    try:
        backup.open(train.run_config(args))
    except UsageError:
        shutil.rmtree(backup.path)
        backup.open(train.run_config(args))
    return backup


def write_trial_record(trial_dir: str, **record) -> None:
    """What the results table needs beyond keras-tuner's trial.json: status, params, epoch seconds, reason."""
    write_json_atomic(os.path.join(trial_dir, TRIAL_RECORD), record)


def read_trial_record(trial_dir: str) -> dict[str, Any]:
    return read_json(os.path.join(trial_dir, TRIAL_RECORD), {})


# The tuner -------------------------------------------------------------------------------


class _ReszooTuning:
    """Mixed into keras-tuner's tuners: the parameter budget, seeds, and failure accounting.

    ``run_trial`` rejects a configuration over ``--max-params`` before building it for training
    (``FailedTrialError``) and gives each trial the same seed. ``on_trial_end`` raises
    ``SearchError`` after ``MAX_CONSECUTIVE_FAILURES`` real failures in a row, and ends the search
    after ``MAX_CONSECUTIVE_REJECTIONS`` rejections in a row; every rejection lets one more trial
    run, so ``--max-trials`` counts the trials that train.
    """

    context: Context
    ran: list[str]

    def setup(self, context: Context) -> None:
        self.context = context
        self.ran = []
        self.consecutive_failures = 0
        self.consecutive_rejections = 0

    def on_search_begin(self):
        super().on_search_begin()
        # keras-tuner writes its tuner file only after a trial ends; without it a search killed during
        # its first trial would start again from scratch instead of resuming that trial.
        self.save()

    def run_trial(self, trial, *fit_args, **fit_kwargs):
        self.ran.append(trial.trial_id)
        context, args = self.context, self.context.args
        values = context.space.decode(trial.hyperparameters.values)
        trial_dir = self.get_trial_dir(trial.trial_id)
        if args.max_params is not None:
            params = context.counter.count(args.family, context.space.builder_kwargs(values))
            if params > args.max_params:
                reason = f"rejected: {params:,} trainable parameters > --max-params {args.max_params:,}"
                write_trial_record(trial_dir, status="rejected", params=params, reason=reason)
                raise kt.errors.FailedTrialError(reason)
        keras.utils.set_random_seed(args.seed)
        return super().run_trial(trial, *fit_args, trial_dir=trial_dir, **fit_kwargs)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        status = trial_status(trial, read_trial_record(self.get_trial_dir(trial.trial_id)))
        if status == "rejected":
            self.oracle.max_trials += 1
            self.consecutive_rejections += 1
            if self.consecutive_rejections >= MAX_CONSECUTIVE_REJECTIONS:
                raise _SearchStopped(
                    f"{MAX_CONSECUTIVE_REJECTIONS} candidates in a row exceeded --max-params "
                    f"{self.context.args.max_params:,}; narrow the space with --space"
                )
            return
        self.consecutive_rejections = 0
        self.consecutive_failures = self.consecutive_failures + 1 if status == "failed" else 0
        if self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
            raise SearchError(
                f"{MAX_CONSECUTIVE_FAILURES} trials in a row failed; the last (trial {trial.trial_id}): "
                f"{failure_reason(trial.message)}"
            )


class RandomTuner(_ReszooTuning, kt.RandomSearch):
    """keras-tuner's random search with reszoo's trials (``_ReszooTuning``)."""


class BayesianTuner(_ReszooTuning, kt.BayesianOptimization):
    """keras-tuner's Bayesian optimization (Gaussian process) with reszoo's trials (``_ReszooTuning``)."""


class HyperbandTuner(_ReszooTuning, kt.Hyperband):
    """keras-tuner's Hyperband with reszoo's trials (``_ReszooTuning``)."""


TUNER_CLASSES = {"random": RandomTuner, "bayesian": BayesianTuner, "hyperband": HyperbandTuner}


def make_tuner(args: argparse.Namespace, context: Context) -> _ReszooTuning:
    """The keras-tuner tuner on the project folder (``overwrite=False``: an existing search continues)."""
    budget = {"max_epochs": args.epochs} if args.tuner == "hyperband" else {"max_trials": args.max_trials}
    tuner = TUNER_CLASSES[args.tuner](
        hypermodel=FamilyHyperModel(context),
        objective=kt.Objective("val_accuracy", direction="max"),
        seed=args.seed,
        # Rejected and diverged trials are FAILED for keras-tuner too; _ReszooTuning counts the real failures.
        max_consecutive_failed_trials=sys.maxsize,
        directory=os.path.dirname(args.project_dir),
        project_name=os.path.basename(args.project_dir),
        overwrite=False,
        distribution_strategy=context.strategy if context.strategy.num_replicas_in_sync > 1 else None,
        **budget,
    )
    tuner.setup(context)
    rejected = sum(row["status"] == "rejected" for row in results_rows(tuner, context.space))
    # Hyperband has no trial budget of its own; --max-trials caps it too. Rejections do not count.
    tuner.oracle.max_trials = args.max_trials + rejected
    return tuner


# Results ---------------------------------------------------------------------------------


def trial_status(trial, record: dict[str, Any]) -> str:
    """completed | rejected | diverged | failed | running."""
    if record.get("status") in ("rejected", "diverged"):
        return record["status"]
    status = str(trial.status).lower()
    return {"invalid": "failed", "idle": "running", "stopped": "running"}.get(status, status)


def failure_reason(message: str | None) -> str:
    """The last line of keras-tuner's stored traceback: the exception and its message."""
    lines = [line.strip() for line in (message or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def results_rows(tuner, space: SearchSpace) -> list[dict[str, Any]]:
    """One row per trial of the project, in trial order."""
    rows = []
    for trial_id, trial in sorted(tuner.oracle.trials.items(), key=lambda item: int(item[0])):
        record = read_trial_record(tuner.get_trial_dir(trial_id))
        status = trial_status(trial, record)
        seconds = record.get("epoch_seconds") or []
        timed = seconds[1:] if len(seconds) > 1 else seconds  # the first epoch includes tracing
        stored = trial.hyperparameters.values
        reason = record.get("reason") or (failure_reason(trial.message) if status == "failed" else None)
        rows.append(
            {
                "trial": trial_id,
                "status": status,
                "hyperparameters": space.decode(stored),
                "epochs": stored.get("tuner/epochs", record.get("epochs")),
                "params": record.get("params"),
                "val_error": 100.0 * (1.0 - trial.score) if status == "completed" and trial.score is not None else None,
                "mean_epoch_seconds": statistics.fmean(timed) if timed else None,
                "reason": reason,
            }
        )
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    header = ["trial", "status", "hyperparameters", "epochs", "params", "val error %", "s/epoch"]
    lines = []
    for row in rows:
        hps = " ".join(f"{k}={_show(v)}" for k, v in row["hyperparameters"].items())
        lines.append(
            [
                row["trial"],
                row["status"],
                hps,
                "" if row["epochs"] is None else str(row["epochs"]),
                "" if row["params"] is None else f"{row['params']:,}",
                "" if row["val_error"] is None else f"{row['val_error']:.2f}",
                "" if row["mean_epoch_seconds"] is None else f"{row['mean_epoch_seconds']:.2f}",
            ]
        )
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:{'<' if i < 3 else '>'}{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header), *(fmt.format(*line) for line in lines)])


def write_results(project_dir: str, rows: list[dict[str, Any]], best: dict[str, Any] | None) -> None:
    """``results.json`` (rows and best) and ``results.csv`` (one column per hyperparameter)."""
    write_json_atomic(os.path.join(project_dir, RESULTS_JSON), {"trials": rows, "best": best})
    names = list(dict.fromkeys(name for row in rows for name in row["hyperparameters"]))
    columns = ["trial", "status", *names, "epochs", "params", "val_error", "mean_epoch_seconds", "reason"]
    path = os.path.join(project_dir, RESULTS_CSV)
    with open(path + ".tmp", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            flat = {k: v for k, v in row.items() if k != "hyperparameters"}
            writer.writerow({**flat, **row["hyperparameters"]})
    os.replace(path + ".tmp", path)


def best_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    completed = [r for r in rows if r["status"] == "completed" and r["val_error"] is not None]
    return min(completed, key=lambda r: (r["val_error"], int(r["trial"]))) if completed else None


# The run ---------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[reszoo.tune] {message}", flush=True)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise UsageError(message)


def check_environment(tuner: str) -> None:
    _require(
        keras.backend.backend() == "tensorflow",
        f"reszoo.tune needs Keras' TensorFlow backend. Received: KERAS_BACKEND={keras.backend.backend()}",
    )
    # keras-tuner 1.4 imports tensorboard's hparams plugin in every trial on TensorFlow: without it
    # every trial fails with an ImportError.
    _require(
        importlib.util.find_spec("tensorboard") is not None,
        "keras-tuner needs the tensorboard package with TensorFlow (pip install tensorboard).",
    )
    missing = [name for name in BAYESIAN_NEEDS if importlib.util.find_spec(name) is None]
    _require(
        tuner != "bayesian" or not missing,
        f"--tuner bayesian needs {' and '.join(missing)} (pip install 'keras-tuner[bayesian]'). "
        "Received: --tuner bayesian",
    )


def resolve_val_split(args: argparse.Namespace) -> None:
    """``--val-split`` default: 10% of the training split (at least one image). Loads the data once to count."""
    if args.val_split is None:
        size = load_bundle(args, batch_size=64, augment="none", val_split=0).train_size
        args.val_split = max(1, round(DEFAULT_VAL_FRACTION * size))


def open_project(args: argparse.Namespace) -> None:
    """Create the project folder or check that the existing one holds the same search."""
    config = {
        "family": args.family,
        "dataset": args.dataset,
        "image_size": args.image_size,
        "val_split": args.val_split,
        "seed": args.seed,
        "epochs": args.epochs,
        "tuner": args.tuner,
        "recipe": args.recipe,
        "space": args.search_space.description(),
    }
    path = os.path.join(args.project_dir, CONFIG_FILE)
    previous = read_json(path, None)
    if previous is not None:
        normalized = json.loads(json.dumps(config, default=str))
        changed = [k for k in RESUME_KEYS if previous.get(k) != normalized.get(k)]
        _require(
            not changed,
            f"project dir {args.project_dir} holds a search with other {', '.join(changed)} "
            f"({'; '.join(_difference(k, previous.get(k), normalized.get(k)) for k in changed)}); "
            "rerun with the same arguments to continue it, or pass another --project-dir.",
        )
    elif os.path.isdir(args.project_dir) and os.listdir(args.project_dir):
        raise UsageError(f"project dir {args.project_dir} exists and is not a reszoo.tune project; choose another.")
    os.makedirs(args.project_dir, exist_ok=True)
    write_json_atomic(path, {**config, "max_trials": args.max_trials, "max_params": args.max_params})


def _difference(key: str, before, now) -> str:
    """``epochs`` 3 -> 5, or for the space the knobs whose values differ."""
    if key == "space" and isinstance(before, dict):
        knobs = sorted(k for k in {*before, *now} if before.get(k) != now.get(k))
        return (
            f"space knobs {', '.join(knobs)}: {[before.get(k) for k in knobs]} there, {[now.get(k) for k in knobs]} now"
        )
    return f"{key}={before!r} there, {now!r} now"


def check_budget(args: argparse.Namespace, context: Context) -> None:
    """Refuse a ``--max-params`` below the space's smallest network before any trial."""
    if args.max_params is None:
        return
    smallest = context.space.smallest()
    kwargs = context.space.builder_kwargs(smallest)
    params = context.counter.count(args.family, kwargs)
    shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    _require(
        params <= args.max_params,
        f"--max-params {args.max_params:,} is below the smallest {args.family} in the search space "
        f"({shown}: {params:,} trainable parameters); nothing fits. Received: --max-params={args.max_params}",
    )


def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Search, print and write the results table, retrain and export the best; returns the results.

    Returns:
        ``{"trials": rows, "best": row or None, "ran": trial ids run by this call, "export_dir":
        path or None, "summary": the retraining's summary or None, "stopped": reason or None,
        "project_dir": path}``.

    Raises:
        UsageError: bad arguments, unsupported family, missing data, nothing within --max-params.
        SearchError: trials keep failing, or every trial failed.
        DivergenceError: the retraining diverged.
    """
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.show_space:
        print(args.search_space.table())
        return {"space": args.search_space.description()}
    check_environment(args.tuner)
    resolve_val_split(args)
    context = Context(args)
    check_budget(args, context)  # before anything is written
    open_project(args)
    tuner = make_tuner(args, context)
    log(
        f"{args.tuner} search over {args.family} on {context.probe.name}: {context.probe.train_size} train / "
        f"{context.probe.val_size} validation images (the objective), {args.epochs} epochs per trial, "
        f"project {args.project_dir}"
    )
    stopped = None
    try:
        tuner.search(epochs=args.epochs, verbose=1)
    except _SearchStopped as stop:
        stopped = str(stop)
        log(f"search stopped: {stopped}")
    except SearchError:
        report(tuner, context, args)
        raise
    rows, best = report(tuner, context, args)
    result = {
        "trials": rows,
        "best": best,
        "ran": list(tuner.ran),
        "stopped": stopped,
        "project_dir": args.project_dir,
        "export_dir": None,
        "summary": None,
    }
    if best is None:
        raise_no_result(rows, args)
    if not args.no_export:
        result["summary"] = retrain_and_export(args, context, best)
        result["export_dir"] = result["summary"]["export_dir"]
    return result


def report(tuner, context: Context, args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    rows = results_rows(tuner, context.space)
    best = best_row(rows)
    write_results(args.project_dir, rows, best)
    print(format_table(rows), flush=True)
    if best is not None:
        log(
            f"best: trial {best['trial']}, validation error {best['val_error']:.2f}% "
            f"({len(rows)} trials; results.json and results.csv in {args.project_dir})"
        )
    return rows, best


def raise_no_result(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """No trial completed: a usage error when every one was over budget, a search error otherwise."""
    if rows and all(r["status"] == "rejected" for r in rows):
        raise UsageError(
            f"every trial ({len(rows)}) exceeded --max-params {args.max_params:,}; raise it or narrow the space "
            "with --space."
        )
    reasons = [f"trial {r['trial']} {r['status']}: {r['reason']}" for r in rows if r["status"] != "completed"]
    raise SearchError(f"no trial completed ({len(rows)} run). " + ("; ".join(reasons[-3:]) or "keras-tuner ran none."))


def retrain_and_export(args: argparse.Namespace, context: Context, best: dict[str, Any]) -> dict[str, Any]:
    """``reszoo.train.run`` on the best configuration; an export of the same command is kept."""
    export_dir = args.export_dir or os.path.join(args.project_dir, f"best_trial_{best['trial']}")
    argv = context.train_argv(best["hyperparameters"], export_dir=export_dir)
    marker = os.path.join(args.project_dir, EXPORT_FILE)
    done = read_json(marker, None)
    summary_path = os.path.join(export_dir, "summary.json")
    if done and done.get("argv") == argv and os.path.isfile(summary_path):
        log(f"the best configuration is already exported in {export_dir}")
        return read_json(summary_path, {})
    log("retraining the best configuration: python -m reszoo.train " + " ".join(shlex.quote(a) for a in argv))
    keras.backend.clear_session()
    summary = train.run(argv)
    write_json_atomic(marker, {"argv": argv, "trial": best["trial"], "export_dir": export_dir})
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0, 1 failing trials, 2 bad input, 3 diverged)."""
    try:
        run(list(sys.argv[1:] if argv is None else argv))
    except UsageError as error:
        print("error: " + " ".join(str(error).split()), file=sys.stderr)
        return EXIT_USAGE
    except SearchError as error:
        print("error: " + " ".join(str(error).split()), file=sys.stderr)
        return EXIT_FAILED
    except DivergenceError as error:
        print(f"error: the retraining diverged: {error}", file=sys.stderr)
        return EXIT_DIVERGED
    except SystemExit as done:  # --help
        return int(done.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
