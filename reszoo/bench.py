"""Benchmarks: ``python -m reszoo.bench <command>``.

Commands (each prints a table; ``--out FILE`` also writes JSON with the machine,
library versions, backend and date):

``units``
    The FastResNet seed's Tables 1-2 comparison. For each depth (``--depths
    20,56,110``): the pre-activation basic ResNet and FastResNet types 1 and 2,
    trained side by side in one process at the same batch size, precision and
    device, in alternating rounds after a warm-up. Reports training images/s,
    projected seconds per CIFAR epoch (50,000 images) and FastResNet / ResNet
    epoch time next to the paper's (0.73 at 20, 0.70 at 56, 0.64 at 110).
``throughput --model NAME [--set k=v ...]``
    Training and inference images/s, peak memory (process RSS; the device's
    peak where the backend reports one), forward multiply-adds per image
    counted from the layer shapes, and the training FLOP/s this achieves
    (training = 3 x forward, 2 FLOPs per multiply-add).
``pipeline``
    Images/s the tf.data CIFAR pipeline (``reszoo.data.load_dataset``: decode,
    cache, per-image augmentation, batching) delivers on its own, next to
    FastResNet-20's training images/s measured in the same run: the pipeline
    must be several times faster so it never starves training.
``params [--skip-slow] [--markdown]``
    Trainable parameters of every preset against the paper's printed count
    and the official code's exact count.
``variants --model NAME``
    One model's training step in variants that keep its numerics
    (``keras_bn``: reszoo's ``FusedBatchNormalization`` swapped for Keras' own
    ``keras.layers.BatchNormalization``, as reszoo built models before
    2026-12-03; ``fused_bn``: as built; ``xla``: Keras' BN compiled with XLA), side by side in one process, plus the diagnostic ``no_bn`` (BN
    removed: not a model, the ceiling of any BN speed-up). TensorFlow only.
``profile --model NAME [--variant keras_bn|fused_bn|no_bn]``
    Where a training step's time goes: kernel time per TensorFlow op type,
    read from a ``tf.profiler`` trace of a few steps (inter-op threads;
    executor bookkeeping excluded). TensorFlow only.
``envs --env K=V[,K=V] --env ... --model NAME``
    ``throughput`` of one model under several environment settings read at
    start-up (``TF_ENABLE_ONEDNN_OPTS``, ``TF_NUM_INTRAOP_THREADS``,
    ``TF_NUM_INTEROP_THREADS``, ...), one process per run, alternating.

How steps are timed: ``model.train_on_batch`` on numpy batches. It runs the
same compiled train function ``model.fit`` runs (``make_train_function``,
one step per call), takes numpy on every backend (so the JAX path never
imports TensorFlow: ``units``, ``throughput`` and ``params`` run under
``KERAS_BACKEND=jax``), and lets several models alternate step-granular without
``fit``'s per-call iterator and callback set-up. Returned losses are Python
floats, so every call waits for its step to finish (JAX dispatches
asynchronously). Input copies to the device are included, as in ``fit``.

Examples::

    python -m reszoo.bench units --depths 20,56,110 --out units.json
    KERAS_BACKEND=jax python -m reszoo.bench units --depths 20
    python -m reszoo.bench throughput --model resnet20
    python -m reszoo.bench throughput --model preact_resnet --set depth=56 --batch-size 64
    python -m reszoo.bench pipeline --dataset synthetic:50000
    python -m reszoo.bench params --skip-slow --markdown
    python -m reszoo.bench variants --model preact_resnet --set depth=20
    python -m reszoo.bench profile --model preact_resnet --set depth=20
    python -m reszoo.bench envs --model preact_resnet --set depth=20 --env - --env TF_ENABLE_ONEDNN_OPTS=1
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

import reszoo

CIFAR_TRAIN_IMAGES = 50_000
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
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
VARIANTS = ("keras_bn", "fused_bn", "xla", "fused_bn+xla", "no_bn")
# Layers whose multiply-adds are prod(output spatial dims) x prod(kernel shape).
_KERNEL_LAYERS = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
    keras.layers.Dense,
)


# Machine and versions ------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """Where and with what a measurement ran (imports TensorFlow only on its backend)."""
    backend = keras.backend.backend()
    info: dict[str, Any] = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "backend": backend,
        "versions": {
            "python": platform.python_version(),
            "keras": keras.__version__,
            "numpy": np.__version__,
            "reszoo": reszoo.__version__,
        },
        "devices": _devices(backend),
    }
    if backend == "tensorflow":
        import tensorflow as tf

        info["versions"]["tensorflow"] = tf.__version__
        info["onednn"] = onednn_enabled()
        info["TF_ENABLE_ONEDNN_OPTS"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
        info["threads"] = {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads() or "default (all cores)",
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads() or "default (all cores)",
        }
    elif backend == "jax":
        import jax

        info["versions"]["jax"] = jax.__version__
    return info


def onednn_enabled() -> bool | None:
    """Whether TensorFlow runs its oneDNN kernels in this process (None if it cannot tell).

    TensorFlow turns them on by default only on CPUs with AVX-512 VNNI / BF16 /
    AMX features; elsewhere (this project's AMD EPYC machine) only when
    ``TF_ENABLE_ONEDNN_OPTS=1`` is set before it is imported.
    """
    try:
        from tensorflow.python.util import _pywrap_util_port  # no public API tells

        return bool(_pywrap_util_port.IsMklEnabled())
    except ImportError:
        return None


def _devices(backend: str) -> list[str]:
    if backend == "tensorflow":
        import tensorflow as tf

        return [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()]
    if backend == "jax":
        import jax

        return [str(d) for d in jax.devices()]
    return []


def peak_memory() -> dict[str, Any]:
    """Peak process RSS in MiB, plus the device's peak allocation where the backend reports one."""
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    memory: dict[str, Any] = {"peak_rss_mib": round(rss_kib / 1024, 1), "device_peak_mib": None}
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            peak = tf.config.experimental.get_memory_info(gpus[0].name)["peak"]
            memory["device_peak_mib"] = round(peak / 2**20, 1)
    elif backend == "jax":
        import jax

        stats = jax.local_devices()[0].memory_stats()  # None on the CPU
        if stats and "peak_bytes_in_use" in stats:
            memory["device_peak_mib"] = round(stats["peak_bytes_in_use"] / 2**20, 1)
    return memory


# FLOPs -------------------------------------------------------------------------------------


@dataclass
class FlopCount:
    """Forward multiply-adds per image from conv and dense layers, and the layers not counted."""

    macs: int
    uncounted: list[str] = field(default_factory=list)

    @property
    def forward_flops(self) -> int:
        return 2 * self.macs

    @property
    def training_flops(self) -> int:
        """Forward + backward (gradients w.r.t. activations and weights) ~ 3 x forward."""
        return 3 * self.forward_flops


def _call_output_shapes(layer) -> list[tuple]:
    return [tuple(node.outputs[0].shape) for node in getattr(layer, "_inbound_nodes", []) if node.outputs]


def count_forward_macs(model: keras.Model) -> FlopCount:
    """Multiply-adds of one image's forward pass, counted from the layer shapes.

    Convolutions and dense layers are the papers' FLOP convention (He et al.
    2015 count ResNet-20 option A as 40.55M multiply-adds): for each call, the
    product of the output's spatial sizes times the kernel's size (kernel
    height x width x input channels / groups x filters). BN, activations,
    pooling and additions are not counted. We count from the layer shapes
    rather than with ``tf.profiler`` so the count runs on every backend; any
    layer that carries a kernel we do not know how to count, or that runs
    outside the functional graph (inside a custom layer), is listed in
    ``uncounted`` instead of silently ignored.
    """
    macs, uncounted = 0, []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.Model):
            continue
        kernels = [w for w in layer.weights if "kernel" in w.path.rsplit("/", 1)[-1]]
        if not kernels:
            continue
        shapes = _call_output_shapes(layer)
        if isinstance(layer, _KERNEL_LAYERS) and shapes:
            kernel_size = math.prod(layer.kernel.shape)
            macs += sum(math.prod(s[1:-1]) * kernel_size for s in shapes)
        elif isinstance(layer, keras.layers.SeparableConv2D) and shapes:
            kernel_size = math.prod(layer.depthwise_kernel.shape) + math.prod(layer.pointwise_kernel.shape)
            macs += sum(math.prod(s[1:-1]) * kernel_size for s in shapes)
        else:
            uncounted.append(layer.name)
    return FlopCount(macs, uncounted)


