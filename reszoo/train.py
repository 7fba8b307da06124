"""Train a reszoo model and export it: ``python -m reszoo.train`` (console script ``reszoo-train``).

The defaults reproduce the FastResNet recipe on CIFAR-10 (the seed, Sec. 3.2;
REFERENCE.md): FastResNet-20, 160 epochs, batch 128, SGD with Nesterov momentum
0.9, weight decay 1e-4, lr 0.1, 0.01 from epoch 80, 0.001 from epoch 120
(counted from 0), crop + flip augmentation, per-channel mean/std normalization::

    python -m reszoo.train
    python -m reszoo.train --model resnet --set depth=56 --set shortcut=B --recipe he2015
    python -m reszoo.train --model fast_resnet --set depth=8 --dataset synthetic:256 --epochs 2

``--recipe NAME`` takes the defaults from another paper's recipe
(``reszoo.recipes``: budget, batch, schedule, weight decay, warm-up, model
arguments such as WRN's dropout); explicit flags override it. When ``--epochs``
differs from the recipe's (or the default 160), the milestones move to the same
fractions of training (80/120 of 160 become 20/30 of 40).

Data flows one way: arguments -> recipe -> dataset and model (registry) ->
strategy scope -> ``model.fit`` with callbacks -> export folder. The trained
model is ``raw images -> normalization -> network``, so the export takes 0-255
images. The export folder (default ``saved_models/<model>-<dataset>-<time>``)
appears only when complete; see ``reszoo.export`` for its files and the
SavedModel's ``serve`` (float32) and ``serve_uint8`` endpoints. ``summary.json``
records the resolved arguments, trainable parameters, per-epoch training
seconds (evaluation excluded), images per second, final train / test error in
percent (100 * (1 - accuracy), as the papers report) and library versions.

Training runs on Keras' TensorFlow backend (``tf.distribute`` strategies, SavedModel
export); the models themselves also build and train on JAX.

Bad arguments, unknown models and missing data end the command with status 2
and a one-line ``error: ...`` before any training starts. From Python,
``run(args)`` raises ``UsageError`` (a ``ValueError``) for the same cases and
returns the summary dict otherwise.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import reszoo
from reszoo import data, registry
from reszoo.callbacks import EpochTimer
from reszoo.export import HISTORY_FILE, check_export_dir, staged_export, write_model_files
from reszoo.recipes import RECIPES, get_recipe
from reszoo.schedules import SCHEDULES, check_milestones, make_schedule, scale_milestones

DEFAULT_MODEL = "fast_resnet20"
STRATEGIES = ("auto", "mirrored", "default")
# What a run uses without --recipe: the FastResNet recipe (the seed, Sec. 3.2; REFERENCE.md), with the
# model family's own paper weight decay (FastResNet's is 1e-4).
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
    augment="standard",
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


class UsageError(ValueError):
    """Bad input to ``reszoo.train``: the CLI prints it as one ``error:`` line and exits with status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises ``UsageError`` instead of printing usage and exiting."""

    def error(self, message):
        raise UsageError(message)


# Argument parsing ----------------------------------------------------------------------


def parse_set_item(text: str) -> tuple[str, Any]:
    """``"depth=56"`` -> ``("depth", 56)``; values via ``ast.literal_eval``, else kept as strings."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key.isidentifier() or not raw:
        raise argparse.ArgumentTypeError(
            f"expected KEY=VALUE with KEY a builder argument, e.g. depth=56 or shortcut=B. Received: {text!r}"
        )
    if key in RESERVED_SET_KEYS:
        raise argparse.ArgumentTypeError(f"{key} cannot be set with --set: {RESERVED_SET_KEYS[key]}.")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = raw
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
    d = DEFAULTS
    p = _Parser(
        prog="python -m reszoo.train",
        description="Train a reszoo model on CIFAR-10/100, an image folder or synthetic data, and export it.",
        epilog="Defaults reproduce the FastResNet recipe on CIFAR-10 (160 epochs, batch 128, Nesterov SGD, "
        "lr 0.1 -> 0.01 at 80 -> 0.001 at 120, wd 1e-4). Flags override --recipe.",
    )
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
    p.add_argument("--dataset", default="cifar10", help="cifar10 | cifar100 | folder:DIR | synthetic[:N]")
    p.add_argument("--data-dir", default=None, help="tfds data directory (default: tfds' own)")
    p.add_argument("--image-size", type=int, default=None, help="resize images to this square size")
    p.add_argument(
        "--recipe",
        choices=list(RECIPES),
        default=None,
        help="a paper's recipe (reszoo.recipes) for the defaults of the flags below",
    )
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
        "--weight-decay",
        type=float,
        default=None,
        help="L2 weight decay (default: the model family's paper value; FastResNet 1e-4)",
    )
    p.add_argument("--momentum", type=float, default=None, help=f"SGD momentum ({d['momentum']})")
    p.add_argument(
        "--nesterov", action=argparse.BooleanOptionalAction, default=None, help="Nesterov momentum (on by default)"
    )
    p.add_argument("--seed", type=int, default=None, help="seed for weights, shuffling and augmentation")
    p.add_argument(
        "--export-dir",
        default=None,
        help="output folder (default saved_models/<model>-<dataset>-<timestamp>); must not exist or be empty",
    )
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="auto",
        help="auto: MirroredStrategy when there is more than one GPU; mirrored: over all GPUs, "
        "or all logical CPUs without GPUs; default: no distribution",
    )
    p.add_argument(
        "--augment",
        choices=("standard", "none"),
        default=None,
        help="standard (default): 4-px pad, random crop, horizontal flip",
    )
    p.add_argument(
        "--val-split",
        type=int,
        default=0,
        help="hold out N training images for validation (evaluated every epoch instead of test)",
    )
    p.add_argument("--verbose", action="store_true", help="per-batch progress bar even when not on a TTY")
    return p


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
        ("image_size", lambda v: v >= 1, ">= 1"),
        ("val_split", lambda v: v >= 0, ">= 0"),
    ]
    for name, ok, allowed in checks:
        value = getattr(args, name)
        flag = "--" + name.replace("_", "-")
        _require(value is None or ok(value), f"{flag} must be {allowed}. Received: {flag}={value}")
    keys = [key for key, _ in args.set]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    _require(not duplicates, f"--set gives {', '.join(duplicates)} more than once.")


