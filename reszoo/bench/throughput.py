"""``bench throughput``: training and inference images/s, peak memory, FLOPs per image and FLOP/s."""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import reszoo
from reszoo.bench.flops import count_forward_macs
from reszoo.bench.machine import machine_info, peak_memory
from reszoo.bench.timing import (
    CIFAR_TRAIN_IMAGES,
    compile_for_training,
    inference_steps,
    set_precision,
    settings,
    side_by_side,
    synthetic_batches,
    train_steps,
)

SGEMM_SIZE = 2048


def sgemm_flops_per_second(size: int = SGEMM_SIZE, repeats: int = 5) -> float:
    """The machine's measured float32 matrix-multiply rate on the cores this process may use: the fastest of
    ``repeats`` ``size`` x ``size`` numpy products (numpy's BLAS, threaded over every core), 2 size^3 FLOPs each.

    The ceiling a convolution network's training step could reach on these cores: its convolutions are
    matrix products too (oneDNN's), the rest of the step is memory-bound.
    """
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    np.matmul(a, b)  # warm-up: threads started, pages touched
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Training and inference images/s, peak memory, FLOPs per image and achieved FLOP/s of one model."""
    set_precision(args.precision)
    model = reszoo.build(args.model, **dict(args.set))
    flops = count_forward_macs(model)
    compile_for_training(model, jit_compile=args.jit_compile)
    batches = synthetic_batches(args.batch_size, model.input_shape[1:], model.output_shape[-1])
    timings = side_by_side(
        {
            "train": lambda steps: train_steps(model, batches, steps),
            "inference": lambda steps: inference_steps(model, batches, steps),
        },
        images_per_step=args.batch_size,
        steps=args.steps,
        rounds=args.rounds,
        warmup_steps=args.warmup_steps,
    )
    train_ips = timings["train"].images_per_second
    infer_ips = timings["inference"].images_per_second
    peak = sgemm_flops_per_second()
    return {
        "command": "throughput",
        "model": model.name,
        "builder_args": {"name": args.model, **dict(args.set)},
        "settings": settings(args, "batch_size", "precision", "steps", "rounds", "warmup_steps", "jit_compile"),
        "params": reszoo.trainable_params(model),
        "train_images_per_second": train_ips,
        "train_round_images_per_second": timings["train"].round_images_per_second,
        "train_images_per_cpu_second": timings["train"].images_per_cpu_second,
        "inference_images_per_second": infer_ips,
        "inference_round_images_per_second": timings["inference"].round_images_per_second,
        "epoch_seconds": CIFAR_TRAIN_IMAGES / train_ips,
        "forward_macs_per_image": flops.macs,
        "uncounted_layers": flops.uncounted,
        "training_flops_per_image": flops.training_flops,
        "training_flops_per_second": flops.training_flops * train_ips,
        "inference_flops_per_second": flops.forward_flops * infer_ips,
        "sgemm_flops_per_second": peak,
        "training_share_of_sgemm": flops.training_flops * train_ips / peak,
        "memory": peak_memory(),
        "machine": machine_info(),
    }


def render(result: dict[str, Any], markdown: bool = False) -> str:
    """Labelled lines (``markdown`` has no table to change here)."""
    memory = result["memory"]
    uncounted = result["uncounted_layers"]
    lines = [
        ("model", f"{result['model']} ({result['params']:,} trainable parameters)"),
        (
            "training",
            f"{result['train_images_per_second']:.1f} images/s ({result['epoch_seconds']:.1f} s per CIFAR epoch)",
        ),
        ("inference", f"{result['inference_images_per_second']:.1f} images/s"),
        (
            "forward",
            f"{result['forward_macs_per_image'] / 1e6:.2f}M multiply-adds per image"
            + (f" (not counted: {', '.join(uncounted)})" if uncounted else ""),
        ),
        (
            "training FLOP/s",
            f"{result['training_flops_per_second'] / 1e9:.2f} GFLOP/s "
            f"({result['training_flops_per_image'] / 1e9:.3f} GFLOP per image)",
        ),
        (
            "sgemm peak",
            f"{result['sgemm_flops_per_second'] / 1e9:.1f} GFLOP/s ({SGEMM_SIZE}x{SGEMM_SIZE} float32 numpy matmul, "
            f"same cores): training runs at {result['training_share_of_sgemm']:.0%} of it",
        ),
        (
            "peak memory",
            f"{memory['peak_rss_mib']} MiB RSS"
            + (f", {memory['device_peak_mib']} MiB device" if memory["device_peak_mib"] is not None else ""),
        ),
    ]
    return "\n".join(f"{k:>16}: {v}" for k, v in lines)
