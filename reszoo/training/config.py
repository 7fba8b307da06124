"""One frozen record of every resolved setting of a training run.

``resolve`` turns the parsed command line (or keyword values, through ``TrainConfig.create``)
into a ``TrainConfig``; from then on a run reads that record only. It is written to
``summary.json`` under ``"config"`` and read back with ``TrainConfig.from_summary``, so
``reszoo.train.run(TrainConfig.from_summary(path))`` reruns a run.

Examples:
    config = TrainConfig.create(model="fast_resnet", dataset="synthetic:64", epochs=1, overrides={"depth": 8})
    config.batch_size   # 128: the recipe's, resolved once
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import math
import shlex
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from reszoo import data, registry
from reszoo.cli import UsageError
from reszoo.recipes import get_recipe
from reszoo.schedules import (
    Schedule,
    TrainingSchedule,
    check_milestones,
    default_unit,
    make_schedule,
    scale_milestones,
)
from reszoo.training.choices import DEFAULTS, MAX_WARMUP_SHARE


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every setting of a run after resolution: flags, else the recipe, else the defaults.

    ``overrides`` are the ``--set KEY=VALUE`` pairs as given; ``build_kwargs`` the keyword
    arguments passed to ``reszoo.build`` (overrides plus the recipe's model arguments);
    ``recipe_choice`` what was asked (``auto``) and ``recipe`` the recipe it resolved to.
    """

    model: str
    dataset: str
    epochs: int
    batch_size: int
    lr: float
    schedule: str
    milestones: tuple[int, ...]
    gamma: float
    weight_decay: float
    momentum: float
    nesterov: bool
    warmup_epochs: int
    warmup_lr: float | None
    warmup_iterations: int
    warmup_accuracy: float | None
    augment: str
    cutout: int
    label_smoothing: float
    recipe: str | None
    recipe_choice: str = "auto"
    overrides: tuple[tuple[str, Any], ...] = ()
    build_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict, hash=False)
    data_dir: str | None = None
    image_size: int | None = None
    val_split: int = 0
    keep_best: bool = False
    strategy: str = "auto"
    precision: str = "float32"
    jit: bool | None = None
    seed: int | None = None
    deterministic: bool = False
    export_dir: str | None = None
    serving_dir: str | None = None
    backup_dir: str | None = None
    backup_every: int | None = None
    tensorboard: bool = False
    verbose: bool = False
    fused_bn: bool = True
    schedule_unit: str = "epoch"
    mixup: float = 0.0
    cutmix: float = 0.0
    mix_prob: float = 1.0
    ema: float | None = None
    resume_with_changes: bool = False
    init_from: str | None = None  # fine-tune from an export, a .keras / .weights.h5 file or pytorchcv:NAME
    export_formats: tuple[str, ...] = ()  # beside the SavedModel, which every export has: onnx, litert
    # How the iteration warm-up's length came about (the recipe's, scaled; or as given): for the log.
    warmup_origin: str = dataclasses.field(default="", compare=False)
    # Why ``precision`` is what it is when --precision auto chose it (reszoo.hardware.auto_precision); "" when
    # the policy was named.
    precision_origin: str = dataclasses.field(default="", compare=False)

    # ---- construction

    @classmethod
    def create(
        cls,
        *,
        model: str,
        dataset: str = "cifar10",
        overrides: dict[str, Any] | None = None,
        info: data.DatasetInfo | None = None,
        **flags: Any,
    ) -> TrainConfig:
        """A resolved config from keyword values, as the command line would resolve them.

        ``flags`` are the command line's destinations (``batch_size=64``, ``recipe="none"``);
        what is not given comes from the recipe or the defaults. ``info``: the dataset's sizes,
        default ``data.describe(dataset)``. Raises ``UsageError``.
        """
        from reszoo.training.cli import parse_args  # the parser's defaults are the command line's

        args = parse_args(["--model", model, "--dataset", dataset])
        allowed = {*vars(args), "fused_bn"}  # fused_bn has no flag (RESZOO_FUSED_BN sets its default)
        unknown = sorted(set(flags) - allowed)
        if unknown:
            raise ValueError(f"Unknown training settings {unknown}. Allowed: {sorted(allowed)}")
        for name, value in flags.items():
            setattr(args, name, list(value) if name == "milestones" and value is not None else value)
        args.set = list((overrides or {}).items())
        return resolve(args, info=info)

    # ---- JSON round trip

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe values (tuples as lists); ``from_dict`` reverses it."""
        values = dataclasses.asdict(self)
        values["overrides"] = dict(self.overrides)
        values["milestones"] = list(self.milestones)
        values["export_formats"] = list(self.export_formats)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """The config ``to_dict`` wrote; unknown keys raise ``ValueError`` naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown TrainConfig keys {unknown}. Allowed: {sorted(known)}")
        values = dict(values)
        overrides = values.get("overrides") or ()
        items = overrides.items() if isinstance(overrides, dict) else overrides
        values["overrides"] = tuple(sorted((str(k), v) for k, v in items))
        values["milestones"] = tuple(values.get("milestones") or ())
        values["export_formats"] = tuple(values.get("export_formats") or ())
        values["build_kwargs"] = dict(values.get("build_kwargs") or {})
        return cls(**values)

    @classmethod
    def from_summary(cls, path: str) -> TrainConfig:
        """The config of the run that wrote ``path`` (a summary.json)."""
        with open(path, encoding="utf-8") as f:
            summary = json.load(f)
        if "config" not in summary:
            raise ValueError(f"{path} has no 'config' (written by reszoo.train before configs were recorded).")
        return cls.from_dict(summary["config"])

    def replace(self, **changes) -> TrainConfig:
        """A copy with ``changes`` (paths, seed); the hyperparameters are not resolved again."""
        return dataclasses.replace(self, **changes)

    # ---- back to the command line's terms

    def to_namespace(self) -> argparse.Namespace:
        """The namespace ``parse_args`` would give for this config with every setting explicit.

        Resolving it again gives this config: every hyperparameter is explicit, and the
        milestones of an empty list re-scale from the same recipe and epochs.
        """
        values = {k: v for k, v in self.to_dict().items() if k not in ("overrides", "build_kwargs")}
        values["set"] = list(self.overrides)
        values["recipe"] = self.recipe_choice
        values["milestones"] = list(self.milestones) or None
        values["mix_prob"] = self.mix_prob if (self.mixup or self.cutmix) else None  # a flag only with mixing
        values["export_formats"] = list(self.export_formats) or None
        values["list_recipes"] = values["dry_run"] = False
        return argparse.Namespace(**values)

    def command_line(self) -> str:
        """The ``python -m reszoo.train`` line that resolves to this config, every setting explicit.

        For people to read and rerun; runs use the config itself. ``fused_bn=False`` has no flag and
        shows as the ``RESZOO_FUSED_BN=0`` prefix.
        """
        flags = ["--model", self.model, "--dataset", self.dataset]
        flags += [arg for k, v in self.overrides for arg in ("--set", f"{k}={_set_text(v)}")]
        flags += ["--recipe", self.recipe_choice]
        for name in _COMMAND_LINE_ORDER:
            if name != "mix_prob" or self.mixup or self.cutmix:
                flags += _flag(name, getattr(self, name))
        if self.schedule == "step":
            flags += ["--milestones", ",".join(map(str, self.milestones)) or "none"]
        flags += [arg for name in self.export_formats for arg in ("--export-format", name)]
        prefix = "" if self.fused_bn else "RESZOO_FUSED_BN=0 "
        return prefix + "python -m reszoo.train " + " ".join(shlex.quote(f) for f in flags)


