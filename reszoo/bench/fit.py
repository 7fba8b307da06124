"""``bench fit``: each network timed as ``bench units`` times it and as ``python -m reszoo.train`` trains it.

``step`` is ``bench units``' method: the bare network, ``train_on_batch`` on fixed numpy batches. ``cli``
is what the command line runs, built by its own functions (``reszoo.training.loop``): the network behind
its Normalization layer, SGD on the run's schedule, the tf.data pipeline of ``--dataset synthetic:N``
(per-batch crop and flip) and ``model.fit`` with the run's callbacks (epoch timer, divergence guard,
rate log, CSV history, backup), one epoch per round. ``N`` is ``--steps`` batches, so both paths time
the same number of images. Every model of every kind and depth alternates in one process, rounds
reversed every other time (``timing.side_by_side``), so the ratios ``cli / step`` (what the command
line costs beyond the step) and ``fast / resnet`` through each path are measured side by side.

``--with-autotune`` adds a third path: the command line's epoch with tf.data's autotuner turned back on,
as it was before ``reszoo.data.without_autotune``, so what that change buys is measured in the same run.
``--steps-per-execution K`` (K > 1) adds another: the command line's epoch compiled with Keras'
``steps_per_execution=K`` (K batches per call of the compiled train function), which is what Keras'
per-step overhead costs the command line.

TensorFlow only (``reszoo.train`` is); imported when the command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import reszoo
from reszoo.bench.machine import machine_info, require_tensorflow
from reszoo.bench.tables import format_table
from reszoo.bench.timing import (
    compile_for_training,
    set_precision,
    settings,
    side_by_side,
    synthetic_batches,
    train_steps,
)
from reszoo.bench.units import UNIT_KINDS


def cli_argv(family: str, depth: int, extra: dict[str, Any], args: argparse.Namespace, export_dir: str) -> list[str]:
    """The ``python -m reszoo.train`` command line of one kind: ``--steps`` batches of synthetic images per
    epoch, enough epochs that the step schedule's rate stays at its start while timed."""
    sets = [f"--set={key}={value!r}" for key, value in {"depth": depth, **extra}.items()]
    return [
        "--model",
        family,
        *sets,
        "--dataset",
        f"synthetic:{args.steps * args.batch_size}",
        "--epochs",
        "100",
        "--batch-size",
        str(args.batch_size),
        "--precision",
        args.precision,
        "--export-dir",
        export_dir,
    ]


def cli_epoch(
    argv: list[str], workdir: str, *, autotune: bool = False, steps_per_execution: int = 1
) -> Callable[[int], None]:
    """One epoch of ``reszoo.train``'s ``model.fit`` for ``argv``, as ``run(steps)`` (``steps`` is the dataset's);
    ``autotune``: with tf.data's autotuner on again (``data.with_autotune``); ``steps_per_execution``: Keras'
    batches per compiled call.

    Each call starts from an empty backup folder, as a fresh run's first epoch does, so the backup
    callback writes (not restores) and the epoch is really trained; Keras' per-epoch progress line
    (``verbose=2``, the command line's when not on a terminal) is swallowed.
    """
    from reszoo import data
    from reszoo.training import loop
    from reszoo.training.backup import Backup
    from reszoo.training.cli import parse_args
    from reszoo.training.config import resolve, training_schedule

    config = resolve(parse_args(argv))
    strategy = loop.make_strategy(config.strategy)
    bundle = loop.load_data(config)
    steps = loop.steps_per_epoch(config, bundle, strategy)
    with strategy.scope():
        model, _ = loop.build_training_model(config, bundle)
        schedule = training_schedule(config, steps)
        loop.compile_model(model, config, schedule, steps_per_execution=steps_per_execution)
    train = loop.training_set(config, bundle, strategy)
    if autotune:
        train = data.with_autotune(train, enabled=True)
    variant = f"{'.autotune' if autotune else ''}{f'.spe{steps_per_execution}' if steps_per_execution > 1 else ''}"
    backup_dir = os.path.join(workdir, f"{model.name}{variant}.backup")

    def run(_steps: int) -> None:
        shutil.rmtree(backup_dir, ignore_errors=True)
        os.makedirs(backup_dir)
        callbacks, _ = loop.make_callbacks(config, Backup(backup_dir), schedule)
        with contextlib.redirect_stdout(io.StringIO()):
            model.fit(train, epochs=1, callbacks=callbacks, shuffle=False, verbose=2)

    return run


