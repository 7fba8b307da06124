"""The ``python -m reszoo.bench`` command line: one subcommand per module, ``main(argv) -> int``.

``run(argv)`` parses, runs the subcommand, prints the machine line and the table, writes ``--out`` and
returns the result (what a notebook wants); ``main(argv)`` wraps it for the shell. Bad input (a flag, an
unknown model, a builder argument) is one ``error:`` line and exit status 2; a TensorFlow-only command on
another backend is one ``error:`` line and exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from reszoo import cli
from reszoo.bench.choices import (
    PRECISIONS,
    PROFILE_VARIANTS,
    UNIT_KIND_NAMES,
    VARIANTS,
    WrongBackendError,
    parse_environment,
)

EXIT_WRONG_BACKEND = 1
# The subcommands, each a module ``reszoo.bench.<name>`` with ``run(args) -> dict`` and ``render(result,
# markdown) -> str``. Imported when the command runs (``command_module``), not here: the modules import Keras and
# so TensorFlow (~5 s), and ``--help`` or a bad flag answers without them (``reszoo.bench.choices``).
COMMANDS = ("units", "fit", "throughput", "pipeline", "params", "variants", "envs", "profile", "formats")
_JIT_CHOICES = {"true": True, "false": False, "auto": "auto"}


def parse_depths(text: str) -> list[int]:
    """``"20,56,110"`` -> ``[20, 56, 110]``: the 6n+2 depths of the CIFAR ResNets."""
    try:
        depths = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        depths = []
    if not depths or any(d < 8 or (d - 2) % 6 for d in depths):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated depths of the form 6n+2 (8, 20, 56, 110, ...). Received: {text!r}"
        )
    return depths


def parse_kinds(text: str) -> list[str]:
    """``"resnet,fast_type1"`` -> ``["resnet", "fast_type1"]``: ``bench units``' model kinds, the first the baseline."""
    kinds = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [kind for kind in kinds if kind not in UNIT_KIND_NAMES]
    if not kinds or unknown or len(set(kinds)) != len(kinds):
        raise argparse.ArgumentTypeError(
            f"expected distinct comma-separated kinds from {', '.join(UNIT_KIND_NAMES)}. Received: {text!r}"
        )
    return kinds


def parse_batch_sizes(text: str) -> list[int]:
    """``"1,64"`` -> ``[1, 64]``: positive batch sizes."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        sizes = []
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive batch sizes, e.g. 1,64. Received: {text!r}"
        )
    return sizes


def parse_set_item(text: str) -> tuple[str, Any]:
    """``"depth=56"`` -> ``("depth", 56)``: ``reszoo.train``'s ``--set`` syntax (``reszoo.cli``, no TensorFlow)."""
    return cli.parse_key_value(text, what="a builder argument")


def parse_jit_compile(text: str) -> bool | str:
    """``auto`` (Keras' choice), ``true`` or ``false``, in any case."""
    try:
        return _JIT_CHOICES[text.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(f"expected one of auto, true, false. Received: {text!r}") from None


def _timing_args(p: argparse.ArgumentParser, *, steps: int, rounds: int, warmup: int) -> None:
    p.add_argument("--steps", type=cli.positive_int, default=steps, help=f"training steps per round ({steps})")
    p.add_argument("--rounds", type=cli.positive_int, default=rounds, help=f"alternating rounds ({rounds})")
    p.add_argument("--warmup-steps", type=cli.positive_int, default=warmup, help=f"untimed steps first ({warmup})")


def _model_args(p: argparse.ArgumentParser, default_batch: int = 128) -> None:
    p.add_argument("--batch-size", type=cli.positive_int, default=default_batch, help=f"batch size ({default_batch})")
    p.add_argument("--precision", choices=PRECISIONS, default="float32", help="Keras dtype policy (float32)")


def _builder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="family or preset name")
    p.add_argument("--set", action="append", type=parse_set_item, default=[], metavar="KEY=VALUE")


def _jit_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--jit-compile",
        type=parse_jit_compile,
        default="auto",
        metavar="{auto,true,false}",
        help="XLA; auto is Keras' choice: on for JAX, off for TensorFlow on a CPU",
    )


