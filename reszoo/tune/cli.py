"""``python -m reszoo.tune``: the command line over ``reszoo.tune.search.run_search``.

``parse_args(argv)`` turns the flags into checked ``SearchOptions``; ``run(argv)`` runs the search and
returns its results; ``main(argv)`` returns the exit status: 0 done; 2 bad arguments, unsupported
family, missing data, or a ``--max-params`` nothing fits; 1 when trials keep failing; 3 when the
retraining diverged, each with one ``error:`` line.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

# Nothing here imports TensorFlow: --help and a bad flag answer at once. The search space (built from the model
# modules) and the search itself are imported once the flags are read.
from reszoo import cli
from reszoo.cli import UsageError
from reszoo.training import cli as train_cli
from reszoo.tune.options import (
    DEFAULT_EPOCHS,
    DEFAULT_MAX_TRIALS,
    DEFAULT_SEED,
    FAMILIES,
    TUNERS,
    SearchOptions,
    check_family,
)

EXIT_USAGE, EXIT_FAILED, EXIT_DIVERGED = cli.EXIT_USAGE, 1, train_cli.EXIT_DIVERGED
# (flag, allowed, check) for the values argparse cannot check by type alone.
_LIMITS = (
    ("max_trials", ">= 1", lambda v: v >= 1),
    ("epochs", ">= 1", lambda v: v >= 1),
    ("max_params", ">= 1", lambda v: v is None or v >= 1),
    ("image_size", ">= 1", lambda v: v is None or v >= 1),
    ("val_split", ">= 1 (the objective needs validation images)", lambda v: v is None or v >= 1),
)


class RetrainingDiverged(RuntimeError):
    """The retraining of the best configuration diverged (exit status 3)."""


class _FailedForCli(Exception):
    """``hypermodel.SearchError``: trials keep failing (exit status 1), raised again as a class ``main`` can
    map without importing keras-tuner and TensorFlow."""


def parse_space_item(text: str) -> tuple[str, tuple[Any, ...]]:
    """``"depth=8,14"`` -> ``("depth", (8, 14))``; each value via ``ast.literal_eval``, else a string."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    items = [item.strip() for item in raw.split(",")]
    if not sep or not name.isidentifier() or not all(items):
        raise argparse.ArgumentTypeError(f"expected NAME=V1[,V2...], e.g. depth=8,14. Received: {text!r}")
    return name, tuple(cli.literal(item) for item in items)


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(
        prog="python -m reszoo.tune",
        description="Search a reszoo family's hyperparameters with keras-tuner, then retrain and export the best.",
        epilog="Objective: validation accuracy on images held out from the training split. Exit status 2: "
        "bad input; 1: trials keep failing; 3: the retraining diverged.",
    )
    p.add_argument("--family", default="fast_resnet", help=f"one of {', '.join(FAMILIES)} (default fast_resnet)")
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
    cli.add_dataset_arguments(p)
    p.add_argument(
        "--val-split",
        type=int,
        default=None,
        help="training images held out for the objective (default: 10%% of the training split)",
    )
    p.add_argument(
        "--recipe",
        choices=train_cli.RECIPE_CHOICES,
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


def parse_args(argv: Sequence[str] | None = None) -> SearchOptions:
    """Parse and check the arguments that need no data; ``UsageError`` on bad input."""
    args = build_parser().parse_args(argv)
    for name, allowed, ok in _LIMITS:
        value = getattr(args, name)
        if not ok(value):
            flag = "--" + name.replace("_", "-")
            raise UsageError(f"{flag} must be {allowed}. Received: {flag}={value}")
    names = [name for name, _ in args.space]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"--space gives {', '.join(twice)} more than once.")
    check_family(args.family)
    from reszoo.training.loop import dataset_tag  # TensorFlow and the models: only once the flags are good
    from reszoo.tune.spaces import search_space

    project_dir = args.project_dir or os.path.join("saved_models", f"tune-{args.family}-{dataset_tag(args.dataset)}")
    return SearchOptions(
        family=args.family,
        search_space=search_space(args.family).restricted(dict(args.space)),
        project_dir=os.path.abspath(project_dir),
        tuner=args.tuner,
        max_trials=args.max_trials,
        epochs=args.epochs,
        dataset=args.dataset,
        data_dir=args.data_dir,
        image_size=args.image_size,
        val_split=args.val_split,
        recipe=args.recipe,
        max_params=args.max_params,
        seed=args.seed,
        export_dir=os.path.abspath(args.export_dir) if args.export_dir else None,
        no_export=args.no_export,
        show_space=args.show_space,
    )


def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """``run_search`` on the command line ``argv`` (default ``sys.argv[1:]``); see ``run_search``."""
    options = parse_args(argv)
    from reszoo.tune.search import run_search

    return run_search(options)


def _run_reporting_divergence(argv: list[str]) -> None:
    options = parse_args(argv)
    from reszoo.callbacks import DivergenceError
    from reszoo.tune.hypermodel import SearchError
    from reszoo.tune.search import run_search

    failed = None
    try:
        run_search(options)
    except cli.Interrupted as stop:
        if "backup" in stop.message:  # the retraining's own line: where its backup is
            raise
        raise type(stop)(_interrupted_line(type(stop), options)) from None
    except KeyboardInterrupt:
        raise cli.Interrupted(_interrupted_line(cli.Interrupted, options)) from None
    except SearchError as error:
        failed = str(error)
    except DivergenceError as error:  # only the retraining raises it: diverged trials are recorded
        raise RetrainingDiverged(f"the retraining diverged: {error}") from error
    if failed is not None:  # raised outside the except block, so that it holds no reference to the trials' frames
        raise _FailedForCli(failed)


def _interrupted_line(kind: type[cli.Interrupted], options: SearchOptions) -> str:
    what = "terminated" if kind is cli.Terminated else "interrupted"
    return (
        f"{what}: the search and its trials' backups are in {options.project_dir}; the same command resumes "
        "(the interrupted trial at its last completed epoch)."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0, 1 failing trials, 2 bad input, 3 diverged)."""
    errors = {UsageError: EXIT_USAGE, _FailedForCli: EXIT_FAILED}
    return cli.run_main(_run_reporting_divergence, argv, {**errors, RetrainingDiverged: EXIT_DIVERGED})
