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

Exit status: 0 done; 2 bad arguments, unknown model or missing data, with a
one-line ``error: ...`` before any training starts; 3 training diverged. From
Python, ``run(args)`` raises ``UsageError`` (a ``ValueError``) or
``reszoo.callbacks.DivergenceError`` and returns the summary dict otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import hashlib
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import reszoo
from reszoo import augment, cli, data, distribute, recipes, registry
from reszoo.callbacks import (
    DivergenceError,
    EpochTimer,
    IterationWarmup,
    SafeBackupAndRestore,
    StopOnDivergence,
)
from reszoo.export import HISTORY_FILE, check_export_dir, export_for_serving, staged_export, write_model_files
from reszoo.recipes import RECIPES, get_recipe
from reszoo.schedules import SCHEDULES, check_milestones, make_schedule, scale_milestones
from reszoo.training.backup import (  # noqa: F401  (re-exported: reszoo.train.Backup and its file names)
    BEST_WEIGHTS_FILE,
    CHECKPOINT_DIR,
    EPOCH_SECONDS_FILE,
    LOGS_DIR,
    RESUME_KEYS,
    RUN_FILE,
    WARMUP_FILE,
    Backup,
)
from reszoo.training.config import TrainConfig

DEFAULT_MODEL = "fast_resnet20"
STRATEGIES = distribute.STRATEGIES
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
RECIPE_CHOICES = ("auto", "none", *RECIPES)
EXIT_USAGE, EXIT_DIVERGED = 2, 3
# What a run uses with --recipe none (and --recipe auto finds no recipe): the FastResNet schedule (the seed,
# Sec. 3.2; REFERENCE.md), with the model family's own paper weight decay (FastResNet's is 1e-4).
DEFAULTS: dict[str, Any] = dict(
    epochs=160,
    batch_size=128,
    lr=0.1,
    schedule="step",
    milestones=[80, 120],
    gamma=0.1,
    weight_decay=None,
    momentum=0.9,
    nesterov=True,
    warmup_epochs=0,
    warmup_lr=None,
    warmup_iterations=0,
    warmup_accuracy=None,
    augment="standard",
    cutout=0,
    label_smoothing=0.0,
    model_args={},
)
HYPERPARAMETERS = tuple(k for k in DEFAULTS if k != "model_args")
# Builder arguments that training decides; --set may not change them.
RESERVED_SET_KEYS = {
    "num_classes": "it comes from the dataset",
    "input_shape": "it comes from the dataset (use --image-size)",
    "classifier_activation": "training needs softmax probabilities",
    "weight_decay": "use --weight-decay",
}
CIFAR_TRAIN_IMAGES = 50_000
# Backup folder contents and the arguments a resumed backup must match live in training/backup.py.
# Arguments that do not change what is trained (left out of the run fingerprint).
NOT_TRAINING_KEYS = (
    "export_dir",
    "serving_dir",
    "backup_dir",
    "verbose",
    "tensorboard",
    "list_recipes",
    "build_kwargs",
)


# Bad input: the CLI prints it as one ``error:`` line and exits with status 2 (the one UsageError of reszoo).
UsageError = cli.UsageError
_Parser = cli.ArgumentParser


class _DivergedForCli(Exception):
    """A ``DivergenceError`` with the command line's hint on what to do next (exit status 3)."""


class _ListRecipes(argparse.Action):
    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=False, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(recipes.table())
        parser.exit()


# Argument parsing ----------------------------------------------------------------------


def parse_set_item(text: str) -> tuple[str, Any]:
    """``"depth=56"`` -> ``("depth", 56)`` (``cli.parse_key_value``), refusing what training decides itself."""
    key, value = cli.parse_key_value(text, what="a builder argument", example="depth=56 or shortcut=B")
    if key in RESERVED_SET_KEYS:
        raise argparse.ArgumentTypeError(f"{key} cannot be set with --set: {RESERVED_SET_KEYS[key]}.")
    return key, value


