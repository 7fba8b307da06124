"""DenseNet and DenseNet-BC for CIFAR (Huang et al. 2017, "Densely Connected
Convolutional Networks", Table 2).

Three dense blocks at 32/16/8 px; every layer sees the concatenation of all
earlier feature maps in its block and adds ``growth_rate`` (k) new ones.
Transitions between blocks (BN-ReLU-conv1x1-avgpool 2x2) compress the
channels by ``compression``. The network is described as data (``block_plan``:
layers and transition width per block) and built by one loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras

from reszoo._checks import check_interval
from reszoo.layers import batch_norm, bn_relu, conv, relu
from reszoo.models.common import check_choice, check_positive_int, check_rate, finish, model_inputs, units_from_depth
from reszoo.registry import register_family, register_presets

NUM_BLOCKS = 3  # at 32, 16 and 8 px
PLAIN_STEM_FILTERS = 16  # Huang et al. 2017, Sec. 4 "Implementation details" (2k for DenseNet-BC)
BOTTLENECK_WIDTH = 4  # the 1x1 conv of a bottleneck layer outputs 4k maps


@dataclass(frozen=True)
class DenseBlock:
    """One dense block: its layer count, channels in and out, and the transition after it (None: last block)."""

    layers: int
    in_channels: int
    out_channels: int
    transition_filters: int | None


def layers_per_block(depth, bottleneck: bool) -> int:
    """(L - 4) / 3 layers per block, halved for bottleneck layers (each has two convs)."""
    return units_from_depth(depth, layers_per_unit=2 if bottleneck else 1, extra=4)


def check_compression(compression) -> float:
    return check_interval("compression", compression, closed_lower=False, closed_upper=True)


def block_plan(
    depth: int, growth_rate: int, bottleneck: bool, compression: float, stem_filters: int
) -> list[DenseBlock]:
    """The network as data: one ``DenseBlock`` per resolution."""
    n = layers_per_block(depth, bottleneck)
    plan, channels = [], stem_filters
    for index in range(NUM_BLOCKS):
        out_channels = channels + n * growth_rate
        transition = None
        if index < NUM_BLOCKS - 1:
            # math.floor(nChannels * reduction), as the official Torch code computes it.
            transition = math.floor(compression * out_channels)
            if transition < 1:
                raise ValueError(
                    f"compression={compression!r} leaves no channels after transition {index + 1} "
                    f"({out_channels} in). Use compression >= {1 / out_channels:.3g}."
                )
        plan.append(DenseBlock(n, channels, out_channels, transition))
        channels = transition
    return plan


def bn_relu_conv(x, filters: int, kernel_size: int, dropout: float, *, prefix: str, index: int):
    """BN-ReLU-conv (bias-free) and, when ``dropout`` > 0, dropout after the conv (the official code)."""
    x = relu(batch_norm(x, name=f"{prefix}_bn{index}"), name=f"{prefix}_relu{index}")
    x = conv(x, filters, kernel_size, name=f"{prefix}_conv{index}")
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{prefix}_drop{index}")(x)
    return x


def dense_layer(x, growth_rate: int, bottleneck: bool, dropout: float, *, name: str):
    """H_l: [BN-ReLU-conv1x1(4k)]-BN-ReLU-conv3x3(k); its k new maps are concatenated to its input."""
    new = x
    index = 1
    if bottleneck:
        new = bn_relu_conv(new, BOTTLENECK_WIDTH * growth_rate, 1, dropout, prefix=name, index=index)
        index += 1
    new = bn_relu_conv(new, growth_rate, 3, dropout, prefix=name, index=index)
    return keras.layers.Concatenate(name=f"{name}_concat")([x, new])


def transition(x, filters: int, dropout: float, *, name: str):
    """BN-ReLU-conv1x1-avgpool 2x2 between dense blocks."""
    x = bn_relu_conv(x, filters, 1, dropout, prefix=name, index=1)
    return keras.layers.AveragePooling2D(2, name=f"{name}_pool")(x)


@register_family(
    "densenet", weight_decay=1e-4, smoke=dict(depth=16, growth_rate=4, bottleneck=True, compression=0.5, dropout=0.2)
)
def densenet(
    depth: int = 40,
    growth_rate: int = 12,
    bottleneck: bool = False,
    compression: float = 1.0,
    dropout: float = 0.0,
    stem_filters: int | None = None,
    *,
    num_classes: int = 10,
    input_shape=(32, 32, 3),
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """DenseNet / DenseNet-BC for CIFAR (Huang et al. 2017, Table 2).

    Stem 3x3 conv; three dense blocks of (L-4)/3 layers (BN-ReLU-conv3x3(k)),
    or (L-4)/6 bottleneck layers (BN-ReLU-conv1x1(4k)-BN-ReLU-conv3x3(k));
    transitions BN-ReLU-conv1x1(floor(compression * C))-avgpool 2x2; head
    BN-ReLU-GAP-FC. Bias-free convs, as the official Torch code (cuDNN >= 4).
    DenseNet-BC is ``bottleneck=True, compression=0.5``.

    Args:
        depth: int. L = 3n+4, or 6n+4 with bottlenecks. Defaults to 40.
        growth_rate: int. k, the maps each layer adds. Defaults to 12.
        bottleneck: bool. 1x1 conv to 4k maps before each 3x3 ("B"). Defaults to False.
        compression: float in (0, 1]. Transition output fraction ("C": 0.5). Defaults to 1.
        dropout: float in [0, 1). Dropout after every conv; the paper uses 0.2
            only without data augmentation. Defaults to 0.
        stem_filters: int or None. Output maps of the stem conv; None gives the
            paper's 16, or 2k for DenseNet-B/C/BC. (The official Torch code
            always uses 2k; REFERENCE.md's counts follow the paper.)

    Published (Table 2): L=40 k=12 1.0M, L=100 k=12 7.0M, L=100 k=24 27.2M,
    BC L=100 k=12 0.8M, BC L=250 k=24 15.3M, BC L=190 k=40 25.6M.

    Examples:
        >>> import reszoo
        >>> model = reszoo.build("densenet", depth=40, growth_rate=12)
        >>> reszoo.trainable_params(model)
        1019722
        >>> model.get_layer("block1_layer3_conv1").filters
        12
    """
    check_choice("bottleneck", bottleneck, (False, True))
    growth_rate = check_positive_int("growth_rate", growth_rate)
    compression = check_compression(compression)
    dropout = check_rate("dropout", dropout)
    if stem_filters is None:
        stem_filters = PLAIN_STEM_FILTERS if not bottleneck and compression == 1.0 else 2 * growth_rate
    stem_filters = check_positive_int("stem_filters", stem_filters)
    plan = block_plan(depth, growth_rate, bottleneck, compression, stem_filters)

    inputs = model_inputs(input_shape)
    x = conv(inputs, stem_filters, name="stem_conv")
    stages = []
    for block_index, block in enumerate(plan, start=1):
        for layer_index in range(1, block.layers + 1):
            x = dense_layer(x, growth_rate, bottleneck, dropout, name=f"block{block_index}_layer{layer_index}")
        stages.append(x)  # a dense block's output, before its transition (keras-hub's DenseNet pyramid)
        if block.transition_filters is not None:
            x = transition(x, block.transition_filters, dropout, name=f"transition{block_index}")
    x = bn_relu(x, name="head")
    default_name = f"densenet{'_bc' if bottleneck and compression < 1 else ''}{depth}_k{growth_rate}"
    return finish(
        inputs,
        x,
        num_classes=num_classes,
        classifier_activation=classifier_activation,
        name=name or default_name,
        stages=stages,
    )


_PAPER = "Huang et al. 2017, Densely Connected Convolutional Networks, Table 2"
_BC = dict(bottleneck=True, compression=0.5)

register_presets(
    "densenet",
    {
        "densenet40_k12": dict(
            kwargs=dict(depth=40, growth_rate=12),
            paper=_PAPER,
            published=1.0,
            exact=1_019_722,
            c10_error=5.24,
            c100_error=24.42,
            recipe="densenet",
            notes="Stem 16 maps as the paper's text; the official Torch code's 2k stem gives 1,059,298.",
        ),
        "densenet100_k12": dict(
            kwargs=dict(depth=100, growth_rate=12),
            paper=_PAPER,
            published=7.0,
            exact=6_979_642,
            c10_error=4.10,
            c100_error=20.20,
            recipe="densenet",
        ),
        "densenet100_k24": dict(
            kwargs=dict(depth=100, growth_rate=24),
            paper=_PAPER,
            published=27.2,
            exact=27_249_082,
            c10_error=3.74,
            c100_error=19.25,
            recipe="densenet",
        ),
        "densenet_bc100_k12": dict(
            kwargs=dict(depth=100, growth_rate=12, **_BC),
            paper=_PAPER,
            published=0.8,
            exact=769_162,
            c10_error=4.51,
            c100_error=22.27,
            recipe="densenet",
            notes="Survey table 6 lists it as 'k=12' (0.8M).",
        ),
        "densenet_bc250_k24": dict(
            kwargs=dict(depth=250, growth_rate=24, **_BC),
            paper=_PAPER,
            published=15.3,
            exact=15_324_406,
            c10_error=3.62,
            c100_error=17.60,
            recipe="densenet",
            notes="Survey table 6 lists it as 'k=24' (15.3M).",
        ),
        "densenet_bc190_k40": dict(
            kwargs=dict(depth=190, growth_rate=40, **_BC),
            paper=_PAPER,
            published=25.6,
            exact=25_624_430,
            c10_error=3.46,
            c100_error=17.18,
            recipe="densenet",
            notes="Survey tables 6 and 8 list it as 'Densenet (k=40)' (25.6M).",
        ),
    },
)