# Timing ------------------------------------------------------------------------------------


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
    for step in range(steps):
        np.asarray(model.predict_on_batch(batches[step % len(batches)][0]))


@dataclass
class Timing:
    """Per-round throughput of one candidate; its summary is the median round.

    Images per CPU-second (process CPU time, all threads) is recorded beside
    wall-clock images/s: on a machine shared with other work it moves less,
    though it also counts threads spinning while they wait.
    """

    label: str
    round_images_per_second: list[float]
    round_images_per_cpu_second: list[float]

    @property
    def images_per_second(self) -> float:
        return statistics.median(self.round_images_per_second)

    @property
    def images_per_cpu_second(self) -> float:
        return statistics.median(self.round_images_per_cpu_second)

    @property
    def epoch_seconds(self) -> float:
        return CIFAR_TRAIN_IMAGES / self.images_per_second


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
    order = list(candidates)
    for index in range(rounds):
        for label in order if index % 2 == 0 else reversed(order):
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            candidates[label](steps)
            wall_seconds, cpu_seconds = time.perf_counter() - wall_start, time.process_time() - cpu_start
            wall[label].append(images_per_step * steps / wall_seconds)
            cpu[label].append(images_per_step * steps / max(cpu_seconds, 1e-9))
    return {label: Timing(label, wall[label], cpu[label]) for label in candidates}


