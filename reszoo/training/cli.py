"""The command line of ``python -m reszoo.train`` (console script ``reszoo-train``): flags in, exit status out.

The parser only reads the flags; ``reszoo.training.config.resolve`` turns them into the frozen
``TrainConfig`` and ``reszoo.training.loop.run`` trains it. See ``reszoo.train`` for the recipes,
reliability and exit statuses.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

# Nothing here imports TensorFlow: --help and a bad flag answer at once (the run imports it).
from reszoo import cli, recipes
from reszoo.recipes import RECIPES
from reszoo.training.choices import (
    AUGMENTATIONS,
    DEFAULTS,
    EXPORT_FORMATS,
    PRECISION_CHOICES,
    SCHEDULE_UNITS,
    SCHEDULES,
    STRATEGIES,
)

DEFAULT_MODEL = "fast_resnet20"
RECIPE_CHOICES = ("auto", "none", *RECIPES)
EXIT_USAGE, EXIT_DIVERGED, EXIT_WORKER_LOST = cli.EXIT_USAGE, 3, 4
# Builder arguments that training decides; --set may not change them.
RESERVED_SET_KEYS = {
    "num_classes": "it comes from the dataset",
    "input_shape": "it comes from the dataset (use --image-size)",
    "classifier_activation": "training needs softmax probabilities",
    "weight_decay": "use --weight-decay",
}

# Bad input: the CLI prints it as one ``error:`` line and exits with status 2 (the one UsageError of reszoo).
UsageError = cli.UsageError
_Parser = cli.ArgumentParser


class _DivergedForCli(Exception):
    """A ``DivergenceError`` with the command line's hint on what to do next (exit status 3)."""


class _WorkerLostForCli(Exception):
    """``loop.WorkerLostError``: another multiworker worker stopped (exit status 4)."""


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
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the resolved configuration and the learning rate of every epoch (and the warm-up's "
        "iterations), then exit without loading data or building the model",
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
        choices=AUGMENTATIONS,
        default=None,
        help="standard (default): 4-px pad, random crop, horizontal flip; randaugment: standard, then "
        "keras.layers.RandAugment per image; none",
    )
    p.add_argument("--cutout", type=int, default=None, help="Cutout: one NxN patch per training image (0: none)")
    p.add_argument("--label-smoothing", type=float, default=None, help="label smoothing epsilon (0)")
    p.add_argument(
        "--schedule-unit",
        choices=SCHEDULE_UNITS,
        default=None,
        help="when the rate moves: every iteration (default for cosine and a linear warm-up, as PyTorch/timm "
        "schedulers step) or every epoch (default for the papers' step schedules)",
    )
    p.add_argument(
        "--mixup", type=float, default=None, help="MixUp (Zhang et al. 2018): Beta(ALPHA, ALPHA) per image (0: none)"
    )
    p.add_argument(
        "--cutmix", type=float, default=None, help="CutMix (Yun et al. 2019): Beta(ALPHA, ALPHA) per image (0: none)"
    )
    p.add_argument(
        "--mix-prob",
        type=float,
        default=None,
        help="share of training images --mixup / --cutmix mix (1); with both, each mixed image uses one of "
        "them, half and half",
    )
    p.add_argument(
        "--ema",
        type=float,
        default=None,
        metavar="DECAY",
        help="exponential moving average of the weights (e.g. 0.999), evaluated every epoch and exported",
    )


def _add_speed_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="auto",
        help="auto: MirroredStrategy when there is more than one GPU; mirrored: over all GPUs, "
        "or all logical CPUs without GPUs; multiworker: MultiWorkerMirroredStrategy from TF_CONFIG "
        "(or SLURM); default: no distribution",
    )
    p.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        default="float32",
        help="Keras dtype policy (float32); auto: mixed_bfloat16 where the CPU has native bfloat16 (AMX-BF16 or "
        "AVX512-BF16) or the GPU bfloat16 tensor cores (compute capability 8.0+), mixed_float16 on 7.x GPUs, "
        "float32 elsewhere; the log and summary.json name what it picked and why",
    )
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
        "--init-from",
        default=None,
        metavar="SOURCE",
        help="fine-tune: start from the weights of an export folder, a .keras / .weights.h5 file or "
        "pytorchcv:NAME (same architecture; with another class count the classifier starts afresh)",
    )
    p.add_argument(
        "--export-format",
        dest="export_formats",
        action="append",
        choices=EXPORT_FORMATS,
        default=None,
        help="also export as onnx (onnxruntime) or litert (.tflite), repeatable; the SavedModel is always written "
        "(python -m reszoo.export adds formats to an existing export)",
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
    p.add_argument(
        "--resume-with-changes",
        action="store_true",
        help="resume a backup whose hyperparameters differ from these flags (both are logged and recorded); "
        "without it such a resume is refused. The model and data must match either way",
    )
    p.add_argument("--tensorboard", action="store_true", help="TensorBoard logs into <export-dir>/logs")
    p.add_argument("--verbose", action="store_true", help="per-batch progress bar even when not on a TTY")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse command-line arguments (``UsageError`` on bad syntax); ``config.resolve`` fills in the rest."""
    return build_parser().parse_args(argv)


# Entry point --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 for bad input, 3 when training diverged)."""
    errors = {UsageError: EXIT_USAGE, _DivergedForCli: EXIT_DIVERGED, _WorkerLostForCli: EXIT_WORKER_LOST}
    return cli.run_main(_run_for_cli, argv, errors)


def dry_run(args: argparse.Namespace) -> str:
    """What ``--dry-run`` prints: the resolved config, the equivalent command and every epoch's rates."""
    import math

    from reszoo.training.config import describe_warmup, described_sizes, rate_table, resolve

    config = resolve(args)
    train_size, _ = described_sizes(config.dataset, config.data_dir, config.image_size, config.val_split)
    steps = math.ceil(train_size / config.batch_size)
    width = max(map(len, config.to_dict()))
    settings = "\n".join(f"  {key:<{width}}  {value!r}" for key, value in config.to_dict().items())
    return (
        f"resolved configuration (recipe {config.recipe or 'none'}):\n{settings}\n\n"
        f"command: {config.command_line()}\n\n"
        f"{train_size:,} training images, batch {config.batch_size}: {steps} iterations per epoch, "
        f"{steps * config.epochs:,} in all; {config.schedule} schedule per {config.schedule_unit}; "
        f"{describe_warmup(config)}\n{rate_table(config, steps)}"
    )


def _run_for_cli(argv: list[str]) -> None:
    """``run`` with the command line's hint added to a divergence.

    The new error is raised outside the ``except`` block, so that it holds no reference to
    the failed run's frames: their callbacks (the CSV logger's open file) close now.
    """
    hint = None
    args = parse_args(argv)
    if not args.verbose:
        from reszoo import _runtime

        _runtime.import_tensorflow_quietly()
    if args.dry_run:
        print(dry_run(args))
        return
    from reszoo.callbacks import DivergenceError
    from reszoo.training.loop import WorkerLostError, run  # TensorFlow is imported only for a run, not for --help

    try:
        run(args)
    except cli.Interrupted:
        raise
    except KeyboardInterrupt:  # before the backup was opened
        raise cli.Interrupted("interrupted before training started; nothing was written.") from None
    except WorkerLostError as error:
        raise _WorkerLostForCli(str(error)) from None
    except DivergenceError as error:
        hint = f"{error} Nothing was exported; a rerun with a lower --lr and --resume-with-changes resumes from the backup."
    if hint is not None:
        raise _DivergedForCli(hint)