def resolve_args(
    args: argparse.Namespace, *, train_size: int = CIFAR_TRAIN_IMAGES, num_classes: int = 10
) -> argparse.Namespace:
    """Every training hyperparameter resolved: explicit flags, else ``--recipe``, else ``DEFAULTS``.

    ``train_size`` and ``num_classes`` matter only for recipes counted in
    iterations (He et al.) or with a CIFAR-100 learning rate (PyramidNet).
    Milestones that come from a recipe or the defaults move to the same
    fractions of training when ``--epochs`` differs; explicit ``--milestones``
    must fit. Returns a new namespace; raises ``UsageError``.
    """
    _check_explicit_values(args)
    r = argparse.Namespace(**vars(args))
    if isinstance(r.set, list):
        r.set = dict(r.set)
    base = dict(DEFAULTS)
    if r.recipe:
        batch = r.batch_size or get_recipe(r.recipe).batch_size
        base.update(get_recipe(r.recipe).resolve(train_size, batch, num_classes))
    for name in HYPERPARAMETERS:
        if getattr(r, name) is None:
            setattr(r, name, base[name])
    r.model_args = dict(base["model_args"])
    _require(
        r.warmup_epochs < r.epochs,
        f"--warmup-epochs must be in [0, epochs - 1] = [0, {r.epochs - 1}]. "
        f"Received: --warmup-epochs={r.warmup_epochs}",
    )
    if r.schedule != "step":
        _require(
            not args.milestones,
            f"--milestones apply only to --schedule step. Received: --schedule "
            f"{r.schedule} with --milestones {','.join(map(str, args.milestones or ()))}",
        )
        r.milestones = []
    elif args.milestones is None:
        r.milestones = list(scale_milestones(base["milestones"], base["epochs"], r.epochs))
    else:
        try:
            r.milestones = list(check_milestones(args.milestones, r.epochs))
        except ValueError as error:
            raise UsageError(f"--{error}") from None
    return r