# Settings in the order command_line() writes them (model, dataset, --set, --recipe and --milestones aside).
_COMMAND_LINE_ORDER = (
    "data_dir",
    "image_size",
    "val_split",
    "keep_best",
    "epochs",
    "batch_size",
    "lr",
    "schedule",
    "gamma",
    "weight_decay",
    "momentum",
    "nesterov",
    "warmup_epochs",
    "warmup_lr",
    "warmup_iterations",
    "warmup_accuracy",
    "augment",
    "cutout",
    "label_smoothing",
    "schedule_unit",
    "mixup",
    "cutmix",
    "mix_prob",
    "ema",
    "strategy",
    "precision",
    "jit",
    "seed",
    "deterministic",
    "init_from",
    "export_dir",
    "serving_dir",
    "backup_dir",
    "backup_every",
    "tensorboard",
    "verbose",
    "resume_with_changes",
)
# Flags that are switches: --keep-best; and --nesterov / --no-nesterov, --jit / --no-jit (BooleanOptionalAction).
_SWITCHES = ("keep_best", "deterministic", "tensorboard", "verbose", "resume_with_changes")
_BOTH_WAYS = ("nesterov", "jit")


def _flag(name: str, value: Any) -> list[str]:
    flag = "--" + name.replace("_", "-")
    if name in _SWITCHES:
        return [flag] if value else []
    if name in _BOTH_WAYS:
        return [] if value is None else [flag if value else "--no-" + name.replace("_", "-")]
    return [] if value is None else [flag, repr(value) if isinstance(value, float) else str(value)]


