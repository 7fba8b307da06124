"""The per-family search spaces of ``reszoo.tune``, as data.

Each supported family has a search space (``SPACES``): the family's own builder arguments (depth,
width, alpha, growth rate, cardinality, unit type, dropout, ...) with valid values only, plus the
training knobs every family shares (``TRAINING_KNOBS``: learning rate, weight decay, batch size).

The spaces refer to the families' own rules instead of copying them: a depth knob lists units per
stage and turns them into depths through the family module's depth rule (``resnet.DEPTH_RULES``,
``wrn.wrn_units``, ``densenet.layers_per_block``, ...), unit kinds, shake modes and attention kinds
are the modules' own tuples. Values are listed smallest network first, so the first value of every
knob gives the space's smallest network. This module imports neither TensorFlow nor keras-tuner.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from reszoo.cli import UsageError
from reszoo.layers.attention import ATTENTION_KINDS
from reszoo.layers.shake import SHAKE_LEVELS, SHAKE_MODES
from reszoo.models import densenet, pyramidnet, resnet, resnext, shake_shake, wrn
from reszoo.models.common import units_from_depth
from reszoo.tune.options import check_family
from reszoo.units import SHORTCUTS

if TYPE_CHECKING:
    import keras_tuner as kt

# keras-tuner Choice values cannot be None: this string stands for a builder argument's None.
NONE = "none"
# The deepest network a depth rule is searched up to when turning unit counts into depths.
MAX_DEPTH = 1000


@dataclasses.dataclass(frozen=True)
class Knob:
    """One hyperparameter of a search space.

    Args:
        name: the keras-tuner name, unique within a space.
        values: the allowed values, listed smallest network first (so the first value of every
            knob gives the space's smallest network). Empty for a log-uniform ``span``.
        span: (low, high) of a float sampled log-uniformly, instead of ``values``.
        arg: the builder argument (or training flag) the knob sets; defaults to ``name``.
            ``None`` for a selector that only switches other knobs on (``when``).
        when: (parent knob, parent values): the knob is active only then (keras-tuner's
            conditional scope).
        training: a training hyperparameter (``--lr``, ``--weight-decay``, ``--batch-size``).
    """

    name: str
    values: tuple[Any, ...] = ()
    span: tuple[float, float] | None = None
    arg: str | None = ""
    when: tuple[str, tuple[Any, ...]] | None = None
    training: bool = False

    @property
    def target(self) -> str | None:
        return self.name if self.arg == "" else self.arg

    def declare(self, hp: kt.HyperParameters):
        """Register the knob in ``hp`` (under its condition); its value, or None when inactive."""
        if self.when is None:
            return self._register(hp)
        parent, parent_values = self.when
        with hp.conditional_scope(parent, list(parent_values)):
            return self._register(hp)

    def _register(self, hp: kt.HyperParameters):
        if self.span is not None:
            return hp.Float(self.name, self.span[0], self.span[1], sampling="log")
        return hp.Choice(self.name, list(self.values))

    def decode(self, value):
        """keras-tuner's stored value as the builder wants it (keras-tuner keeps booleans as 0/1)."""
        if self.span is not None:
            return float(value)
        if isinstance(self.values[0], bool):
            return bool(value)
        return value

    def smallest(self):
        return self.span[0] if self.span is not None else self.values[0]

    def restricted(self, values: tuple[Any, ...]) -> Knob:
        """This knob narrowed to ``values`` (a subset of its values, or values inside its span)."""
        if self.span is not None:
            low, high = self.span
            bad = [v for v in values if not is_number(v) or not low <= v <= high]
            allowed = f"numbers in [{low:g}, {high:g}]"
            keep = tuple(sorted(float(v) for v in values if v not in bad))
        else:
            bad = [v for v in values if not any(same(v, allowed) for allowed in self.values)]
            allowed = ", ".join(show(v) for v in self.values)
            keep = tuple(v for v in self.values if any(same(v, given) for given in values))
        if bad:
            raise UsageError(
                f"--space {self.name} allows {allowed}. Received: --space {self.name}={','.join(map(show, values))}"
            )
        return dataclasses.replace(self, values=keep, span=None)

    def describe(self) -> str:
        if self.span is not None:
            text = f"{self.span[0]:g} .. {self.span[1]:g} (log-uniform)"
        else:
            text = ", ".join(show(v) for v in self.values)
        if self.when:
            text += f"   [when {self.when[0]} = {', '.join(show(v) for v in self.when[1])}]"
        if self.target not in (self.name, None):
            text += f"   [sets {self.target}]"
        return f"{self.name:<18} {text}"


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same(a, b) -> bool:
    """Equal and of the same kind (True is not 1 here)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def show(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# Depths from the families' own depth rules -----------------------------------------------


def depths(units_of: Callable[[int], int], units_per_stage: Iterable[int]) -> tuple[int, ...]:
    """The depth of each unit count by a family's depth rule ``units_of`` (depth -> units per stage,
    ``ValueError`` for a depth the family refuses), so the space never restates the rule."""
    by_units: dict[int, int] = {}
    for depth in range(1, MAX_DEPTH + 1):
        try:
            by_units.setdefault(units_of(depth), depth)
        except ValueError:
            continue
    wanted = tuple(units_per_stage)
    missing = [n for n in wanted if n not in by_units]
    if missing:
        raise ValueError(f"no depth up to {MAX_DEPTH} has {missing} units per stage.")
    return tuple(by_units[n] for n in wanted)


def rule(**depth_rule: int) -> Callable[[int], int]:
    """A family module's ``DEPTH_RULE`` (``layers_per_unit``, ``extra``) as a depth -> units function."""
    return functools.partial(units_from_depth, **depth_rule)


