"""Shake-Shake regularised ResNets for CIFAR (Gastaldi 2017, "Shake-Shake
regularization", Sec. 2-3, Table 1-2: the "26 2xKd" networks).

Stem 3x3 conv 16 + BN (no ReLU); three stages of n blocks with widths
K/2K/4K at 32/16/8 px; each block has two branches ReLU-conv3x3-BN-ReLU-
conv3x3-BN, combined by ``ShakeShake`` and added to the shortcut (no ReLU
after the add); head ReLU-GAP-FC. Where the width changes the shortcut is
ReLU, then two paths of stride-s 1x1 average pooling + 1x1 conv to K/2 (the
second path on the input shifted by one pixel right and down), concatenated,
BN. This follows the official code (xgastaldi/shake-shake,
``models/shakeshake.lua`` and ``shakeshakeblock.lua``, bias-free convs), whose
trainable counts REFERENCE.md lists.
"""

from __future__ import annotations

import keras

from reszoo.layers import batch_norm, conv, relu
from reszoo.layers.shake import ShakeShake, check_shake_level, check_shake_mode
from reszoo.models.common import check_choice, check_positive_int, finish, model_inputs, units_from_depth
from reszoo.registry import register_family, register_presets
from reszoo.units import UnitSpec, apply_ops, ends_stage, stage_plan

STEM_WIDTH = 16
NUM_BRANCHES = 2
DEPTH_RULE = dict(layers_per_unit=2, extra=2)  # depth 6n+2
# One residual branch; the first 3x3 conv takes the block's stride.
BRANCH_OPS = ("relu", "conv3", "bn", "relu", "conv3", "bn")
# Block forms (``unit``): "gastaldi", the official code's ReLU-first branches and no ReLU after the add;
# "post", pytorchcv's post-activation form (conv-BN-ReLU-conv-BN branches, ReLU after the add, conv-BN-ReLU
# stem, no head ReLU and no ReLU at the start of the shortcut), whose CIFAR checkpoints reszoo.convert loads.
UNIT_FORMS = ("gastaldi", "post")
POST_BRANCH_OPS = ("conv3", "bn", "relu", "conv3", "bn")


def shake_branch(x, filters: int, stride: int, *, name: str, ops: tuple[str, ...] = BRANCH_OPS):
    """ReLU-conv3x3-BN-ReLU-conv3x3-BN (or ``ops``), layers named ``{name}_relu1``, ``_conv1``, ``_bn1``, ..."""
    branch, _ = apply_ops(x, ops, filters, stride, name=name)
    return branch


