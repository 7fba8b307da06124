"""CIFAR ResNets: original (He et al. 2015), pre-activation (He et al. 2016) and
its unit variants (Han et al. 2017, survey table 1), and FastResNet (the seed).

All three share one skeleton: a 3x3 stem, three stages of 16/32/64 filters
(x4 outputs for bottlenecks) at 32/16/8 px, global average pooling and a dense
classifier. They differ only in the unit table (``reszoo.units.UNIT_OPS``), the
stem (conv-BN-ReLU or a bare conv) and the head (BN-ReLU before pooling for
pre-activation nets). Stochastic depth (``drop_path``), dropout in the unit and
SE / CBAM attention are options of every family here.
"""

from __future__ import annotations

import keras

from reszoo.layers import bn_relu, conv
from reszoo.layers.attention import check_attention
from reszoo.models.common import check_choice, check_rate, finish, model_inputs, units_from_depth
from reszoo.registry import register_family, register_presets
from reszoo.units import SHORTCUTS, UNIT_OPS, run_plan, stage_plan

WIDTHS = (16, 32, 64)
PREACT_UNITS = ("preact", "no_first_relu", "bn_end", "no_first_relu_bn_end")
# Stem and head forms of the pre-activation family: the paper's bare conv stem and BN-ReLU head by default;
# "conv_bn_relu" / "none" is pytorchcv's SE-PreResNet (the architecture of its CIFAR checkpoints).
STEMS = ("conv", "conv_bn_relu")
HEADS = ("bn_relu", "none")
DEPTH_RULES = {False: dict(layers_per_unit=2, extra=2), True: dict(layers_per_unit=3, extra=2)}  # by bottleneck


def cifar_resnet(
    *,
    depth: int,
    bottleneck: bool,
    unit: str,
    shortcut: str,
    drop_path: float,
    dropout: float,
    attention: str | None,
    num_classes: int,
    input_shape,
    classifier_activation,
    name: str,
    stem: str | None = None,
    head: str | None = None,
) -> keras.Model:
    """The shared CIFAR ResNet skeleton; the families below only choose its options.

    ``stem`` ("conv" or "conv_bn_relu") and ``head`` ("bn_relu" or "none") default to the unit's
    own: conv-BN-ReLU and no head for post-activation units, a bare conv and BN-ReLU otherwise.
    """
    check_choice("bottleneck", bottleneck, (False, True))
    if bottleneck and "bottleneck" not in UNIT_OPS[unit]:
        raise ValueError(f"Unit {unit!r} has no bottleneck form. Received: bottleneck=True, unit={unit!r}")
    check_choice("shortcut", shortcut, SHORTCUTS)
    check_attention(attention)
    drop_path = check_rate("drop_path", drop_path)
    dropout = check_rate("dropout", dropout)
    n = units_from_depth(depth, **DEPTH_RULES[bottleneck])
    ops = UNIT_OPS[unit]["bottleneck" if bottleneck else "basic"]
    post_activation = unit == "post"
    stem = check_choice("stem", stem or ("conv_bn_relu" if post_activation else "conv"), STEMS)
    head = check_choice("head", head or ("none" if post_activation else "bn_relu"), HEADS)

    inputs = model_inputs(input_shape)
    x = conv(inputs, WIDTHS[0], name="stem_conv")
    if stem == "conv_bn_relu":
        x = bn_relu(x, name="stem")
    stages: list = []
    x = run_plan(
        x,
        stage_plan((n, n, n), WIDTHS),
        ops=ops,
        shortcut_kind=shortcut,
        relu_after_add=post_activation,
        projection_bn=post_activation,
        dropout=dropout,
        attention=attention,
        drop_path=drop_path,
        stage_outputs=stages,
    )
    if head == "bn_relu":
        x = bn_relu(x, name="head")
    return finish(
        inputs, x, num_classes=num_classes, classifier_activation=classifier_activation, name=name, stages=stages
    )