# Units per stage searched: the papers' CIFAR depths and small ones for quick searches.
# ResNet-8 ... ResNet-110 (basic) and ... ResNet-164 (bottleneck).
RESNET_BASIC_UNITS = (1, 2, 3, 5, 7, 9, 18)
RESNET_BOTTLENECK_UNITS = (1, 2, 3, 5, 6, 12, 18)
RATES = (0.0, 0.1, 0.2, 0.3)
DROP_PATHS = (0.0, 0.1, 0.2, 0.5)  # stochastic depth: the last unit's drop probability
ATTENTION = tuple(NONE if kind is None else kind for kind in ATTENTION_KINDS)
# Option A (zero-padded identity) and B (projections) of He et al.; "avg" is left out of searches.
SEARCHED_SHORTCUTS = tuple(kind for kind in SHORTCUTS if kind in ("A", "B"))
FAST_RESNET_UNIT_TYPES = (2, 1)  # type 2 has fewer BN parameters


def _with_bottleneck(basic_depths: tuple[int, ...], bottleneck_depths: tuple[int, ...]) -> tuple[Knob, ...]:
    """``bottleneck`` and a depth knob for each unit kind (keras-tuner needs distinct names)."""
    return (
        Knob("bottleneck", (False, True)),
        Knob("depth", basic_depths, when=("bottleneck", (False,))),
        Knob("bottleneck_depth", bottleneck_depths, arg="depth", when=("bottleneck", (True,))),
    )


def _resnet_regularizers() -> tuple[Knob, ...]:
    return (
        Knob("shortcut", SEARCHED_SHORTCUTS),
        Knob("dropout", RATES),
        Knob("drop_path", DROP_PATHS),
        Knob("attention", ATTENTION),
    )


def family_spaces() -> dict[str, tuple[Knob, ...]]:
    """Every family's knobs, with depths derived from the family modules' depth rules as they are now."""
    basic = depths(rule(**resnet.DEPTH_RULES[False]), RESNET_BASIC_UNITS)  # 8, 14, ..., 110
    bottleneck = depths(rule(**resnet.DEPTH_RULES[True]), RESNET_BOTTLENECK_UNITS)  # 11, 20, ..., 164
    dense_basic = functools.partial(densenet.layers_per_block, bottleneck=False)  # 3n+4
    dense_bottleneck = functools.partial(densenet.layers_per_block, bottleneck=True)  # 6n+4
    return {
        "resnet": (*_with_bottleneck(basic, bottleneck), *_resnet_regularizers()),
        "preact_resnet": (
            *_with_bottleneck(basic, bottleneck),
            Knob("unit", resnet.PREACT_UNITS),
            *_resnet_regularizers(),
        ),
        "fast_resnet": (Knob("depth", basic), Knob("unit_type", FAST_RESNET_UNIT_TYPES), *_resnet_regularizers()),
        "wrn": (
            Knob("depth", depths(wrn.wrn_units, (1, 2, 3, 4, 6))),  # 6n+4: 10 ... 40
            Knob("width", (1, 2, 4, 8, 10)),
            Knob("dropout", RATES),
            Knob("drop_path", DROP_PATHS),
            Knob("attention", ATTENTION),
        ),
        "pyramidnet": (
            *_with_bottleneck(
                depths(rule(**pyramidnet.DEPTH_RULES[False]), RESNET_BASIC_UNITS),
                depths(rule(**pyramidnet.DEPTH_RULES[True]), (1, 2, 3, 6, 12, 18, 22, 26, 30)),  # ... 272
            ),
            Knob("alpha", (12, 24, 48, 84, 150, 200, 270)),
            Knob("branch_drop", (NONE, "shakedrop", "sepdrop"), arg=None),
            Knob("shakedrop", (0.1, 0.3, 0.5), when=("branch_drop", ("shakedrop",))),
            Knob("sepdrop", (0.1, 0.3, 0.5), when=("branch_drop", ("sepdrop",))),
        ),
        "densenet": (
            *_with_bottleneck(
                depths(dense_basic, (1, 3, 6, 12, 32)), depths(dense_bottleneck, (1, 2, 4, 6, 16, 31, 41))
            ),
            Knob("growth_rate", (8, 12, 16, 24, 32, 40)),
            Knob("compression", (0.5, 1.0)),
            Knob("dropout", (0.0, 0.2)),
        ),
        "resnext": (
            Knob("depth", depths(rule(**resnext.DEPTH_RULE), (1, 2, 3))),  # 9n+2: 11, 20, 29
            Knob("cardinality", (2, 4, 8, 16, 32)),
            Knob("bottleneck_width", (4, 8, 16, 32, 64)),
        ),
        "shake_shake": (
            Knob("depth", depths(rule(**shake_shake.DEPTH_RULE), (1, 2, 3, 4, 5))),  # 6n+2: 8 ... 32
            Knob("width", (16, 32, 64, 96, 112)),  # even
            Knob("mode", tuple(SHAKE_MODES)),
            Knob("level", SHAKE_LEVELS),
        ),
    }


