"""Learning-rate schedules: pure functions of the epoch, and the step-exact schedule a run trains with.

A schedule here is a plain callable ``schedule(epoch) -> learning rate`` (epochs
counted from 0), built by ``step_schedule``, ``cosine_schedule`` or
``make_schedule`` and optionally wrapped in a linear warm-up. It plugs straight
into ``keras.callbacks.LearningRateScheduler``, which calls it once at the start
of every epoch; keeping it a pure function of the epoch makes it testable
numerically and identical across restarts.

``TrainingSchedule`` is what the optimizer of a run holds: a
``keras.optimizers.schedules.LearningRateSchedule`` that gives the rate of every
step from the optimizer's own iteration count, so it is exact at every batch and
resumes with the optimizer state. Per epoch (``unit="epoch"``) it equals the
function of the epoch above at every step of that epoch; per iteration the epoch
is fractional (cosine and linear warm-ups move every batch, as PyTorch's and
timm's per-step schedulers do). He et al.'s constant iteration warm-up is part of
it: ``warmup_lr`` for the first ``warmup_iterations`` steps, or fewer when
``reszoo.callbacks.IterationWarmup`` ends it early (the training accuracy rule).

The papers' recipes (which schedule, which milestones) are data in
``reszoo.recipes``; this module only turns such numbers into functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

import keras

from reszoo.training.choices import SCHEDULE_UNITS, SCHEDULES

Schedule = Callable[..., float]


def default_unit(schedule: str, warmup_epochs: int = 0, warmup_lr: float | None = None) -> str:
    """Per iteration for cosine and for a linear warm-up (as PyTorch and timm users expect); the papers'
    step schedules per epoch."""
    return "iteration" if schedule == "cosine" or (warmup_epochs and warmup_lr is None) else "epoch"


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


@keras.saving.register_keras_serializable(package="reszoo")
class TrainingSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The rate of every training step: the epoch schedule, per epoch or per iteration, after a warm-up.

    ``kind``, ``lr``, ``epochs``, ``milestones``, ``gamma``, ``warmup_epochs`` and ``warmup_lr`` mean what
    they mean for ``make_schedule``. ``unit="epoch"``: step ``s`` gets ``make_schedule(...)(s //
    steps_per_epoch)``, exactly. ``unit="iteration"``: the epoch is ``s / steps_per_epoch``, fractional,
    so a cosine falls and a linear warm-up climbs at every step (a step schedule still changes at the
    milestones' first step). ``warmup_iterations``: ``warmup_lr`` for steps ``[0, warmup_iterations)``;
    ``end_warmup(step)`` (``IterationWarmup``'s accuracy rule) ends it at ``step``.

    Examples:
        >>> s = TrainingSchedule("cosine", lr=0.1, epochs=2, steps_per_epoch=4, unit="iteration")
        >>> [round(s.rate(step), 4) for step in (0, 2, 4, 6)]
        [0.1, 0.0854, 0.05, 0.0146]
        >>> s = TrainingSchedule("step", lr=0.1, epochs=3, steps_per_epoch=5, milestones=(2,),
        ...                      warmup_lr=0.01, warmup_iterations=3)
        >>> [round(s.rate(step), 4) for step in (0, 2, 3, 9, 10)]
        [0.01, 0.01, 0.1, 0.1, 0.01]
    """

    def __init__(
        self,
        kind: str,
        *,
        lr: float,
        epochs: int,
        steps_per_epoch: int,
        milestones: Sequence[int] = (),
        gamma: float = 0.1,
        warmup_epochs: int = 0,
        warmup_lr: float | None = None,
        warmup_iterations: int = 0,
        unit: str = "epoch",
        name: str = "training_schedule",
    ):
        # make_schedule checks kind, lr, epochs, milestones, gamma and the epoch warm-up.
        self.by_epoch = make_schedule(
            kind,
            lr=lr,
            epochs=epochs,
            milestones=milestones,
            gamma=gamma,
            warmup_epochs=warmup_epochs,
            warmup_lr=warmup_lr if warmup_epochs else None,
        )
        if unit not in SCHEDULE_UNITS:
            raise ValueError(f"unit must be one of {', '.join(map(repr, SCHEDULE_UNITS))}. Received: unit={unit!r}")
        if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
            raise ValueError(
                f"steps_per_epoch must be a positive integer. Received: steps_per_epoch={steps_per_epoch!r}"
            )
        if warmup_iterations and warmup_lr is None:
            raise ValueError("warmup_iterations needs warmup_lr (the constant warm-up rate). Received: warmup_lr=None")
        self.kind, self.lr, self.epochs, self.steps_per_epoch = kind, float(lr), int(epochs), steps_per_epoch
        self.milestones, self.gamma = tuple(int(m) for m in milestones), float(gamma)
        self.warmup_epochs, self.warmup_lr = int(warmup_epochs), None if warmup_lr is None else float(warmup_lr)
        self.warmup_iterations, self.unit, self.name = int(warmup_iterations), unit, name
        # Where the iteration warm-up ends (a variable, so that the compiled train step sees a change).
        self.warmup_end = keras.Variable(self.warmup_iterations, dtype="int64", trainable=False, name="warmup_end")

    # ---- the rate as a tensor (what the optimizer calls) and as a float (logs, --dry-run, tests)

    def __call__(self, step):
        step = keras.ops.cast(step, "int64")
        epoch = keras.ops.cast(step, "float32") / float(self.steps_per_epoch)
        if self.unit == "epoch":
            epoch = keras.ops.floor(epoch)
        rate = self._rate_at_epoch(epoch)
        if self.warmup_iterations:
            rate = keras.ops.where(step < self.warmup_end, self.warmup_lr, rate)
        return keras.ops.cast(rate, "float32")

    def rate(self, step: int) -> float:
        """The rate of step ``step`` (counted from 0), as the optimizer computes it."""
        return float(keras.ops.convert_to_numpy(self(step)))

    def _rate_at_epoch(self, epoch):
        ops = keras.ops
        if self.kind == "step":
            passed = sum(ops.cast(epoch >= float(m), "float32") for m in self.milestones) if self.milestones else 0.0
            rate = self.lr * ops.power(self.gamma, passed)
        else:  # cosine from warmup_epochs to epochs (cosine_schedule)
            span = float(self.epochs - self.warmup_epochs)
            t = ops.clip((epoch - float(self.warmup_epochs)) / span, 0.0, 1.0)
            rate = 0.5 * self.lr * (1.0 + ops.cos(math.pi * t))
        if not self.warmup_epochs:
            return rate
        if self.warmup_lr is not None:
            warm = ops.full_like(epoch, self.warmup_lr)
        else:  # linear: (e + 1) / (W + 1) of the rate at W per epoch; per iteration the same line, continuous
            target = self.by_epoch(self.warmup_epochs)
            warm = target * (epoch + 1.0) / (self.warmup_epochs + 1.0)
        return ops.where(epoch < float(self.warmup_epochs), warm, rate)

    # ---- the iteration warm-up's early end, and serialization

    def end_warmup(self, step: int) -> None:
        """End the iteration warm-up at ``step``: steps from there on get the epoch schedule's rate."""
        self.warmup_end.assign(min(int(step), self.warmup_iterations))

    def get_config(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "lr": self.lr,
            "epochs": self.epochs,
            "steps_per_epoch": self.steps_per_epoch,
            "milestones": list(self.milestones),
            "gamma": self.gamma,
            "warmup_epochs": self.warmup_epochs,
            "warmup_lr": self.warmup_lr,
            "warmup_iterations": self.warmup_iterations,
            "unit": self.unit,
            "name": self.name,
        }