@register_family("resnet", weight_decay=1e-4, smoke=dict(depth=8, shortcut="avg", drop_path=0.5))
def resnet(
    depth: int = 20,
    bottleneck: bool = False,
    shortcut: str = "A",
    drop_path: float = 0.0,
    dropout: float = 0.0,
    attention: str | None = None,
    *,
    num_classes: int = 10,
    input_shape=(32, 32, 3),
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """Original post-activation CIFAR ResNet (He et al. 2015, Sec. 4.2, Table 6).

    Unit conv-BN-ReLU-conv-BN, add, ReLU; stem conv-BN-ReLU; GAP-FC head.
    Depth 6n+2 (basic) or 9n+2 (bottleneck, outputs 64/128/256).

    Args:
        depth: int. 6n+2 for basic units, 9n+2 for bottlenecks. Defaults to 20.
        bottleneck: bool. 1x1-3x3-1x1 units. Defaults to False.
        shortcut: str. "A" zero-padded identity (the paper's CIFAR choice),
            "B" 1x1 projection + BN where shapes change, "avg" average-pooled
            zero-padded identity (Huang et al. 2016). Defaults to "A".
        drop_path: float. Stochastic depth: the last unit's drop probability,
            decaying linearly from 0 (Huang et al. 2016 use 0.5). Defaults to 0.
        dropout: float. Dropout before the unit's last conv. Defaults to 0.
        attention: None, "se" or "cbam" on every residual branch.

    Published (Table 6): ResNet-20/32/44/56/110/1202 0.27/0.46/0.66/0.85/1.7/19.4M;
    exact option-A counts 269,722 ... 19,421,274 (REFERENCE.md).

    Examples:
        >>> import reszoo
        >>> reszoo.trainable_params(reszoo.build("resnet", depth=20))
        269722
    """
    return cifar_resnet(
        depth=depth,
        bottleneck=bottleneck,
        unit="post",
        shortcut=shortcut,
        drop_path=drop_path,
        dropout=dropout,
        attention=attention,
        num_classes=num_classes,
        input_shape=input_shape,
        classifier_activation=classifier_activation,
        name=name or f"resnet{depth}",
    )


@register_family("preact_resnet", weight_decay=1e-4, smoke=dict(depth=8, attention="se", dropout=0.3))
def preact_resnet(
    depth: int = 110,
    bottleneck: bool = False,
    unit: str = "preact",
    shortcut: str | None = None,
    drop_path: float = 0.0,
    dropout: float = 0.0,
    attention: str | None = None,
    stem: str = "conv",
    head: str = "bn_relu",
    *,
    num_classes: int = 10,
    input_shape=(32, 32, 3),
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """Pre-activation ResNet (He et al. 2016, "Identity Mappings", Tables 2-4).

    Unit BN-ReLU-conv-BN-ReLU-conv, nothing after the add; stem a bare conv;
    head BN-ReLU-GAP-FC. ``unit`` selects Han et al.'s variants (PyramidNet
    paper, survey table 1): "preact" (a), "no_first_relu" (b), "bn_end" (c),
    "no_first_relu_bn_end" (d).

    Args:
        depth: int. 6n+2 (basic) or 9n+2 (bottleneck). Defaults to 110.
        bottleneck: bool. [1x1 D, 3x3 D, 1x1 4D] units, outputs 64/128/256.
        unit: str. One of "preact", "no_first_relu", "bn_end", "no_first_relu_bn_end".
        shortcut: str. "A", "B" or "avg"; defaults to "B" for bottlenecks
            (the official code's projections, fed by the shared BN-ReLU) and
            "A" for basic units.
        drop_path, dropout, attention: as for ``resnet``.
        stem: str. "conv" (default: the paper's bare 3x3 conv) or
            "conv_bn_relu" (pytorchcv's SE-PreResNet).
        head: str. "bn_relu" (default: BN-ReLU before pooling) or "none"
            (pytorchcv's SE-PreResNet pools the last unit's sum directly).

    Published: preact ResNet-164 1.7M (exact 1,703,258), ResNet-1001 10.2M
    (exact 10,327,706); preact ResNet-110 1.7M.
    """
    check_choice("unit", unit, PREACT_UNITS)
    return cifar_resnet(
        depth=depth,
        bottleneck=bottleneck,
        unit=unit,
        shortcut=shortcut or ("B" if bottleneck else "A"),
        drop_path=drop_path,
        dropout=dropout,
        attention=attention,
        num_classes=num_classes,
        input_shape=input_shape,
        classifier_activation=classifier_activation,
        name=name or f"preact_resnet{depth}",
        stem=stem,
        head=head,
    )


@register_family("fast_resnet", weight_decay=1e-4, smoke=dict(depth=8, unit_type=2, attention="cbam", drop_path=0.5))
def fast_resnet(
    depth: int = 20,
    unit_type: int = 1,
    shortcut: str = "A",
    drop_path: float = 0.0,
    dropout: float = 0.0,
    attention: str | None = None,
    *,
    num_classes: int = 10,
    input_shape=(32, 32, 3),
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """FastResNet: the seed "simplified residual structure and fast deep residual networks".

    A pre-activation basic unit with one BN-ReLU: type 1 is conv-BN-ReLU-conv
    (first BN-ReLU removed; the paper's FastResNet), type 2 is
    BN-ReLU-conv-conv (second removed). Stem a bare 3x3 conv 16; stages
    16/32/64 x n; depth D = 6n+2; classifier BN-ReLU-GAP-FC (seed, Fig. 2 and
    Tables 1-4). Parameter counts equal the pre-activation basic net's minus
    one BN per unit.

    Args:
        depth: int. 6n+2. Defaults to 20.
        unit_type: int. 1 or 2. Defaults to 1.
        shortcut: str. "A" (default), "B" or "avg".
        drop_path, dropout, attention: as for ``resnet``.
    """
    check_choice("unit_type", unit_type, (1, 2))
    return cifar_resnet(
        depth=depth,
        bottleneck=False,
        unit=f"fast{unit_type}",
        shortcut=shortcut,
        drop_path=drop_path,
        dropout=dropout,
        attention=attention,
        num_classes=num_classes,
        input_shape=input_shape,
        classifier_activation=classifier_activation,
        name=name or f"fast_resnet{depth}" + ("" if unit_type == 1 else "_type2"),
    )


_HE2015 = "He et al. 2015, Deep Residual Learning, Table 6"
_HE2016 = "He et al. 2016, Identity Mappings, Table 2-4"
_SEED = "FastResNet seed (simplified residual structure), Tables 1-4"
_HAN = "Han et al. 2017 (PyramidNet), unit variants; survey table 1"
_SE = "Hu et al. 2018, Squeeze-and-Excitation, Tables 4-5"
_CBAM = "Woo et al. 2018, CBAM (no CIFAR table; our count)"
_SD = "Huang et al. 2016, Deep Networks with Stochastic Depth"

register_presets(
    "resnet",
    {
        "resnet20": dict(
            kwargs=dict(depth=20), paper=_HE2015, published=0.27, exact=269_722, c10_error=8.75, recipe="he2015"
        ),
        "resnet32": dict(
            kwargs=dict(depth=32), paper=_HE2015, published=0.46, exact=464_154, c10_error=7.51, recipe="he2015"
        ),
        "resnet44": dict(
            kwargs=dict(depth=44), paper=_HE2015, published=0.66, exact=658_586, c10_error=7.17, recipe="he2015"
        ),
        "resnet56": dict(
            kwargs=dict(depth=56), paper=_HE2015, published=0.85, exact=853_018, c10_error=6.97, recipe="he2015"
        ),
        "resnet110": dict(
            kwargs=dict(depth=110), paper=_HE2015, published=1.7, exact=1_727_962, c10_error=6.43, recipe="he2015"
        ),
        "resnet1202": dict(
            kwargs=dict(depth=1202),
            paper=_HE2015,
            published=19.4,
            exact=19_421_274,
            c10_error=7.93,
            recipe="he2015",
            slow=True,
        ),
        "stochastic_depth_resnet110": dict(
            kwargs=dict(depth=110, drop_path=0.5, shortcut="avg"),
            paper=_SD,
            published=1.7,
            exact=1_727_962,
            c10_error=5.25,
            c100_error=24.98,
            recipe="stochastic_depth",
        ),
        "stochastic_depth_resnet1202": dict(
            kwargs=dict(depth=1202, drop_path=0.5, shortcut="avg"),
            paper=_SD,
            published=19.4,
            exact=19_421_274,
            c10_error=4.91,
            recipe="stochastic_depth",
            slow=True,
        ),
        "se_resnet110": dict(
            kwargs=dict(depth=110, attention="se"), paper=_SE, c10_error=5.21, c100_error=23.85, recipe="he2015"
        ),
        "cbam_resnet110": dict(kwargs=dict(depth=110, attention="cbam"), paper=_CBAM, recipe="he2015"),
    },
)

register_presets(
    "preact_resnet",
    {
        "preact_resnet110": dict(
            kwargs=dict(depth=110), paper=_HE2016, published=1.7, c10_error=6.37, recipe="preact2016"
        ),
        "preact_resnet164": dict(
            kwargs=dict(depth=164, bottleneck=True),
            paper=_HE2016,
            published=1.7,
            exact=1_703_258,
            c10_error=5.46,
            c100_error=24.33,
            recipe="preact2016",
        ),
        "preact_resnet1001": dict(
            kwargs=dict(depth=1001, bottleneck=True),
            paper=_HE2016,
            published=10.2,
            exact=10_327_706,
            c10_error=4.92,
            c100_error=22.71,
            recipe="preact2016",
            slow=True,
            notes="the published 10.2M counts no BN parameters (10,178,490)",
            extra={"published_basis": "no_bn"},
        ),
        "preact_resnet110_no_first_relu": dict(
            kwargs=dict(depth=110, unit="no_first_relu"), paper=_HAN, published=1.7, recipe="preact2016"
        ),
        "preact_resnet110_bn_end": dict(
            kwargs=dict(depth=110, unit="bn_end"), paper=_HAN, published=1.7, recipe="preact2016"
        ),
        "preact_resnet110_no_first_relu_bn_end": dict(
            kwargs=dict(depth=110, unit="no_first_relu_bn_end"), paper=_HAN, published=1.7, recipe="preact2016"
        ),
        "se_preact_resnet164": dict(
            kwargs=dict(depth=164, bottleneck=True, attention="se"),
            paper=_SE,
            c10_error=4.39,
            c100_error=21.31,
            recipe="preact2016",
        ),
        "cbam_preact_resnet164": dict(
            kwargs=dict(depth=164, bottleneck=True, attention="cbam"), paper=_CBAM, recipe="preact2016"
        ),
    },
)

register_presets(
    "fast_resnet",
    {
        "fast_resnet20": dict(kwargs=dict(depth=20, unit_type=1), paper=_SEED, c10_error=7.68, recipe="fastresnet"),
        "fast_resnet20_type2": dict(
            kwargs=dict(depth=20, unit_type=2), paper=_SEED, c10_error=10.04, recipe="fastresnet"
        ),
        "fast_resnet56": dict(
            kwargs=dict(depth=56, unit_type=1), paper=_SEED, c10_error=5.81, c100_error=26.91, recipe="fastresnet"
        ),
        "fast_resnet110": dict(
            kwargs=dict(depth=110, unit_type=1), paper=_SEED, c10_error=5.29, c100_error=24.80, recipe="fastresnet"
        ),
        "fast_resnet668": dict(
            kwargs=dict(depth=668, unit_type=1), paper=_SEED, c10_error=5.09, recipe="fastresnet", slow=True
        ),
    },
)