def build_parser() -> cli.ArgumentParser:
    """Every subcommand and its flags; the parser raises ``UsageError`` on bad input."""
    parser = cli.ArgumentParser(
        prog="python -m reszoo.bench", description="Benchmarks: ``python -m reszoo.bench <command>``."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("units", help="pre-activation ResNet vs FastResNet types 1 and 2 (seed Tables 1-2)")
    p.add_argument("--depths", type=parse_depths, default=[20, 56, 110], help="comma-separated (20,56,110)")
    _model_args(p)
    _jit_arg(p)
    _timing_args(p, steps=10, rounds=5, warmup=3)

    p = sub.add_parser("fit", help="each network through bench units' step and through reszoo.train's fit")
    p.add_argument("--depths", type=parse_depths, default=[20, 56, 110], help="comma-separated (20,56,110)")
    p.add_argument(
        "--kinds",
        type=parse_kinds,
        default=["resnet", "fast_type1"],
        help=f"comma-separated, the first the baseline ({', '.join(UNIT_KIND_NAMES)}; default resnet,fast_type1)",
    )
    _model_args(p)
    p.add_argument("--steps", type=cli.positive_int, default=40, help="batches per timed epoch (40)")
    p.add_argument("--rounds", type=cli.positive_int, default=3, help="alternating rounds (3)")
    p.add_argument(
        "--with-autotune",
        action="store_true",
        help="also time the CLI's epoch with tf.data's autotuner on (as before reszoo turned it off)",
    )
    p.add_argument(
        "--steps-per-execution",
        type=cli.positive_int,
        default=1,
        metavar="K",
        help="also time the CLI's epoch compiled with Keras' steps_per_execution=K, when K > 1 (1: not timed)",
    )

    p = sub.add_parser("throughput", help="training / inference images/s, memory and FLOPs of one model")
    _builder_args(p)
    _model_args(p)
    _jit_arg(p)
    _timing_args(p, steps=10, rounds=3, warmup=3)
    p.add_argument(
        "--profile-steps",
        type=cli.non_negative_int,
        default=3,
        help="training steps traced after the timing for the kernel-time shares (3; 0: none; TensorFlow, no XLA)",
    )

    p = sub.add_parser("pipeline", help="tf.data pipeline images/s vs FastResNet-20 training images/s")
    p.add_argument("--dataset", default="synthetic:50000", help="as reszoo.train's --dataset (synthetic:50000)")
    p.add_argument("--batch-size", type=cli.positive_int, default=128)
    p.add_argument("--batches", type=cli.positive_int, default=200, help="batches timed (200)")
    p.add_argument("--warmup-batches", type=cli.positive_int, default=20, help="batches drawn before timing (20)")
    _timing_args(p, steps=10, rounds=3, warmup=3)

    p = sub.add_parser("params", help="trainable parameters of every preset vs the papers")
    p.add_argument("--skip-slow", action="store_true", help="skip presets marked slow to build")
    p.add_argument("--markdown", action="store_true", help="print a markdown table")
    p.add_argument("--family", action="append", help="only this family's presets (repeatable)")

    p = sub.add_parser("variants", help="fused BN / XLA variants of one model's training step (TensorFlow)")
    _builder_args(p)
    p.add_argument("--variant", action="append", choices=VARIANTS, help=f"repeatable (all: {', '.join(VARIANTS)})")
    _model_args(p)
    _timing_args(p, steps=10, rounds=5, warmup=3)

    p = sub.add_parser("profile", help="kernel time per TF op type in one model's training step (TensorFlow)")
    _builder_args(p)
    p.add_argument("--variant", choices=PROFILE_VARIANTS, default="fused_bn")
    p.add_argument("--steps", type=cli.positive_int, default=4, help="traced steps (4)")
    p.add_argument("--warmup-steps", type=cli.positive_int, default=3, help="untraced steps first (3)")
    _model_args(p)

    p = sub.add_parser("envs", help="one model's throughput under several environments, alternating processes")
    p.add_argument(
        "--env",
        action="append",
        type=parse_environment,
        required=True,
        metavar="K=V[,K=V]|-",
        help="an environment to compare (repeatable; '-' = unchanged), e.g. TF_ENABLE_ONEDNN_OPTS=1",
    )
    _builder_args(p)
    p.add_argument("--repeats", type=cli.positive_int, default=3, help="processes per environment, alternating (3)")
    _model_args(p)
    _timing_args(p, steps=10, rounds=3, warmup=3)

    p = sub.add_parser("formats", help="size and inference images/s of one model as SavedModel, ONNX, LiteRT")
    _builder_args(p)
    p.add_argument("--batch-sizes", type=parse_batch_sizes, default=[1, 64], help="comma-separated (1,64)")
    p.add_argument("--images", type=cli.positive_int, default=256, help="images per timed round and batch size (256)")
    p.add_argument("--rounds", type=cli.positive_int, default=3, help="alternating rounds (3)")
    p.add_argument("--markdown", action="store_true", help="print a markdown table")

    for p in sub.choices.values():
        p.add_argument("--out", default=None, help="also write the result as JSON to this file")
    return parser


def command_module(command: str) -> ModuleType:
    """``reszoo.bench.<command>``, the module that runs and renders ``command`` (one of ``COMMANDS``)."""
    if command not in COMMANDS:
        raise ValueError(f"Unknown command {command!r}. Known: {', '.join(COMMANDS)}.")
    return importlib.import_module(f"reszoo.bench.{command}")


def render(result: dict[str, Any], markdown: bool = False) -> str:
    """The table (or lines) of a result, by the command that produced it."""
    return command_module(result["command"]).render(result, markdown)


def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse ``argv``, run its command, print the machine line and the table, write ``--out``; the result.

    Raises ``UsageError`` on a bad flag and ``ValueError`` on a bad model or builder argument.
    """
    args = build_parser().parse_args(None if argv is None else list(argv))
    result = command_module(args.command).run(args)
    from reszoo.bench.machine import machine_line

    print(machine_line(result["machine"]))
    print(render(result, markdown=getattr(args, "markdown", False)))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2, default=str)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reszoo.bench``: 0, 2 on bad input (an unknown model, a bad builder argument), 1 on the
    wrong backend for a TensorFlow-only command; each error as one ``error:`` line on stderr."""
    return cli.run_main(run, argv, {WrongBackendError: EXIT_WRONG_BACKEND, ValueError: cli.EXIT_USAGE})
