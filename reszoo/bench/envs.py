"""``bench envs``: ``bench throughput`` of one model under several environments, alternating processes.

Settings read once at start-up (oneDNN, thread pools, XLA flags) cannot be switched inside one process,
so each run is a fresh ``python -m reszoo.bench throughput`` process; runs alternate between the settings,
``--repeats`` times, and each setting's figure is the median of its runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from typing import Any

from reszoo.bench.machine import machine_info
from reszoo.bench.tables import format_table
from reszoo.bench.timing import CIFAR_TRAIN_IMAGES, settings


def throughput_argv(args: argparse.Namespace) -> list[str]:
    """The ``bench throughput`` arguments each process runs: this command's model and timing flags."""
    return [
        "throughput",
        "--model",
        args.model,
        *[f"--set={k}={v!r}" for k, v in args.set],
        "--batch-size",
        str(args.batch_size),
        "--precision",
        args.precision,
        "--steps",
        str(args.steps),
        "--rounds",
        str(args.rounds),
        "--warmup-steps",
        str(args.warmup_steps),
    ]


def run_throughput(inner: list[str], environment: dict[str, str], out: str) -> dict[str, Any]:
    """One ``bench throughput`` process with ``environment`` added to this one's; its JSON result."""
    command = [sys.executable, "-m", "reszoo.bench", *inner, "--out", out]
    completed = subprocess.run(command, env={**os.environ, **environment}, capture_output=True, text=True)
    if completed.returncode:
        raise RuntimeError(f"{' '.join(command)} with {environment} failed:\n{completed.stderr[-2000:]}")
    with open(out) as f:
        return json.load(f)


def environment_row(environment: dict[str, str], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians of one environment's runs."""
    train = statistics.median(r["train_images_per_second"] for r in runs)
    return {
        "environment": environment,
        "train_images_per_second": train,
        "train_runs": [r["train_images_per_second"] for r in runs],
        "train_images_per_cpu_second": statistics.median(r["train_images_per_cpu_second"] for r in runs),
        "inference_images_per_second": statistics.median(r["inference_images_per_second"] for r in runs),
        "epoch_seconds": CIFAR_TRAIN_IMAGES / train,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """``bench throughput`` of one model under each ``--env``, one process per run, alternating."""
    inner = throughput_argv(args)
    runs: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(args.env))}
    with tempfile.TemporaryDirectory(prefix="reszoo-bench-") as workdir:
        for repeat in range(args.repeats):
            order = range(len(args.env)) if repeat % 2 == 0 else reversed(range(len(args.env)))
            for index in order:
                out = os.path.join(workdir, f"run{repeat}-{index}.json")
                runs[index].append(run_throughput(inner, args.env[index], out))
    rows = [environment_row(setting, runs[index]) for index, setting in enumerate(args.env)]
    for row in rows:
        row["speedup"] = row["train_images_per_second"] / rows[0]["train_images_per_second"]
    return {
        "command": "envs",
        "model": runs[0][0]["model"],
        "settings": settings(args, "batch_size", "precision", "steps", "rounds", "warmup_steps", "repeats"),
        "timing_method": "one process per run, settings alternating; median of runs",
        "rows": rows,
        "machine": machine_info(),
    }


def render(result: dict[str, Any], markdown: bool = False) -> str:
    headers = ["environment", "train images/s", "s/epoch", "speed-up", "images/CPU-s", "inference images/s"]
    rows = [
        [
            ",".join(f"{k}={v}" for k, v in r["environment"].items()) or "(unchanged)",
            f"{r['train_images_per_second']:.1f}",
            f"{r['epoch_seconds']:.1f}",
            f"{r['speedup']:.3f}",
            f"{r['train_images_per_cpu_second']:.1f}",
            f"{r['inference_images_per_second']:.1f}",
        ]
        for r in result["rows"]
    ]
    return format_table(headers, rows, markdown)
