"""EfficientNet-B0 ... B7 (Tan & Le 2019, Table 1-2; survey table 8) on CIFAR-sized inputs.

The backbone is ``keras.applications.EfficientNetB*`` itself (``include_top=False``),
nested in the model as the layer ``"backbone"``; reszoo adds only the head the
paper uses: global average pooling, dropout and a dense classifier. So the
parameter count is exactly keras' backbone plus ``(features + 1) * num_classes``.

What 32x32 inputs do to it: the stem conv and four of the seven MBConv stages
have stride 2, so a 32x32 image is 1x1 from stage 6 on (32 / 2**5). Three ways
to live with that, all options here:

* nothing (the default): the network runs, and its last stages see one pixel;
* ``cifar_stem=True``: stem stride 1, the final map is 2x2. Done by cloning
  keras' backbone with two layer configs changed (``keras.models.clone_model``),
  not by copying its code; kernel shapes are unchanged, so ImageNet weights load;
* ``resolution=224`` (B0's ImageNet size; 600 for B7): upsample inside the model,
  as the paper's transfer-learning results on CIFAR (its Table 5: B7, C10 1.1 /
  C100 8.3 error, the numbers survey table 8 quotes) come from fine-tuning
  ImageNet weights at high resolution. Costs (224 / 32)**2 = 49 times the compute.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from reszoo.layers import options
from reszoo.layers.core import ResizeImages
from reszoo.models.common import check_choice, check_positive_int, check_rate, finish, model_inputs
from reszoo.registry import apply_weight_decay, register_family, register_presets

# keras.applications rejects anything smaller (imagenet_utils.obtain_input_shape(min_size=32)).
MIN_SIZE = 32
BACKBONE_NAME = "backbone"
# keras' ImageNet files store these standard deviations as the Normalization layer's
# *variance*; keras corrects it only for weights="imagenet" (TF issue 49930).
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)
KERAS_WEIGHTS_URL = "https://storage.googleapis.com/keras-applications/efficientnet{variant}_notop.h5"


@dataclass(frozen=True)
class Variant:
    """One scaled network: keras' constructor and the paper's settings for it."""

    constructor: Callable[..., keras.Model]
    dropout: float  # before the classifier, as the paper (and keras) scale it
    resolution: int  # ImageNet training resolution


VARIANTS = {
    "b0": Variant(keras.applications.EfficientNetB0, 0.2, 224),
    "b1": Variant(keras.applications.EfficientNetB1, 0.2, 240),
    "b2": Variant(keras.applications.EfficientNetB2, 0.3, 260),
    "b3": Variant(keras.applications.EfficientNetB3, 0.3, 300),
    "b4": Variant(keras.applications.EfficientNetB4, 0.4, 380),
    "b5": Variant(keras.applications.EfficientNetB5, 0.4, 456),
    "b6": Variant(keras.applications.EfficientNetB6, 0.5, 528),
    "b7": Variant(keras.applications.EfficientNetB7, 0.5, 600),
}


def check_weights(weights, variant: str):
    """None, or the path of an existing weights file; never a download."""
    if weights is None:
        return None
    if weights == "imagenet":
        url = KERAS_WEIGHTS_URL.format(variant=variant)
        raise ValueError(
            "weights='imagenet' would download the weights, and reszoo builds models offline. "
            f"Download {url} yourself and pass its path, e.g. weights='~/efficientnet{variant}_notop.h5'. "
            "Received: weights='imagenet'"
        )
    path = os.path.expanduser(os.fspath(weights)) if isinstance(weights, (str, os.PathLike)) else None
    if path is None or not os.path.isfile(path):
        raise ValueError(
            "weights must be None or the path of an existing weights file (keras.applications' "
            "efficientnetbN_notop.h5, or a .weights.h5 / .keras file of the same backbone). "
            f"Received: weights={weights!r}, which is not a file."
        )
    return path


def _stem_stride_one(layer):
    """clone_model's clone function: a stride-1 stem with symmetric padding, every other layer as is."""
    config = layer.get_config()
    if layer.name == "stem_conv_pad":
        config["padding"] = ((1, 1), (1, 1))
    elif layer.name == "stem_conv":
        config["strides"] = (1, 1)
    return layer.__class__.from_config(config)


