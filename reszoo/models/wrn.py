"""Wide Residual Networks (Zagoruyko & Komodakis 2016, "Wide Residual Networks",
Sec. 2-3 and Tables 4-6).

A WRN-d-k is the pre-activation CIFAR ResNet made k times wider and shallower:
a bare 3x3 conv 16 stem, three stages of N basic pre-activation units
(BN-ReLU-conv3x3-BN-ReLU-[dropout]-conv3x3) with 16k/32k/64k filters at
32/16/8 px, depth d = 6N+4, and a BN-ReLU-GAP-FC head. Where a unit changes
the width or the resolution (stage 1's first unit too, when k > 1) the
shortcut is a bias-free 1x1 conv (no BN) fed by the unit's shared BN-ReLU, as
in the official code (szagoruyko/wide-residual-networks), which also takes
N = (d - 4) / 6.

WRN is a width generator feeding the same stage loop as the ResNets
(``reszoo.units.run_plan``), so stochastic depth (``drop_path``) and SE / CBAM
attention come for free.
"""

from __future__ import annotations

import keras

from reszoo.layers import bn_relu, conv
from reszoo.layers.attention import check_attention
from reszoo.models.common import check_positive_int, check_rate, finish, model_inputs, units_from_depth
from reszoo.registry import register_family, register_presets
from reszoo.units import UNIT_OPS, run_plan, stage_plan

BASE_WIDTHS = (16, 32, 64)
STEM_WIDTH = 16
# The paper's dropout rate in its dropout experiments (Sec. 2.4, Table 6).
PAPER_DROPOUT = 0.3


def wrn_units(depth) -> int:
    """N, the units per stage, of a WRN of depth 6N+4."""
    return units_from_depth(depth, layers_per_unit=2, extra=4)


def wrn_widths(width: int) -> tuple[int, ...]:
    """Stage widths 16k / 32k / 64k."""
    return tuple(base * width for base in BASE_WIDTHS)