SPACES: dict[str, tuple[Knob, ...]] = family_spaces()

# Shared by every family: each sets the reszoo.train flag of its name (lr -> --lr).
TRAINING_KNOBS: tuple[Knob, ...] = (
    Knob("lr", span=(0.01, 0.4), training=True),
    Knob("weight_decay", span=(5e-5, 1e-3), training=True),
    Knob("batch_size", (64, 128, 256), training=True),
)


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """A family's knobs and the shared training knobs."""

    family: str
    knobs: tuple[Knob, ...]

    def declare(self, hp: kt.HyperParameters) -> dict[str, Any]:
        """Register every knob in ``hp``; the active values, decoded."""
        for knob in self.knobs:
            knob.declare(hp)
        return self.decode(hp.values)

    def decode(self, stored: dict[str, Any]) -> dict[str, Any]:
        """keras-tuner values (active ones; ``tuner/...`` entries dropped) as the builders want them."""
        return {k.name: k.decode(stored[k.name]) for k in self.knobs if k.name in stored}

    def builder_kwargs(self, values: dict[str, Any]) -> dict[str, Any]:
        """``reszoo.build`` keyword arguments of a configuration ("none" -> None; selectors dropped)."""
        return {
            k.target: None if values[k.name] == NONE else values[k.name]
            for k in self.knobs
            if k.name in values and k.target and not k.training
        }

    def training_values(self, values: dict[str, Any]) -> dict[str, Any]:
        return {k.name: values[k.name] for k in self.knobs if k.training and k.name in values}

    def smallest(self, **overrides: Any) -> dict[str, Any]:
        """The first value of every active knob: the smallest network; ``overrides`` replace some values."""
        values: dict[str, Any] = {}
        for knob in self.knobs:
            if self._active(knob, values):
                values[knob.name] = overrides.get(knob.name, knob.smallest())
        return values

    def model_configurations(self) -> Iterator[dict[str, Any]]:
        """Every combination of the active architecture knobs (training knobs at their first value)."""
        yield from self._combinations(0, {})

    def _combinations(self, index: int, values: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if index == len(self.knobs):
            yield dict(values)
            return
        knob = self.knobs[index]
        if not self._active(knob, values):
            yield from self._combinations(index + 1, values)
            return
        for value in (knob.smallest(),) if knob.training else knob.values:
            yield from self._combinations(index + 1, {**values, knob.name: value})

    @staticmethod
    def _active(knob: Knob, values: dict[str, Any]) -> bool:
        return knob.when is None or any(same(values.get(knob.when[0]), v) for v in knob.when[1])

    def restricted(self, narrowed: dict[str, tuple[Any, ...]]) -> SearchSpace:
        """The space with some knobs narrowed (``--space``)."""
        names = [k.name for k in self.knobs]
        unknown = sorted(set(narrowed) - set(names))
        if unknown:
            raise UsageError(
                f"--space names a knob {self.family} does not have: {', '.join(unknown)}. "
                f"Its knobs: {', '.join(names)}."
            )
        knobs = tuple(k.restricted(narrowed[k.name]) if k.name in narrowed else k for k in self.knobs)
        return SearchSpace(self.family, knobs)

    def description(self) -> dict[str, Any]:
        """The space as JSON-able data (what a project folder must match to be continued)."""
        return {k.name: (list(k.span) if k.span else list(k.values), k.when and list(k.when)) for k in self.knobs}

    def table(self) -> str:
        return "\n".join(
            [f"{self.family} search space (values smallest network first):"] + [k.describe() for k in self.knobs]
        )


def supported_families() -> list[str]:
    return list(SPACES)


def search_space(family: str) -> SearchSpace:
    """The search space of ``family``; ``UsageError`` (a ValueError) for others (``options.check_family``)."""
    check_family(family)
    return SearchSpace(family, SPACES[family] + TRAINING_KNOBS)