def _correct_imagenet_normalization(backbone) -> None:
    """Make a loaded ImageNet file normalise by std, as keras' weights="imagenet" path does.

    keras adds ``Rescaling(1 / sqrt(std))`` after the Normalization layer for
    ``weights="imagenet"`` only; for a file path it does not, and inputs end up
    divided by sqrt(std). Storing std**2 as the variance gives (x - mean) / std.
    """
    norm = next(layer for layer in backbone.layers if isinstance(layer, keras.layers.Normalization))
    variance = keras.ops.convert_to_numpy(norm.adapt_variance)
    if np.allclose(variance, IMAGENET_STDDEV_RGB):
        norm.adapt_variance.assign(np.square(variance))
        norm.finalize_state()


def efficientnet_backbone(variant: str, input_shape, *, cifar_stem: bool = False, weights: str | None = None):
    """keras.applications' EfficientNet without its top, optionally stride-1 stem and loaded weights.

    Weights load as keras.applications loads a path (``model.load_weights``), but
    after the stem change, so the same file serves both stems.
    """
    backbone = VARIANTS[variant].constructor(
        include_top=False, weights=None, input_shape=input_shape, name=BACKBONE_NAME
    )
    if cifar_stem:
        backbone = keras.models.clone_model(backbone, clone_function=_stem_stride_one)
    if weights is not None:
        backbone.load_weights(weights)
        _correct_imagenet_normalization(backbone)
    return backbone


def stage_outputs(backbone: keras.Model, x) -> list:
    """The outputs of keras' seven MBConv stages (the last layer of ``block1*`` ... ``block7*``) on ``x``.

    The backbone is a nested model, so its inner tensors are not the outer model's: a second,
    multi-output view of the same layers (weights shared, not part of the model's graph) is called on
    the backbone's input tensor instead.
    """
    last: dict[int, keras.layers.Layer] = {}
    for layer in backbone.layers:
        match = re.match(r"block(\d+)[a-z]+_", layer.name)
        if match:
            last[int(match.group(1))] = layer
    outputs = [last[stage].output for stage in sorted(last)]
    return list(keras.Model(backbone.input, outputs, name=f"{BACKBONE_NAME}_stages")(x))