# Commands ----------------------------------------------------------------------------------


def parse_depths(text: str) -> list[int]:
    try:
        depths = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        depths = []
    if not depths or any(d < 8 or (d - 2) % 6 for d in depths):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated depths of the form 6n+2 (8, 20, 56, 110, ...). Received: {text!r}"
        )
    return depths


def parse_set_item(text: str) -> tuple[str, Any]:
    """``"depth=56"`` -> ``("depth", 56)``.

    The same syntax as ``reszoo.train``'s ``--set``, re-implemented because
    importing ``reszoo.train`` imports TensorFlow, which the JAX path must not.
    """
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key.isidentifier() or not raw:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, e.g. depth=56. Received: {text!r}")
    try:
        return key, ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return key, raw


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer. Received: {text!r}")
    return value


def set_precision(precision: str) -> None:
    keras.mixed_precision.set_dtype_policy(precision)


def units(args: argparse.Namespace) -> dict[str, Any]:
    """Pre-activation ResNet vs FastResNet types 1 and 2 per depth (seed Tables 1-2)."""
    set_precision(args.precision)
    batches = synthetic_batches(args.batch_size)
    rows = []
    for depth in args.depths:
        models = {}
        for kind, (family, extra) in UNIT_KINDS.items():
            model = reszoo.build(family, depth=depth, **extra)
            models[kind] = compile_for_training(model, jit_compile=args.jit_compile)
        timings = side_by_side(
            {kind: (lambda steps, m=m: train_steps(m, batches, steps)) for kind, m in models.items()},
            images_per_step=args.batch_size,
            steps=args.steps,
            rounds=args.rounds,
            warmup_steps=args.warmup_steps,
        )
        baseline = timings["resnet"].epoch_seconds
        paper = PAPER_EPOCH_SECONDS.get(depth, {})
        for kind, timing in timings.items():
            paper_ratio = paper[kind] / paper["resnet"] if kind in paper else None
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
                    "paper_ratio_to_resnet": paper_ratio,
                }
            )
        del models
        keras.backend.clear_session()
    return {
        "command": "units",
        "settings": _settings(args, "batch_size", "precision", "steps", "rounds", "warmup_steps", "jit_compile"),
        "timing_method": "train_on_batch on fixed numpy batches, median of alternating rounds after warm-up",
        "machine": machine_info(),
        "rows": rows,
    }


