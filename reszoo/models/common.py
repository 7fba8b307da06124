"""Argument checks and the CIFAR network skeleton shared by the families."""

from __future__ import annotations

import sys

import keras

from reszoo.layers import classifier
from reszoo.layers.core import check_input_shape, check_num_classes


def units_from_depth(depth, *, layers_per_unit: int, extra: int, stages: int = 3, arg: str = "depth") -> int:
    """n such that depth = stages * layers_per_unit * n + extra, or a ValueError saying what is allowed."""
    step = stages * layers_per_unit
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < step + extra or (depth - extra) % step:
        examples = ", ".join(str(step * n + extra) for n in (1, 2, 3, 9, 18))
        raise ValueError(
            f"{arg} must be {step}n+{extra} for a positive integer n (e.g. {examples}). Received: {arg}={depth!r}"
        )
    return (depth - extra) // step


def check_choice(arg: str, value, allowed):
    if value not in allowed:
        raise ValueError(f"{arg} must be one of {', '.join(map(repr, allowed))}. Received: {arg}={value!r}")
    return value


def check_rate(arg: str, value, *, upper: float = 1.0, inclusive_upper: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value
    ok = ok and (value <= upper if inclusive_upper else value < upper)
    if not ok:
        bound = "]" if inclusive_upper else ")"
        raise ValueError(f"{arg} must be in [0, {upper:g}{bound}. Received: {arg}={value!r}")
    return float(value)


def check_positive_int(arg: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{arg} must be a positive integer. Received: {arg}={value!r}")
    return value


def check_positive(arg: str, value) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{arg} must be a positive number. Received: {arg}={value!r}")
    return value


def model_inputs(input_shape):
    return keras.Input(shape=check_input_shape(input_shape), name="images")


def finish(inputs, features, *, num_classes, classifier_activation, name) -> keras.Model:
    """Add the GAP + dense classifier and wrap as a functional ``keras.Model``."""
    outputs = classifier(features, check_num_classes(num_classes), classifier_activation)
    allow_deep_graphs()
    return keras.Model(inputs, outputs, name=name)


# Keras walks a functional graph recursively (keras/src/ops/function.py, _build_map_helper): a few
# Python frames per layer, so ResNet-1202 / PreAct-1001 (3,000+ layers) overflow Python's default
# limit of 1,000. Python 3.11+ keeps pure-Python recursion off the C stack, so raising it is safe.
DEEP_GRAPH_RECURSION_LIMIT = 100_000


def allow_deep_graphs() -> None:
    if sys.getrecursionlimit() < DEEP_GRAPH_RECURSION_LIMIT:
        sys.setrecursionlimit(DEEP_GRAPH_RECURSION_LIMIT)
