"""PyramidNet (Han, Kim, Kim, "Deep Pyramidal Residual Networks", CVPR 2017) with
ShakeDrop (Yamada et al. 2019) and PyramidSepDrop (Yamada et al. 2016).

PyramidNet is a width generator feeding the shared stage loop: instead of
doubling the width at each down-sampling, every unit widens the network by
alpha / (3n), so the plan (one ``UnitSpec`` per unit) is all that differs from a
pre-activation ResNet. The unit is Han et al.'s variant (d), BN-conv-BN-ReLU-
conv-BN (``UNIT_OPS["no_first_relu_bn_end"]``), with a zero-padded identity
shortcut that average-pools 2x2 on down-sampling units. There are no projections.
"""

from __future__ import annotations

import keras

from reszoo._checks import check_number
from reszoo.layers import batch_norm, bn_relu, conv, linear_survival
from reszoo.layers.shakedrop import SeparatedStochasticDepth, ShakeDrop
from reszoo.models.common import check_choice, check_rate, finish, model_inputs, units_from_depth
from reszoo.registry import register_family, register_presets
from reszoo.units import UNIT_OPS, UnitSpec, ends_stage, residual_unit

STEM_WIDTH = 16
STAGES = 3
# Han et al.'s unit (d): first ReLU removed, BN added at the end (survey table 1).
PYRAMID_UNIT = "no_first_relu_bn_end"
DEPTH_RULES = {False: dict(layers_per_unit=2, extra=2), True: dict(layers_per_unit=3, extra=2)}  # by bottleneck


def check_alpha(alpha) -> float:
    return check_number("alpha", alpha, minimum=0, meaning="the total widening")


def pyramid_plan(
    units_per_stage: int, alpha: float, *, start: int = STEM_WIDTH, stages: int = STAGES
) -> list[UnitSpec]:
    """One ``UnitSpec`` per unit: unit k of N = stages * units_per_stage has width
    round(start + k * alpha / N); the first unit of stages 2, 3 has stride 2.

    As the official PyTorch code does, the width is accumulated as a float
    (``featuremap_dim += addrate``) and rounded per unit with Python's
    ``round``; the REFERENCE.md counts depend on this rounding (floor would give
    1,732,856 instead of 1,772,706 for PyramidNet-110, alpha 48). For bottleneck
    units this is D, the unit's output being 4D wide.
    """
    step = alpha / (stages * units_per_stage)
    plan, width = [], float(start)
    for stage in range(1, stages + 1):
        for index in range(1, units_per_stage + 1):
            width += step
            stride = 2 if stage > 1 and index == 1 else 1
            plan.append(UnitSpec(stage, index, round(width), stride))
    return plan


def unit_drop_probs(num_units: int, final_drop: float) -> list[float]:
    """ShakeDrop's linear decay rule: d_l = (l / L) * p_L, l = 1..L (Yamada et al. 2019, eq. 10)."""
    return [1.0 - linear_survival(unit, num_units, final_drop) for unit in range(1, num_units + 1)]


def branch_regularizer(kind: str, drop_prob: float, *, split: int, name: str) -> keras.layers.Layer:
    """The layer that ends a unit's branch: ShakeDrop, or PyramidSepDrop's separated gates."""
    if kind == "shakedrop":
        return ShakeDrop(drop_prob, name=f"{name}_shakedrop")
    return SeparatedStochasticDepth(1.0 - drop_prob, split=split, name=f"{name}_sepdrop")


def pyramid_unit(x, spec: UnitSpec, ops: tuple[str, ...], regularizer: str | None, drop_prob: float):
    """One PyramidNet unit (Han's variant (d)), optionally ending its branch with ShakeDrop / SepDrop."""
    branch_layer = None
    if regularizer is not None:
        branch_layer = branch_regularizer(regularizer, drop_prob, split=x.shape[-1], name=spec.name)
    return residual_unit(
        x, spec.filters, spec.stride, ops=ops, name=spec.name, shortcut_kind="avg", branch_layer=branch_layer
    )


def default_name(depth: int, alpha: float, bottleneck: bool, shakedrop: float, sepdrop: float) -> str:
    suffix = (
        ("_bottleneck" if bottleneck else "") + ("_shakedrop" if shakedrop else "") + ("_sepdrop" if sepdrop else "")
    )
    return f"pyramidnet{depth}_a{alpha:g}{suffix}"


