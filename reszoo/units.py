"""Residual units as data, and the loop that stacks them.

A unit is a sequence of operations on its residual branch (``UNIT_OPS``);
every unit has one signature, ``residual_unit(x, filters, stride, kind=...)``,
and the shortcut (identity, zero-padded, or projection) is decided in one place,
``shortcut``. A network body is a *plan*: one ``UnitSpec`` per unit, so a family
that changes widths per unit (PyramidNet) or per stage (ResNet, WRN) only
generates a different plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from reszoo.layers import (
    StochasticDepth,
    ZeroPadShortcut,
    apply_attention,
    batch_norm,
    conv,
    linear_survival,
    relu,
)

# Branch operations, run by ``apply_ops``: "bn", "relu", "conv3" (3x3, `filters`
# wide, takes the unit's stride), "gconv3" (the same with `groups` groups:
# ResNeXt), "conv1" (1x1, `filters` wide), "conv1x4" (1x1 to the bottleneck's
# 4x output width), "conv1_out" (1x1 to the unit's `out_filters`).
_PREACT_BASIC = ("bn", "relu", "conv3", "bn", "relu", "conv3")
_PREACT_BOTTLENECK = ("bn", "relu", "conv1", "bn", "relu", "conv3", "bn", "relu", "conv1x4")


def _drop_first_relu(ops: tuple[str, ...]) -> tuple[str, ...]:
    return ops[:1] + ops[2:]


UNIT_OPS: dict[str, dict[str, tuple[str, ...]]] = {
    # He et al. 2015: conv-BN-ReLU-conv-BN, add, ReLU.
    "post": {
        "basic": ("conv3", "bn", "relu", "conv3", "bn"),
        "bottleneck": ("conv1", "bn", "relu", "conv3", "bn", "relu", "conv1x4", "bn"),
    },
    # He et al. 2016 full pre-activation, and Han et al.'s variants (survey table 1).
    "preact": {"basic": _PREACT_BASIC, "bottleneck": _PREACT_BOTTLENECK},
    "no_first_relu": {
        "basic": _drop_first_relu(_PREACT_BASIC),
        "bottleneck": _drop_first_relu(_PREACT_BOTTLENECK),
    },
    "bn_end": {"basic": _PREACT_BASIC + ("bn",), "bottleneck": _PREACT_BOTTLENECK + ("bn",)},
    "no_first_relu_bn_end": {
        "basic": _drop_first_relu(_PREACT_BASIC) + ("bn",),
        "bottleneck": _drop_first_relu(_PREACT_BOTTLENECK) + ("bn",),
    },
    # FastResNet (the seed): one BN-ReLU per unit.
    "fast1": {"basic": ("conv3", "bn", "relu", "conv3")},
    "fast2": {"basic": ("bn", "relu", "conv3", "conv3")},
}

# Post-activation units add a ReLU after the addition (residual_unit's relu_after_add) and BN to
# projections (projection_bn, fb.resnet.torch's option B); pre-activation units do neither.
POST_ACTIVATION_KINDS = ("post",)

SHORTCUTS = ("A", "B", "avg")


@dataclass(frozen=True)
class UnitSpec:
    """One unit of a plan: where it is, how wide, and its stride."""

    stage: int
    index: int
    filters: int
    stride: int

    @property
    def name(self) -> str:
        return f"stage{self.stage}_unit{self.index}"


def stage_plan(units_per_stage, widths, strides=(1, 2, 2)) -> list[UnitSpec]:
    """Stages of equal-width units; only the first unit of a stage takes the stride."""
    plan = []
    for stage, (n, width, stride) in enumerate(zip(units_per_stage, widths, strides, strict=True), start=1):
        for index in range(1, n + 1):
            plan.append(UnitSpec(stage, index, int(width), stride if index == 1 else 1))
    return plan


def output_filters(ops: tuple[str, ...], filters: int, expansion: int = 4) -> int:
    return filters * expansion if "conv1x4" in ops else filters


_STRIDED_CONVS = ("conv3", "gconv3")
_CONV_OPS = ("conv1", "conv1x4", "conv1_out", *_STRIDED_CONVS)


def apply_ops(
    x,
    ops: tuple[str, ...],
    filters: int,
    stride: int = 1,
    *,
    name: str,
    out_filters: int | None = None,
    groups: int = 1,
    dropout: float = 0.0,
):
    """Run the branch ``ops`` on ``x``: the one interpreter of every unit's branch.

    Layers are named ``{name}_{bn|relu|conv}{i}``, counting each kind from 1.
    The stride goes to the first 3x3 conv; ``dropout``, if any, sits before the
    last conv (WRN). Returns ``(branch, preactivated)``: the output, and the
    output of a leading BN-ReLU (``x`` when the ops start otherwise), which a
    pre-activation unit's projection shortcut takes.
    """
    unknown = [op for op in ops if op not in ("bn", "relu", *_CONV_OPS)]
    if unknown:
        raise ValueError(f"Unknown branch op(s) {unknown}. Received: ops={ops!r}")
    out_filters = output_filters(ops, filters) if out_filters is None else out_filters
    lead = _leading_activation(ops)
    last_conv = max(i for i, op in enumerate(ops) if op in _CONV_OPS)
    counts = {"bn": 0, "relu": 0, "conv": 0}
    branch, preactivated, pending_stride = x, x, stride
    for i, op in enumerate(ops):
        kind = "conv" if op in _CONV_OPS else op
        counts[kind] += 1
        layer_name = f"{name}_{kind}{counts[kind]}"
        if op == "bn":
            branch = batch_norm(branch, name=layer_name)
        elif op == "relu":
            branch = relu(branch, name=layer_name)
        else:
            if i == last_conv and dropout:
                branch = keras.layers.Dropout(dropout, name=f"{name}_dropout")(branch)
            width = out_filters if op in ("conv1x4", "conv1_out") else filters
            step = pending_stride if op in _STRIDED_CONVS else 1
            pending_stride = 1 if op in _STRIDED_CONVS else pending_stride
            kernel = 3 if op in _STRIDED_CONVS else 1
            branch = conv(branch, width, kernel, step, groups=groups if op == "gconv3" else 1, name=layer_name)
        if lead and i == lead - 1:
            preactivated = branch
    return branch, preactivated


def shortcut(x, out_filters: int, stride: int, kind: str, *, name: str, projection_bn: bool):
    """Identity when shapes match; otherwise option A/avg (parameter-free) or B (1x1 projection)."""
    if stride == 1 and x.shape[-1] == out_filters:
        return x
    if kind == "B":
        s = conv(x, out_filters, 1, stride, name=f"{name}_proj")
        return batch_norm(s, name=f"{name}_proj_bn") if projection_bn else s
    pooling = "average" if kind == "avg" else "subsample"
    return ZeroPadShortcut(out_filters, stride, pooling, name=f"{name}_shortcut")(x)


def _leading_activation(ops: tuple[str, ...]) -> int:
    """How many ops form the unit's pre-activation (a BN-ReLU at its start)."""
    return 2 if ops[:2] == ("bn", "relu") else 0


