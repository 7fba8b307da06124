"""Curves and a results table from finished runs.

    python -m reszoo.report RUN_DIR [RUN_DIR ...] [--out curves.png] [--markdown]

Draws train (dashed) and test (solid) error against epoch for every run, like
the FastResNet paper's figures 6-8, and prints a table like the survey's
table 8: model, parameters, CIFAR-10 / CIFAR-100 error, mean seconds per epoch.
Reads only what ``python -m reszoo.train`` writes: ``summary.json`` and
``history.csv``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from reszoo import cli


@dataclass
class Run:
    path: str
    summary: dict
    epochs: list[int]
    train_error: list[float]
    test_error: list[float]

    @property
    def label(self) -> str:
        return f"{self.summary.get('model', '?')} ({self.summary.get('dataset', '?')})"

    @property
    def mean_epoch_seconds(self) -> float:
        seconds = self.summary.get("epoch_seconds") or []
        # The first epoch includes graph tracing; leave it out when there are others.
        timed = seconds[1:] if len(seconds) > 1 else seconds
        return statistics.fmean(timed) if timed else float("nan")


def load_run(path: str) -> Run:
    summary_path = os.path.join(path, "summary.json")
    history_path = os.path.join(path, "history.csv")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Run directory {path!r} does not exist.")
    for required in (summary_path, history_path):
        if not os.path.isfile(required):
            raise FileNotFoundError(
                f"{path!r} is not a finished reszoo run: {os.path.basename(required)} is missing "
                "(python -m reszoo.train writes summary.json and history.csv)."
            )
    with open(summary_path) as f:
        summary = json.load(f)
    with open(history_path, newline="") as f:
        rows = list(csv.DictReader(f))
    epochs = [int(r["epoch"]) for r in rows]
    train_error = [100.0 * (1.0 - float(r["accuracy"])) for r in rows]
    test_error = [100.0 * (1.0 - float(r["val_accuracy"])) if r.get("val_accuracy") else float("nan") for r in rows]
    return Run(path, summary, epochs, train_error, test_error)


def results_table(runs: Sequence[Run], markdown: bool = False) -> str:
    """Model | dataset | params | test error | s/epoch, one row per run (the survey's table 8 layout)."""
    header = ["model", "dataset", "params (M)", "test error %", "s/epoch"]
    rows = []
    for run in runs:
        dataset = str(run.summary.get("dataset", ""))
        error = run.summary.get("test_error")
        error_text = "" if error is None else f"{error:.2f}"
        rows.append(
            [
                str(run.summary.get("model", "?")),
                dataset,
                f"{run.summary.get('params', 0) / 1e6:.2f}",
                error_text,
                f"{run.mean_epoch_seconds:.2f}",
            ]
        )
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:{'<' if i < 2 else '>'}{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header), *(fmt.format(*r) for r in rows)])


def plot_curves(runs: Sequence[Run], out_path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for run in runs:
        (line,) = ax.plot(run.epochs, run.test_error, label=f"{run.label} test")
        ax.plot(run.epochs, run.train_error, linestyle="--", color=line.get_color(), label=f"{run.label} train")
    ax.set_xlabel("epoch")
    ax.set_ylabel("error (%)")
    ax.set_title("Train (dashed) and test (solid) error")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    plt.close(fig)
    return out_path


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(prog="python -m reszoo.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="export directories written by reszoo.train")
    parser.add_argument("--out", default="curves.png", help="PNG to write the error curves to (default curves.png)")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2: bad arguments, a missing or unreadable run)."""
    errors = {cli.UsageError: cli.EXIT_USAGE, FileNotFoundError: cli.EXIT_USAGE, KeyError: cli.EXIT_USAGE}
    return cli.run_main(_report, argv, {**errors, ValueError: cli.EXIT_USAGE})


def _report(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    runs = [load_run(path) for path in args.runs]
    print(results_table(runs, markdown=args.markdown))
    print(f"curves: {plot_curves(runs, args.out)}")


if __name__ == "__main__":
    sys.exit(main())
