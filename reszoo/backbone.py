"""Backbones: keras.applications' head and input arguments, and feature extraction.

``reszoo.build(name, include_top=False, pooling=None | "avg" | "max", input_tensor=t)`` follows
keras.applications' contract (``check_head_arguments`` checks it, in keras.applications' wording).
Every model records the tensors that end its stages as ``model.pyramid_outputs``, keras-hub's
convention (``{"stage1": tensor, "stage2": ...}``); ``features(model)`` wraps them as a
``keras.Model`` returning that dict, the feature maps a detector or segmentation head consumes
(timm's ``features_only=True``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras

POOLINGS = (None, "avg", "max")


@dataclass(frozen=True)
class HeadArguments:
    """The checked keras.applications arguments of one build."""

    include_top: bool = True
    pooling: str | None = None
    input_tensor: Any = None


def check_head_arguments(
    include_top: Any = True, pooling: Any = None, input_tensor: Any = None, input_shape: Any = None
) -> HeadArguments:
    """Check ``include_top``, ``pooling`` and ``input_tensor`` as keras.applications does.

    Args:
        include_top: bool. Whether to include the classifier (GAP + dense). Defaults to True.
        pooling: None, "avg" or "max". With ``include_top=False``: None returns the last 4D feature
            map, "avg" / "max" its global average / max pool. Refused with ``include_top=True``.
        input_tensor: a Keras tensor (``keras.Input(...)`` or a layer's output) to build the model on.
        input_shape: the ``input_shape`` the caller passed explicitly, if any; it must agree with
            ``input_tensor``'s.

    Raises:
        ValueError: a value keras.applications would refuse, or a combination it ignores silently
            (``pooling`` with ``include_top=True``).

    Examples:
        >>> check_head_arguments(False, "avg").pooling
        'avg'
        >>> check_head_arguments(True, "max")
        Traceback (most recent call last):
        ValueError: The `pooling` argument applies only when `include_top=False` ...
    """
    if not isinstance(include_top, bool):
        raise ValueError(f"The `include_top` argument should be a boolean. Received: include_top={include_top!r}")
    if pooling not in POOLINGS:
        raise ValueError(
            "The `pooling` argument should be either `None` (the last 4D feature map), `'avg'` (global "
            f"average pooling) or `'max'` (global max pooling). Received: pooling={pooling!r}"
        )
    if include_top and pooling is not None:
        raise ValueError(
            "The `pooling` argument applies only when `include_top=False` (the classifier always "
            f"average-pools). Received: include_top=True, pooling={pooling!r}"
        )
    if input_tensor is not None:
        if not keras.backend.is_keras_tensor(input_tensor) or len(input_tensor.shape) != 4:
            raise ValueError(
                "The `input_tensor` argument should be a 4D Keras tensor (e.g. `keras.Input(shape=(32, 32, 3))` "
                f"or a layer's output), NHWC. Received: input_tensor={input_tensor!r}"
            )
        tensor_shape = tuple(input_tensor.shape[1:])
        if input_shape is not None and tuple(input_shape) != tensor_shape:
            raise ValueError(
                "The `input_shape` argument must agree with `input_tensor`'s shape. Received: "
                f"input_shape={tuple(input_shape)!r}, input_tensor.shape={tuple(input_tensor.shape)!r}"
            )
    return HeadArguments(include_top, pooling, input_tensor)


def check_classes_argument(kwargs: dict[str, Any]) -> None:
    """Refuse keras.applications' ``classes``: reszoo (as keras-hub) calls it ``num_classes``."""
    if "classes" in kwargs:
        value = kwargs["classes"]
        raise ValueError(
            "reszoo names the number of classes `num_classes` (as keras-hub does), not `classes`: pass "
            f"num_classes={value!r}. Received: classes={value!r}"
        )


def features(model: keras.Model) -> keras.Model:
    """A ``keras.Model`` from ``model``'s input to its stage outputs, ``{"stage1": ..., ...}``.

    The feature extractor shares ``model``'s layers and weights (training one trains the other).

    Args:
        model: keras.Model. A model built by ``reszoo.build`` (any family, any ``include_top``);
            it records its stage outputs as ``model.pyramid_outputs``.

    Raises:
        ValueError: ``model`` has no ``pyramid_outputs`` (e.g. one loaded from a ``.keras`` file:
            build it with ``reszoo.build`` and load the weights into it).

    Examples:
        >>> import reszoo
        >>> extractor = reszoo.features(reszoo.build("resnet20"))
        >>> {name: tuple(t.shape) for name, t in extractor.output.items()}
        {'stage1': (None, 32, 32, 16), 'stage2': (None, 16, 16, 32), 'stage3': (None, 8, 8, 64)}
    """
    pyramid = getattr(model, "pyramid_outputs", None)
    if not pyramid:
        raise ValueError(
            f"Model {getattr(model, 'name', model)!r} records no pyramid_outputs: only models built by "
            "reszoo.build do (a model loaded from a .keras file does not keep them). Build it with "
            "reszoo.build(...) and load its weights (model.load_weights) instead."
        )
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, dict(pyramid), name=f"{model.name}_features")