def parse_milestones(text: str) -> tuple[int, ...]:
    """``"80,120"`` -> ``(80, 120)``; ``""`` or ``"none"`` -> no milestones (a constant rate)."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated epochs, e.g. 80,120. Received: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m reszoo.train",
        description="Train a reszoo model on CIFAR-10/100, an image folder or synthetic data, and export it.",
        epilog="Defaults reproduce the FastResNet recipe on CIFAR-10 (160 epochs, batch 128, Nesterov SGD, "
        "lr 0.1 -> 0.01 at 80 -> 0.001 at 120, wd 1e-4). A preset trains with its paper's recipe "
        "(--recipe auto); flags override it. Exit status 2: bad input; 3: training diverged.",
    )
    _add_model_and_data_arguments(p)
    _add_recipe_arguments(p)
    _add_speed_arguments(p)
    _add_reliability_arguments(p)
    return p


def _add_model_and_data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"family or preset name (default {DEFAULT_MODEL})")
    p.add_argument(
        "--set",
        dest="set",
        action="append",
        type=parse_set_item,
        default=[],
        metavar="KEY=VALUE",
        help="builder argument, repeatable: --set depth=56 --set shortcut=B",
    )
    cli.add_dataset_arguments(p)
    p.add_argument(
        "--val-split",
        type=int,
        default=0,
        help="hold out N training images for validation (evaluated every epoch; the test split only at the end)",
    )
    p.add_argument(
        "--keep-best",
        action="store_true",
        help="export the weights of the epoch with the best validation accuracy (needs --val-split)",
    )


def _add_recipe_arguments(p: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    p.add_argument(
        "--recipe",
        choices=RECIPE_CHOICES,
        default="auto",
        help="a paper's recipe (reszoo.recipes) for the defaults of the flags below; auto (default): the "
        "preset's own; none: the FastResNet schedule with the family's weight decay",
    )
    p.add_argument("--list-recipes", action=_ListRecipes, help="print the recipes and exit")
    p.add_argument("--epochs", type=int, default=None, help=f"training epochs ({d['epochs']})")
    p.add_argument("--batch-size", type=int, default=None, help=f"global batch size ({d['batch_size']})")
    p.add_argument("--lr", type=float, default=None, help=f"initial learning rate ({d['lr']})")
    p.add_argument("--schedule", choices=SCHEDULES, default=None, help=f"learning-rate schedule ({d['schedule']})")
    p.add_argument(
        "--milestones",
        type=parse_milestones,
        default=None,
        help="epochs (from 0) where a step schedule multiplies the rate by --gamma (80,120; moved "
        "to the same fractions of training when --epochs differs)",
    )
    p.add_argument("--gamma", type=float, default=None, help=f"step factor ({d['gamma']})")
    p.add_argument(
        "--warmup-epochs", type=int, default=None, help="warm-up epochs (0), a linear ramp unless --warmup-lr is given"
    )
    p.add_argument("--warmup-lr", type=float, default=None, help="constant warm-up rate instead of a ramp")
    p.add_argument(
        "--warmup-iterations",
        type=int,
        default=None,
        help="constant warm-up at --warmup-lr for at most N batches (He et al.: 400)",
    )
    p.add_argument(
        "--warmup-accuracy",
        type=float,
        default=None,
        help="end the --warmup-iterations warm-up once the training accuracy reaches this (He et al.: 0.2)",
    )
    p.add_argument(
        "--weight-decay",
        type=float,
        default=None,
        help="L2 weight decay (default: the recipe's, else the model family's paper value)",
    )
    p.add_argument("--momentum", type=float, default=None, help=f"SGD momentum ({d['momentum']})")
    p.add_argument(
        "--nesterov", action=argparse.BooleanOptionalAction, default=None, help="Nesterov momentum (on by default)"
    )
    p.add_argument(
        "--augment",
        choices=augment.AUGMENTATIONS,
        default=None,
        help="standard (default): 4-px pad, random crop, horizontal flip; randaugment: standard, then "
        "keras.layers.RandAugment per image; none",
    )
    p.add_argument("--cutout", type=int, default=None, help="Cutout: one NxN patch per training image (0: none)")
    p.add_argument("--label-smoothing", type=float, default=None, help="label smoothing epsilon (0)")


def _add_speed_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="auto",
        help="auto: MirroredStrategy when there is more than one GPU; mirrored: over all GPUs, "
        "or all logical CPUs without GPUs; multiworker: MultiWorkerMirroredStrategy from TF_CONFIG "
        "(or SLURM); default: no distribution",
    )
    p.add_argument("--precision", choices=PRECISIONS, default="float32", help="Keras dtype policy (float32)")
    p.add_argument(
        "--jit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="XLA-compile the training step (default: Keras' choice, XLA on one GPU, off on CPU and "
        "under tf.distribute)",
    )


def _add_reliability_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=None, help="seed for weights, shuffling and augmentation")
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="also make TensorFlow's ops deterministic (needs --seed; bit-identical reruns, slower on GPU)",
    )
    p.add_argument(
        "--export-dir",
        default=None,
        help="output folder (default saved_models/<model>-<dataset>-<timestamp>); must not exist or be empty",
    )
    p.add_argument(
        "--serving-dir",
        default=None,
        help="also copy the SavedModel into TF Serving's layout, SERVING_DIR/<next version>/ (reszoo.export)",
    )
    p.add_argument(
        "--backup-dir",
        default=None,
        help="training state for resuming (default <export-dir>.backup; with the default export dir, "
        "saved_models/<model>-<dataset>-<hash of the arguments>.backup); deleted after a complete run",
    )
    p.add_argument(
        "--backup-every",
        type=int,
        default=None,
        help="also back up every N batches (default: after every epoch only; a resumed run repeats the "
        "interrupted epoch from its start, with the weights of the mid-epoch backup)",
    )
    p.add_argument("--tensorboard", action="store_true", help="TensorBoard logs into <export-dir>/logs")
    p.add_argument("--verbose", action="store_true", help="per-batch progress bar even when not on a TTY")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse command-line arguments (``UsageError`` on bad syntax); ``resolve_args`` fills in the rest."""
    return build_parser().parse_args(argv)


# Resolution and validation (no work done yet) --------------------------------------


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise UsageError(message)