@register_family("pyramidnet", weight_decay=1e-4, smoke=dict(depth=11, alpha=12, bottleneck=True, shakedrop=0.5))
def pyramidnet(
    depth: int = 110,
    alpha: float = 48,
    bottleneck: bool = False,
    shakedrop: float = 0.0,
    sepdrop: float = 0.0,
    *,
    num_classes: int = 10,
    input_shape=(32, 32, 3),
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """PyramidNet for CIFAR (Han et al. 2017, Table 4), optionally with ShakeDrop or PyramidSepDrop.

    Stem 3x3 conv 16 + BN (no ReLU); 3 stages of n units at 32/16/8 px whose
    widths grow by alpha / (3n) per unit (``pyramid_plan``); unit
    BN-conv3x3-BN-ReLU-conv3x3-BN (depth 6n+2) or bottleneck
    BN-conv1x1(D)-BN-ReLU-conv3x3(D)-BN-ReLU-conv1x1(4D)-BN (depth 9n+2);
    zero-padded identity shortcuts, 2x2 average pooling on down-sampling units;
    head BN-ReLU-GAP-FC.

    Args:
        depth: int. 6n+2 (basic) or 9n+2 (bottleneck). Defaults to 110.
        alpha: float >= 0. Total widening: the last unit is 16 + alpha wide
            (x4 for bottlenecks). Defaults to 48.
        bottleneck: bool. Bottleneck units. Defaults to False.
        shakedrop: float in [0, 1). ShakeDrop (Yamada et al. 2019) on every
            branch; the last unit's drop probability p_L, decaying linearly
            towards the input (the paper uses 0.5). 0 turns it off. Defaults to 0.
        sepdrop: float in [0, 1). PyramidSepDrop (Yamada et al. 2016): separated
            stochastic depth, the branch's channels that meet the identity and
            those that meet the zero padding dropped by independent gates; the
            last unit's drop probability, decaying linearly. 0 turns it off.
            Exclusive with ``shakedrop``. Defaults to 0.

    Published (Table 4, C10/C100 error): 110 a48 1.7M 4.58/23.12, 110 a84 3.8M
    4.26/20.66, 110 a270 28.3M 3.73/18.25; bottleneck 164 a270 27.0M 3.48/17.01,
    200 a240 26.6M, 236 a220 26.8M, 272 a200 26.0M 3.31/16.35. The official
    code's trainable counts (REFERENCE.md) are 1,772,706 ... 26,210,842.

    Examples:
        >>> [spec.filters for spec in pyramid_plan(units_per_stage=3, alpha=48)]
        [21, 27, 32, 37, 43, 48, 53, 59, 64]
        >>> reszoo.trainable_params(reszoo.build("pyramidnet", depth=20, alpha=48))
        310845
    """
    check_choice("bottleneck", bottleneck, (False, True))
    alpha = check_alpha(alpha)
    shakedrop = check_rate("shakedrop", shakedrop)
    sepdrop = check_rate("sepdrop", sepdrop)
    if shakedrop and sepdrop:
        raise ValueError(
            "shakedrop and sepdrop are alternative branch regularizers; set at most one. "
            f"Received: shakedrop={shakedrop!r}, sepdrop={sepdrop!r}"
        )
    n = units_from_depth(depth, **DEPTH_RULES[bottleneck])
    ops = UNIT_OPS[PYRAMID_UNIT]["bottleneck" if bottleneck else "basic"]
    plan = pyramid_plan(n, alpha)
    regularizer = "shakedrop" if shakedrop else "sepdrop" if sepdrop else None
    drop_probs = unit_drop_probs(len(plan), shakedrop or sepdrop)

    inputs = model_inputs(input_shape)
    x = batch_norm(conv(inputs, STEM_WIDTH, name="stem_conv"), name="stem_bn")
    stages = []
    for index, (spec, drop_prob) in enumerate(zip(plan, drop_probs, strict=True)):
        x = pyramid_unit(x, spec, ops, regularizer, drop_prob)
        if ends_stage(plan, index):
            stages.append(x)
    x = bn_relu(x, name="head")
    return finish(
        inputs,
        x,
        num_classes=num_classes,
        classifier_activation=classifier_activation,
        name=name or default_name(depth, alpha, bottleneck, shakedrop, sepdrop),
        stages=stages,
    )


_HAN = "Han et al. 2017, Deep Pyramidal Residual Networks, Table 4"
_SHAKEDROP = "Yamada et al. 2019, ShakeDrop Regularization for Deep Residual Learning"
_SEPDROP = "Yamada et al. 2016, Deep Pyramidal Residual Networks with Separated Stochastic Depth"
# How the paper's printed count relates to ours (tests/test_pyramidnet.py asserts both).
_BASIC_BASIS = (
    "The paper prints fewer parameters than the official code builds (1.7/3.8/28.3M vs 1.77/3.90/28.49M); "
    "no counting convention we tried (BN or not, classifier or not, floor or round) reproduces all three."
)
_BOTTLENECK_BASIS = (
    "The paper's figure is the convolution weights only, without BN gamma/beta and the classifier "
    "(with the classifier 164/a270 would print 27.1); the exact count includes both."
)

# fmt: off
register_presets(
    "pyramidnet",
    {
        "pyramidnet110_a48": dict(
            kwargs=dict(depth=110, alpha=48), paper=_HAN, published=1.7, exact=1_772_706,
            c10_error=4.58, c100_error=23.12, recipe="pyramidnet", notes=_BASIC_BASIS,
            extra=dict(published_basis="unexplained"),
        ),
        "pyramidnet110_a84": dict(
            kwargs=dict(depth=110, alpha=84), paper=_HAN, published=3.8, exact=3_904_446,
            c10_error=4.26, c100_error=20.66, recipe="pyramidnet", notes=_BASIC_BASIS,
            extra=dict(published_basis="unexplained"),
        ),
        "pyramidnet110_a270": dict(
            kwargs=dict(depth=110, alpha=270), paper=_HAN, published=28.3, exact=28_485_477,
            c10_error=3.73, c100_error=18.25, recipe="pyramidnet", notes=_BASIC_BASIS,
            extra=dict(published_basis="unexplained"),
        ),
        "pyramidnet164_a270_bottleneck": dict(
            kwargs=dict(depth=164, alpha=270, bottleneck=True), paper=_HAN, published=27.0, exact=27_216_021,
            c10_error=3.48, c100_error=17.01, recipe="pyramidnet", notes=_BOTTLENECK_BASIS,
            extra=dict(published_basis="conv_weights"),
        ),
        "pyramidnet200_a240_bottleneck": dict(
            kwargs=dict(depth=200, alpha=240, bottleneck=True), paper=_HAN, published=26.6, exact=26_752_702,
            c10_error=3.44, c100_error=16.51, recipe="pyramidnet", slow=True, notes=_BOTTLENECK_BASIS,
            extra=dict(published_basis="conv_weights"),
        ),
        "pyramidnet236_a220_bottleneck": dict(
            kwargs=dict(depth=236, alpha=220, bottleneck=True), paper=_HAN, published=26.8, exact=26_969_046,
            c10_error=3.40, c100_error=16.37, recipe="pyramidnet", slow=True, notes=_BOTTLENECK_BASIS,
            extra=dict(published_basis="conv_weights"),
        ),
        "pyramidnet272_a200_bottleneck": dict(
            kwargs=dict(depth=272, alpha=200, bottleneck=True), paper=_HAN, published=26.0, exact=26_210_842,
            c10_error=3.31, c100_error=16.35, recipe="pyramidnet", slow=True, notes=_BOTTLENECK_BASIS,
            extra=dict(published_basis="conv_weights"),
        ),
        "pyramidnet110_a270_shakedrop": dict(
            kwargs=dict(depth=110, alpha=270, shakedrop=0.5), paper=_SHAKEDROP, exact=28_485_477, c100_error=15.78, recipe="pyramidnet",
            notes=(
                "PyramidNet-110 alpha 270 (28.3M in Han et al.); ShakeDrop adds no parameters. "
                "Gate and coefficients are drawn per image, p_L = 0.5 with the linear rule."
            ),
        ),
        "pyramidnet110_a270_sepdrop": dict(
            kwargs=dict(depth=110, alpha=270, sepdrop=0.5), paper=_SEPDROP, exact=28_485_477,
            c100_error=16.18, recipe="pyramidnet",
            notes=(
                "REFERENCE.md gives only the C100 error; we take the ShakeDrop paper's comparison base "
                "(PyramidNet-110, alpha 270) and p_L = 0.5 with the linear rule, one pair of gates per "
                "mini-batch as in Huang et al.'s stochastic depth: verify against the paper before quoting."
            ),
        ),
    },
)
# fmt: on