@contextlib.contextmanager
def _workdir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="reszoo-bench-fit-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def depth_rows(depth: int, args: argparse.Namespace, workdir: str) -> list[dict[str, Any]]:
    """Every kind at one depth through both paths, side by side; the ratios of each row."""
    batches = synthetic_batches(args.batch_size)
    candidates: dict[tuple[str, str], Callable[[int], None]] = {}
    names: dict[str, str] = {}
    for kind in args.kinds:
        family, extra = UNIT_KINDS[kind]
        net = compile_for_training(reszoo.build(family, depth=depth, **extra))
        names[kind] = net.name
        candidates[(kind, "step")] = lambda steps, net=net: train_steps(net, batches, steps)
        argv = cli_argv(family, depth, extra, args, os.path.join(workdir, f"{kind}{depth}"))
        candidates[(kind, "cli")] = cli_epoch(argv, workdir)
        if args.with_autotune:
            candidates[(kind, "cli_autotune")] = cli_epoch(argv, workdir, autotune=True)
        if args.steps_per_execution > 1:
            candidates[(kind, "cli_spe")] = cli_epoch(argv, workdir, steps_per_execution=args.steps_per_execution)
    labels = {f"{kind}/{path}": run for (kind, path), run in candidates.items()}
    timings = side_by_side(
        labels, images_per_step=args.batch_size, steps=args.steps, rounds=args.rounds, warmup_steps=args.steps
    )
    baseline = args.kinds[0]
    rows = []
    for kind in args.kinds:
        step, cli = timings[f"{kind}/step"], timings[f"{kind}/cli"]
        rows.append(
            {
                "depth": depth,
                "kind": kind,
                "model": names[kind],
                "step_images_per_second": step.images_per_second,
                "cli_images_per_second": cli.images_per_second,
                "cli_to_step": cli.images_per_second / step.images_per_second,
                "step_ratio_to_baseline": timings[f"{baseline}/step"].images_per_second / step.images_per_second,
                "cli_ratio_to_baseline": timings[f"{baseline}/cli"].images_per_second / cli.images_per_second,
                "step_round_images_per_second": step.round_images_per_second,
                "cli_round_images_per_second": cli.round_images_per_second,
                "step_images_per_cpu_second": step.images_per_cpu_second,
                "cli_images_per_cpu_second": cli.images_per_cpu_second,
                "step_round_steal_share": step.round_steal_share,
                "cli_round_steal_share": cli.round_steal_share,
                **(_variant_columns("autotune", timings[f"{kind}/cli_autotune"], cli) if args.with_autotune else {}),
                **(_variant_columns("spe", timings[f"{kind}/cli_spe"], cli) if args.steps_per_execution > 1 else {}),
            }
        )
    return rows


def _variant_columns(variant: str, timing, cli) -> dict[str, Any]:
    """A variant of the command line's epoch (``autotune``: tf.data's autotuner on; ``spe``: Keras'
    ``steps_per_execution`` > 1) beside the plain one: ``cli_<variant>_...`` and ``<variant>_to_cli``."""
    return {
        f"cli_{variant}_images_per_second": timing.images_per_second,
        f"cli_{variant}_round_images_per_second": timing.round_images_per_second,
        f"cli_{variant}_round_steal_share": timing.round_steal_share,
        f"{variant}_to_cli": timing.images_per_second / cli.images_per_second,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The step and the command line side by side for every kind and depth (TensorFlow only)."""
    import keras

    require_tensorflow("bench fit times reszoo.train, which runs on TensorFlow")
    set_precision(args.precision)
    rows = []
    with _workdir() as workdir:
        for depth in args.depths:
            rows += depth_rows(depth, args, workdir)
            keras.backend.clear_session()
    return {
        "command": "fit",
        "settings": settings(
            args,
            "depths",
            "kinds",
            "batch_size",
            "precision",
            "steps",
            "rounds",
            "with_autotune",
            "steps_per_execution",
        ),
        "timing_method": (
            "step: train_on_batch on fixed numpy batches (bench units); cli: one epoch of reszoo.train's "
            "model.fit (its model, schedule, synthetic tf.data pipeline and callbacks) per round; all in one "
            "process, alternating rounds, median after one warm-up epoch each"
        ),
        "machine": machine_info(),
        "rows": rows,
    }


def _max_share(shares: list[float | None]) -> str:
    known = [share for share in shares if share is not None]
    return f"{max(known):.0%}" if known else "—"


def render(result: dict[str, Any], markdown: bool = False) -> str:
    baseline = result["settings"]["kinds"][0]
    autotune = result["settings"]["with_autotune"]
    grouped = result["settings"].get("steps_per_execution", 1)
    headers = [
        "depth",
        "model",
        "step img/s",
        "CLI img/s",
        "CLI / step",
        f"s/epoch vs {baseline}: step",
        "CLI",
        *(["CLI autotune img/s", "autotune / CLI"] if autotune else []),
        *([f"CLI {grouped} steps/call img/s", f"{grouped} steps/call / CLI"] if grouped > 1 else []),
        "max steal",
    ]
    rows = [
        [
            r["depth"],
            r["model"],
            f"{r['step_images_per_second']:.1f}",
            f"{r['cli_images_per_second']:.1f}",
            f"{r['cli_to_step']:.3f}",
            f"{r['step_ratio_to_baseline']:.3f}",
            f"{r['cli_ratio_to_baseline']:.3f}",
            *([f"{r['cli_autotune_images_per_second']:.1f}", f"{r['autotune_to_cli']:.3f}"] if autotune else []),
            *([f"{r['cli_spe_images_per_second']:.1f}", f"{r['spe_to_cli']:.3f}"] if grouped > 1 else []),
            _max_share(
                r["step_round_steal_share"]
                + r["cli_round_steal_share"]
                + r.get("cli_autotune_round_steal_share", [])
                + r.get("cli_spe_round_steal_share", [])
            ),
        ]
        for r in result["rows"]
    ]
    return format_table(headers, rows, markdown)
