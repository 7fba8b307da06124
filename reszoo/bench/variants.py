"""``bench variants``: one model's training step in variants that keep its numerics (TensorFlow only).

``keras_bn``: reszoo's ``FusedBatchNormalization`` swapped for Keras' own ``keras.layers.BatchNormalization``
(as reszoo built models before 2026-12-03); ``fused_bn``: as built; ``fused_bn_float32``: the fused BN casting
bfloat16 / float16 activations to float32 first (before 2026-12-07; differs only under ``--precision mixed_*``);
``strided_slice_shortcut``: as built, but the option-A shortcuts subsample with ``x[:, ::2, ::2, :]`` (before
2026-12-07) instead of a 1x1 max pool; ``xla``: Keras' BN compiled with XLA;
``no_bn``: every BN removed, not a model but the ceiling of any BN speed-up. Every variant is a copy of one
built model, so all start from the same weights.
"""

from __future__ import annotations

import argparse
from typing import Any

import keras

import reszoo
from reszoo.bench.choices import VARIANTS
from reszoo.bench.machine import machine_info, require_tensorflow
from reszoo.bench.tables import format_table
from reszoo.bench.timing import compile_for_training, set_precision, settings, synthetic_batches, timed_training


def _with_layer_class(model: keras.Model, kind: type, replacement: type) -> keras.Model:
    """A copy of ``model`` (same weights and regularizers) whose ``kind`` layers are all ``replacement``."""

    def clone_layer(layer):
        cls = replacement if isinstance(layer, kind) else layer.__class__
        return cls.from_config(layer.get_config())

    clone = keras.models.clone_model(model, clone_function=clone_layer)
    clone.set_weights(model.get_weights())
    return clone


def _with_batch_norm_class(model: keras.Model, batch_norm_class: type) -> keras.Model:
    """A copy of ``model`` whose BN layers are all ``batch_norm_class``."""
    return _with_layer_class(model, keras.layers.BatchNormalization, batch_norm_class)


def with_fused_batch_norm(model: keras.Model) -> keras.Model:
    """A copy of ``model`` whose BN layers are ``FusedBatchNormalization`` (reszoo's builders' own)."""
    from reszoo.layers.fused_bn import FusedBatchNormalization

    return _with_batch_norm_class(model, FusedBatchNormalization)


def with_float32_fused_batch_norm(model: keras.Model) -> keras.Model:
    """A copy of ``model`` whose fused BN casts half-precision inputs to float32 first (as Keras' BN does and
    reszoo's did before 2026-12-07); the same as ``fused_bn`` under float32."""
    from reszoo.layers.fused_bn import FusedBatchNormalization

    class Float32FusedBatchNormalization(FusedBatchNormalization):
        half_inputs_in_kernel = False

    return _with_batch_norm_class(model, Float32FusedBatchNormalization)


def with_strided_slice_shortcuts(model: keras.Model) -> keras.Model:
    """A copy of ``model`` as built, except that its option-A shortcuts subsample with ``x[:, ::2, ::2, :]``
    (``StridedSlice``, as reszoo did before 2026-12-07) instead of a 1x1 max pool."""
    from reszoo.layers.core import ZeroPadShortcut

    class SlicingZeroPadShortcut(ZeroPadShortcut):
        subsample_by_pooling = False

    return _with_layer_class(model, ZeroPadShortcut, SlicingZeroPadShortcut)


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


def variant_model(base: keras.Model, variant: str) -> keras.Model:
    """``base`` as ``variant`` builds it (``xla`` changes the compilation, not the model)."""
    if variant == "no_bn":
        return without_batch_norm(base)
    if variant == "fused_bn_float32":
        return with_float32_fused_batch_norm(base)
    if variant == "strided_slice_shortcut":
        return with_strided_slice_shortcuts(base)
    if "fused_bn" in variant:
        return with_fused_batch_norm(base)
    return with_keras_batch_norm(base)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One model's training step in numerics-preserving variants, side by side (TensorFlow backend)."""
    require_tensorflow("bench variants compares TensorFlow execution variants")
    set_precision(args.precision)
    base = reszoo.build(args.model, **dict(args.set))
    batches = synthetic_batches(args.batch_size, base.input_shape[1:], base.output_shape[-1])
    models = {
        variant: compile_for_training(variant_model(base, variant), jit_compile="xla" in variant)
        for variant in args.variant or VARIANTS
    }
    timings = timed_training(models, batches, args)
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
        "settings": settings(args, "batch_size", "precision", "steps", "rounds", "warmup_steps"),
        "rows": rows,
        "machine": machine_info(),
    }


def render(result: dict[str, Any], markdown: bool = False) -> str:
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
