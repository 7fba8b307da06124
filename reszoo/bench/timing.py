"""How steps are timed: fixed numpy batches, ``train_on_batch``, candidates alternating in one process.

``model.train_on_batch`` runs the same compiled train function ``model.fit`` runs (one step per call),
takes numpy on every backend (so the JAX path never imports TensorFlow) and lets several models alternate
step-granular. Its losses come back as Python floats, so each call has finished when it returns.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

CIFAR_TRAIN_IMAGES = 50_000


def set_precision(precision: str) -> None:
    """Set Keras' global dtype policy (one of ``choices.PRECISIONS``) before the models are built."""
    keras.mixed_precision.set_dtype_policy(precision)


def synthetic_batches(batch_size: int, input_shape=(32, 32, 3), num_classes: int = 10, count: int = 2, seed: int = 0):
    """A few fixed random (images, labels) numpy batches to cycle through."""
    rng = np.random.default_rng(seed)
    return [
        (
            rng.normal(size=(batch_size, *input_shape)).astype("float32"),
            rng.integers(0, num_classes, size=(batch_size,)).astype("int32"),
        )
        for _ in range(count)
    ]


def compile_for_training(model: keras.Model, *, jit_compile: Any = "auto") -> keras.Model:
    """The training setup of ``reszoo.train``: SGD with Nesterov momentum, cross-entropy, accuracy."""
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


def train_steps(model: keras.Model, batches, steps: int) -> None:
    """Run ``steps`` training steps (each call returns Python floats, so it has finished when it returns)."""
    for step in range(steps):
        x, y = batches[step % len(batches)]
        model.train_on_batch(x, y)


def inference_steps(model: keras.Model, batches, steps: int) -> None:
    """Run ``steps`` inference batches, each brought back to numpy so it has finished."""
    for step in range(steps):
        np.asarray(model.predict_on_batch(batches[step % len(batches)][0]))


@dataclass
class Timing:
    """Per-round throughput of one candidate; its summary is the median round.

    Images per CPU-second (process CPU time, all threads) is recorded beside
    wall-clock images/s: on a machine shared with other work it moves less,
    though it also counts threads spinning while they wait.

    ``round_steal_share``: the share of the machine's CPU time the hypervisor
    took for other guests during each round (``steal_seconds``), None where the
    kernel does not say. A virtual machine's cores can be taken away for
    seconds at a time; a round with a large share measured the host, not the code.
    """

    label: str
    round_images_per_second: list[float]
    round_images_per_cpu_second: list[float]
    round_steal_share: list[float | None] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return statistics.median(self.round_images_per_second)

    @property
    def images_per_cpu_second(self) -> float:
        return statistics.median(self.round_images_per_cpu_second)

    @property
    def epoch_seconds(self) -> float:
        return CIFAR_TRAIN_IMAGES / self.images_per_second


def steal_seconds() -> float | None:
    """CPU seconds the hypervisor has taken from this machine since boot, all CPUs (``/proc/stat``'s steal
    column, in clock ticks); None where it is not readable."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _steal_share(before: float | None, wall_seconds: float) -> float | None:
    after = steal_seconds()
    if before is None or after is None:
        return None
    return round((after - before) / (wall_seconds * (os.cpu_count() or 1)), 4)


def side_by_side(
    candidates: dict[str, Callable[[int], None]],
    *,
    images_per_step: int,
    steps: int,
    rounds: int,
    warmup_steps: int,
) -> dict[str, Timing]:
    """Time several step functions in one process, alternating.

    ``candidates`` maps a label to ``run(steps)``. Each is warmed up
    (compilation, allocator) first; then every round runs each candidate for
    ``steps`` steps, in forward order on even rounds and reversed on odd ones,
    so slow drifts of the machine's load fall on all of them alike.
    """
    for run in candidates.values():
        run(warmup_steps)
    wall: dict[str, list[float]] = {label: [] for label in candidates}
    cpu: dict[str, list[float]] = {label: [] for label in candidates}
    steal: dict[str, list[float | None]] = {label: [] for label in candidates}
    order = list(candidates)
    for index in range(rounds):
        for label in order if index % 2 == 0 else reversed(order):
            wall_start, cpu_start, steal_start = time.perf_counter(), time.process_time(), steal_seconds()
            candidates[label](steps)
            wall_seconds, cpu_seconds = time.perf_counter() - wall_start, time.process_time() - cpu_start
            wall[label].append(images_per_step * steps / wall_seconds)
            cpu[label].append(images_per_step * steps / max(cpu_seconds, 1e-9))
            steal[label].append(_steal_share(steal_start, wall_seconds))
    return {label: Timing(label, wall[label], cpu[label], steal[label]) for label in candidates}


def timed_training(models: dict[str, keras.Model], batches, args: argparse.Namespace) -> dict[str, Timing]:
    """``side_by_side`` over the training steps of several models, with the command's timing flags."""
    return side_by_side(
        {label: (lambda steps, m=m: train_steps(m, batches, steps)) for label, m in models.items()},
        images_per_step=args.batch_size,
        steps=args.steps,
        rounds=args.rounds,
        warmup_steps=args.warmup_steps,
    )


def settings(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The named command-line settings of a run, as recorded in its result."""
    return {name: getattr(args, name) for name in names}
