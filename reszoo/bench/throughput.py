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


def kernel_breakdown(
    model, batches, args: argparse.Namespace, training_flops_per_image: float, train_images_per_second: float
) -> dict[str, Any] | None:
    """Where the training step's time goes (``bench profile``'s op groups over ``args.profile_steps`` traced
    steps, after the timing) and the rate the convolutions reach in their own kernel time. TensorFlow only
    (its profiler; None on JAX, under XLA, whose clusters hide the op types, and with ``--profile-steps 0``).

    The shares are of kernel time summed over TensorFlow's inter-op threads, which exceeds the wall time when
    ops overlap (``thread_seconds_per_second``); the step's wall time is apportioned by them. Nearly all of a
    residual network's training FLOPs are convolutions (forward, input and filter gradients), so
    ``training FLOPs / (wall step x convolution share)`` is the rate of the convolutions themselves, which set
    beside the sgemm peak says how much is lost inside the convolution kernels and how much outside them.
    """
    import keras

    if keras.backend.backend() != "tensorflow" or not args.profile_steps or model.jit_compile:  # XLA: fused ops
        return None
    from reszoo.bench.profile import group_shares, traced_op_times

    totals = traced_op_times(model, batches, args.profile_steps)
    kernel_seconds = sum(totals.values()) / 1e12 / args.profile_steps
    shares = group_shares(totals)
    convolution = shares.get("convolution gradients", 0.0) + shares.get("convolution forward", 0.0)
    step_flops = training_flops_per_image * args.batch_size
    step_seconds = args.batch_size / train_images_per_second
    return {
        "profiled_steps": args.profile_steps,
        "kernel_seconds_per_step": kernel_seconds,
        "step_seconds": step_seconds,
        "thread_seconds_per_second": kernel_seconds / step_seconds,
        "group_shares": shares,
        "convolution_gradient_share": shares.get("convolution gradients", 0.0),
        "convolution_share": convolution,
        "convolution_flops_per_second": step_flops / (step_seconds * convolution) if convolution else 0.0,
    }


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
    kernels = kernel_breakdown(model, batches, args, flops.training_flops, train_ips)
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
        "kernels": kernels,
        "convolution_share_of_sgemm": None if kernels is None else kernels["convolution_flops_per_second"] / peak,
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
        *_kernel_lines(result),
        (
            "peak memory",
            f"{memory['peak_rss_mib']} MiB RSS"
            + (f", {memory['device_peak_mib']} MiB device" if memory["device_peak_mib"] is not None else ""),
        ),
    ]
    return "\n".join(f"{k:>16}: {v}" for k, v in lines)


def _kernel_lines(result: dict[str, Any]) -> list[tuple[str, str]]:
    kernels = result.get("kernels")
    if not kernels:
        return []
    groups = ", ".join(f"{group} {share:.0%}" for group, share in kernels["group_shares"].items())
    return [
        (
            "step time",
            f"{groups} (kernel time: {1e3 * kernels['kernel_seconds_per_step']:.0f} ms over the inter-op threads "
            f"per {1e3 * kernels['step_seconds']:.0f} ms step)",
        ),
        (
            "convolutions",
            f"{kernels['convolution_flops_per_second'] / 1e9:.1f} GFLOP/s in their {kernels['convolution_share']:.0%} "
            f"of the step, {result['convolution_share_of_sgemm']:.0%} of the sgemm peak",
        ),
    ]
