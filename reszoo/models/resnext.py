"""ResNeXt for CIFAR (Xie et al. 2017, "Aggregated Residual Transformations for
Deep Neural Networks", Sec. 5.3 and Table 7).

Stem 3x3 conv 64-BN-ReLU; three stages of bottleneck blocks with outputs
256/512/1024 at 32/16/8 px; each block's 3x3 conv is grouped: C groups
(the cardinality) of d channels (the bottleneck width) in stage 1, 2d in stage 2,
4d in stage 3; projection shortcuts (1x1 conv + BN) where the shape changes;
GAP-FC head. This is fb.resnext's CIFAR model (``shortcutType B``, bias-free
convs), whose trainable counts REFERENCE.md lists.
"""

from __future__ import annotations

import keras

from reszoo.layers import bn_relu, conv
from reszoo.models.common import check_positive_int, finish, model_inputs, units_from_depth
from reszoo.registry import register_family, register_presets
from reszoo.units import UnitSpec, ends_stage, residual_unit, stage_plan

STEM_WIDTH = 64
STAGE_OUTPUTS = (256, 512, 1024)
DEPTH_RULE = dict(layers_per_unit=3, extra=2)  # depth 9n+2
# A post-activation bottleneck whose 3x3 conv is grouped (C groups) and whose last 1x1 goes to the stage's output.
BLOCK_OPS = ("conv1", "bn", "relu", "gconv3", "bn", "relu", "conv1_out", "bn")


def grouped_width(cardinality: int, bottleneck_width: int, stage: int) -> int:
    """Width C*d of a block's grouped 3x3 conv; d doubles at every stage (Table 7)."""
    return cardinality * bottleneck_width * 2 ** (stage - 1)


def resnext_block(x, spec: UnitSpec, *, cardinality: int, bottleneck_width: int):
    """conv1x1(C*d)-BN-ReLU-conv3x3(C*d, groups=C, stride)-BN-ReLU-conv1x1(out)-BN, add, ReLU.

    The stride sits on the grouped 3x3 conv, as in fb.resnext. Layers are named
    ``{unit}_conv{i}`` / ``_bn{i}`` / ``_relu{i}``, ``_proj`` / ``_proj_bn``,
    ``_add`` and ``_out_relu``.
    """
    return residual_unit(
        x,
        grouped_width(cardinality, bottleneck_width, spec.stage),
        spec.stride,
        ops=BLOCK_OPS,
        name=spec.name,
        out_filters=spec.filters,
        groups=cardinality,
        shortcut_kind="B",
        relu_after_add=True,
        projection_bn=True,
    )


@register_family("resnext", weight_decay=5e-4, smoke=dict(depth=11, cardinality=2, bottleneck_width=4))
def resnext(
    depth: int = 29,
    cardinality: int = 8,
    bottleneck_width: int = 64,
    *,
    num_classes: int = 10,
    input_shape=(32, 32, 3),
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """ResNeXt for CIFAR (Xie et al. 2017, Sec. 5.3, Table 7).

    Three stages of n bottleneck blocks (depth 9n+2; the paper's 29 is n=3)
    with outputs 256/512/1024; the grouped 3x3 conv has ``cardinality`` groups
    of ``bottleneck_width`` channels in stage 1, doubling per stage.

    Args:
        depth: int. 9n+2. Defaults to 29.
        cardinality: int. C, the number of groups. Defaults to 8.
        bottleneck_width: int. d, channels per group in stage 1. Defaults to 64.

    Published (Table 7): ResNeXt-29 8x64d 34.4M (exact 34,426,698), C10 3.65,
    C100 17.77; 16x64d 68.1M (exact 68,155,210), C10 3.58, C100 17.31.

    Examples:
        >>> model = build("resnext", depth=11, cardinality=2, bottleneck_width=4)
        >>> model.get_layer("stage2_unit1_conv2").groups
        2
    """
    n = units_from_depth(depth, **DEPTH_RULE)
    cardinality = check_positive_int("cardinality", cardinality)
    bottleneck_width = check_positive_int("bottleneck_width", bottleneck_width)

    inputs = model_inputs(input_shape)
    x = bn_relu(conv(inputs, STEM_WIDTH, name="stem_conv"), name="stem")
    plan, stages = stage_plan((n, n, n), STAGE_OUTPUTS), []
    for index, spec in enumerate(plan):
        x = resnext_block(x, spec, cardinality=cardinality, bottleneck_width=bottleneck_width)
        if ends_stage(plan, index):
            stages.append(x)
    return finish(
        inputs,
        x,
        num_classes=num_classes,
        classifier_activation=classifier_activation,
        name=name or f"resnext{depth}_{cardinality}x{bottleneck_width}d",
        stages=stages,
    )


_XIE = "Xie et al. 2017, Aggregated Residual Transformations (ResNeXt), Table 7"

register_presets(
    "resnext",
    {
        "resnext29_8x64d": dict(
            kwargs=dict(depth=29, cardinality=8, bottleneck_width=64),
            paper=_XIE,
            published=34.4,
            exact=34_426_698,
            c10_error=3.65,
            c100_error=17.77,
            recipe="resnext",
        ),
        "resnext29_16x64d": dict(
            kwargs=dict(depth=29, cardinality=16, bottleneck_width=64),
            paper=_XIE,
            published=68.1,
            exact=68_155_210,
            c10_error=3.58,
            c100_error=17.31,
            recipe="resnext",
            notes="The paper prints 68.1M for 68,155,210 parameters (truncated, not rounded).",
            extra=dict(published_basis="truncated"),
        ),
    },
)