def throughput(args: argparse.Namespace) -> dict[str, Any]:
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
    return {
        "command": "throughput",
        "model": model.name,
        "builder_args": {"name": args.model, **dict(args.set)},
        "settings": _settings(args, "batch_size", "precision", "steps", "rounds", "warmup_steps", "jit_compile"),
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
        "memory": peak_memory(),
        "machine": machine_info(),
    }


def pipeline(args: argparse.Namespace) -> dict[str, Any]:
    """The tf.data pipeline's own images/s against FastResNet-20's training images/s (TensorFlow only)."""
    from reszoo import data  # imports TensorFlow: only this command needs tf.data

    bundle = data.load_dataset(args.dataset, batch_size=args.batch_size, augment="standard")
    iterator = iter(bundle.train.repeat())
    warm_start = time.perf_counter()
    for _ in range(args.warmup_batches):
        next(iterator)
    warmup_seconds = time.perf_counter() - warm_start
    images, start, cpu_start = 0, time.perf_counter(), time.process_time()
    for _ in range(args.batches):
        batch_images, _labels = next(iterator)
        images += int(batch_images.shape[0])
    pipeline_ips = images / (time.perf_counter() - start)
    pipeline_cpu_ips = images / max(time.process_time() - cpu_start, 1e-9)

    model = compile_for_training(
        reszoo.build("fast_resnet20", input_shape=tuple(bundle.image_shape), num_classes=bundle.num_classes)
    )
    batches = synthetic_batches(args.batch_size, tuple(bundle.image_shape), bundle.num_classes)
    timing = side_by_side(
        {"train": lambda steps: train_steps(model, batches, steps)},
        images_per_step=args.batch_size,
        steps=args.steps,
        rounds=args.rounds,
        warmup_steps=args.warmup_steps,
    )["train"]
    return {
        "command": "pipeline",
        "dataset": bundle.name,
        "settings": _settings(args, "batch_size", "batches", "warmup_batches", "steps", "rounds", "warmup_steps"),
        "pipeline_images_per_second": pipeline_ips,
        "pipeline_images_per_cpu_second": pipeline_cpu_ips,
        "pipeline_warmup_seconds": warmup_seconds,
        "train_model": model.name,
        "train_images_per_second": timing.images_per_second,
        "train_images_per_cpu_second": timing.images_per_cpu_second,
        "pipeline_to_train_ratio": pipeline_ips / timing.images_per_second,
        "pipeline_to_train_cpu_ratio": pipeline_cpu_ips / timing.images_per_cpu_second,
        "machine": machine_info(),
    }


