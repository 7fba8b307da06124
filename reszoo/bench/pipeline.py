"""``bench pipeline``: the tf.data pipeline's own images/s against FastResNet-20's training images/s.

The pipeline must be several times faster than training so it never starves it. Imports TensorFlow
(``reszoo.data``) when it runs, not when it is imported.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import reszoo
from reszoo.bench.machine import machine_info
from reszoo.bench.timing import compile_for_training, settings, synthetic_batches, timed_training


def pipeline_speed(train_dataset, *, batches: int, warmup_batches: int) -> dict[str, float]:
    """Images/s and images per CPU-second of ``batches`` batches drawn after ``warmup_batches``."""
    iterator = iter(train_dataset.repeat())
    warm_start = time.perf_counter()
    for _ in range(warmup_batches):
        next(iterator)
    warmup_seconds = time.perf_counter() - warm_start
    images, start, cpu_start = 0, time.perf_counter(), time.process_time()
    for _ in range(batches):
        batch_images, _labels = next(iterator)
        images += int(batch_images.shape[0])
    return {
        "images_per_second": images / (time.perf_counter() - start),
        "images_per_cpu_second": images / max(time.process_time() - cpu_start, 1e-9),
        "warmup_seconds": warmup_seconds,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The tf.data pipeline's own images/s against FastResNet-20's training images/s (TensorFlow only)."""
    from reszoo import data  # imports TensorFlow: only this command needs tf.data

    bundle = data.load_dataset(args.dataset, batch_size=args.batch_size, augment="standard")
    speed = pipeline_speed(bundle.train, batches=args.batches, warmup_batches=args.warmup_batches)
    model = compile_for_training(
        reszoo.build("fast_resnet20", input_shape=tuple(bundle.image_shape), num_classes=bundle.num_classes)
    )
    batches = synthetic_batches(args.batch_size, tuple(bundle.image_shape), bundle.num_classes)
    timing = timed_training({"train": model}, batches, args)["train"]
    return {
        "command": "pipeline",
        "dataset": bundle.name,
        "settings": settings(args, "batch_size", "batches", "warmup_batches", "steps", "rounds", "warmup_steps"),
        "pipeline_images_per_second": speed["images_per_second"],
        "pipeline_images_per_cpu_second": speed["images_per_cpu_second"],
        "pipeline_warmup_seconds": speed["warmup_seconds"],
        "train_model": model.name,
        "train_images_per_second": timing.images_per_second,
        "train_images_per_cpu_second": timing.images_per_cpu_second,
        "pipeline_to_train_ratio": speed["images_per_second"] / timing.images_per_second,
        "pipeline_to_train_cpu_ratio": speed["images_per_cpu_second"] / timing.images_per_cpu_second,
        "machine": machine_info(),
    }


def render(result: dict[str, Any], markdown: bool = False) -> str:
    """Three lines (``markdown`` has no table to change here)."""
    return "\n".join(
        [
            f"pipeline ({result['dataset']}): {result['pipeline_images_per_second']:.0f} images/s, "
            f"{result['pipeline_images_per_cpu_second']:.0f} images per CPU-second",
            f"training ({result['train_model']}): {result['train_images_per_second']:.1f} images/s, "
            f"{result['train_images_per_cpu_second']:.1f} images per CPU-second",
            f"pipeline / training: {result['pipeline_to_train_ratio']:.1f}x "
            f"(per CPU-second: {result['pipeline_to_train_cpu_ratio']:.1f}x)",
        ]
    )