def _set_text(value: Any) -> str:
    """A value as ``--set`` reads it back (``ast.literal_eval``, else the raw string): B, not 'B'."""
    try:
        same = ast.literal_eval(str(value)) == value and type(ast.literal_eval(str(value))) is type(value)
    except (ValueError, SyntaxError):
        same = isinstance(value, str)
    return str(value) if same else repr(value)


# ---- resolution: flags, else the recipe, else DEFAULTS (no data loaded, nothing built)


HYPERPARAMETERS = tuple(k for k in DEFAULTS if k != "model_args")
CIFAR_TRAIN_IMAGES = 50_000


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise UsageError(message)


def resolve(args: argparse.Namespace, recipe: str | None = None, info: data.DatasetInfo | None = None) -> TrainConfig:
    """The frozen config of parsed arguments: flags, else the recipe, else ``DEFAULTS``. Runs once.

    Args:
        args: the namespace of ``reszoo.training.cli.parse_args`` (or ``TrainConfig.to_namespace``).
        recipe: a recipe name (or ``"auto"`` / ``"none"``) instead of ``args.recipe``.
        info: the dataset's sizes (``data.describe``); iteration-counted recipes (He et al.) and
            CIFAR-100 rates (PyramidNet) depend on them. Default: ``data.describe(args.dataset)``,
            or CIFAR's numbers where the data cannot be described without loading it.

    Milestones that come from a recipe or the defaults move to the same fractions of training when
    ``--epochs`` differs; explicit ``--milestones`` must fit. Raises ``UsageError``.
    """
    _check_explicit_values(args)
    train_size, num_classes = (
        (info.train_size, info.num_classes)
        if info
        else described_sizes(args.dataset, args.data_dir, args.image_size, args.val_split)
    )
    recipe_choice = recipe or getattr(args, "recipe_choice", None) or args.recipe or "auto"
    recipe_name = (
        auto_recipe(args.model) if recipe_choice == "auto" else {"none": None}.get(recipe_choice, recipe_choice)
    )
    base = dict(DEFAULTS)
    if recipe_name:
        batch = args.batch_size or get_recipe(recipe_name).batch_size
        base.update(get_recipe(recipe_name).resolve(train_size, batch, num_classes))
    _override_warmup_kind(args, base)
    values = {name: base[name] if getattr(args, name) is None else getattr(args, name) for name in HYPERPARAMETERS}
    _check_warmup(values)
    values["milestones"] = _resolve_milestones(values, args.milestones, base)
    values["schedule_unit"] = values["schedule_unit"] or default_unit(
        values["schedule"], values["warmup_epochs"], values["warmup_lr"]
    )
    steps = math.ceil(train_size / values["batch_size"])
    values["warmup_iterations"], warmup_origin = _warmup_length(args, values, base, steps)
    overrides = dict(args.set)
    build_kwargs, family_weight_decay = _resolve_model(args.model, overrides, base["model_args"])
    if values["weight_decay"] is None:
        values["weight_decay"] = family_weight_decay
    _check_schedule(values)
    settings = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    if args.precision == "auto":
        settings["precision"], settings["precision_origin"] = resolve_auto_precision()
    fused_bn = getattr(args, "fused_bn", None)
    settings.update(
        values,
        recipe=recipe_name,
        recipe_choice=recipe_choice,
        overrides=tuple(sorted(overrides.items())),
        build_kwargs=build_kwargs,
        fused_bn=registry.default_fused_bn() if fused_bn is None else bool(fused_bn),
        warmup_origin=warmup_origin,
        # The SavedModel is always written; the others once each, in the order given.
        export_formats=tuple(
            dict.fromkeys(f for f in (getattr(args, "export_formats", None) or ()) if f != "saved_model")
        ),
    )
    return TrainConfig.from_dict(settings)