def _check_explicit_values(args: argparse.Namespace) -> None:
    """Range checks of the flags given on the command line (the recipes' values are valid by construction)."""
    checks = [
        ("epochs", lambda v: v >= 1, ">= 1"),
        ("batch_size", lambda v: v >= 1, ">= 1"),
        ("lr", lambda v: math.isfinite(v) and v > 0, "a positive number"),
        ("warmup_lr", lambda v: math.isfinite(v) and v > 0, "a positive number"),
        ("momentum", lambda v: 0 <= v < 1, "in [0, 1)"),
        ("gamma", lambda v: 0 < v <= 1, "in (0, 1]"),
        ("weight_decay", lambda v: math.isfinite(v) and v >= 0, ">= 0"),
        ("warmup_epochs", lambda v: v >= 0, ">= 0"),
        ("warmup_iterations", lambda v: v >= 0, ">= 0"),
        ("warmup_accuracy", lambda v: 0 < v <= 1, "in (0, 1]"),
        ("image_size", lambda v: v >= 1, ">= 1"),
        ("val_split", lambda v: v >= 0, ">= 0"),
        ("cutout", lambda v: v >= 0, ">= 0"),
        ("label_smoothing", lambda v: 0 <= v < 1, "in [0, 1)"),
        ("backup_every", lambda v: v >= 1, ">= 1"),
    ]
    for name, ok, allowed in checks:
        value = getattr(args, name)
        flag = "--" + name.replace("_", "-")
        _require(value is None or ok(value), f"{flag} must be {allowed}. Received: {flag}={value}")
    keys = [key for key, _ in args.set]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    _require(not duplicates, f"--set gives {', '.join(duplicates)} more than once.")
    _check_flag_combinations(args)


def _check_flag_combinations(args: argparse.Namespace) -> None:
    _require(
        not args.keep_best or args.val_split,
        "--keep-best selects on the validation split, never on the test split: give --val-split N too. "
        "Received: --keep-best without --val-split",
    )
    _require(not args.deterministic or args.seed is not None, "--deterministic needs --seed. Received: no --seed")
    _require(
        args.strategy != "multiworker" or args.seed is not None,
        "--strategy multiworker needs --seed (the same on every worker: each worker shuffles the whole "
        "training set and keeps its part of every global batch). Received: no --seed",
    )
    if args.image_size and args.cutout:
        _require(
            args.cutout <= args.image_size,
            f"--cutout must not exceed the image size ({args.image_size}). Received: --cutout={args.cutout}",
        )


def auto_recipe(model: str) -> str | None:
    """The recipe ``--recipe auto`` picks for ``model``: the preset's, else the one most of the family's
    presets use, else None (the FastResNet schedule with the family's weight decay)."""
    try:
        family, _, preset = registry.resolve(model)
    except ValueError:
        return None  # resolve_model reports the unknown name
    if preset is not None:
        return preset.recipe
    used = Counter(p.recipe for p in registry.presets().values() if p.family == family.name and p.recipe)
    return used.most_common(1)[0][0] if used else None


def resolve_args(
    args: argparse.Namespace, *, train_size: int = CIFAR_TRAIN_IMAGES, num_classes: int = 10
) -> argparse.Namespace:
    """Every training hyperparameter resolved: explicit flags, else the recipe, else ``DEFAULTS``.

    ``train_size`` and ``num_classes`` matter only for recipes counted in
    iterations (He et al.) or with a CIFAR-100 learning rate (PyramidNet).
    Milestones that come from a recipe or the defaults move to the same
    fractions of training when ``--epochs`` differs; explicit ``--milestones``
    must fit. ``recipe`` becomes the resolved recipe name (or None) and
    ``recipe_choice`` keeps what was asked. Returns a new namespace; raises ``UsageError``.
    """
    _check_explicit_values(args)
    r = argparse.Namespace(**vars(args))
    if isinstance(r.set, list):
        r.set = dict(r.set)
    r.recipe_choice = getattr(args, "recipe_choice", None) or args.recipe or "auto"
    r.recipe = (
        auto_recipe(r.model) if r.recipe_choice == "auto" else {"none": None}.get(r.recipe_choice, r.recipe_choice)
    )
    base = dict(DEFAULTS)
    if r.recipe:
        batch = r.batch_size or get_recipe(r.recipe).batch_size
        base.update(get_recipe(r.recipe).resolve(train_size, batch, num_classes))
    _override_warmup_kind(r, base)
    for name in HYPERPARAMETERS:
        if getattr(r, name) is None:
            setattr(r, name, base[name])
    r.model_args = dict(base["model_args"])
    _check_warmup(r)
    r.milestones = _resolve_milestones(r, args.milestones, base)
    return r


def _override_warmup_kind(r: argparse.Namespace, base: dict[str, Any]) -> None:
    """An explicit warm-up of one kind (epochs / iterations) replaces the recipe's warm-up of the other."""
    if r.warmup_epochs is not None and r.warmup_iterations is None:
        base.update(warmup_iterations=0, warmup_accuracy=None)
    if r.warmup_iterations is not None and r.warmup_epochs is None:
        base.update(warmup_epochs=0)