@register_family("efficientnet", weight_decay=1e-5, normalizes_inputs=True, smoke=dict(variant="b0"))
def efficientnet(
    variant: str = "b0",
    weights: str | None = None,
    dropout: float | None = None,
    cifar_stem: bool = False,
    resolution: int | None = None,
    *,
    num_classes: int = 10,
    input_shape=(32, 32, 3),
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """EfficientNet-B0 ... B7 (Tan & Le 2019): keras.applications' backbone + GAP-dropout-FC.

    Inputs are pixels in [0, 255]: keras' EfficientNet starts with
    ``Rescaling(1/255)`` and a ``Normalization`` layer (the identity with random
    weights, ImageNet mean/std once ImageNet weights are loaded), and keras'
    EfficientNet (v1) has no switch to drop them. Standardising the images
    beforehand (reszoo's usual per-channel mean/std) is therefore redundant; it
    still trains, but the 1/255 then shrinks the inputs to ~0.004 and the stem's
    BatchNormalization (eps 1e-3) damps its output about 20-fold at the start.
    Feed raw pixels to this family.

    The blocks keep keras' (and the paper's) settings: BN momentum 0.99, eps
    1e-3, swish, drop-connect rising to 0.2. See the module docstring for what
    32x32 inputs do and the ``cifar_stem`` / ``resolution`` options.

    Args:
        variant: str. "b0" ... "b7". Defaults to "b0".
        weights: str or None. None (random initialisation) or the path of a
            weights file for the backbone: keras' ``efficientnetbN_notop.h5``
            (ImageNet) or a ``.weights.h5`` saved from such a backbone.
            "imagenet" is refused (it would download). Defaults to None.
        dropout: float or None. Dropout before the classifier; None gives the
            paper's 0.2 (B0, B1), 0.3 (B2, B3), 0.4 (B4, B5), 0.5 (B6, B7).
        cifar_stem: bool. Stem stride 1 instead of 2 (final map 2x2 at 32 px).
            Defaults to False.
        resolution: int or None. Upsample inputs (bilinear) to
            resolution x resolution before the backbone, e.g. the variant's
            ImageNet size 224 ... 600. Defaults to None (no resizing).

    Published (Table 2, ImageNet-1000 head): B0 5.3M, B1 7.8M, B2 9.2M, B3 12M,
    B4 19M, B5 30M, B6 43M, B7 66M; B7 with a CIFAR head 64M (Table 5, survey
    table 8).

    Examples:
        >>> import reszoo
        >>> model = reszoo.build("efficientnet", variant="b0")
        >>> reszoo.trainable_params(model)
        4020358
        >>> model.get_layer("backbone").output.shape
        (None, 1, 1, 1280)
    """
    spec = VARIANTS[check_choice("variant", variant, tuple(VARIANTS))]
    weights = check_weights(weights, variant)
    dropout = spec.dropout if dropout is None else check_rate("dropout", dropout)
    check_choice("cifar_stem", cifar_stem, (False, True))

    inputs = model_inputs(input_shape)
    x = inputs
    if resolution is not None:
        resolution = check_positive_int("resolution", resolution)
        x = ResizeImages(resolution, resolution, name="upsample")(x)  # not keras Resizing: see ResizeImages
    height, width = x.shape[1:3]
    if min(height, width) < MIN_SIZE:
        raise ValueError(
            f"EfficientNet needs inputs of at least {MIN_SIZE}x{MIN_SIZE} (keras.applications' minimum); "
            f"pass resolution={MIN_SIZE} or more to upsample. Received: input_shape={tuple(input_shape)!r}"
            + (f", resolution={resolution!r}" if resolution is not None else "")
        )
    backbone = efficientnet_backbone(variant, tuple(x.shape[1:]), cifar_stem=cifar_stem, weights=weights)
    stages = stage_outputs(backbone, x)
    x = backbone(x)
    if dropout and options.current().include_top:  # the classifier's dropout: not part of a backbone
        # Whole-channel dropout before the (linear) average pool equals the paper's
        # dropout on the pooled vector, and lets the shared GAP + dense head finish the model.
        x = keras.layers.SpatialDropout2D(dropout, name="head_dropout")(x)
    default_name = f"efficientnet_{variant}" + ("_cifar_stem" if cifar_stem else "")
    model = finish(
        inputs,
        x,
        num_classes=num_classes,
        classifier_activation=classifier_activation,
        name=name or default_name,
        stages=stages,
    )
    # The backbone's layers come from keras.applications, not from reszoo's conv/BN helpers, so they
    # cannot be created regularised: the build's weight decay is put on them after the build (the one
    # family that needs it; the same L2 on the head's Dense replaces the helper's equal one).
    return apply_weight_decay(model, options.current().weight_decay)


_TAN = "Tan & Le 2019, EfficientNet, Table 2 (ImageNet-1000 head); survey table 8"
_NOTES = (
    "published: the paper's count with the ImageNet-1000 head ({imagenet:,} here); exact: ours with a "
    "CIFAR-10 head = keras.applications backbone ({backbone:,}) + {head:,}. REFERENCE.md gives no exact count."
)


def _preset(
    variant: str, backbone: int, features: int, published: float, notes: str = "", basis="imagenet_head", **more
) -> dict:
    head, imagenet_head = features * 10 + 10, features * 1000 + 1000
    return dict(
        kwargs=dict(variant=variant),
        paper=_TAN,
        published=published,
        exact=backbone + head,
        recipe=None,
        notes=(_NOTES.format(imagenet=backbone + imagenet_head, backbone=backbone, head=head) + " " + notes).strip(),
        extra=dict(
            backbone_params=backbone,
            features=features,
            imagenet_params=backbone + imagenet_head,
            resolution=VARIANTS[variant].resolution,
            dropout=VARIANTS[variant].dropout,
            published_basis=basis,
        ),
        **more,
    )


# Trainable backbone counts of keras.applications (include_top=False); features = top_conv width.
register_presets(
    "efficientnet",
    {
        "efficientnet_b0": _preset("b0", 4_007_548, 1280, 5.3),
        "efficientnet_b1": _preset("b1", 6_513_184, 1280, 7.8),
        "efficientnet_b2": _preset(
            "b2",
            7_700_994,
            1408,
            9.2,
            basis="imagenet_head_all_weights",
            notes="The paper's 9.2M is keras' count_params() (BN moving statistics included); trainable is 9.1M.",
        ),
        "efficientnet_b3": _preset("b3", 10_696_232, 1536, 12),
        "efficientnet_b4": _preset("b4", 17_548_616, 1792, 19),
        "efficientnet_b5": _preset("b5", 28_340_784, 2048, 30),
        "efficientnet_b6": _preset("b6", 40_735_704, 2304, 43),
        "efficientnet_b7": _preset(
            "b7",
            63_786_960,
            2560,
            66,
            c10_error=1.1,
            c100_error=8.3,
            slow=True,
            notes="Errors: fine-tuned from ImageNet at high resolution (paper Table 5, survey table 8, which lists "
            "64M: the count with a CIFAR head, as ours), not training from scratch at 32x32.",
        ),
    },
)