def resolve_auto_precision() -> tuple[str, str]:
    """(policy, reason) of ``--precision auto`` on this machine (``reszoo.hardware.auto_precision``)."""
    from reszoo import hardware  # lists the GPUs through TensorFlow: only for auto

    return hardware.auto_precision_here()


def _warmup_length(
    args: argparse.Namespace, v: dict[str, Any], base: dict[str, Any], steps_per_epoch: int
) -> tuple[int, str]:
    """(the iteration warm-up's length for this run, how it came about).

    An explicit ``--warmup-iterations`` is taken as given and refused when longer than the run.
    A recipe's scales like its milestones: the same fraction of the run's iterations as of the
    recipe's own (He et al.'s 400 of 164 epochs x 391 = 64,124), at least one iteration and at most
    ``MAX_WARMUP_SHARE`` of the run.
    """
    asked, run = int(v["warmup_iterations"] or 0), v["epochs"] * steps_per_epoch
    if not asked:
        return 0, ""
    if args.warmup_iterations is not None:
        _require(
            asked <= run,
            f"--warmup-iterations must not exceed the run's {run} iterations ({v['epochs']} epochs x "
            f"{steps_per_epoch} batches). Received: --warmup-iterations={asked}",
        )
        return asked, "as given"
    recipe_run = base["epochs"] * steps_per_epoch
    scaled = min(max(1, round(asked * run / recipe_run)), max(1, math.floor(MAX_WARMUP_SHARE * run)))
    if scaled == asked:
        return asked, f"the recipe's {asked} of {recipe_run:,} iterations"
    return scaled, f"the recipe's {asked} of {recipe_run:,} iterations, scaled to this run's {run:,}"


def described_sizes(spec: str, data_dir: str | None, image_size: int | None, val_split: int) -> tuple[int, int]:
    """(train images, classes) from ``data.describe``, else CIFAR's (a bad spec is reported by the loader)."""
    try:
        info = data.describe(spec, data_dir, image_size, val_split)
    except ValueError:
        return expected_dataset(spec, val_split)
    return info.train_size, info.num_classes


def expected_dataset(spec: str, val_split: int) -> tuple[int, int]:
    """(train images, classes) where the data cannot be described: exact for CIFAR, CIFAR's for the others."""
    return max(1, CIFAR_TRAIN_IMAGES - val_split), 100 if spec == "cifar100" else 10


def auto_recipe(model: str) -> str | None:
    """The recipe ``--recipe auto`` picks for ``model``: the preset's, else the one most of the family's
    presets use, else None (the FastResNet schedule with the family's weight decay)."""
    try:
        family, _, preset = registry.resolve(model)
    except ValueError:
        return None  # _resolve_model reports the unknown name
    if preset is not None:
        return preset.recipe
    used = Counter(p.recipe for p in registry.presets().values() if p.family == family.name and p.recipe)
    return used.most_common(1)[0][0] if used else None


