"""``bench units``: pre-activation ResNet vs FastResNet types 1 and 2 per depth (the seed's Tables 1-2).

Runs on Keras' JAX backend too, without importing TensorFlow.
"""

from __future__ import annotations

import argparse
from typing import Any

import keras

import reszoo
from reszoo.bench.machine import machine_info
from reszoo.bench.tables import fmt, format_table
from reszoo.bench.timing import compile_for_training, set_precision, settings, synthetic_batches, timed_training

# The seed's Tables 1-2: seconds per CIFAR-10 epoch (GTX 1070, MatConvNet) for
# pre-activation ResNet, FastResNet type 1 and type 2 (type 2 timed at depth 20 only).
PAPER_EPOCH_SECONDS: dict[int, dict[str, float]] = {
    20: {"resnet": 30.07, "fast_type1": 22.08, "fast_type2": 22.10},
    56: {"resnet": 84.22, "fast_type1": 58.84},
    110: {"resnet": 208.26, "fast_type1": 133.47},
    668: {"resnet": 3953.02, "fast_type1": 2020.92},
}
# The three model kinds of ``bench units``: label -> (family, extra builder arguments).
UNIT_KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "resnet": ("preact_resnet", {}),
    "fast_type1": ("fast_resnet", {"unit_type": 1}),
    "fast_type2": ("fast_resnet", {"unit_type": 2}),
}


def depth_rows(depth: int, args: argparse.Namespace, batches) -> list[dict[str, Any]]:
    """The three kinds at one depth, trained side by side; ratios against the pre-activation ResNet."""
    models = {
        kind: compile_for_training(reszoo.build(family, depth=depth, **extra), jit_compile=args.jit_compile)
        for kind, (family, extra) in UNIT_KINDS.items()
    }
    timings = timed_training(models, batches, args)
    baseline = timings["resnet"].epoch_seconds
    paper = PAPER_EPOCH_SECONDS.get(depth, {})
    rows = []
    for kind, timing in timings.items():
        rows.append(
            {
                "depth": depth,
                "kind": kind,
                "model": models[kind].name,
                "params": reszoo.trainable_params(models[kind]),
                "images_per_second": timing.images_per_second,
                "round_images_per_second": timing.round_images_per_second,
                "images_per_cpu_second": timing.images_per_cpu_second,
                "epoch_seconds": timing.epoch_seconds,
                "ratio_to_resnet": timing.epoch_seconds / baseline,
                "paper_epoch_seconds": paper.get(kind),
                "paper_ratio_to_resnet": paper[kind] / paper["resnet"] if kind in paper else None,
            }
        )
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Pre-activation ResNet vs FastResNet types 1 and 2 per depth (seed Tables 1-2)."""
    set_precision(args.precision)
    batches = synthetic_batches(args.batch_size)
    rows = []
    for depth in args.depths:
        rows += depth_rows(depth, args, batches)
        keras.backend.clear_session()  # frees this depth's models before the next
    return {
        "command": "units",
        "settings": settings(args, "batch_size", "precision", "steps", "rounds", "warmup_steps", "jit_compile"),
        "timing_method": "train_on_batch on fixed numpy batches, median of alternating rounds after warm-up",
        "machine": machine_info(),
        "rows": rows,
    }


def render(result: dict[str, Any], markdown: bool = False) -> str:
    headers = [
        "depth",
        "model",
        "params",
        "images/s",
        "s/epoch",
        "ratio",
        "paper s/epoch",
        "paper ratio",
        "images/CPU-s",
    ]
    rows = [
        [
            r["depth"],
            r["model"],
            f"{r['params']:,}",
            f"{r['images_per_second']:.1f}",
            f"{r['epoch_seconds']:.1f}",
            f"{r['ratio_to_resnet']:.3f}",
            fmt(r["paper_epoch_seconds"], ".2f"),
            fmt(r["paper_ratio_to_resnet"], ".3f"),
            f"{r['images_per_cpu_second']:.1f}",
        ]
        for r in result["rows"]
    ]
    return format_table(headers, rows, markdown)
