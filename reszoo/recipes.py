"""The papers' training recipes as data.

A recipe is the whole setup one paper trained its CIFAR models with. Budgets
given in iterations (He et al. count iterations, not epochs) are kept as
iterations and converted to epochs for the actual training-set size and batch
by ``Recipe.resolve``. ``python -m reszoo.train --recipe NAME`` applies one
(by default the recipe of the preset being trained, see ``reszoo.train``); every
flag still overrides it, and ``summary.json`` records the resolved values.
``python -m reszoo.train --list-recipes`` prints ``table()``.

Warm-up comes in two kinds: per epoch (``warmup_epochs``: a linear ramp, or
constant at ``warmup_lr``) and per iteration (``warmup_iterations``: constant at
``warmup_lr`` for that many batches or, with ``warmup_accuracy``, until the
training accuracy reaches it -- He et al.'s "until the training error is below
80% (about 400 iterations)", i.e. accuracy 0.2; see
``reszoo.callbacks.IterationWarmup``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Recipe:
    name: str
    paper: str
    batch_size: int
    lr: float
    weight_decay: float
    epochs: int | None = None
    milestones: tuple[int, ...] = ()  # epochs
    iterations: int | None = None  # budget in iterations (converted to epochs)
    milestone_iterations: tuple[int, ...] = ()
    milestone_fractions: tuple[float, ...] = ()  # of the epochs (DenseNet: 50% and 75%)
    schedule: str = "step"
    gamma: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    warmup_epochs: int = 0
    warmup_lr: float | None = None  # constant warm-up lr (He et al.'s 0.01); None = linear ramp
    warmup_iterations: int = 0  # constant warm-up at warmup_lr for at most this many batches
    warmup_accuracy: float | None = None  # ... ending earlier once the training accuracy reaches this
    augment: str = "standard"
    cutout: int = 0  # Cutout patch side in pixels (DeVries & Taylor 2017); 0 = none
    label_smoothing: float = 0.0
    model_args: dict[str, Any] = field(default_factory=dict)  # e.g. WRN's dropout 0.3
    lr_c100: float | None = None
    notes: str = ""

    def resolve(self, train_size: int, batch_size: int | None = None, num_classes: int = 10) -> dict[str, Any]:
        """Concrete epochs, milestones and lr for a training set of ``train_size`` images."""
        batch = batch_size or self.batch_size
        steps_per_epoch = math.ceil(train_size / batch)
        if self.iterations is not None:
            epochs = max(1, round(self.iterations / steps_per_epoch))
            milestones = tuple(max(1, round(i / steps_per_epoch)) for i in self.milestone_iterations)
        else:
            epochs = self.epochs
            milestones = self.milestones or tuple(round(f * epochs) for f in self.milestone_fractions)
        lr = self.lr_c100 if (num_classes == 100 and self.lr_c100) else self.lr
        return {
            "epochs": epochs,
            "batch_size": batch,
            "lr": lr,
            "schedule": self.schedule,
            "milestones": list(milestones),
            "gamma": self.gamma,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "warmup_epochs": self.warmup_epochs,
            "warmup_lr": self.warmup_lr,
            "warmup_iterations": self.warmup_iterations,
            "warmup_accuracy": self.warmup_accuracy,
            "augment": self.augment,
            "cutout": self.cutout,
            "label_smoothing": self.label_smoothing,
            "model_args": dict(self.model_args),
        }

    def describe(self) -> str:
        budget = f"{self.iterations} it" if self.iterations else f"{self.epochs} ep"
        if self.milestone_iterations:
            steps = "/".join(f"{i // 1000}k" for i in self.milestone_iterations) + " it"
        elif self.milestones:
            steps = "/".join(map(str, self.milestones))
        elif self.milestone_fractions:
            steps = "/".join(f"{f:.0%}" for f in self.milestone_fractions)
        else:
            steps = "-"
        schedule = "cosine" if self.schedule == "cosine" else f"x{self.gamma:g} at {steps}"
        extra = f", {self.model_args}" if self.model_args else ""
        extra += f", cutout {self.cutout}" if self.cutout else ""
        extra += f", label smoothing {self.label_smoothing:g}" if self.label_smoothing else ""
        lr = f"{self.lr:g}" + (f" (C100 {self.lr_c100:g})" if self.lr_c100 else "")
        return (
            f"{self.name:17s} {budget:>9s}  batch {self.batch_size:3d}  lr {lr} {schedule}  wd {self.weight_decay:g}"
            f"  {'Nesterov' if self.nesterov else 'momentum'} {self.momentum:g}{self._describe_warmup()}{extra}"
            f"  ({self.paper})"
        )

    def _describe_warmup(self) -> str:
        if self.warmup_iterations:
            until = f" or until train acc {self.warmup_accuracy:g}" if self.warmup_accuracy else ""
            return f", warm-up {self.warmup_lr:g} for {self.warmup_iterations} it{until}"
        if self.warmup_epochs:
            return f", warm-up {self.warmup_lr or 'linear'} for {self.warmup_epochs} ep"
        return ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# He et al. count iterations at batch 128 (64k iterations ~ 164 epochs of 50k; the schedule was chosen on a
# 45k/5k split, the reported models train on all 50k). Their ResNet-110 warm-up: 0.01 "until the training error
# is below 80% (about 400 iterations)" -- accuracy 0.2, at most 400 iterations here.
RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "fastresnet",
            "FastResNet seed, Sec. 3",
            batch_size=128,
            lr=0.1,
            weight_decay=1e-4,
            epochs=160,
            milestones=(80, 120),
        ),
        Recipe(
            "he2015",
            "He et al. 2015, Sec. 4.2",
            batch_size=128,
            lr=0.1,
            weight_decay=1e-4,
            iterations=64_000,
            milestone_iterations=(32_000, 48_000),
            nesterov=False,
            warmup_lr=0.01,
            warmup_iterations=400,
            warmup_accuracy=0.2,
            notes="warm-up used for ResNet-110 and deeper; harmless for shallower nets",
        ),
        Recipe(
            "preact2016",
            "He et al. 2016, Sec. 4 / appendix",
            batch_size=128,
            lr=0.1,
            weight_decay=1e-4,
            iterations=64_000,
            milestone_iterations=(32_000, 48_000),
            warmup_lr=0.01,
            warmup_iterations=400,
            notes="the official code builds on fb.resnet.torch, whose SGD is Nesterov",
        ),
        Recipe(
            "wrn",
            "Zagoruyko & Komodakis 2016, Sec. 3",
            batch_size=128,
            lr=0.1,
            weight_decay=5e-4,
            epochs=200,
            milestones=(60, 120, 160),
            gamma=0.2,
            model_args={"dropout": 0.3},
        ),
        Recipe(
            "pyramidnet",
            "Han et al. 2017, Sec. 4",
            batch_size=128,
            lr=0.1,
            lr_c100=0.5,
            weight_decay=1e-4,
            epochs=300,
            milestones=(150, 225),
        ),
        Recipe(
            "densenet",
            "Huang et al. 2017, Sec. 4.2",
            batch_size=64,
            lr=0.1,
            weight_decay=1e-4,
            epochs=300,
            milestone_fractions=(0.5, 0.75),
        ),
        Recipe(
            "stochastic_depth",
            "Huang et al. 2016, Sec. 4",
            batch_size=128,
            lr=0.1,
            weight_decay=1e-4,
            epochs=500,
            milestones=(250, 375),
        ),
        Recipe(
            "resnext",
            "Xie et al. 2017, Sec. 5.3",
            batch_size=128,
            lr=0.1,
            weight_decay=5e-4,
            epochs=300,
            milestones=(150, 225),
        ),
        Recipe(
            "shake_shake",
            "Gastaldi 2017, Sec. 2.3",
            batch_size=128,
            lr=0.2,
            weight_decay=1e-4,
            epochs=1800,
            schedule="cosine",
        ),
        Recipe(
            "attention",
            "Wang et al. 2017, Sec. 4.1",
            batch_size=64,
            lr=0.1,
            weight_decay=1e-4,
            iterations=160_000,
            milestone_iterations=(64_000, 96_000),
        ),
    )
}


SCALING_NOTE = (
    "How a recipe scales: budgets in iterations become epochs for the real training set and batch; when --epochs\n"
    "differs from the recipe's, the milestones move to the same fractions of training (80/120 of 160 -> 20/30 of\n"
    "40) and an iteration warm-up keeps the same share of the run (He et al.'s 400 of 64,124 iterations = 0.6%:\n"
    "3 iterations of a 474-iteration run), at least 1 iteration and at most 10% of the run. An explicit\n"
    "--warmup-iterations is taken as given (refused when longer than the run). --dry-run prints what a run uses."
)


def table() -> str:
    """One line per recipe (``Recipe.describe``), then how recipes scale: what ``--list-recipes`` prints."""
    return "\n".join(recipe.describe() for recipe in RECIPES.values()) + "\n\n" + SCALING_NOTE


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}. Known recipes: {', '.join(RECIPES)}.")
    return RECIPES[name]