def _check_warmup(r: argparse.Namespace) -> None:
    _require(
        r.warmup_epochs < r.epochs,
        f"--warmup-epochs must be in [0, epochs - 1] = [0, {r.epochs - 1}]. Received: --warmup-epochs={r.warmup_epochs}",
    )
    _require(
        not (r.warmup_epochs and r.warmup_iterations),
        f"give one warm-up: --warmup-epochs or --warmup-iterations. Received: --warmup-epochs={r.warmup_epochs} "
        f"--warmup-iterations={r.warmup_iterations}",
    )
    _require(
        not r.warmup_iterations or r.warmup_lr is not None,
        f"--warmup-iterations needs --warmup-lr (the constant warm-up rate). Received: "
        f"--warmup-iterations={r.warmup_iterations} without --warmup-lr",
    )
    _require(
        r.warmup_accuracy is None or r.warmup_iterations,
        f"--warmup-accuracy ends a --warmup-iterations warm-up; give that too. Received: "
        f"--warmup-accuracy={r.warmup_accuracy} with --warmup-iterations=0",
    )


def _resolve_milestones(r: argparse.Namespace, explicit, base: dict[str, Any]) -> list[int]:
    if r.schedule != "step":
        _require(
            not explicit,
            f"--milestones apply only to --schedule step. Received: --schedule "
            f"{r.schedule} with --milestones {','.join(map(str, explicit or ()))}",
        )
        return []
    if explicit is None:
        return list(scale_milestones(base["milestones"], base["epochs"], r.epochs))
    try:
        return list(check_milestones(explicit, r.epochs))
    except ValueError as error:
        raise UsageError(f"--{error}") from None


def resolve_model(args: argparse.Namespace) -> dict[str, Any]:
    """Check ``--model`` and ``--set`` against the registry; fill in the weight decay.

    The recipe's model arguments (WRN's dropout 0.3) apply to family builds,
    where the family takes them and ``--set`` does not decide otherwise; a
    preset names its whole architecture (``wrn28_10`` has no dropout,
    ``wrn28_10_dropout`` has), so they do not apply to presets. The weight
    decay is ``--weight-decay``, else the recipe's, else the family's paper
    value. Returns the builder keyword arguments and stores the ones passed to
    ``reszoo.build`` in ``args.build_kwargs``.
    """
    try:
        family, builder_kwargs, preset = registry.resolve(args.model, **args.set)
        extra = {}
        if preset is None:
            extra = {k: v for k, v in args.model_args.items() if k in family.family_args() and k not in args.set}
        if extra:  # the recipe's model arguments (WRN's dropout) join the checked kwargs
            _, builder_kwargs, _ = registry.resolve(args.model, **extra, **args.set)
    except ValueError as error:
        raise UsageError(str(error)) from None
    args.build_kwargs = {**extra, **args.set}
    if args.weight_decay is None:
        args.weight_decay = family.weight_decay
    return builder_kwargs


def expected_dataset(spec: str, val_split: int) -> tuple[int, int]:
    """(train images, classes) of a dataset before loading it: exact for CIFAR, CIFAR's for the others.

    Only iteration-counted recipes depend on it; ``run`` resolves again with the
    loaded dataset's numbers.
    """
    return max(1, CIFAR_TRAIN_IMAGES - val_split), 100 if spec == "cifar100" else 10


def described_dataset(args: argparse.Namespace) -> tuple[int, int]:
    """(train images, classes) from ``data.describe``, or ``expected_dataset``'s guess where it cannot tell.

    Knowing the real numbers before loading resolves the run once; a dataset that
    ``describe`` rejects is reported by the loader, with its own message.
    """
    try:
        info = data.describe(args.dataset, args.data_dir, args.image_size, args.val_split)
    except ValueError:
        return expected_dataset(args.dataset, args.val_split)
    return info.train_size, info.num_classes


def dataset_tag(spec: str) -> str:
    """The dataset's part of the default export name: ``cifar10``, a folder's basename, or ``synthetic``."""
    kind, _, rest = spec.partition(":")
    if kind == "folder" and rest:
        return os.path.basename(os.path.normpath(rest)) or "folder"
    return kind


def default_export_dir(model: str, spec: str, now: datetime.datetime | None = None) -> str:
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return os.path.join("saved_models", f"{model}-{dataset_tag(spec)}-{stamp}")


def run_fingerprint(args: argparse.Namespace) -> str:
    """A short hash of everything that decides what is trained (not where it goes)."""
    config = {k: v for k, v in sorted(vars(args).items()) if k not in NOT_TRAINING_KEYS}
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]


def default_backup_dir(args: argparse.Namespace, export_dir: str) -> str:
    """``<export-dir>.backup``; with the default (time-stamped) export dir, a name derived from the
    arguments instead, so that the same command finds its backup again."""
    if args.export_dir:
        return export_dir + ".backup"
    name = f"{args.model}-{dataset_tag(args.dataset)}-{run_fingerprint(args)}.backup"
    return os.path.abspath(os.path.join(os.path.dirname(export_dir), name))


