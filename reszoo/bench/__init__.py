"""Benchmarks: ``python -m reszoo.bench <command>`` (or ``reszoo-bench``), and the library under it.

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
``formats --model NAME [--batch-sizes 1,64]``
    Size on disk and inference images/s (``reszoo.load(...).predict`` on uint8 batches) of one
    model exported as SavedModel, ONNX (onnxruntime) and LiteRT, alternating round by round.
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

Layout: one module per command (``units``, ``throughput``, ``pipeline``, ``params``,
``variants``, ``profile``, ``envs``), each with ``run(args) -> dict`` and
``render(result, markdown) -> str``; ``machine`` (machine, versions, memory),
``timing`` (batches, compiling, alternating rounds), ``flops`` (multiply-adds
from layer shapes), ``tables`` and ``cli`` (the parser, ``run(argv)`` returning
the result, ``main(argv) -> int``). Only ``pipeline``, ``variants`` and
``profile`` import TensorFlow, and only when they run.

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

import importlib
from typing import Any

# The command line and its choices import no TensorFlow (``python -m reszoo.bench --help`` answers at once);
# the rest loads on first use, as ``reszoo.bench.<name>``.
from reszoo.bench.choices import PRECISIONS, VARIANTS, WrongBackendError, parse_environment
from reszoo.bench.cli import build_parser, main, parse_depths, parse_set_item, render, run

_LAZY = {
    "FlopCount": "flops",
    "count_forward_macs": "flops",
    "machine_info": "machine",
    "machine_line": "machine",
    "onednn_enabled": "machine",
    "peak_memory": "machine",
    "params_match": "params",
    "params_rows": "params",
    "op_time_breakdown": "profile",
    "format_table": "tables",
    "CIFAR_TRAIN_IMAGES": "timing",
    "Timing": "timing",
    "compile_for_training": "timing",
    "inference_steps": "timing",
    "side_by_side": "timing",
    "synthetic_batches": "timing",
    "train_steps": "timing",
    "PAPER_EPOCH_SECONDS": "units",
    "UNIT_KINDS": "units",
    "variant_model": "variants",
    "with_float32_fused_batch_norm": "variants",
    "with_fused_batch_norm": "variants",
    "with_keras_batch_norm": "variants",
    "without_batch_norm": "variants",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CIFAR_TRAIN_IMAGES",
    "PAPER_EPOCH_SECONDS",
    "PRECISIONS",
    "UNIT_KINDS",
    "VARIANTS",
    "FlopCount",
    "Timing",
    "WrongBackendError",
    "build_parser",
    "compile_for_training",
    "count_forward_macs",
    "format_table",
    "inference_steps",
    "machine_info",
    "machine_line",
    "main",
    "onednn_enabled",
    "op_time_breakdown",
    "params_match",
    "params_rows",
    "parse_depths",
    "parse_environment",
    "parse_set_item",
    "peak_memory",
    "render",
    "run",
    "side_by_side",
    "synthetic_batches",
    "train_steps",
    "variant_model",
    "with_float32_fused_batch_norm",
    "with_fused_batch_norm",
    "with_keras_batch_norm",
    "without_batch_norm",
]
