"""The command line's choices and defaults as plain data: no TensorFlow or Keras import.

``python -m reszoo.train --help`` and a bad flag read these and answer at once; the modules that do
the work (``augment``, ``distribute``, ``schedules``, ``training.config``) take their names from here.
"""

from __future__ import annotations

from typing import Any

AUGMENTATIONS = ("standard", "none", "randaugment")
STRATEGIES = ("auto", "mirrored", "multiworker", "default")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")  # Keras dtype policies
# reszoo.train --precision: a policy, or auto (reszoo.hardware.auto_precision: bfloat16 where the CPU or GPU
# computes it natively, float32 elsewhere), resolved once into the config's policy.
PRECISION_CHOICES = ("auto", *PRECISIONS)
SCHEDULES = ("step", "cosine")
SCHEDULE_UNITS = ("epoch", "iteration")
# reszoo.export.FORMATS (the SavedModel is always written; the others on request).
EXPORT_FORMATS = ("saved_model", "onnx", "litert")

# What a run uses with --recipe none (and --recipe auto finds no recipe): the FastResNet schedule (the seed,
# Sec. 3.2; REFERENCE.md), with the model family's own paper weight decay (FastResNet's is 1e-4).
DEFAULTS: dict[str, Any] = dict(
    epochs=160,
    batch_size=128,
    lr=0.1,
    schedule="step",
    milestones=[80, 120],
    gamma=0.1,
    weight_decay=None,
    momentum=0.9,
    nesterov=True,
    warmup_epochs=0,
    warmup_lr=None,
    warmup_iterations=0,
    warmup_accuracy=None,
    augment="standard",
    cutout=0,
    label_smoothing=0.0,
    schedule_unit=None,  # resolved: schedules.default_unit
    mixup=0.0,
    cutmix=0.0,
    mix_prob=1.0,
    ema=None,
    model_args={},
)
# A recipe's iteration warm-up scales with the run (He et al.'s 400 of 64k iterations: the same 0.6% of a
# shorter run), at least one iteration and at most this share of the run's iterations.
MAX_WARMUP_SHARE = 0.1