def resolve_model(args: argparse.Namespace) -> dict[str, Any]:
    """Check ``--model`` and ``--set`` against the registry; fill in the weight decay.

    The recipe's model arguments (WRN's dropout 0.3) apply where the family
    takes them and neither ``--set`` nor the preset decides otherwise. The
    weight decay is ``--weight-decay``, else the recipe's, else the family's
    paper value. Returns the builder keyword arguments and stores the ones
    passed to ``reszoo.build`` in ``args.build_kwargs``.
    """
    try:
        family, _, preset = registry.resolve(args.model, **args.set)
        fixed = preset.kwargs if preset else {}
        extra = {
            k: v
            for k, v in args.model_args.items()
            if k in family.family_args() and k not in args.set and k not in fixed
        }
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


def dataset_tag(spec: str) -> str:
    """The dataset's part of the default export name: ``cifar10``, a folder's basename, or ``synthetic``."""
    kind, _, rest = spec.partition(":")
    if kind == "folder" and rest:
        return os.path.basename(os.path.normpath(rest)) or "folder"
    return kind


def default_export_dir(model: str, spec: str, now: datetime.datetime | None = None) -> str:
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return os.path.join("saved_models", f"{model}-{dataset_tag(spec)}-{stamp}")


def make_strategy(kind: str) -> tf.distribute.Strategy:
    """``auto``: MirroredStrategy over the GPUs when there are several, else the default strategy.
    ``mirrored``: MirroredStrategy over all GPUs, or over all logical CPUs when there is no GPU.
    ``default``: the default (no-op) strategy."""
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if kind == "default" or (kind == "auto" and len(gpus) < 2):
        return tf.distribute.get_strategy()
    devices = gpus or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def strategy_name(strategy: tf.distribute.Strategy) -> str:
    return "mirrored" if isinstance(strategy, tf.distribute.MirroredStrategy) else "default"


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
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=args.lr, momentum=args.momentum, nesterov=args.nesterov),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )


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


def log(message: str) -> None:
    print(f"[reszoo.train] {message}", flush=True)


# The run -----------------------------------------------------------------------------


