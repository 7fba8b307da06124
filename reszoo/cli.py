"""What every reszoo command line shares: the parser, value parsers, the log prefix and ``run_main``.

Every ``python -m reszoo.<command>`` is a thin ``main(argv) -> int`` over a library function::

    def main(argv=None) -> int:
        return cli.run_main(run, argv, {UsageError: cli.EXIT_USAGE, DivergenceError: EXIT_DIVERGED})

Bad input raises ``UsageError`` (a ``ValueError``) from the library; ``run_main`` prints it as one
``error: ...`` line on stderr and returns the exit status mapped to its class. This module imports
neither TensorFlow nor Keras, so ``--help`` and a bad flag answer at once.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NoReturn

EXIT_OK, EXIT_USAGE = 0, 2
# The shell's statuses for a run stopped by SIGINT (Ctrl-C) and SIGTERM: 128 + the signal number.
EXIT_INTERRUPTED, EXIT_TERMINATED = 128 + signal.SIGINT, 128 + signal.SIGTERM


class UsageError(ValueError):
    """Bad input to a reszoo command: printed as one ``error:`` line, exit status 2."""


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C (exit status 130) or, as ``Terminated``, by SIGTERM (143).

    A ``KeyboardInterrupt``, so that whatever stops on Ctrl-C stops on it; the library raises it again
    with the one line to print (where the backup is, and that the same command resumes).
    """

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str = "interrupted"):
        super().__init__(message)
        self.message = message


class Terminated(Interrupted):
    """SIGTERM, raised in the main thread by ``signals_as_interrupts``."""

    exit_code = EXIT_TERMINATED


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """SIGTERM raises ``Terminated`` while the block runs (Python's default ends the process without a word)."""

    def terminate(signum, frame):
        raise Terminated("terminated")

    if threading.current_thread() is not threading.main_thread():  # signal handlers live in the main thread
        yield
        return
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is over, then act as they would have (for a write that must finish).

    A signal raises its exception at whatever Python line runs when it arrives; inside a file write
    that leaves half a file. Here the handlers only note the signal; on leaving the block the previous
    handlers come back and the noted signal is raised again, so ``Interrupted``/``Terminated`` (or
    Python's default) follow the complete write.
    """
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield
        return
    pending: list[int] = []
    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {watch: signal.signal(watch, lambda signum, frame: pending.append(signum)) for watch in watched}
    try:
        yield
    finally:
        for watch, handler in previous.items():
            signal.signal(watch, handler)
        for noted in dict.fromkeys(pending):
            signal.raise_signal(noted)


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` that raises ``UsageError`` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting whole numbers >= ``minimum``, with the received text in the error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}. Received: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}. Received: {text!r}")
        return value

    parse.__name__ = f"int>={minimum}"  # argparse names the type in its messages
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def parse_key_value(text: str, *, what: str = "KEY", example: str = "depth=56") -> tuple[str, Any]:
    """``"depth=56"`` -> ``("depth", 56)``: the value through ``ast.literal_eval``, else kept as a string."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key.isidentifier() or not raw:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY {what}, e.g. {example}. Received: {text!r}")
    return key, literal(raw)


def literal(text: str) -> Any:
    """``text`` through ``ast.literal_eval`` (as ``--set`` and ``reszoo.tune``'s ``--space`` read values), else
    the string itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def add_dataset_arguments(p: argparse.ArgumentParser) -> None:
    """``--dataset``, ``--data-dir`` and ``--image-size``, as ``reszoo.train`` and ``reszoo.tune`` both take them."""
    p.add_argument("--dataset", default="cifar10", help="cifar10 | cifar100 | folder:DIR | synthetic[:N]")
    p.add_argument("--data-dir", default=None, help="tfds data directory (default: tfds' own)")
    p.add_argument("--image-size", type=int, default=None, help="resize images to this square size")


def logger(command: str) -> Callable[[str], None]:
    """A ``log(message)`` that prints ``[reszoo.<command>] message`` to stdout, flushed."""
    prefix = f"[reszoo.{command}]"

    def log(message: str) -> None:
        print(f"{prefix} {message}", flush=True)

    return log


def one_line(error: BaseException) -> str:
    """The error's message with its white space folded onto one line."""
    return " ".join(str(error).split())


def run_main(
    fn: Callable[[list[str]], Any],
    argv: Sequence[str] | None,
    errors: Mapping[type[BaseException], int],
) -> int:
    """Run ``fn(argv)`` and return the exit status: 0, the status mapped to the error's class, or
    ``SystemExit``'s code (``--help``). ``argv`` defaults to ``sys.argv[1:]``. An error of a mapped
    class is printed as one ``error: ...`` line; any other propagates (a bug, with its traceback).
    Ctrl-C and SIGTERM print one line (``Interrupted``'s message) and return 130 and 143."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with signals_as_interrupts():
            fn(args)
    except SystemExit as done:  # --help, --list-recipes, --show-space
        return done.code if isinstance(done.code, int) else (0 if done.code is None else EXIT_USAGE)
    except tuple(errors) as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        return next(code for kind, code in errors.items() if isinstance(error, kind))
    except KeyboardInterrupt as stop:  # Ctrl-C, SIGTERM: one line, not a traceback
        message = stop.message if isinstance(stop, Interrupted) else "interrupted"
        print(" ".join(message.split()), file=sys.stderr)
        return stop.exit_code if isinstance(stop, Interrupted) else EXIT_INTERRUPTED
    return EXIT_OK
