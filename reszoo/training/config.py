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
import dataclasses
import json
from typing import Any

from reszoo import data, registry


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

    # ---- construction

    @classmethod
    def create(cls, *, model: str, dataset: str = "cifar10", overrides: dict[str, Any] | None = None, **flags):
        """A resolved config from keyword values, as the command line would resolve them.

        ``flags`` are the command line's destinations (``batch_size=64``, ``recipe="none"``);
        what is not given comes from the recipe or the defaults. Raises ``UsageError``.
        """
        from reszoo import train

        args = train.parse_args(["--model", model, "--dataset", dataset])
        unknown = sorted(set(flags) - set(vars(args)))
        if unknown:
            raise ValueError(f"Unknown training settings {unknown}. Allowed: {sorted(vars(args))}")
        for name, value in flags.items():
            setattr(args, name, list(value) if name == "milestones" and value is not None else value)
        args.set = list((overrides or {}).items())
        return resolve(args, info=data.describe(dataset, image_size=args.image_size, val_split=args.val_split))

    @classmethod
    def from_namespace(cls, resolved: argparse.Namespace) -> TrainConfig:
        """Freeze a namespace that ``reszoo.train.resolve_everything`` resolved.

        ``fused_bn`` is the namespace's, else ``registry.default_fused_bn()`` (True unless
        ``RESZOO_FUSED_BN`` overrides it), so the summary records what was built.
        """
        values = {f.name: getattr(resolved, f.name) for f in dataclasses.fields(cls) if hasattr(resolved, f.name)}
        values["overrides"] = tuple(sorted(dict(resolved.set).items()))
        fused_bn = getattr(resolved, "fused_bn", None)
        values["fused_bn"] = registry.default_fused_bn() if fused_bn is None else bool(fused_bn)
        return cls.from_dict(values)

    # ---- JSON round trip

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe values (tuples as lists); ``from_dict`` reverses it."""
        values = dataclasses.asdict(self)
        values["overrides"] = dict(self.overrides)
        values["milestones"] = list(self.milestones)
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
        values["list_recipes"] = False
        return argparse.Namespace(**values)

    def command_line(self) -> str:
        """A readable ``python -m reszoo.train`` line for people (runs use the config itself)."""
        parts = ["python -m reszoo.train", f"--model {self.model}", f"--dataset {self.dataset}"]
        parts += [f"--set {k}={json.dumps(v)}" for k, v in self.overrides]
        parts += [f"--recipe {self.recipe_choice}", f"--epochs {self.epochs}", f"--batch-size {self.batch_size}"]
        return " ".join(parts)


def resolve(args: argparse.Namespace, recipe: dict | None = None, info: data.DatasetInfo | None = None) -> TrainConfig:
    """The frozen config of parsed arguments: flags, else the recipe, else the defaults.

    ``info`` (``data.describe``) gives the sizes that iteration-counted recipes need;
    without it CIFAR's are assumed, as the command line does before loading. ``recipe``
    is accepted for symmetry with the command line and unused: the recipe is named in ``args``.
    """
    from reszoo import train

    del recipe
    if info is None:
        train_size, num_classes = train.expected_dataset(args.dataset, args.val_split)
    else:
        train_size, num_classes = info.train_size, info.num_classes
    resolved = train.resolve_everything(args, train_size, num_classes)
    return TrainConfig.from_namespace(resolved)