def check_backup_dir(backup_dir: str, export_dir: str) -> str:
    path = os.path.abspath(backup_dir)
    inside = os.path.commonpath([path, export_dir]) == export_dir
    _require(
        not inside,
        f"--backup-dir must lie outside the export dir {export_dir} (the export appears only when complete). "
        f"Received: --backup-dir={backup_dir}",
    )
    _require(not os.path.lexists(path) or os.path.isdir(path), f"backup dir {path} exists and is not a directory.")
    return path


def make_strategy(kind: str) -> tf.distribute.Strategy:
    """``distribute.make_strategy``, with a missing cluster reported as a ``UsageError``."""
    try:
        return distribute.make_strategy(kind)
    except ValueError as error:
        raise UsageError(str(error)) from None


def strategy_name(strategy: tf.distribute.Strategy) -> str:
    return distribute.strategy_name(strategy)


# Model ------------------------------------------------------------------------------


def build_training_model(args: argparse.Namespace, bundle: data.DatasetBundle) -> tuple[keras.Model, keras.Model]:
    """``(trainable model, network)``: raw 0-255 images -> ``normalize`` -> the registry's network."""
    try:
        net = reszoo.build(
            args.model,
            **args.build_kwargs,
            num_classes=bundle.num_classes,
            input_shape=tuple(bundle.image_shape),
            weight_decay=args.weight_decay,
            fused_bn=getattr(args, "fused_bn", None),
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    images = keras.Input(shape=tuple(bundle.image_shape), name="images")
    family, _, _ = registry.resolve(args.model)
    # keras.applications' EfficientNet standardises raw pixels itself; standardising twice
    # shrinks its stem activations ~19x, so it gets the raw 0-255 images.
    inputs = images if family.normalizes_inputs else data.normalization_layer(bundle)(images)
    return keras.Model(images, net(inputs), name=net.name), net


def compile_model(model: keras.Model, args: argparse.Namespace) -> None:
    """SGD (Nesterov) and cross-entropy (label-smoothed with ``--label-smoothing``); loss scaling under
    mixed_float16 (Keras would wrap the optimizer too; done here so it is explicit); ``--jit``."""
    optimizer = keras.optimizers.SGD(learning_rate=args.lr, momentum=args.momentum, nesterov=args.nesterov)
    if getattr(args, "precision", "float32") == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    smoothing = getattr(args, "label_smoothing", 0.0)
    loss = augment.SmoothedSparseCrossentropy(smoothing) if smoothing else keras.losses.SparseCategoricalCrossentropy()
    jit = getattr(args, "jit", None)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"], jit_compile="auto" if jit is None else jit)


@contextlib.contextmanager
def dtype_policy(name: str):
    """Keras' global dtype policy set to ``name`` while models are built, restored afterwards."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def error_percent(accuracy: float) -> float:
    return 100.0 * (1.0 - float(accuracy))


def versions() -> dict[str, str]:
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "reszoo": reszoo.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


log = cli.logger("train")  # "[reszoo.train] message"


# Data ---------------------------------------------------------------------------------


def load_data(args: argparse.Namespace) -> data.DatasetBundle:
    try:
        return data.load_dataset(
            args.dataset,
            data_dir=args.data_dir,
            batch_size=args.batch_size,
            image_size=args.image_size,
            augment=augment.BASE_AUGMENTATION[args.augment],
            val_split=args.val_split,
            seed=args.seed,
        )
    except ValueError as error:  # DatasetError included: missing / offline data, bad spec
        raise UsageError(str(error)) from None


def check_data(args: argparse.Namespace, bundle: data.DatasetBundle) -> None:
    height, width = bundle.image_shape[:2]
    _require(
        args.cutout <= min(height, width),
        f"--cutout must not exceed the image size ({height}x{width}). Received: --cutout={args.cutout}",
    )


def training_set(args: argparse.Namespace, bundle: data.DatasetBundle, strategy) -> tf.data.Dataset:
    """``bundle.train`` with RandAugment / Cutout (``reszoo.augment``), whole batches only under multiworker."""
    train = bundle.train
    if args.augment == "randaugment" or args.cutout:
        train = augment.augment_training_set(
            train,
            kind=args.augment,
            cutout_size=args.cutout,
            fill=bundle.mean,
            batch_size=args.batch_size,
            seed=args.seed,
        )
    if distribute.is_multiworker(strategy):
        train = distribute.full_batches(train, args.batch_size, bundle.train_size)
    return train


# Backup folder: resume state -----------------------------------------------------------


def write_history(path: str, columns: list[str], rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


# Callbacks ----------------------------------------------------------------------------


def make_callbacks(args, backup: Backup, schedule) -> tuple[list[keras.callbacks.Callback], dict[str, Any]]:
    """The callback list, in the order that matters, and the ones ``run`` reads afterwards.

    Order: the timer first (its ``epoch_seconds`` reaches the logs), the divergence guard
    before anything that writes, the warm-up after the scheduler (it overrides the
    rate), the loggers, and the backup last, so that an epoch's history row, timing
    and warm-up state are on disk before the backup says the epoch is done.
    """
    timer = EpochTimer(state_path=backup.epoch_seconds)
    named: dict[str, Any] = {"timer": timer, "warmup": None}
    callbacks: list[keras.callbacks.Callback] = [
        timer,
        StopOnDivergence(),
        keras.callbacks.LearningRateScheduler(schedule),
    ]
    if args.warmup_iterations:
        named["warmup"] = IterationWarmup(
            schedule,
            warmup_lr=args.warmup_lr,
            max_iterations=args.warmup_iterations,
            until_accuracy=args.warmup_accuracy,
            state_path=backup.warmup,
        )
        callbacks.append(named["warmup"])
    callbacks.append(keras.callbacks.CSVLogger(backup.history, append=True))
    if args.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=backup.logs))
    if args.keep_best:
        callbacks.append(best_checkpoint(backup))
    callbacks.append(
        SafeBackupAndRestore(backup.checkpoint, save_freq=args.backup_every or "epoch", delete_checkpoint=False)
    )
    return callbacks, named


def best_checkpoint(backup: Backup) -> keras.callbacks.ModelCheckpoint:
    """Weights of the best-validation-accuracy epoch; a resumed run starts from the best so far."""
    _, rows = backup.merged_history()
    done = [float(r["val_accuracy"]) for r in rows if int(r["epoch"]) < backup.resumed_epoch()]
    return keras.callbacks.ModelCheckpoint(
        backup.best_weights,
        monitor="val_accuracy",
        mode="max",
        save_best_only=True,
        save_weights_only=True,
        initial_value_threshold=max(done) if done and os.path.exists(backup.best_weights) else None,
    )


# The run -----------------------------------------------------------------------------


def run(args: TrainConfig | argparse.Namespace | Sequence[str] | None = None) -> dict[str, Any]:
    """Train and export as the command line does; returns the summary (also written as summary.json).

    Args:
        args: a ``TrainConfig`` (``TrainConfig.from_summary`` reruns a run), a namespace from
            ``parse_args`` or a list of command-line arguments.

    Raises:
        UsageError: bad arguments, unknown model, existing export folder,
            missing data; raised before training starts, leaving nothing behind.
        DivergenceError: the loss or the weights stopped being finite; the
            backup of the last good epoch stays for inspection or a resumed run.
    """
    if isinstance(args, TrainConfig):
        args = args.to_namespace()
    elif not isinstance(args, argparse.Namespace):
        args = parse_args(args)
    _require(
        keras.backend.backend() == "tensorflow",
        "reszoo.train needs Keras' TensorFlow backend (tf.distribute, SavedModel export). "
        f"Received: KERAS_BACKEND={keras.backend.backend()}",
    )
    given = args
    sizes = described_dataset(given)
    args = resolve_everything(given, *sizes)
    strategy = make_strategy(args.strategy)  # first: MultiWorkerMirroredStrategy must precede other TF work
    paths = resolve_paths(args, strategy)
    seed_everything(args)
    bundle = load_data(args)
    if args.recipe and (bundle.train_size, bundle.num_classes) != sizes:
        # Iteration-counted recipes depend on the real size; everything else resolves as before.
        args = resolve_everything(given, bundle.train_size, bundle.num_classes)
    args.export_dir, args.backup_dir = paths
    check_data(args, bundle)
    with dtype_policy(args.precision):
        return train_and_export(args, strategy, bundle)


def resolve_everything(given: argparse.Namespace, train_size: int, num_classes: int) -> argparse.Namespace:
    """Arguments, model and schedule resolved and checked; nothing built or loaded."""
    args = resolve_args(given, train_size=train_size, num_classes=num_classes)
    args.builder_kwargs = resolve_model(args)
    epoch_schedule(args)
    return args


def resolve_paths(args: argparse.Namespace, strategy) -> tuple[str, str]:
    """(export dir, backup dir), both absolute and checked. Under multiworker every worker but the
    chief backs up into its own ``<backup dir>-<worker>`` folder."""
    replicas = strategy.num_replicas_in_sync
    _require(
        args.batch_size % replicas == 0,
        f"--batch-size must be divisible by the number of replicas ({replicas}). "
        f"Received: --batch-size={args.batch_size}",
    )
    try:
        export_dir = check_export_dir(args.export_dir or default_export_dir(args.model, args.dataset))
    except ValueError as error:
        raise UsageError(str(error)) from None
    backup_dir = args.backup_dir or default_backup_dir(args, export_dir)
    if not distribute.is_chief(strategy):
        backup_dir = f"{backup_dir.rstrip(os.sep)}-{distribute.worker_label(strategy)}"
    return export_dir, check_backup_dir(backup_dir, export_dir)


def seed_everything(args: argparse.Namespace) -> None:
    """``--seed``: Python, NumPy and TensorFlow seeds; ``--deterministic``: deterministic TF ops too."""
    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()


def epoch_schedule(args: argparse.Namespace):
    """The per-epoch schedule (an iteration warm-up is a callback on top of it)."""
    return make_schedule(
        args.schedule,
        lr=args.lr,
        epochs=args.epochs,
        milestones=args.milestones,
        gamma=args.gamma,
        warmup_epochs=args.warmup_epochs,
        warmup_lr=args.warmup_lr if args.warmup_epochs else None,
    )


def train_and_export(args: argparse.Namespace, strategy, bundle: data.DatasetBundle) -> dict[str, Any]:
    started = time.perf_counter()
    with strategy.scope():
        model, net = build_training_model(args, bundle)  # first: a bad builder argument leaves nothing behind
        compile_model(model, args)
        distribute.fix_fit_for_multiworker(model)
    backup = Backup(args.backup_dir)
    resumed_at = backup.open(run_config(args))
    try:
        distribute.check_same_resume_epoch(strategy, resumed_at)
    except ValueError as error:
        raise UsageError(str(error)) from None
    schedule = epoch_schedule(args)
    log_start(args, net, bundle, strategy, backup, resumed_at)
    callbacks, named = make_callbacks(args, backup, schedule)
    fit(args, model, training_set(args, bundle, strategy), bundle, callbacks, backup)
    columns, rows = backup.merged_history()
    final = final_metrics(args, model, bundle, backup, rows)
    summary = make_summary(args, model, net, bundle, strategy, rows, named, final, schedule)
    summary.update(resumed_at_epoch=resumed_at, wall_seconds=time.perf_counter() - started)
    export(args, model, strategy, bundle, backup, summary, (columns, rows))
    return summary


def fit(args, model, train, bundle, callbacks, backup: Backup) -> None:
    """``model.fit``; a ``DivergenceError`` comes back naming the backup it left."""
    try:
        model.fit(
            train,
            epochs=args.epochs,
            validation_data=bundle.val if args.val_split else bundle.test,
            callbacks=callbacks,
            shuffle=False,  # the training dataset shuffles itself (Keras ignores this for tf.data anyway)
            verbose=1 if (args.verbose or sys.stdout.isatty()) else 2,
        )
    except DivergenceError as error:
        done = backup.resumed_epoch()
        epochs = "epoch 0" if done == 1 else f"epochs 0-{done - 1}"
        kept = f"The backup of {epochs} is in {backup.path}" if done else f"No epoch was completed ({backup.path})"
        raise DivergenceError(f"{error} {kept}.", epoch=error.epoch, last_finite_loss=error.last_finite_loss) from None
    finally:  # a stopped fit (divergence, Ctrl-C) skips on_train_end, which closes them
        _close_csv_loggers(callbacks)


def _close_csv_loggers(callbacks) -> None:
    """Close the history files a stopped ``fit`` leaves open (Keras closes them only in ``on_train_end``)."""
    for callback in callbacks:
        csv_file = getattr(callback, "csv_file", None) if isinstance(callback, keras.callbacks.CSVLogger) else None
        if csv_file is not None and not csv_file.closed:
            csv_file.close()


def run_config(args: argparse.Namespace) -> dict[str, Any]:
    """What ``run.json`` in the backup folder records: every resolved argument but the paths."""
    return {k: v for k, v in vars(args).items() if k not in ("export_dir", "backup_dir")}


def log_start(args, net, bundle, strategy, backup: Backup, resumed_at: int) -> None:
    params = reszoo.trainable_params(net)
    log(
        f"training {net.name} ({params:,} trainable parameters) on {bundle.name}: "
        f"{bundle.train_size} train / {bundle.val_size or 0} val / {bundle.test_size} test images, "
        f"{bundle.num_classes} classes, {'x'.join(map(str, bundle.image_shape))}; {args.epochs} epochs, "
        f"batch {args.batch_size}, lr {args.lr} ({args.schedule}"
        f"{' at ' + ','.join(map(str, args.milestones)) if args.milestones else ''}), "
        f"wd {args.weight_decay}, recipe {args.recipe or 'none'}, {args.precision}, "
        f"{strategy_name(strategy)} strategy x{strategy.num_replicas_in_sync}"
    )
    if resumed_at:
        log(f"resuming from the backup in {backup.path} at epoch {resumed_at} (counted from 0)")
    else:
        log(f"backing up to {backup.path} after every epoch; rerun the same command to resume")


def final_metrics(args, model: keras.Model, bundle, backup: Backup, rows) -> dict[str, Any]:
    """Errors of the model being exported: the last epoch's, or with ``--keep-best`` the best one's.

    With ``--val-split`` the test split is evaluated here, once; without, ``fit`` evaluated
    it after every epoch (the papers' curves) and the last epoch's values are final.
    """
    selected = rows[-1]
    if args.keep_best and os.path.exists(backup.best_weights):
        model.load_weights(backup.best_weights)
        selected = max(rows, key=lambda r: float(r["val_accuracy"]))
    final = {
        "selected_epoch": int(selected["epoch"]),
        "train_accuracy": float(selected["accuracy"]),
        "train_loss": float(selected["loss"]),
        "val_accuracy": float(selected["val_accuracy"]),
        "val_loss": float(selected["val_loss"]),
    }
    if args.val_split:
        test = model.evaluate(bundle.test, verbose=0, return_dict=True)
        final.update(test_accuracy=test["accuracy"], test_loss=test["loss"])
    else:
        final.update(test_accuracy=final.pop("val_accuracy"), test_loss=final.pop("val_loss"))
    return final


def make_summary(args, model, net, bundle, strategy, rows, named, final, schedule) -> dict[str, Any]:
    seconds_by_epoch = named["timer"].seconds_by_epoch
    epoch_seconds = [seconds_by_epoch.get(e) for e in range(args.epochs)]  # None: lost (a backup from elsewhere)
    timed = [s for s in epoch_seconds if s is not None]
    config = TrainConfig.from_namespace(args)
    return {
        "model": args.model,
        "network": net.name,
        "builder_kwargs": {**args.builder_kwargs, "weight_decay": args.weight_decay},
        "args": {**vars(args), "milestones": list(args.milestones)},
        "params": reszoo.trainable_params(net),
        "epochs": args.epochs,
        "epoch_seconds": epoch_seconds,
        "train_images_per_second": bundle.train_size * len(timed) / sum(timed),
        "train_error": error_percent(final["train_accuracy"]),
        "val_error": error_percent(final["val_accuracy"]) if args.val_split else None,
        "test_error": error_percent(final["test_accuracy"]),
        "train_loss": final["train_loss"],
        "test_loss": float(final["test_loss"]),
        "selected_epoch": final["selected_epoch"],
        "learning_rates": [schedule(epoch) for epoch in range(args.epochs)],
        "history_learning_rates": [float(r["learning_rate"]) for r in rows],
        "warmup": warmup_summary(args, named["warmup"]),
        "class_names": list(bundle.class_names),
        "num_classes": bundle.num_classes,
        "dataset": bundle.name,
        "synthetic": bool(bundle.synthetic),
        "train_size": bundle.train_size,
        "val_size": bundle.val_size or 0,
        "test_size": bundle.test_size,
        "input_shape": list(bundle.image_shape),
        "recipe": args.recipe,
        "precision": args.precision,
        "jit_compile": bool(model.jit_compile),
        "deterministic": bool(args.deterministic),
        "strategy": strategy_name(strategy),
        "replicas": strategy.num_replicas_in_sync,
        "workers": distribute.num_workers(strategy),
        "versions": versions(),
        "export_dir": args.export_dir,
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "fused_bn": config.fused_bn,
        "config": config.to_dict(),
    }


def warmup_summary(args, warmup: IterationWarmup | None) -> dict[str, Any] | None:
    if args.warmup_epochs:
        return {"kind": "epochs", "epochs": args.warmup_epochs, "lr": args.warmup_lr}
    if warmup is None:
        return None
    return {
        "kind": "iterations",
        "lr": args.warmup_lr,
        "max_iterations": args.warmup_iterations,
        "until_accuracy": args.warmup_accuracy,
        "ended": warmup.ended,
    }


def export(args, model, strategy, bundle, backup: Backup, summary, history) -> None:
    """The chief writes the export folder (atomically) and removes the backup; other workers write
    theirs into a temporary folder and delete it (saving may involve every worker)."""
    log(f"trainable weights sha256 {distribute.weights_digest(model)}")
    if not distribute.is_chief(strategy):
        with tempfile.TemporaryDirectory() as scratch:
            write_model_files(model, scratch, class_names=bundle.class_names, summary=summary)
        shutil.rmtree(backup.path, ignore_errors=True)
        log(f"worker {distribute.worker_label(strategy)} done; the chief writes the export")
        return
    with staged_export(args.export_dir) as staging:
        write_model_files(model, staging, class_names=bundle.class_names, summary=summary)
        write_history(os.path.join(staging, HISTORY_FILE), *history)
        if args.tensorboard and os.path.isdir(backup.logs):
            shutil.copytree(backup.logs, os.path.join(staging, LOGS_DIR))
    shutil.rmtree(backup.path, ignore_errors=True)
    if args.serving_dir:
        log(f"TF Serving version folder: {export_for_serving(args.export_dir, args.serving_dir)}")
    val = "" if summary["val_error"] is None else f", val error {summary['val_error']:.2f}%"
    log(
        f"{bundle.name}: test error {summary['test_error']:.2f}%, train error {summary['train_error']:.2f}%{val}, "
        f"{summary['train_images_per_second']:.0f} train images/s; exported to {args.export_dir}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 for bad input, 3 when training diverged)."""
    return cli.run_main(_run_for_cli, argv, {UsageError: EXIT_USAGE, _DivergedForCli: EXIT_DIVERGED})


def _run_for_cli(argv: list[str]) -> None:
    """``run`` with the command line's hint added to a divergence.

    The new error is raised outside the ``except`` block, so that it holds no reference to
    the failed run's frames: their callbacks (the CSV logger's open file) close now.
    """
    hint = None
    try:
        run(argv)
    except DivergenceError as error:
        hint = f"{error} Nothing was exported; a rerun with a lower --lr resumes from the backup."
    if hint is not None:
        raise _DivergedForCli(hint)


if __name__ == "__main__":
    sys.exit(main())