def params_rows(skip_slow: bool = False, families: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Ours vs published vs exact for every preset (``match`` is None when the paper gives no count)."""
    rows = []
    for name, preset in reszoo.presets().items():
        if (skip_slow and preset.slow) or (families and preset.family not in families):
            continue
        ours = reszoo.trainable_params(reszoo.build(name))
        keras.backend.clear_session()
        rows.append(
            {
                "family": preset.family,
                "preset": name,
                "ours": ours,
                "published_m": preset.published,
                "exact": preset.exact,
                "match": params_match(ours, preset.published, preset.exact),
                "paper": preset.paper,
                "notes": preset.notes,
            }
        )
    return rows


def params_match(ours: int, published: float | None, exact: int | None) -> bool | None:
    """Equal to the exact count when there is one, else equal to the published count at its printed precision."""
    if exact is not None:
        return ours == exact
    if published is None:
        return None
    text = repr(float(published))
    digits = len(text.split(".")[1]) if "." in text else 0
    return round(ours / 1e6, digits) == round(float(published), digits)


def params(args: argparse.Namespace) -> dict[str, Any]:
    unknown = sorted(set(args.family or ()) - set(reszoo.list_models()))
    if unknown:
        raise ValueError(f"Unknown family {', '.join(unknown)} for --family. Known: {', '.join(reszoo.list_models())}.")
    rows = params_rows(args.skip_slow, args.family)
    return {
        "command": "params",
        "skip_slow": args.skip_slow,
        "families": args.family,
        "rows": rows,
        "machine": machine_info(),
    }


def _with_batch_norm_class(model: keras.Model, batch_norm_class: type) -> keras.Model:
    """A copy of ``model`` (same weights and regularizers) whose BN layers are all ``batch_norm_class``."""

    def clone_layer(layer):
        is_batch_norm = isinstance(layer, keras.layers.BatchNormalization)
        cls = batch_norm_class if is_batch_norm else layer.__class__
        return cls.from_config(layer.get_config())

    clone = keras.models.clone_model(model, clone_function=clone_layer)
    clone.set_weights(model.get_weights())
    return clone


def with_fused_batch_norm(model: keras.Model) -> keras.Model:
    """A copy of ``model`` whose BN layers are ``FusedBatchNormalization`` (reszoo's builders' own)."""
    from reszoo.layers.fused_bn import FusedBatchNormalization

    return _with_batch_norm_class(model, FusedBatchNormalization)


def with_keras_batch_norm(model: keras.Model) -> keras.Model:
    """A copy of ``model`` whose BN layers are Keras' own, unfused ``keras.layers.BatchNormalization``."""
    return _with_batch_norm_class(model, keras.layers.BatchNormalization)


class _Bypass(keras.layers.Layer):
    """Passes its input through; stands in for BN in the ``no_bn`` diagnostic (never saved)."""

    def call(self, x, training=None, mask=None):
        return x


def without_batch_norm(model: keras.Model) -> keras.Model:
    """A copy of ``model`` with every BN layer removed: not a model to train, the ceiling of any BN speed-up."""

    def clone_layer(layer):
        if isinstance(layer, keras.layers.BatchNormalization):
            return _Bypass(name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=clone_layer)


def _variant_model(base: keras.Model, variant: str) -> keras.Model:
    if variant == "no_bn":
        return without_batch_norm(base)
    if "fused_bn" in variant:
        return with_fused_batch_norm(base)
    return with_keras_batch_norm(base)


def variants(args: argparse.Namespace) -> dict[str, Any]:
    """One model's training step in numerics-preserving variants, side by side (TensorFlow backend)."""
    if keras.backend.backend() != "tensorflow":
        raise SystemExit("error: bench variants compares TensorFlow execution variants; use KERAS_BACKEND=tensorflow")
    set_precision(args.precision)
    base = reszoo.build(args.model, **dict(args.set))
    batches = synthetic_batches(args.batch_size, base.input_shape[1:], base.output_shape[-1])
    models = {}
    for variant in args.variant or VARIANTS:
        models[variant] = compile_for_training(_variant_model(base, variant), jit_compile="xla" in variant)
    timings = side_by_side(
        {v: (lambda steps, m=m: train_steps(m, batches, steps)) for v, m in models.items()},
        images_per_step=args.batch_size,
        steps=args.steps,
        rounds=args.rounds,
        warmup_steps=args.warmup_steps,
    )
    baseline = next(iter(timings.values()))
    rows = [
        {
            "variant": v,
            "images_per_second": t.images_per_second,
            "round_images_per_second": t.round_images_per_second,
            "images_per_cpu_second": t.images_per_cpu_second,
            "epoch_seconds": t.epoch_seconds,
            "speedup": t.images_per_second / baseline.images_per_second,
            "cpu_speedup": t.images_per_cpu_second / baseline.images_per_cpu_second,
        }
        for v, t in timings.items()
    ]
    return {
        "command": "variants",
        "model": base.name,
        "settings": _settings(args, "batch_size", "precision", "steps", "rounds", "warmup_steps"),
        "rows": rows,
        "machine": machine_info(),
    }


# Trace events that wrap kernels (the executor, intra-op sharding) rather than being kernels.
_WRAPPER_EVENTS = ("Process", "ParallelFor", "ExecutorDoneCallback")


def op_time_breakdown(xspace_bytes: bytes) -> dict[str, int]:
    """Picoseconds per TF op type on the inter-op ("tf_Compute") threads of a profiler trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # shipped with TensorFlow; no public reader

    space = xplane_pb2.XSpace()
    space.ParseFromString(xspace_bytes)
    totals: dict[str, int] = {}
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                op_type = plane.event_metadata[event.metadata_id].name.rsplit(":", 1)[-1]
                if op_type not in _WRAPPER_EVENTS and not op_type.startswith("ThreadpoolListener"):
                    totals[op_type] = totals.get(op_type, 0) + event.duration_ps
    return totals


def profile(args: argparse.Namespace) -> dict[str, Any]:
    """Where a training step's time goes: kernel time per TF op type (tf.profiler trace; TensorFlow only)."""
    if keras.backend.backend() != "tensorflow":
        raise SystemExit("error: bench profile reads TensorFlow's profiler; use KERAS_BACKEND=tensorflow")
    import glob
    import tempfile

    import tensorflow as tf

    set_precision(args.precision)
    model = compile_for_training(
        _variant_model(reszoo.build(args.model, **dict(args.set)), args.variant), jit_compile=False
    )
    batches = synthetic_batches(args.batch_size, model.input_shape[1:], model.output_shape[-1])
    train_steps(model, batches, args.warmup_steps)
    with tempfile.TemporaryDirectory(prefix="reszoo-profile-") as logdir:
        tf.profiler.experimental.start(logdir)
        train_steps(model, batches, args.steps)
        tf.profiler.experimental.stop()
        (trace,) = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        with open(trace, "rb") as f:
            totals = op_time_breakdown(f.read())
    total = sum(totals.values())
    rows = [
        {"op": op, "ms_per_step": ps / args.steps / 1e9, "share": ps / total}
        for op, ps in sorted(totals.items(), key=lambda item: -item[1])
    ]
    return {
        "command": "profile",
        "model": model.name,
        "variant": args.variant,
        "settings": _settings(args, "batch_size", "precision", "steps", "warmup_steps"),
        "kernel_ms_per_step": total / args.steps / 1e9,
        "rows": rows,
        "machine": machine_info(),
    }


def parse_environment(text: str) -> dict[str, str]:
    """``"TF_ENABLE_ONEDNN_OPTS=1,TF_NUM_INTRAOP_THREADS=2"`` -> a dict; ``"-"`` -> no change."""
    if text.strip() == "-":
        return {}
    pairs = [part.partition("=") for part in text.split(",") if part.strip()]
    if not pairs or any(not sep or not key.strip() for key, sep, _ in pairs):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE[,KEY=VALUE...] or '-'. Received: {text!r}")
    return {key.strip(): value.strip() for key, _, value in pairs}


def environments(args: argparse.Namespace) -> dict[str, Any]:
    """``bench throughput`` of one model under several environments, alternating processes.

    Settings read once at start-up (oneDNN, thread pools, XLA flags) cannot be
    switched inside one process, so each run is a fresh process; runs alternate
    between the settings, ``--repeats`` times, and each setting's figure is the
    median of its runs.
    """
    import subprocess
    import tempfile

    inner = [
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
    runs: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(args.env))}
    with tempfile.TemporaryDirectory(prefix="reszoo-bench-") as workdir:
        for repeat in range(args.repeats):
            order = range(len(args.env)) if repeat % 2 == 0 else reversed(range(len(args.env)))
            for index in order:
                out = os.path.join(workdir, f"run{repeat}-{index}.json")
                env = {**os.environ, **args.env[index]}
                command = [sys.executable, "-m", "reszoo.bench", *inner, "--out", out]
                completed = subprocess.run(command, env=env, capture_output=True, text=True)
                if completed.returncode:
                    raise RuntimeError(
                        f"{' '.join(command)} with {args.env[index]} failed:\n{completed.stderr[-2000:]}"
                    )
                with open(out) as f:
                    runs[index].append(json.load(f))
    rows = []
    for index, setting in enumerate(args.env):
        train = statistics.median(r["train_images_per_second"] for r in runs[index])
        rows.append(
            {
                "environment": setting,
                "train_images_per_second": train,
                "train_runs": [r["train_images_per_second"] for r in runs[index]],
                "train_images_per_cpu_second": statistics.median(r["train_images_per_cpu_second"] for r in runs[index]),
                "inference_images_per_second": statistics.median(r["inference_images_per_second"] for r in runs[index]),
                "epoch_seconds": CIFAR_TRAIN_IMAGES / train,
            }
        )
    for row in rows:
        row["speedup"] = row["train_images_per_second"] / rows[0]["train_images_per_second"]
    return {
        "command": "envs",
        "model": runs[0][0]["model"],
        "settings": _settings(args, "batch_size", "precision", "steps", "rounds", "warmup_steps", "repeats"),
        "timing_method": "one process per run, settings alternating; median of runs",
        "rows": rows,
        "machine": machine_info(),
    }


