"""``python -m reszoo.convert``: pytorchcv checkpoints as reszoo export folders.

::

    python -m reszoo.convert --list
    python -m reszoo.convert pytorchcv NAME [--weights-file F] --export-dir D [--serving-dir BASE]

The export is a normal reszoo export (SavedModel, ``model.keras``, ``class_names.json``,
``summary.json`` with the pytorchcv name, its published error and the checkpoint's SHA-1), written
atomically: ``reszoo.load`` and ``python -m reszoo.predict`` serve it. Bad input (an unknown name, a
file that is not that model's checkpoint, a non-empty export dir, a published file that cannot be
downloaded) exits with status 2 and one ``error:`` line; nothing is written then.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from reszoo import cli
from reszoo.cli import UsageError

SOURCES = ("pytorchcv",)


def build_parser() -> argparse.ArgumentParser:
    p = cli.ArgumentParser(
        prog="python -m reszoo.convert",
        description="Convert a pytorchcv CIFAR-10/100 checkpoint into a reszoo export folder.",
        epilog="Exit status 2: bad input (one error: line; nothing written).",
    )
    p.add_argument("source", nargs="?", choices=SOURCES, help="where the checkpoint comes from: pytorchcv")
    p.add_argument("name", nargs="?", help="pytorchcv model name, e.g. resnet20_cifar10 (see --list)")
    p.add_argument("--list", action="store_true", help="print every convertible name and exit")
    p.add_argument("--weights-file", default=None, help="the checkpoint (.pth or .pth.zip); default: pytorchcv's")
    p.add_argument("--cache-dir", default=None, help="pytorchcv's model folder (default ~/.torch/models)")
    p.add_argument("--export-dir", default=None, help="the export folder to write (must not exist or be empty)")
    p.add_argument("--serving-dir", default=None, help="also copy the SavedModel to BASE/<version>/ (TF Serving)")
    return p


def listing() -> str:
    """The weights table as text: name, reszoo configuration, trainable parameters, published error."""
    from reszoo.convert.pytorchcv import entries

    rows = [("pytorchcv name", "reszoo configuration", "params", "C10 err %", "C100 err %")]
    for item in entries().values():
        c10 = f"{item.error:.2f}" if item.dataset == "cifar10" else "-"
        c100 = f"{item.error:.2f}" if item.dataset == "cifar100" else "-"
        rows.append((item.name, item.configuration, f"{item.params:,}", c10, c100))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def run(argv: Sequence[str]) -> str | None:
    """Parse ``argv`` and convert; returns the export path (None for ``--list``)."""
    args = build_parser().parse_args(argv)
    if args.list:
        print(listing())
        return None
    if args.source is None or args.name is None:
        raise UsageError("give the source and the model name (python -m reszoo.convert pytorchcv NAME), or --list")
    if args.export_dir is None:
        raise UsageError("--export-dir is required")
    from reszoo.convert.pytorchcv import CLASS_NAMES, convert, entry
    from reszoo.export import check_export_dir, export_for_serving, export_model

    try:
        export_dir = check_export_dir(args.export_dir)
        item = entry(args.name)
        if args.weights_file is not None and not os.path.isfile(args.weights_file):
            raise ValueError(f"No checkpoint file at {os.path.abspath(args.weights_file)}.")
        conversion = convert(item.name, args.weights_file, cache_dir=args.cache_dir)
        export_model(conversion.model, export_dir, class_names=CLASS_NAMES[item.dataset], summary=conversion.summary())
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(export_dir, flush=True)
    if args.serving_dir:
        print(export_for_serving(export_dir, args.serving_dir), flush=True)
    return export_dir


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    return cli.run_main(run, argv, {UsageError: cli.EXIT_USAGE})


if __name__ == "__main__":
    sys.exit(main())
