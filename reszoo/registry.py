"""The model registry: families register a builder, presets are data.

A *family* is a builder function ``fn(**family_kwargs, num_classes, input_shape,
classifier_activation, name) -> keras.Model``. A *preset* is a name for one of
the papers' configurations: the family, its keyword arguments, and what the paper
published about it (parameter count, errors), so tests, the README table and
``reszoo.bench params`` all read the same numbers.

``build(name, **kwargs)`` accepts either. Arguments that are ``None`` are
dropped (so CLI defaults never override a model's own), unknown arguments are
refused, and a preset refuses overrides that would change what its name means.
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras

from reszoo.backbone import check_classes_argument, check_head_arguments
from reszoo.layers import options

# Arguments every builder accepts, handled here or passed through unchanged.
COMMON_ARGS = (
    "num_classes",
    "input_shape",
    "name",
    "classifier_activation",
    "weight_decay",
    "include_top",
    "pooling",
    "input_tensor",
)
# The common arguments build() handles itself (through reszoo.layers.options), not in builder signatures.
BUILD_ARGS = ("weight_decay", "include_top", "pooling", "input_tensor")


@dataclass(frozen=True)
class Family:
    """A registered family: its builder and the paper-default weight decay."""

    name: str
    builder: Callable[..., keras.Model]
    weight_decay: float
    summary: str
    # True when the builder's model standardises raw 0-255 pixels itself (keras.applications'
    # EfficientNet): training then feeds raw pixels instead of adding reszoo's normalization.
    normalizes_inputs: bool = False
    # A tiny configuration (build kwargs) on which tests/test_families.py runs the shared checks in
    # seconds; required at registration so that no family goes untested.
    smoke: dict[str, Any] = field(default_factory=dict)

    def family_args(self) -> dict[str, inspect.Parameter]:
        """The family's own keyword arguments (without the common ones)."""
        params = inspect.signature(self.builder).parameters
        return {k: p for k, p in params.items() if k not in COMMON_ARGS}


@dataclass(frozen=True)
class Preset:
    """One named paper configuration.

    ``published`` is the parameter count as the paper prints it, in millions
    (e.g. ``1.7``); ``exact`` is the trainable count of the official code
    (CIFAR-10 head) where REFERENCE.md gives one.
    """

    name: str
    family: str
    kwargs: dict[str, Any]
    paper: str
    published: float | None = None
    exact: int | None = None
    c10_error: float | None = None
    c100_error: float | None = None
    recipe: str | None = None
    slow: bool = False
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# Arguments for which an explicit None means something (logits) rather than "use the default".
_NONE_IS_A_VALUE = ("classifier_activation",)

_FAMILIES: dict[str, Family] = {}
_PRESETS: dict[str, Preset] = {}