def _settings(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names}


# Output ------------------------------------------------------------------------------------


def _fmt(value, spec: str = "") -> str:
    return "—" if value is None else format(value, spec)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], markdown: bool = False) -> str:
    cells = [[str(c) for c in row] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda row: "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def render(result: dict[str, Any], markdown: bool = False) -> str:
    command = result["command"]
    if command == "units":
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
                _fmt(r["paper_epoch_seconds"], ".2f"),
                _fmt(r["paper_ratio_to_resnet"], ".3f"),
                f"{r['images_per_cpu_second']:.1f}",
            ]
            for r in result["rows"]
        ]
        return format_table(headers, rows, markdown)
    if command == "params":
        headers = ["family", "preset", "ours (trainable)", "published (M)", "exact", "match"]
        rows = [
            [
                r["family"],
                r["preset"],
                f"{r['ours']:,}",
                _fmt(r["published_m"]),
                _fmt(r["exact"], ","),
                {True: "✓", False: "✗", None: "—"}[r["match"]],
            ]
            for r in result["rows"]
        ]
        return format_table(headers, rows, markdown)
    if command == "variants":
        headers = ["variant", "images/s", "s/epoch", "speed-up", "images/CPU-s", "CPU speed-up"]
        rows = [
            [
                r["variant"],
                f"{r['images_per_second']:.1f}",
                f"{r['epoch_seconds']:.1f}",
                f"{r['speedup']:.3f}",
                f"{r['images_per_cpu_second']:.1f}",
                f"{r['cpu_speedup']:.3f}",
            ]
            for r in result["rows"]
        ]
        return format_table(headers, rows, markdown)
    if command == "profile":
        headers = ["op", "ms per step", "share"]
        rows = [
            [r["op"], f"{r['ms_per_step']:.1f}", f"{100 * r['share']:.1f}%"]
            for r in result["rows"]
            if r["share"] >= 0.005
        ]
        return f"kernel time per step: {result['kernel_ms_per_step']:.0f} ms\n" + format_table(headers, rows, markdown)
    if command == "envs":
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
    if command == "throughput":
        memory = result["memory"]
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
                + (f" (not counted: {', '.join(result['uncounted_layers'])})" if result["uncounted_layers"] else ""),
            ),
            (
                "training FLOP/s",
                f"{result['training_flops_per_second'] / 1e9:.2f} GFLOP/s "
                f"({result['training_flops_per_image'] / 1e9:.3f} GFLOP per image)",
            ),
            (
                "peak memory",
                f"{memory['peak_rss_mib']} MiB RSS"
                + (f", {memory['device_peak_mib']} MiB device" if memory["device_peak_mib"] is not None else ""),
            ),
        ]
        return "\n".join(f"{k:>16}: {v}" for k, v in lines)
    if command == "pipeline":
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
    raise ValueError(f"Unknown command {command!r}")


