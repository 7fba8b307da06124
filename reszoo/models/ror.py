"""Residual Networks of Residual Networks, RoR (Zhang, Sun, Han, Yuan, Guo, Liu,
"Residual Networks of Residual Networks: Multilevel Residual Networks", IEEE
TCSVT 2017, arXiv:1608.02908; Figs. 2-3, Tables V-VI and the CIFAR comparison).

RoR adds shortcuts *over groups of units* to a CIFAR ResNet:

* level 1 (the "root" shortcut) from the stem output over all three groups to
  the last group's output: a 1x1 conv to the last width with stride 4;
* level 2 (the "middle" shortcuts) over each group (stage): a 1x1 conv from the
  group's input to its output width, stride 1 / 2 / 2;
* level 3 (the "final" level) the units' own shortcuts.

``levels=3`` is RoR-3, the paper's best; ``levels=2`` keeps the root and the
units' shortcuts (RoR-2). The paper's Figs. 2-3 draw every level-1 and level-2
shortcut as a 1x1 conv, also over the first group of a k=1 net where the
shapes match ("1x1, conv, 16"), so they are always projections here.

Bases (``base``):

* ``"wrn"``: RoR-3-WRN (Fig. 3): Wide ResNet units (pre-activation
  BN-ReLU-conv-BN-ReLU-[dropout]-conv, widths 16k/32k/64k, depth 6N+4, unit
  projections fed by the shared BN-ReLU), bare conv stem, head BN-ReLU-GAP-FC.
* ``"preact"``: Pre-RoR-3 (Fig. 3 with k=1): pre-activation basic units,
  widths 16/32/64, depth 6n+2, projection unit shortcuts.
* ``"resnet"``: RoR-3 on the original ResNet (Fig. 2): conv-BN-ReLU stem,
  conv-BN-ReLU-conv-BN units with ReLU after the add, projection (+BN) unit
  shortcuts, GAP-FC head. The last unit of a group that ends in a group-level
  shortcut has no ReLU of its own: the ReLU comes after the level-2 (and, for
  the last group, level-1) addition (Fig. 2, "residual block without ReLU in
  the end"). That unit is built as a post-activation unit without its closing
  ReLU (``relu_after_add=False``) and, as reszoo has always built it, without
  BN on its projection (``projection_bn=False``); so with one unit per group
  (depth 8) the down-sampling units' projections lack their BN.

Choices where the paper is ambiguous (documented for the presets too):

* BN on the level-1/2 projections: the figures show a bare 1x1 conv. We add BN
  only for the post-activation base, matching how this zoo (and
  fb.resnet.torch's shortcut type B, which RoR's Torch code builds on) treats
  projections of post-activation nets; the pre-activation and WRN bases keep
  the bare conv, like their own unit projections.
* Unit (level-3) shortcuts where shapes change are 1x1 projections for every
  base ("Projection shortcut is done by 1x1 convolutions", Figs. 2-3).
* Stochastic depth ("+SD") drops the units' residual branches only, with
  Huang et al.'s linear decay over all units; the group-level shortcuts are
  never dropped.

``downsample="max_pool"`` (base "resnet", RoR-3 only) is pytorchcv's RoR-3, the architecture of its
CIFAR checkpoints (``reszoo.convert``): every unit and level-2 shortcut has stride 1, and groups 1-2
end with ReLU then a 2x2 max-pool (``stage{s}_pool``); the level-1 shortcut keeps stride 4. pytorchcv
names it by 6n+8 (its ``ror3_56`` has n=8 units per group, reszoo's ``depth=50``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras

from reszoo.layers import batch_norm, bn_relu, conv, linear_survival, relu
from reszoo.layers.attention import check_attention
from reszoo.models.common import (
    check_choice,
    check_positive_int,
    check_rate,
    finish,
    model_inputs,
    units_from_depth,
)
from reszoo.registry import register_family, register_presets
from reszoo.units import UNIT_OPS, UnitSpec, residual_unit, stage_plan

BASE_WIDTHS = (16, 32, 64)
STEM_WIDTH = 16
LEVELS = (2, 3)
DOWNSAMPLES = ("stride", "max_pool")


@dataclass(frozen=True)
class RoRBase:
    """What a base network contributes: its unit, depth rule, stem and head."""

    unit: str  # a key of reszoo.units.UNIT_OPS
    depth_extra: int  # depth = 6n + depth_extra
    post_activation: bool  # conv-BN-ReLU stem, ReLU after adds, BN on projections, no head BN-ReLU
    widens: bool  # accepts a widening factor k
    default_depth: int
    default_width: int = 1


BASES = {
    "wrn": RoRBase("preact", depth_extra=4, post_activation=False, widens=True, default_depth=58, default_width=4),
    "preact": RoRBase("preact", depth_extra=2, post_activation=False, widens=False, default_depth=164),
    "resnet": RoRBase("post", depth_extra=2, post_activation=True, widens=False, default_depth=164),
}


def check_width_for_base(base: str, width) -> int:
    spec = BASES[base]
    if width is None:
        return spec.default_width
    check_positive_int("width", width)
    if not spec.widens and width != 1:
        raise ValueError(
            f"width applies to base='wrn' only (base={base!r} has widths 16/32/64). "
            f"Received: width={width!r}, base={base!r}"
        )
    return width


def level_shortcut(x, filters: int, stride: int, *, name: str, with_bn: bool):
    """A group-level (level 1 or 2) shortcut: always a 1x1 conv, as Figs. 2-3 draw it.

    ``reszoo.units.shortcut`` returns the identity when shapes match; RoR's
    figures project even then (the first group of a k=1 net), hence this helper.
    """
    s = conv(x, filters, 1, stride, name=f"{name}_proj")
    return batch_norm(s, name=f"{name}_proj_bn") if with_bn else s


def ror_body(
    x,
    plan: list[UnitSpec],
    *,
    base: RoRBase,
    levels: int,
    drop_path: float,
    dropout,
    attention,
    downsample: str = "stride",
    stage_outputs: list | None = None,
):
    """Stack the units group by group and add the level-2 and level-1 shortcuts.

    ``stage_outputs``, if given, receives each group's output (after its group-level adds and ReLU,
    before a max-pool), in order: the model's ``pyramid_outputs``.

    ``downsample="max_pool"``: the plan's strides are all 1 and groups other than the last end with
    ReLU and a 2x2 max-pool (pytorchcv's RoR-3).
    """
    ops = UNIT_OPS[base.unit]["basic"]
    stages = sorted({spec.stage for spec in plan})
    root, position = x, 0
    for stage in stages:
        group = [spec for spec in plan if spec.stage == stage]
        group_input, last_stage = x, stage == stages[-1]
        # Post-activation nets move the ReLU of a group's last unit after the group-level add(s).
        deferred_relu = base.post_activation and (levels == 3 or last_stage)
        for spec in group:
            position += 1
            x = residual_unit(
                x,
                spec.filters,
                spec.stride,
                ops=ops,
                name=spec.name,
                shortcut_kind="B",
                relu_after_add=base.post_activation and not (deferred_relu and spec is group[-1]),
                # Kept as before the switches were split (the golden counts): that unit's projection has no BN.
                projection_bn=base.post_activation and not (deferred_relu and spec is group[-1]),
                dropout=dropout,
                attention=attention,
                survival_prob=linear_survival(position, len(plan), drop_path),
            )
        if levels == 3:
            middle = level_shortcut(
                group_input,
                group[-1].filters,
                group[0].stride,
                name=f"stage{stage}_level2",
                with_bn=base.post_activation,
            )
            x = keras.layers.Add(name=f"stage{stage}_level2_add")([x, middle])
        if last_stage:
            total_stride = math.prod(spec.stride for spec in plan)
            if downsample == "max_pool":
                total_stride = 2 ** (len(stages) - 1)
            top = level_shortcut(root, group[-1].filters, total_stride, name="level1", with_bn=base.post_activation)
            x = keras.layers.Add(name="level1_add")([x, top])
        if deferred_relu:
            x = relu(x, name=f"stage{stage}_out_relu")
        if stage_outputs is not None:
            stage_outputs.append(x)
        if downsample == "max_pool" and not last_stage:
            x = keras.layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
    return x


def default_name(base: str, levels: int, depth: int, width: int) -> str:
    if base == "wrn":
        return f"ror{levels}_wrn{depth}_{width}"
    return f"{'pre_' if base == 'preact' else ''}ror{levels}_{depth}"


@register_family("ror", weight_decay=1e-4, smoke=dict(base="wrn", depth=10, width=2, drop_path=0.5))
def ror(
    base: str = "wrn",
    depth: int | None = None,
    width: int | None = None,
    levels: int = 3,
    drop_path: float = 0.0,
    dropout: float = 0.0,
    attention: str | None = None,
    downsample: str = "stride",
    *,
    num_classes: int = 10,
    input_shape=(32, 32, 3),
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """RoR: multilevel residual networks (Zhang et al. 2017, Figs. 2-3, Tables V-VI).

    Level-1 shortcut (1x1 conv, stride 4) from the stem over all groups,
    level-2 shortcuts (1x1 conv) over each group, level-3 the units' own
    shortcuts, on a Wide ResNet, pre-activation or original ResNet base.
    See the module docstring for the choices where the paper is ambiguous.

    Args:
        base: str. "wrn" (RoR-3-WRN), "preact" (Pre-RoR-3) or "resnet"
            (RoR-3 on the original ResNet). Defaults to "wrn".
        depth: int. 6N+4 for "wrn" (the WRN's depth, the level convs not
            counted), 6n+2 for "preact" / "resnet". Defaults to 58 for "wrn",
            164 otherwise.
        width: int. The WRN widening factor k (base "wrn" only). Defaults to 4.
        levels: int. 3 (root, middle and unit shortcuts) or 2 (root and unit
            shortcuts). Defaults to 3.
        drop_path: float. Stochastic depth ("+SD") on the units' branches: the
            last unit's drop probability, linear decay from 0 (the paper's
            presets use 0.5). Defaults to 0.
        dropout: float. Dropout between a unit's convs. Defaults to 0.
        attention: None, "se" or "cbam" on every unit's branch. Defaults to None.
        downsample: str. "stride" (default: the first unit of groups 2-3 and
            their level-2 shortcuts have stride 2) or "max_pool" (base
            "resnet", levels 3: pytorchcv's RoR-3, stride-1 units and ReLU +
            2x2 max-pool after groups 1-2; see the module docstring).

    Published: RoR-3-WRN58-4+SD 13.3M, C10 3.77, C100 19.73 (the paper's
    CIFAR comparison table and abstract).

    Examples:
        >>> model = build("ror", base="wrn", depth=10, width=2, levels=3)
        >>> [layer.name for layer in model.layers if layer.name.endswith("level2_add")]
        ['stage1_level2_add', 'stage2_level2_add', 'stage3_level2_add']
        >>> model.get_layer("level1_proj").strides
        (4, 4)
    """
    check_choice("base", base, tuple(BASES))
    spec = BASES[base]
    depth = spec.default_depth if depth is None else depth
    n = units_from_depth(depth, layers_per_unit=2, extra=spec.depth_extra)
    width = check_width_for_base(base, width)
    check_choice("levels", levels, LEVELS)
    drop_path = check_rate("drop_path", drop_path)
    dropout = check_rate("dropout", dropout)
    check_attention(attention)
    check_choice("downsample", downsample, DOWNSAMPLES)
    if downsample == "max_pool" and (base != "resnet" or levels != 3):
        raise ValueError(
            "downsample='max_pool' is pytorchcv's RoR-3: it needs base='resnet' and levels=3. "
            f"Received: downsample={downsample!r}, base={base!r}, levels={levels!r}"
        )

    inputs = model_inputs(input_shape)
    x = conv(inputs, STEM_WIDTH, name="stem_conv")
    if spec.post_activation:
        x = bn_relu(x, name="stem")
    strides = (1, 1, 1) if downsample == "max_pool" else (1, 2, 2)
    plan = stage_plan((n, n, n), [w * width for w in BASE_WIDTHS], strides)
    stages: list = []
    x = ror_body(
        x,
        plan,
        base=spec,
        levels=levels,
        drop_path=drop_path,
        dropout=dropout,
        attention=attention,
        downsample=downsample,
        stage_outputs=stages,
    )
    if not spec.post_activation:
        x = bn_relu(x, name="head")
    return finish(
        inputs,
        x,
        num_classes=num_classes,
        classifier_activation=classifier_activation,
        name=name or default_name(base, levels, depth, width),
        stages=stages,
    )


_ROR = "Zhang et al. 2017, Residual Networks of Residual Networks (RoR)"
_SD_NOTE = "+SD: stochastic depth on the units with Huang et al.'s linear decay to p_L = 0.5 (their default; assumed)."


def _ror_preset(kwargs, table, c10, c100, *, published=None, published_basis=None, notes=""):
    return dict(
        kwargs=kwargs,
        paper=f"{_ROR}, {table}",
        published=published,
        c10_error=c10,
        c100_error=c100,
        recipe="stochastic_depth",
        notes=notes,
        extra=dict(published_basis=published_basis) if published_basis else {},
    )


register_presets(
    "ror",
    {
        "ror3_wrn58_4_sd": _ror_preset(
            dict(base="wrn", depth=58, width=4, levels=3, drop_path=0.5),
            "abstract and CIFAR comparison table",
            3.77,
            19.73,
            published=13.3,
            published_basis="not_reproduced",
            notes=(
                "The paper prints 13.3M; we count 13,645,530 (13.6M): the WRN-58-4 base alone has 13,599,450 "
                "and the four level-1/2 1x1 convs add 46,080, so the printed figure cannot be reproduced with "
                "a standard WRN-58-4. " + _SD_NOTE
            ),
        ),
        "ror3_wrn40_4_sd": _ror_preset(
            dict(base="wrn", depth=40, width=4, levels=3, drop_path=0.5),
            "CIFAR comparison table",
            4.09,
            20.11,
            notes="Parameter count not found in the sources we could read. " + _SD_NOTE,
        ),
        "ror3_wrn40_2": _ror_preset(
            dict(base="wrn", depth=40, width=2, levels=3),
            "Table VI (500 epochs)",
            5.01,
            25.19,
            notes="Parameter count not printed in Table VI.",
        ),
        "ror3_wrn40_2_sd": _ror_preset(
            dict(base="wrn", depth=40, width=2, levels=3, drop_path=0.5),
            "Table VI (500 epochs)",
            4.59,
            22.48,
            notes="Parameter count not printed in Table VI. " + _SD_NOTE,
        ),
        "pre_ror3_164": _ror_preset(
            dict(base="preact", depth=164, levels=3),
            "Table V (500 epochs)",
            5.02,
            25.33,
            notes=(
                "Pre-RoR-3 is Fig. 3 with k=1 (basic pre-activation units), so 164 = 6n+2 with n=27. "
                "Parameter count not printed in Table V."
            ),
        ),
        "pre_ror3_164_sd": _ror_preset(
            dict(base="preact", depth=164, levels=3, drop_path=0.5),
            "Table V (500 epochs)",
            4.51,
            21.94,
            notes="Basic units, n=27 (see pre_ror3_164). Parameter count not printed in Table V. " + _SD_NOTE,
        ),
        "ror3_164_sd": _ror_preset(
            dict(base="resnet", depth=164, levels=3, drop_path=0.5),
            "CIFAR comparison table",
            4.86,
            22.47,
            notes=(
                "Errors as quoted from the paper's comparison table by a review (S.-H. Tsang); that the row "
                "uses +SD is inferred (without SD it would beat Pre-RoR-3-164's 5.02). Basic units as in "
                "Fig. 2, n=27. Parameter count not found. " + _SD_NOTE
            ),
        ),
    },
)