def register_family(
    name: str, *, smoke: dict[str, Any], weight_decay: float = 1e-4, normalizes_inputs: bool = False
) -> Callable[[Callable[..., keras.Model]], Callable[..., keras.Model]]:
    """Decorator registering ``fn`` as the builder of family ``name``.

    ``smoke`` is required: the build kwargs of a tiny instance (a few thousand weights, built in a
    second) that tests/test_families.py gives the shared checks, so a new family cannot go untested.
    """

    def decorate(fn: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
        if name in _FAMILIES or name in _PRESETS:
            raise ValueError(f"Model name {name!r} is registered twice.")
        missing = [a for a in COMMON_ARGS if a not in BUILD_ARGS and a not in inspect.signature(fn).parameters]
        if missing:
            raise TypeError(f"Builder {fn.__name__} lacks the common arguments {missing}.")
        if not isinstance(smoke, dict) or not smoke:
            raise ValueError(
                f"Family {name!r} needs a smoke configuration: a non-empty dict of build kwargs for a tiny "
                f"instance. Received: smoke={smoke!r}"
            )
        summary = (inspect.getdoc(fn) or name).splitlines()[0]
        family = Family(name, fn, weight_decay, summary, normalizes_inputs=normalizes_inputs, smoke=dict(smoke))
        _check_kwargs(family, family.smoke, what=f"the smoke configuration of family {name!r}")
        _FAMILIES[name] = family
        return fn

    return decorate


def register_presets(family: str, presets: dict[str, dict[str, Any]]) -> None:
    """Register presets given as data: ``{name: {"kwargs": {...}, "paper": ..., ...}}``."""
    if family not in _FAMILIES:
        raise ValueError(f"Register family {family!r} before its presets.")
    for preset_name, spec in presets.items():
        if preset_name in _PRESETS or preset_name in _FAMILIES:
            raise ValueError(f"Model name {preset_name!r} is registered twice.")
        preset = Preset(name=preset_name, family=family, **spec)
        _check_kwargs(_FAMILIES[family], preset.kwargs, what=f"preset {preset_name!r}")
        _PRESETS[preset_name] = preset


def _ensure_registered() -> None:
    """Import ``reszoo.models`` (whose modules register the families) the first time the registry is read.

    ``import reszoo`` no longer imports the models (so that ``--help`` needs no TensorFlow); whoever
    reads the registry first, ``reszoo.build`` or a direct ``reszoo.registry`` user, loads them here.
    """
    if not _FAMILIES:
        import reszoo.models  # noqa: F401


def families() -> dict[str, Family]:
    _ensure_registered()
    return dict(_FAMILIES)


def presets() -> dict[str, Preset]:
    _ensure_registered()
    return dict(_PRESETS)


def list_models() -> dict[str, list[str]]:
    """``{family: [its presets]}`` for every registered family, in registration order."""
    _ensure_registered()
    listing: dict[str, list[str]] = {name: [] for name in _FAMILIES}
    for preset in _PRESETS.values():
        listing[preset.family].append(preset.name)
    return listing


def resolve(name: str, /, **kwargs: Any) -> tuple[Family, dict[str, Any], Preset | None]:
    """Resolve a family or preset name and overrides into (family, full kwargs, preset)."""
    _ensure_registered()
    if not isinstance(name, str):
        raise ValueError(f"Model name must be a string. Received: name={name!r}")
    # "ResNet-110" and "fast-resnet20" name resnet110 and fast_resnet20.
    lowered = name.lower()
    candidates = (lowered, lowered.replace("-", "_"), lowered.replace("-", ""))
    key = next((c for c in candidates if c in _PRESETS or c in _FAMILIES), candidates[1])
    kwargs = {k: v for k, v in kwargs.items() if v is not None or k in _NONE_IS_A_VALUE}
    check_classes_argument(kwargs)
    if key in _PRESETS:
        preset = _PRESETS[key]
        family = _FAMILIES[preset.family]
        for arg, value in kwargs.items():
            if arg in preset.kwargs and preset.kwargs[arg] != value:
                raise ValueError(
                    f"Preset {preset.name!r} fixes {arg}={preset.kwargs[arg]!r}; received "
                    f"{arg}={value!r}. Build the family instead: "
                    f"reszoo.build({family.name!r}, {arg}={value!r}, ...)."
                )
        merged = {**preset.kwargs, **kwargs}
    elif key in _FAMILIES:
        preset, family, merged = None, _FAMILIES[key], kwargs
    else:
        known = sorted([*_FAMILIES, *_PRESETS])
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown model {name!r}.{hint} Known families: {', '.join(_FAMILIES)}. "
            "See reszoo.list_models() for every preset."
        )
    _check_kwargs(family, merged, what=f"model {name!r}")
    return family, merged, preset


def default_fused_bn() -> bool:
    """``fused_bn`` when ``build()`` is given none: True, unless ``RESZOO_FUSED_BN`` is 0/false/no/off.

    The only place reszoo reads that variable: an override for runs (bench, CLI) that cannot pass
    ``fused_bn=False`` themselves.
    """
    return os.environ.get("RESZOO_FUSED_BN", "1").strip().lower() not in ("0", "false", "no", "off")


