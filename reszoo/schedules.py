"""Learning-rate schedules as pure functions of the epoch.

A schedule here is a plain callable ``schedule(epoch) -> learning rate`` (epochs
counted from 0), built by ``step_schedule``, ``cosine_schedule`` or
``make_schedule`` and optionally wrapped in a linear warm-up. It plugs straight
into ``keras.callbacks.LearningRateScheduler``, which calls it once at the start
of every epoch; keeping it a pure function of the epoch makes it testable
numerically and identical across restarts.

The papers' recipes (which schedule, which milestones) are data in
``reszoo.recipes``; this module only turns such numbers into functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import pairwise

Schedule = Callable[..., float]

SCHEDULES = ("step", "cosine")


def _check_epochs(epochs) -> int:
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer. Received: epochs={epochs!r}")
    return epochs


def _check_lr(lr, arg: str = "lr") -> float:
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0 or not math.isfinite(lr):
        raise ValueError(f"{arg} must be a positive number. Received: {arg}={lr!r}")
    return float(lr)


def check_milestones(milestones: Sequence[int], epochs: int) -> tuple[int, ...]:
    """Milestones as a tuple of strictly increasing epochs in [1, epochs - 1], or a ValueError.

    A milestone ``m`` means the rate changes at the start of epoch ``m``
    (counted from 0), so ``m >= epochs`` would never take effect.
    """
    epochs = _check_epochs(epochs)
    values = tuple(milestones)
    if not all(isinstance(m, int) and not isinstance(m, bool) for m in values):
        raise ValueError(f"milestones must be integers (epochs). Received: milestones={list(values)!r}")
    if any(b <= a for a, b in pairwise(values)):
        raise ValueError(f"milestones must be strictly increasing. Received: milestones={list(values)!r}")
    out_of_range = [m for m in values if not 1 <= m < epochs]
    if out_of_range:
        raise ValueError(
            f"milestones must lie in [1, epochs - 1] = [1, {epochs - 1}] (epoch m, counted from 0, is the "
            f"first one at the lower rate). Received: milestones={list(values)!r} with epochs={epochs}"
        )
    return values


def scale_milestones(milestones: Sequence[int], from_epochs: int, epochs: int) -> tuple[int, ...]:
    """A recipe's milestones moved to a run of ``epochs`` epochs at the same fractions of training.

    ``(80, 120)`` of 160 epochs stay ``(80, 120)`` at 160 and become ``(20, 30)``
    at 40. Milestones that round outside [1, epochs - 1] or onto an earlier one
    are dropped, so a 1-epoch smoke run gets a constant rate.
    """
    from_epochs, epochs = _check_epochs(from_epochs), _check_epochs(epochs)
    scaled: list[int] = []
    for m in milestones:
        moved = int(round(m * epochs / from_epochs))
        if 1 <= moved < epochs and (not scaled or moved > scaled[-1]):
            scaled.append(moved)
    return tuple(scaled)


def step_schedule(lr: float, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    """Piecewise-constant rate: ``lr * gamma ** (number of milestones <= epoch)``.

    With ``lr=0.1, milestones=(80, 120)`` this is the FastResNet recipe: 0.1 for
    epochs 0-79, 0.01 for 80-119, 0.001 from 120 on (the seed's 1-80, 81-120,
    121-160 counted from 1).

    Examples:
        >>> schedule = step_schedule(0.1, milestones=(80, 120))
        >>> [round(schedule(epoch), 6) for epoch in (0, 79, 80, 119, 120, 159)]
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    """
    lr = _check_lr(lr)
    if not isinstance(gamma, (int, float)) or isinstance(gamma, bool) or not 0 < gamma <= 1:
        raise ValueError(f"gamma must be in (0, 1]. Received: gamma={gamma!r}")
    milestones = tuple(sorted(milestones))

    def schedule(epoch: int, current_lr: float | None = None) -> float:
        passed = sum(1 for m in milestones if epoch >= m)
        return lr * gamma**passed

    return schedule


def cosine_schedule(lr: float, epochs: int, *, start_epoch: int = 0, final_lr: float = 0.0) -> Schedule:
    """Cosine annealing without restarts (Loshchilov & Hutter 2017; Shake-Shake's recipe).

    ``lr`` at ``start_epoch``, falling as ``final_lr + (lr - final_lr) * (1 + cos(pi * t)) / 2``
    with ``t = (epoch - start_epoch) / (epochs - start_epoch)``; epoch ``epochs``
    (one past the last) would reach ``final_lr``. Before ``start_epoch`` the rate is ``lr``.

    Examples:
        >>> schedule = cosine_schedule(0.2, epochs=100)
        >>> [round(schedule(epoch), 6) for epoch in (0, 50, 100)]
        [0.2, 0.1, 0.0]
    """
    lr = _check_lr(lr)
    epochs = _check_epochs(epochs)
    if not 0 <= start_epoch < epochs:
        raise ValueError(f"start_epoch must be in [0, epochs). Received: start_epoch={start_epoch!r}, epochs={epochs}")
    span = epochs - start_epoch

    def schedule(epoch: int, current_lr: float | None = None) -> float:
        t = min(max(epoch - start_epoch, 0), span) / span
        return final_lr + (lr - final_lr) * 0.5 * (1.0 + math.cos(math.pi * t))

    return schedule


def with_warmup(schedule: Schedule, warmup_epochs: int, warmup_lr: float | None = None) -> Schedule:
    """A warm-up phase in front of ``schedule``.

    Linear (``warmup_lr=None``): epoch ``e < warmup_epochs`` gets
    ``schedule(warmup_epochs) * (e + 1) / (warmup_epochs + 1)``, climbing in equal
    steps to the schedule's own value at epoch ``warmup_epochs`` (Goyal et al.
    2017). Constant (``warmup_lr`` given): ``warmup_lr`` for those epochs, as He
    et al. 2015/2016 train ResNet-110 at 0.01 before switching to 0.1. Later
    epochs are ``schedule(e)`` unchanged.
    """
    if not isinstance(warmup_epochs, int) or isinstance(warmup_epochs, bool) or warmup_epochs < 0:
        raise ValueError(f"warmup_epochs must be a non-negative integer. Received: warmup_epochs={warmup_epochs!r}")
    if warmup_lr is not None:
        warmup_lr = _check_lr(warmup_lr, "warmup_lr")
    if warmup_epochs == 0:
        return schedule
    target = schedule(warmup_epochs)

    def warmed(epoch: int, current_lr: float | None = None) -> float:
        if epoch >= warmup_epochs:
            return schedule(epoch)
        return warmup_lr if warmup_lr is not None else target * (epoch + 1) / (warmup_epochs + 1)

    return warmed


def make_schedule(
    kind: str,
    *,
    lr: float,
    epochs: int,
    milestones: Sequence[int] = (),
    gamma: float = 0.1,
    warmup_epochs: int = 0,
    warmup_lr: float | None = None,
) -> Schedule:
    """The schedule ``reszoo.train`` uses: ``step`` or ``cosine``, optionally after a warm-up
    (linear, or constant at ``warmup_lr``; see ``with_warmup``).

    The cosine phase spans the epochs after the warm-up; step milestones are
    absolute epochs (the warm-up does not shift them).
    """
    epochs = _check_epochs(epochs)
    if not isinstance(warmup_epochs, int) or isinstance(warmup_epochs, bool) or not 0 <= warmup_epochs < epochs:
        raise ValueError(
            f"warmup_epochs must be an integer in [0, epochs - 1] = [0, {epochs - 1}]. "
            f"Received: warmup_epochs={warmup_epochs!r}"
        )
    if kind == "step":
        base = step_schedule(lr, check_milestones(milestones, epochs), gamma)
    elif kind == "cosine":
        base = cosine_schedule(lr, epochs, start_epoch=warmup_epochs)
    else:
        raise ValueError(f"schedule must be one of {', '.join(map(repr, SCHEDULES))}. Received: schedule={kind!r}")
    return with_warmup(base, warmup_epochs, warmup_lr)