def machine_line(machine: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    return (
        f"{machine['date']} | {machine['platform']} | {machine['cpus_usable']} CPUs | backend {machine['backend']} "
        f"| load {machine['load_average']} | {versions}"
    )


# CLI ---------------------------------------------------------------------------------------


def _timing_args(p: argparse.ArgumentParser, *, steps: int, rounds: int, warmup: int) -> None:
    p.add_argument("--steps", type=positive_int, default=steps, help=f"training steps per round ({steps})")
    p.add_argument("--rounds", type=positive_int, default=rounds, help=f"alternating rounds ({rounds})")
    p.add_argument("--warmup-steps", type=positive_int, default=warmup, help=f"untimed steps first ({warmup})")


def _model_args(p: argparse.ArgumentParser, default_batch: int = 128) -> None:
    p.add_argument("--batch-size", type=positive_int, default=default_batch, help=f"batch size ({default_batch})")
    p.add_argument("--precision", choices=PRECISIONS, default="float32", help="Keras dtype policy (float32)")


def _jit_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--jit-compile",
        type=lambda s: {"true": True, "false": False, "auto": "auto"}[s.lower()],
        default="auto",
        metavar="{auto,true,false}",
        help="XLA; auto is Keras' choice: on for JAX, off for TensorFlow on a CPU",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reszoo.bench", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("units", help="pre-activation ResNet vs FastResNet types 1 and 2 (seed Tables 1-2)")
    p.add_argument("--depths", type=parse_depths, default=[20, 56, 110], help="comma-separated (20,56,110)")
    _model_args(p)
    _jit_arg(p)
    _timing_args(p, steps=10, rounds=5, warmup=3)

    p = sub.add_parser("throughput", help="training / inference images/s, memory and FLOPs of one model")
    p.add_argument("--model", required=True, help="family or preset name")
    p.add_argument("--set", action="append", type=parse_set_item, default=[], metavar="KEY=VALUE")
    _model_args(p)
    _jit_arg(p)
    _timing_args(p, steps=10, rounds=3, warmup=3)

    p = sub.add_parser("pipeline", help="tf.data pipeline images/s vs FastResNet-20 training images/s")
    p.add_argument("--dataset", default="synthetic:50000", help="as reszoo.train's --dataset (synthetic:50000)")
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--batches", type=positive_int, default=200, help="batches timed (200)")
    p.add_argument("--warmup-batches", type=positive_int, default=20, help="batches drawn before timing (20)")
    _timing_args(p, steps=10, rounds=3, warmup=3)

    p = sub.add_parser("params", help="trainable parameters of every preset vs the papers")
    p.add_argument("--skip-slow", action="store_true", help="skip presets marked slow to build")
    p.add_argument("--markdown", action="store_true", help="print a markdown table")
    p.add_argument("--family", action="append", help="only this family's presets (repeatable)")

    p = sub.add_parser("variants", help="fused BN / XLA variants of one model's training step (TensorFlow)")
    p.add_argument("--model", required=True, help="family or preset name")
    p.add_argument("--set", action="append", type=parse_set_item, default=[], metavar="KEY=VALUE")
    p.add_argument("--variant", action="append", choices=VARIANTS, help=f"repeatable (all: {', '.join(VARIANTS)})")
    _model_args(p)
    _timing_args(p, steps=10, rounds=5, warmup=3)

    p = sub.add_parser("profile", help="kernel time per TF op type in one model's training step (TensorFlow)")
    p.add_argument("--model", required=True, help="family or preset name")
    p.add_argument("--set", action="append", type=parse_set_item, default=[], metavar="KEY=VALUE")
    p.add_argument("--variant", choices=("keras_bn", "fused_bn", "no_bn"), default="fused_bn")
    p.add_argument("--steps", type=positive_int, default=4, help="traced steps (4)")
    p.add_argument("--warmup-steps", type=positive_int, default=3, help="untraced steps first (3)")
    _model_args(p)

    p = sub.add_parser("envs", help="one model's throughput under several environments, alternating processes")
    p.add_argument(
        "--env",
        action="append",
        type=parse_environment,
        required=True,
        metavar="K=V[,K=V]|-",
        help="an environment to compare (repeatable; '-' = unchanged), e.g. TF_ENABLE_ONEDNN_OPTS=1",
    )
    p.add_argument("--model", required=True, help="family or preset name")
    p.add_argument("--set", action="append", type=parse_set_item, default=[], metavar="KEY=VALUE")
    p.add_argument("--repeats", type=positive_int, default=3, help="processes per environment, alternating (3)")
    _model_args(p)
    _timing_args(p, steps=10, rounds=3, warmup=3)

    for p in sub.choices.values():
        p.add_argument("--out", default=None, help="also write the result as JSON to this file")
    return parser


COMMANDS = {
    "units": units,
    "throughput": throughput,
    "pipeline": pipeline,
    "params": params,
    "variants": variants,
    "envs": environments,
    "profile": profile,
}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    try:
        result = COMMANDS[args.command](args)
    except ValueError as error:  # unknown model, bad builder argument: one line, status 2
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    print(machine_line(result["machine"]))
    print(render(result, markdown=getattr(args, "markdown", False)))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2, default=str)
    return result


if __name__ == "__main__":
    main()