def build(name: str, /, *, fused_bn: bool | None = None, weights: Any = None, **kwargs: Any) -> keras.Model:
    """Build a registered family or preset as a ``keras.Model``.

    Args:
        name: str. A family (``"resnet"``) or a preset (``"resnet110"``).
        **kwargs: the family's keyword arguments, plus the common ones:
            ``num_classes`` (default 10), ``input_shape`` (default (32, 32, 3)),
            ``classifier_activation`` (``"softmax"``, or ``None`` for logits),
            ``name``, and ``weight_decay`` (L2 on every trainable weight as the
            papers' Torch/PyTorch SGD applies it; default the family's paper
            value, ``0`` for none); and keras.applications' ``include_top``
            (default True), ``pooling`` (None, "avg" or "max", with
            ``include_top=False``) and ``input_tensor`` (a Keras tensor to build
            on). ``classes`` is refused: the name is ``num_classes``.
        fused_bn: bool. BN layers as ``reszoo.layers.FusedBatchNormalization``
            (same weights and results, faster training on TensorFlow) or, when
            False, Keras' own ``BatchNormalization``. Default True, or
            ``default_fused_bn()``'s ``RESZOO_FUSED_BN`` override.
        weights: None (default: untrained), "cifar10" or "cifar100" (the
            pytorchcv checkpoint published for this configuration; see
            ``python -m reszoo.convert --list``), or the path of a pytorchcv
            ``.pth`` / ``.pth.zip`` or a reszoo ``.keras`` / ``.weights.h5``
            file of the same architecture. The model takes inputs normalised
            as the weights were trained (``reszoo.convert.normalization_layer()``
            for pytorchcv's); ``reszoo.convert.from_pytorchcv`` gives one that
            takes raw pixels. Needs the ``convert`` extra for checkpoints.

    Raises:
        ValueError: unknown model, unknown or impossible argument, an
            override that contradicts the preset, or weights that do not exist
            for the configuration (listing the configurations that have them).

    Examples:
        >>> import reszoo
        >>> reszoo.trainable_params(reszoo.build("resnet20", num_classes=100))
        275572
        >>> reszoo.build("wrn", depth=10, width=2, name="tiny_wrn").name
        'tiny_wrn'
        >>> reszoo.build("resnet20", depth=56)
        Traceback (most recent call last):
        ValueError: Preset 'resnet20' fixes depth=20; received depth=56. Build the family instead: ...
    """
    if weights is not None and "weights" in resolve(name)[0].family_args():
        kwargs["weights"] = weights  # the family's own (EfficientNet's ImageNet weights)
    elif weights is not None:
        # Pretrained or saved weights: reszoo.convert (imports torch only when a checkpoint is read).
        from reszoo.convert.pretrained import build_with_weights

        return build_with_weights(name, weights, fused_bn=fused_bn, **kwargs)
    family, merged, _ = resolve(name, **kwargs)
    weight_decay = merged.pop("weight_decay", family.weight_decay)
    check_weight_decay(weight_decay)
    head = check_head_arguments(
        merged.pop("include_top", True),
        merged.pop("pooling", None),
        merged.pop("input_tensor", None),
        merged.get("input_shape"),
    )
    if head.input_tensor is not None:
        merged["input_shape"] = tuple(head.input_tensor.shape[1:])
    build_options = options.BuildOptions(
        weight_decay=weight_decay,
        fused_bn=default_fused_bn() if fused_bn is None else bool(fused_bn),
        include_top=head.include_top,
        pooling=head.pooling,
        input_tensor=head.input_tensor,
    )
    # The helpers (conv, batch_norm, dense) read these options and create their layers regularised.
    with options.building(build_options):
        return family.builder(**merged)


def check_weight_decay(weight_decay: Any) -> float:
    if weight_decay is None or isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)):
        raise ValueError(f"weight_decay must be >= 0. Received: weight_decay={weight_decay!r}")
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0. Received: weight_decay={weight_decay!r}")
    return float(weight_decay)


def _check_kwargs(family: Family, kwargs: dict[str, Any], *, what: str) -> None:
    allowed = [*family.family_args(), *COMMON_ARGS]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(
            f"Unknown argument(s) {', '.join(unknown)} for {what}. "
            f"Family {family.name!r} accepts: {', '.join(allowed)}."
        )


# (weight attribute, regularizer attribute) for every weight kind a Keras layer may carry.
_DECAYED_WEIGHTS = (
    ("kernel", "kernel_regularizer"),
    ("kernel", "depthwise_regularizer"),  # DepthwiseConv2D keeps its kernel as `kernel`
    ("depthwise_kernel", "depthwise_regularizer"),
    ("pointwise_kernel", "pointwise_regularizer"),
    ("bias", "bias_regularizer"),
    ("gamma", "gamma_regularizer"),
    ("beta", "beta_regularizer"),
)


def apply_weight_decay(model: keras.Model, weight_decay: float) -> keras.Model:
    """Put L2(weight_decay / 2) on every trainable weight of ``model``.

    The papers train with Torch/PyTorch SGD, whose ``weight_decay`` adds
    ``wd * w`` to every parameter's gradient (BN's gamma and beta included)
    before momentum. Keras' optimizer ``weight_decay`` is decoupled (applied
    after momentum), so we use regularizers instead: the gradient of
    ``L2(wd / 2)`` is exactly ``wd * w``. The regularizers are set on the layer
    configs too, so a saved ``.keras`` model keeps them.

    Builds through reszoo's helpers get these regularizers at layer creation
    (``reszoo.layers.options``); this after-build pass is for models whose
    layers reszoo does not create (EfficientNet's keras.applications backbone).
    """
    check_weight_decay(weight_decay)
    regularizer = keras.regularizers.L2(weight_decay / 2) if weight_decay else None
    for layer in model._flatten_layers(include_self=False):
        for weight_attr, regularizer_attr in _DECAYED_WEIGHTS:
            variable = getattr(layer, weight_attr, None)
            if hasattr(layer, regularizer_attr) and isinstance(variable, keras.Variable):
                setattr(layer, regularizer_attr, regularizer)
                if variable.trainable:
                    variable.regularizer = regularizer
    return model