@register_family("wrn", weight_decay=5e-4, smoke=dict(depth=10, width=2, dropout=0.3))
def wrn(
    depth: int = 28,
    width: int = 10,
    dropout: float = 0.0,
    drop_path: float = 0.0,
    attention: str | None = None,
    *,
    num_classes: int = 10,
    input_shape=(32, 32, 3),
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """Wide ResNet WRN-d-k for CIFAR (Zagoruyko & Komodakis 2016, Tables 4-6).

    Stem 3x3 conv 16; stages of N = (d-4)/6 pre-activation basic units with
    16k/32k/64k filters; 1x1 projection (no BN) from the shared BN-ReLU where
    channels or resolution change; head BN-ReLU-GAP-FC; bias-free convs;
    weight decay 5e-4.

    Args:
        depth: int. d = 6N+4 (10, 16, 22, 28, 40, ...). Defaults to 28.
        width: int. The widening factor k >= 1. Defaults to 10.
        dropout: float. Dropout between the two convs of every unit. The
            paper's dropout experiments (Sec. 2.4, Table 6) use 0.3; its
            Table 4 results use none. Defaults to 0 (presets ending in
            ``_dropout`` set 0.3).
        drop_path: float. Stochastic depth: the last unit's drop probability,
            decaying linearly from 0 (Huang et al. 2016). Not in the WRN paper.
            Defaults to 0.
        attention: None, "se" or "cbam" on every residual branch (SE-WRN-16-8
            is in Hu et al. 2018, Tables 4-5). Defaults to None.

    Published (Table 4): WRN-40-1/40-2/40-4/40-8 0.6/2.2/8.9/35.7M,
    WRN-28-10/28-12 36.5/52.5M, WRN-22-8/22-10 17.2/26.8M, WRN-16-8/16-10
    11.0/17.1M; exact counts in REFERENCE.md (WRN-28-10: 36,479,194).

    Examples:
        >>> model = build("wrn", depth=16, width=8)
        >>> reszoo.trainable_params(model)
        10961370
        >>> tuple(model.get_layer("stage1_unit1_proj").kernel.shape)
        (1, 1, 16, 128)
    """
    n = wrn_units(depth)
    check_positive_int("width", width)
    check_attention(attention)
    dropout = check_rate("dropout", dropout)
    drop_path = check_rate("drop_path", drop_path)

    inputs = model_inputs(input_shape)
    x = conv(inputs, STEM_WIDTH, name="stem_conv")
    stages: list = []
    x = run_plan(
        x,
        stage_plan((n, n, n), wrn_widths(width)),
        ops=UNIT_OPS["preact"]["basic"],
        shortcut_kind="B",
        relu_after_add=False,
        projection_bn=False,
        dropout=dropout,
        attention=attention,
        drop_path=drop_path,
        stage_outputs=stages,
    )
    x = bn_relu(x, name="head")
    name = name or f"wrn{depth}_{width}"
    return finish(
        inputs, x, num_classes=num_classes, classifier_activation=classifier_activation, name=name, stages=stages
    )


_WRN = "Zagoruyko & Komodakis 2016, Wide Residual Networks, Table 4"
_WRN_DROPOUT = "Zagoruyko & Komodakis 2016, Wide Residual Networks, Table 6 (dropout 0.3)"
_SE = "Hu et al. 2018, Squeeze-and-Excitation Networks, Tables 4-5"


def _table4(depth, width, published, exact, c10, c100=None, **extra):
    return dict(
        kwargs=dict(depth=depth, width=width),
        paper=_WRN,
        published=published,
        exact=exact,
        c10_error=c10,
        c100_error=c100,
        recipe="wrn",
        **extra,
    )


register_presets(
    "wrn",
    {
        "wrn40_1": _table4(40, 1, 0.6, 563_930, 6.85, 30.89),
        "wrn40_2": _table4(40, 2, 2.2, 2_243_546, 5.33, 26.04),
        "wrn40_4": _table4(
            40,
            4,
            8.9,
            8_949_210,
            4.97,
            22.89,
            notes="Table 4 prints 4.97 / 22.89; 4.53 is the run with mean/std preprocessing (Table 5).",
        ),
        "wrn40_8": _table4(40, 8, 35.7, 35_748_314, 4.66),
        "wrn28_10": _table4(28, 10, 36.5, 36_479_194, 4.17, 20.50),
        "wrn28_10_dropout": dict(
            kwargs=dict(depth=28, width=10, dropout=PAPER_DROPOUT),
            paper=_WRN_DROPOUT,
            published=36.5,
            exact=36_479_194,
            c10_error=3.89,
            c100_error=18.85,
            recipe="wrn",
            notes="Same network as wrn28_10 with dropout 0.3 between the unit's convs (Sec. 2.4).",
        ),
        "wrn28_12": _table4(28, 12, 52.5, 52_517_850, 4.33, 20.43),
        "wrn22_8": _table4(22, 8, 17.2, 17_158_106, 4.38, 21.22),
        "wrn22_10": _table4(22, 10, 26.8, 26_797_914, 4.44, 20.75),
        "wrn16_8": _table4(16, 8, 11.0, 10_961_370, 4.81, 22.07),
        "wrn16_10": _table4(16, 10, 17.1, 17_116_634, 4.56, 21.59),
        "se_wrn16_8": dict(
            kwargs=dict(depth=16, width=8, attention="se"),
            paper=_SE,
            c10_error=3.88,
            c100_error=19.14,
            recipe="wrn",
            notes=(
                "SE block (reduction 16) on every unit's branch before the add. The SE paper prints no CIFAR "
                "parameter count; its WRN-16-8 baseline (4.27 / 20.43) is the WRN paper's Table 5 run with "
                "mean/std preprocessing, not Table 4's 4.81 / 22.07."
            ),
        ),
    },
)
