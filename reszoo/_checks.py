"""Argument checks shared by the builders (and usable by any reszoo module).

Pure Python, no TensorFlow/Keras import. Every check returns the value it accepted (normalised where
said) and raises one ``ValueError`` in one style: what is allowed, then ``Received: name=value``.
Booleans are refused where numbers are expected (``True`` is an ``int`` in Python).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def _fail(name: str, allowed: str, value: Any) -> ValueError:
    return ValueError(f"{name} must be {allowed}. Received: {name}={value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_int(name: str, value: Any, minimum: int | None = None) -> int:
    """An integer (not a bool), at least ``minimum`` when given."""
    if not _is_int(value) or (minimum is not None and value < minimum):
        if minimum == 1:
            allowed = "a positive integer"
        elif minimum == 0:
            allowed = "a non-negative integer"
        else:
            allowed = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise _fail(name, allowed, value)
    return value


def check_positive_int(name: str, value: Any) -> int:
    return check_int(name, value, 1)


def check_number(name: str, value: Any, *, minimum: float, exclusive: bool = False, meaning: str = "") -> float:
    """A real number (not a bool) >= ``minimum`` (> when ``exclusive``); ``meaning`` adds a parenthesis."""
    if not _is_number(value) or value < minimum or (exclusive and value == minimum):
        if exclusive and minimum == 0:
            allowed = "a positive number"
        else:
            allowed = f"a number {'>' if exclusive else '>='} {minimum:g}"
        raise _fail(name, allowed + (f" ({meaning})" if meaning else ""), value)
    return value


def check_positive(name: str, value: Any) -> float:
    return check_number(name, value, minimum=0, exclusive=True)


def check_interval(
    name: str, value: Any, *, lower: float = 0.0, upper: float = 1.0, closed_lower: bool = True, closed_upper: bool
) -> float:
    """A real number in the interval from ``lower`` to ``upper``, each end open or closed; as a float."""
    ok = _is_number(value)
    ok = ok and (lower <= value if closed_lower else lower < value)
    ok = ok and (value <= upper if closed_upper else value < upper)
    if not ok:
        interval = f"{'[' if closed_lower else '('}{lower:g}, {upper:g}{']' if closed_upper else ')'}"
        raise _fail(name, f"in {interval}", value)
    return float(value)


def check_rate(name: str, value: Any, *, upper: float = 1.0, inclusive_upper: bool = False) -> float:
    """A drop rate: in [0, upper), or [0, upper] with ``inclusive_upper``."""
    return check_interval(name, value, upper=upper, closed_upper=inclusive_upper)


def check_probability(name: str, value: Any) -> float:
    """A probability: in [0, 1]."""
    return check_interval(name, value, closed_upper=True)


def check_range(name: str, value: Any) -> tuple[float, float]:
    """A pair of real numbers ``(low, high)`` with ``low <= high``; as floats."""
    numbers = isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_number(v) for v in value)
    if not (numbers and value[0] <= value[1]):
        raise _fail(name, "a pair (low, high) with low <= high", value)
    return float(value[0]), float(value[1])


def check_choice(name: str, value: T, allowed: Iterable[Any]) -> T:
    """One of ``allowed`` (listed with their reprs in the message)."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise _fail(name, f"one of {', '.join(map(repr, allowed))}", value)
    return value


def check_depth(
    depth: Any,
    *,
    step: int,
    extra: int,
    name: str = "depth",
    letter: str = "n",
    rule: str = "",
    examples: Sequence[int] = (1, 2, 3, 9, 18),
) -> int:
    """The positive integer k with ``depth = step * k + extra``; the error names the rule and examples."""
    if not _is_int(depth) or depth < step + extra or (depth - extra) % step:
        listed = ", ".join(str(step * k + extra) for k in examples)
        formula = f"{step}{letter}+{extra}" + (f" ({rule})" if rule else "")
        raise _fail(name, f"{formula} for a positive integer {letter} (e.g. {listed})", depth)
    return (depth - extra) // step


def units_from_depth(depth: Any, *, layers_per_unit: int, extra: int, stages: int = 3, arg: str = "depth") -> int:
    """n such that depth = stages * layers_per_unit * n + extra (the CIFAR networks' depth rule)."""
    return check_depth(depth, step=stages * layers_per_unit, extra=extra, name=arg)


def check_input_shape(input_shape: Any) -> tuple[int, int, int]:
    shape: tuple[Any, ...] = tuple(input_shape)
    if len(shape) != 3 or any(not _is_int(d) or d < 1 for d in shape):
        raise _fail("input_shape", "(height, width, channels) with positive integers", input_shape)
    return (shape[0], shape[1], shape[2])


def check_num_classes(num_classes: Any) -> int:
    return check_int("num_classes", num_classes, 2)