def shake_shortcut(x, filters: int, stride: int, *, name: str, leading_relu: bool = True):
    """Identity, or Gastaldi's two-path shortcut where the width changes.

    ReLU (unless ``leading_relu=False``: the post-activation form's input is already rectified); path 1 subsamples (1x1 average pool, stride s) and projects to
    ``filters / 2`` with a 1x1 conv; path 2 does the same on the input shifted
    one pixel right and down (Torch's ``SpatialZeroPadding(1, -1, 1, -1)``:
    pad top/left, crop bottom/right), so it sees the pixels path 1 skips;
    the two are concatenated along channels and batch-normalised.
    """
    if stride == 1 and x.shape[-1] == filters:
        return x
    if leading_relu:
        x = relu(x, name=f"{name}_shortcut_relu")
    shifted = keras.layers.ZeroPadding2D(((1, 0), (1, 0)), name=f"{name}_shortcut_shift_pad")(x)
    shifted = keras.layers.Cropping2D(((0, 1), (0, 1)), name=f"{name}_shortcut_shift_crop")(shifted)
    paths = []
    for path, source in enumerate((x, shifted), start=1):
        if stride > 1:
            source = keras.layers.AveragePooling2D(1, stride, name=f"{name}_shortcut_pool{path}")(source)
        paths.append(conv(source, filters // 2, 1, name=f"{name}_shortcut_conv{path}"))
    joined = keras.layers.Concatenate(name=f"{name}_shortcut_concat")(paths)
    return batch_norm(joined, name=f"{name}_shortcut_bn")


def shake_shake_block(x, spec: UnitSpec, *, mode: str, level: str, unit: str = "gastaldi"):
    """x + ShakeShake(branch1(x), branch2(x)), with the block's shortcut.

    ``unit="gastaldi"``: no ReLU after the add; ``"post"``: post-activation branches and a ReLU after the add.
    """
    post = unit == "post"
    ops = POST_BRANCH_OPS if post else BRANCH_OPS
    branches = [
        shake_branch(x, spec.filters, spec.stride, name=f"{spec.name}_branch{b}", ops=ops)
        for b in range(1, NUM_BRANCHES + 1)
    ]
    mixed = ShakeShake(mode, level, name=f"{spec.name}_shake")(branches)
    skip = shake_shortcut(x, spec.filters, spec.stride, name=spec.name, leading_relu=not post)
    out = keras.layers.Add(name=f"{spec.name}_add")([skip, mixed])
    return relu(out, name=f"{spec.name}_out_relu") if post else out


def check_width(width) -> int:
    width = check_positive_int("width", width)
    if width % 2:
        raise ValueError(
            "width must be a positive even integer (the shortcut's two paths give width/2 "
            f"channels each). Received: width={width!r}"
        )
    return width


@register_family("shake_shake", weight_decay=1e-4, smoke=dict(depth=8, width=8))
def shake_shake(
    depth: int = 26,
    width: int = 32,
    mode: str = "shake_shake",
    level: str = "image",
    unit: str = "gastaldi",
    *,
    num_classes: int = 10,
    input_shape=(32, 32, 3),
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """Shake-Shake ResNet "depth 2xKd" for CIFAR (Gastaldi 2017, Sec. 2-3, Tables 1-2).

    Three stages of n two-branch blocks (depth 6n+2; the paper's 26 is n=4)
    with widths K/2K/4K; the branches are mixed by ``ShakeShake``.

    Args:
        depth: int. 6n+2. Defaults to 26.
        width: int. K, the first stage's width; even. Defaults to 32.
        mode: str. Forward/backward rule from Table 1: "shake_shake"
            (default, new coefficients in both passes), "shake_even",
            "shake_keep", "even_shake", "even_even" (plain 0.5 averaging).
        level: str. "image" (default: a coefficient per image, the paper's
            best CIFAR-10 setting, S-S-I) or "batch" (one per mini-batch).
        unit: str. "gastaldi" (default: the official code's blocks above) or
            "post", pytorchcv's post-activation form: stem conv-BN-ReLU,
            branches conv-BN-ReLU-conv-BN, ReLU after the add, no head ReLU
            (the architecture of its CIFAR checkpoints, ``reszoo.convert``).

    Published (Table 2, S-S-I, CIFAR-10): 26 2x32d 2.9M (exact 2,923,162),
    3.55%; 26 2x64d 11.7M (11,653,978), 2.98%; 26 2x96d 26.2M (26,192,922), 2.86%.

    Examples:
        >>> model = build("shake_shake", depth=8, width=8, mode="even_even")
        >>> model.get_layer("stage1_unit1_shake").mode
        'even_even'
    """
    n = units_from_depth(depth, **DEPTH_RULE)
    width = check_width(width)
    check_shake_mode(mode)
    check_shake_level(level)
    check_choice("unit", unit, UNIT_FORMS)

    inputs = model_inputs(input_shape)
    x = batch_norm(conv(inputs, STEM_WIDTH, name="stem_conv"), name="stem_bn")
    if unit == "post":
        x = relu(x, name="stem_relu")
    plan, stages = stage_plan((n, n, n), (width, 2 * width, 4 * width)), []
    for index, spec in enumerate(plan):
        x = shake_shake_block(x, spec, mode=mode, level=level, unit=unit)
        if ends_stage(plan, index):
            stages.append(x)
    if unit == "gastaldi":
        x = relu(x, name="head_relu")
    return finish(
        inputs,
        x,
        num_classes=num_classes,
        classifier_activation=classifier_activation,
        name=name or f"shake_shake{depth}_2x{width}d",
        stages=stages,
    )


_GASTALDI = "Gastaldi 2017, Shake-Shake regularization, Table 2 (S-S-I)"

_S_S_I = dict(mode="shake_shake", level="image")

register_presets(
    "shake_shake",
    {
        "shake_shake26_2x32d": dict(
            kwargs=dict(depth=26, width=32, **_S_S_I),
            paper=_GASTALDI,
            published=2.9,
            exact=2_923_162,
            c10_error=3.55,
            recipe="shake_shake",
        ),
        "shake_shake26_2x64d": dict(
            kwargs=dict(depth=26, width=64, **_S_S_I),
            paper=_GASTALDI,
            published=11.7,
            exact=11_653_978,
            c10_error=2.98,
            recipe="shake_shake",
        ),
        "shake_shake26_2x96d": dict(
            kwargs=dict(depth=26, width=96, **_S_S_I),
            paper=_GASTALDI,
            published=26.2,
            exact=26_192_922,
            c10_error=2.86,
            recipe="shake_shake",
        ),
    },
)