def run(args: argparse.Namespace | Sequence[str] | None = None) -> dict[str, Any]:
    """Train and export as the command line does; returns the summary (also written as summary.json).

    Args:
        args: a namespace from ``parse_args`` or a list of command-line arguments.

    Raises:
        UsageError: bad arguments, unknown model, existing export folder,
            missing data; raised before training starts, leaving nothing behind.
    """
    if not isinstance(args, argparse.Namespace):
        args = parse_args(args)
    _require(
        keras.backend.backend() == "tensorflow",
        "reszoo.train needs Keras' TensorFlow backend (tf.distribute, SavedModel export). "
        f"Received: KERAS_BACKEND={keras.backend.backend()}",
    )
    given = args
    train_size, num_classes = expected_dataset(given.dataset, given.val_split)
    args = resolve_args(given, train_size=train_size, num_classes=num_classes)
    builder_kwargs = resolve_model(args)
    make_schedule(
        args.schedule,
        lr=args.lr,
        epochs=args.epochs,
        milestones=args.milestones,
        gamma=args.gamma,
        warmup_epochs=args.warmup_epochs,
        warmup_lr=args.warmup_lr,
    )
    try:
        export_dir = check_export_dir(args.export_dir or default_export_dir(args.model, args.dataset))
    except ValueError as error:
        raise UsageError(str(error)) from None

    strategy = make_strategy(args.strategy)
    replicas = strategy.num_replicas_in_sync
    _require(
        args.batch_size % replicas == 0,
        f"--batch-size must be divisible by the number of replicas ({replicas}). "
        f"Received: --batch-size={args.batch_size}",
    )
    if args.seed is not None:
        keras.utils.set_random_seed(args.seed)
    try:
        bundle = data.load_dataset(
            args.dataset,
            data_dir=args.data_dir,
            batch_size=args.batch_size,
            image_size=args.image_size,
            augment=args.augment,
            val_split=args.val_split,
            seed=args.seed,
        )
    except ValueError as error:  # DatasetError included: missing / offline data, bad spec
        raise UsageError(str(error)) from None
    if args.recipe and (bundle.train_size, bundle.num_classes) != (train_size, num_classes):
        # Iteration-counted recipes depend on the real size; everything else resolves as before.
        args = resolve_args(given, train_size=bundle.train_size, num_classes=bundle.num_classes)
        builder_kwargs = resolve_model(args)
    args.export_dir = export_dir
    schedule = make_schedule(
        args.schedule,
        lr=args.lr,
        epochs=args.epochs,
        milestones=args.milestones,
        gamma=args.gamma,
        warmup_epochs=args.warmup_epochs,
        warmup_lr=args.warmup_lr,
    )

    started = time.perf_counter()
    with staged_export(export_dir) as staging:
        with strategy.scope():
            model, net = build_training_model(args, bundle)
            compile_model(model, args)
            params = reszoo.trainable_params(net)
            log(
                f"training {net.name} ({params:,} trainable parameters) on {bundle.name}: "
                f"{bundle.train_size} train / {bundle.val_size or 0} val / {bundle.test_size} test images, "
                f"{bundle.num_classes} classes, {'x'.join(map(str, bundle.image_shape))}; {args.epochs} epochs, "
                f"batch {args.batch_size}, lr {args.lr} ({args.schedule}"
                f"{' at ' + ','.join(map(str, args.milestones)) if args.milestones else ''}), "
                f"wd {args.weight_decay}, {strategy_name(strategy)} strategy x{replicas}"
            )
            timer = EpochTimer()
            callbacks = [
                timer,  # first, so epoch_seconds is in the logs the CSV logger and History see
                keras.callbacks.LearningRateScheduler(schedule),
                keras.callbacks.CSVLogger(os.path.join(staging, HISTORY_FILE)),
            ]
            history = model.fit(
                bundle.train,
                epochs=args.epochs,
                validation_data=bundle.val if args.val_split else bundle.test,
                callbacks=callbacks,
                shuffle=False,  # the training dataset shuffles itself (Keras ignores this for tf.data anyway)
                verbose=1 if (args.verbose or sys.stdout.isatty()) else 2,
            ).history
            if args.val_split:
                test = model.evaluate(bundle.test, verbose=0, return_dict=True)
                test_accuracy, test_loss = test["accuracy"], test["loss"]
            else:
                test_accuracy, test_loss = history["val_accuracy"][-1], history["val_loss"][-1]

        epoch_seconds = [float(s) for s in timer.epoch_seconds]
        summary = {
            "model": args.model,
            "network": net.name,
            "builder_kwargs": {**builder_kwargs, "weight_decay": args.weight_decay},
            "args": {**vars(args), "milestones": list(args.milestones)},
            "params": params,
            "epochs": args.epochs,
            "epoch_seconds": epoch_seconds,
            "train_images_per_second": bundle.train_size * args.epochs / sum(epoch_seconds),
            "train_error": error_percent(history["accuracy"][-1]),
            "val_error": error_percent(history["val_accuracy"][-1]) if args.val_split else None,
            "test_error": error_percent(test_accuracy),
            "train_loss": float(history["loss"][-1]),
            "test_loss": float(test_loss),
            "learning_rates": [schedule(epoch) for epoch in range(args.epochs)],
            "class_names": list(bundle.class_names),
            "num_classes": bundle.num_classes,
            "dataset": bundle.name,
            "synthetic": bool(bundle.synthetic),
            "train_size": bundle.train_size,
            "val_size": bundle.val_size or 0,
            "test_size": bundle.test_size,
            "input_shape": list(bundle.image_shape),
            "recipe": args.recipe,
            "strategy": strategy_name(strategy),
            "replicas": replicas,
            "versions": versions(),
            "export_dir": export_dir,
            "created": datetime.datetime.now().isoformat(timespec="seconds"),
            "wall_seconds": time.perf_counter() - started,
        }
        write_model_files(model, staging, class_names=bundle.class_names, summary=summary)
    log(
        f"{bundle.name}: test error {summary['test_error']:.2f}%, train error {summary['train_error']:.2f}%, "
        f"{summary['train_images_per_second']:.0f} train images/s; exported to {export_dir}"
    )
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 for bad input, with one ``error:`` line)."""
    try:
        run(list(sys.argv[1:] if argv is None else argv))
    except UsageError as error:
        print("error: " + " ".join(str(error).split()), file=sys.stderr)
        return 2
    except SystemExit as done:  # --help
        return int(done.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