def residual_unit(
    x,
    filters: int,
    stride: int,
    *,
    ops: tuple[str, ...],
    name: str,
    out_filters: int | None = None,
    groups: int = 1,
    shortcut_kind: str = "A",
    relu_after_add: bool = False,
    projection_bn: bool = False,
    dropout: float = 0.0,
    attention: str | None = None,
    survival_prob: float = 1.0,
    branch_layer: keras.layers.Layer | None = None,
):
    """x + F(x) with F given by ``ops`` (run by ``apply_ops``).

    The stride goes to the first 3x3 conv (as fb.resnet.torch and the
    pre-activation code put it); dropout, if any, sits before the last conv
    (WRN). ``out_filters`` is the unit's output width (default: ``filters``,
    4x for bottlenecks) and ``groups`` the grouping of "gconv3"; attention, stochastic depth and ``branch_layer`` (ShakeDrop, ...)
    act on the branch, in that order, before the add.
    A projection shortcut of a pre-activation unit is fed by the unit's shared
    BN-ReLU, as in He et al. 2016's code.
    ``relu_after_add`` closes the unit with a ReLU after the addition, and
    ``projection_bn`` puts BN on a projection (option B) shortcut: both are on
    for He et al. 2015's post-activation units, off for pre-activation ones.
    """
    out_filters = output_filters(ops, filters) if out_filters is None else out_filters
    branch, preactivated = apply_ops(
        x, ops, filters, stride, name=name, out_filters=out_filters, groups=groups, dropout=dropout
    )
    branch = apply_attention(branch, attention, name=name)
    if survival_prob < 1.0:
        branch = StochasticDepth(survival_prob, name=f"{name}_stochastic_depth")(branch)
    if branch_layer is not None:
        branch = branch_layer(branch)
    needs_projection = stride != 1 or x.shape[-1] != out_filters
    source = preactivated if shortcut_kind == "B" and needs_projection else x
    skip = shortcut(source, out_filters, stride, shortcut_kind, name=name, projection_bn=projection_bn)
    out = keras.layers.Add(name=f"{name}_add")([skip, branch])
    return relu(out, name=f"{name}_out_relu") if relu_after_add else out


def ends_stage(plan: list[UnitSpec], index: int) -> bool:
    """Whether ``plan[index]`` is the last unit of its stage (its output is the stage's output)."""
    return index == len(plan) - 1 or plan[index + 1].stage != plan[index].stage


def run_plan(x, plan: list[UnitSpec], *, drop_path: float = 0.0, stage_outputs: list | None = None, **unit_options):
    """Apply ``residual_unit`` for every spec; survival probabilities decay linearly.

    ``stage_outputs``, if given, receives the output of each stage's last unit, in order (the model's
    ``pyramid_outputs``).
    """
    for position, spec in enumerate(plan, start=1):
        x = residual_unit(
            x,
            spec.filters,
            spec.stride,
            name=spec.name,
            survival_prob=linear_survival(position, len(plan), drop_path),
            **unit_options,
        )
        if stage_outputs is not None and ends_stage(plan, position - 1):
            stage_outputs.append(x)
    return x