def _resolve_model(model: str, overrides: dict[str, Any], model_args: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """(the keyword arguments for ``reszoo.build``, the family's paper weight decay), checked by the registry.

    The recipe's model arguments (WRN's dropout 0.3) apply to family builds, where the family takes
    them and ``--set`` does not decide otherwise; a preset names its whole architecture
    (``wrn28_10`` has no dropout, ``wrn28_10_dropout`` has), so they do not apply to presets.
    """
    try:
        family, _, preset = registry.resolve(model, **overrides)
        extra = {}
        if preset is None:
            extra = {k: v for k, v in model_args.items() if k in family.family_args() and k not in overrides}
        if extra:  # the recipe's model arguments join the checked kwargs
            registry.resolve(model, **extra, **overrides)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return {**extra, **overrides}, family.weight_decay


def builder_arguments(config: TrainConfig) -> dict[str, Any]:
    """Every keyword argument of the network's builder (the preset's included), weight decay aside."""
    _, kwargs, _ = registry.resolve(config.model, **config.build_kwargs)
    return kwargs


def _check_explicit_values(args: argparse.Namespace) -> None:
    """Range checks of the flags given on the command line (the recipes' values are valid by construction)."""
    checks: list[tuple[str, Callable[[Any], bool], str]] = [
        ("epochs", lambda v: v >= 1, ">= 1"),
        ("batch_size", lambda v: v >= 1, ">= 1"),
        ("lr", lambda v: math.isfinite(v) and v > 0, "a positive number"),
        ("warmup_lr", lambda v: math.isfinite(v) and v > 0, "a positive number"),
        ("momentum", lambda v: 0 <= v < 1, "in [0, 1)"),
        ("gamma", lambda v: 0 < v <= 1, "in (0, 1]"),
        ("weight_decay", lambda v: math.isfinite(v) and v >= 0, ">= 0"),
        ("warmup_epochs", lambda v: v >= 0, ">= 0"),
        ("warmup_iterations", lambda v: v >= 0, ">= 0"),
        ("warmup_accuracy", lambda v: 0 < v <= 1, "in (0, 1]"),
        ("image_size", lambda v: v >= 1, ">= 1"),
        ("val_split", lambda v: v >= 0, ">= 0"),
        ("cutout", lambda v: v >= 0, ">= 0"),
        ("label_smoothing", lambda v: 0 <= v < 1, "in [0, 1)"),
        ("backup_every", lambda v: v >= 1, ">= 1"),
        ("mixup", lambda v: math.isfinite(v) and v >= 0, ">= 0 (0: none)"),
        ("cutmix", lambda v: math.isfinite(v) and v >= 0, ">= 0 (0: none)"),
        ("mix_prob", lambda v: 0 < v <= 1, "in (0, 1]"),
        ("ema", lambda v: 0 < v < 1, "in (0, 1)"),
    ]
    for name, ok, allowed in checks:
        value = getattr(args, name)
        flag = "--" + name.replace("_", "-")
        _require(value is None or ok(value), f"{flag} must be {allowed}. Received: {flag}={value}")
    keys = [key for key, _ in (args.set.items() if isinstance(args.set, dict) else args.set)]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    _require(not duplicates, f"--set gives {', '.join(duplicates)} more than once.")
    _check_flag_combinations(args)


def _check_flag_combinations(args: argparse.Namespace) -> None:
    _require(
        not args.keep_best or args.val_split,
        "--keep-best selects on the validation split, never on the test split: give --val-split N too. "
        "Received: --keep-best without --val-split",
    )
    _require(not args.deterministic or args.seed is not None, "--deterministic needs --seed. Received: no --seed")
    _require(
        args.ema is None or not args.keep_best,
        "--keep-best and --ema do not go together: the best epoch is chosen on the averaged weights but the "
        "checkpoint would hold the raw ones. Received: --ema with --keep-best",
    )
    _require(
        args.mix_prob is None or bool(args.mixup or args.cutmix),
        f"--mix-prob is the share of images --mixup / --cutmix mix; give one of them. Received: "
        f"--mix-prob={args.mix_prob} without --mixup or --cutmix",
    )
    _require(
        args.strategy != "multiworker" or args.seed is not None,
        "--strategy multiworker needs --seed (the same on every worker: each worker shuffles the whole "
        "training set and keeps its part of every global batch). Received: no --seed",
    )
    if args.image_size and args.cutout:
        _require(
            args.cutout <= args.image_size,
            f"--cutout must not exceed the image size ({args.image_size}). Received: --cutout={args.cutout}",
        )


def _override_warmup_kind(args: argparse.Namespace, base: dict[str, Any]) -> None:
    """An explicit warm-up of one kind (epochs / iterations) replaces the recipe's warm-up of the other."""
    if args.warmup_epochs is not None and args.warmup_iterations is None:
        base.update(warmup_iterations=0, warmup_accuracy=None)
    if args.warmup_iterations is not None and args.warmup_epochs is None:
        base.update(warmup_epochs=0)


def _check_warmup(v: dict[str, Any]) -> None:
    _require(
        v["warmup_epochs"] < v["epochs"],
        f"--warmup-epochs must be in [0, epochs - 1] = [0, {v['epochs'] - 1}]. "
        f"Received: --warmup-epochs={v['warmup_epochs']}",
    )
    _require(
        not (v["warmup_epochs"] and v["warmup_iterations"]),
        f"give one warm-up: --warmup-epochs or --warmup-iterations. Received: --warmup-epochs={v['warmup_epochs']} "
        f"--warmup-iterations={v['warmup_iterations']}",
    )
    _require(
        not v["warmup_iterations"] or v["warmup_lr"] is not None,
        f"--warmup-iterations needs --warmup-lr (the constant warm-up rate). Received: "
        f"--warmup-iterations={v['warmup_iterations']} without --warmup-lr",
    )
    _require(
        v["warmup_accuracy"] is None or v["warmup_iterations"],
        f"--warmup-accuracy ends a --warmup-iterations warm-up; give that too. Received: "
        f"--warmup-accuracy={v['warmup_accuracy']} with --warmup-iterations=0",
    )


def _resolve_milestones(v: dict[str, Any], explicit: Sequence[int] | None, base: dict[str, Any]) -> tuple[int, ...]:
    if v["schedule"] != "step":
        _require(
            not explicit,
            f"--milestones apply only to --schedule step. Received: --schedule "
            f"{v['schedule']} with --milestones {','.join(map(str, explicit or ()))}",
        )
        return ()
    if explicit is None:
        return tuple(scale_milestones(base["milestones"], base["epochs"], v["epochs"]))
    try:
        return tuple(check_milestones(explicit, v["epochs"]))
    except ValueError as error:
        raise UsageError(f"--{error}") from None


def _check_schedule(v: dict[str, Any]) -> None:
    """The schedule's own checks, with the resolved values (a ``UsageError`` before anything is built)."""
    try:
        epoch_schedule(v)
    except ValueError as error:
        raise UsageError(str(error)) from None


def epoch_schedule(config: TrainConfig | dict[str, Any]) -> Schedule:
    """The per-epoch schedule of a config (an iteration warm-up is a callback on top of it)."""
    v = config.to_dict() if isinstance(config, TrainConfig) else config
    return make_schedule(
        v["schedule"],
        lr=v["lr"],
        epochs=v["epochs"],
        milestones=v["milestones"],
        gamma=v["gamma"],
        warmup_epochs=v["warmup_epochs"],
        warmup_lr=v["warmup_lr"] if v["warmup_epochs"] else None,
    )


def training_schedule(config: TrainConfig, steps_per_epoch: int) -> TrainingSchedule:
    """The optimizer's schedule of a config: every step's rate, warm-ups included."""
    return TrainingSchedule(
        config.schedule,
        lr=config.lr,
        epochs=config.epochs,
        steps_per_epoch=steps_per_epoch,
        milestones=config.milestones,
        gamma=config.gamma,
        warmup_epochs=config.warmup_epochs,
        warmup_lr=config.warmup_lr,
        warmup_iterations=config.warmup_iterations,
        unit=config.schedule_unit,
    )


def describe_warmup(config: TrainConfig) -> str:
    """Every warm-up of a config in words: kind, rate, length and end rule (or "no warm-up")."""
    if config.warmup_iterations:
        until = f" or until the training accuracy reaches {config.warmup_accuracy:g}" if config.warmup_accuracy else ""
        origin = f" ({config.warmup_origin})" if config.warmup_origin else ""
        return (
            f"warm-up constant {config.warmup_lr:g} for the first {config.warmup_iterations:,} "
            f"iteration{'s' if config.warmup_iterations > 1 else ''}{origin}{until}"
        )
    if config.warmup_epochs:
        kind = f"constant {config.warmup_lr:g}" if config.warmup_lr is not None else f"linear to {config.lr:g}"
        return f"warm-up {kind} over {config.warmup_epochs} epoch{'s' if config.warmup_epochs > 1 else ''}"
    return "no warm-up"


def rate_table(config: TrainConfig, steps_per_epoch: int) -> str:
    """The rate of every epoch's first and last iteration (what --dry-run prints), warm-up iterations marked."""
    schedule = training_schedule(config, steps_per_epoch)
    lines = [f"{'epoch':>5}  {'iterations':>15}  {'first lr':>10}  {'last lr':>10}"]
    for epoch in range(config.epochs):
        first, last = epoch * steps_per_epoch, (epoch + 1) * steps_per_epoch - 1
        note = ""
        if config.warmup_iterations and first < config.warmup_iterations:
            end = min(last, config.warmup_iterations - 1)
            note = f"  warm-up {config.warmup_lr:g} at iterations {first}-{end}"
        lines.append(
            f"{epoch:>5}  {f'{first}-{last}':>15}  {schedule.rate(first):>10.6g}  {schedule.rate(last):>10.6g}{note}"
        )
    return "\n".join(lines)
