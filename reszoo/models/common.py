"""The CIFAR network skeleton shared by the families (and, re-exported, the argument checks of ``reszoo._checks``)."""

from __future__ import annotations

import keras

# The checks live in reszoo._checks; re-exported here for the families and reszoo.tune.
from reszoo._checks import (  # noqa: F401
    check_choice,
    check_input_shape,
    check_num_classes,
    check_positive,
    check_positive_int,
    check_rate,
    units_from_depth,
)
from reszoo.layers import classifier, options

_POOLING_LAYERS = {"avg": keras.layers.GlobalAveragePooling2D, "max": keras.layers.GlobalMaxPooling2D}


def model_inputs(input_shape):
    """The model's input: ``reszoo.build(..., input_tensor=t)``'s tensor, else ``keras.Input`` named ``images``."""
    tensor = options.current().input_tensor
    if tensor is not None:
        return tensor
    return keras.Input(shape=check_input_shape(input_shape), name="images")


def pool_features(features, pooling: str | None):
    """A backbone's output (``include_top=False``): the 4D feature map, or its global average / max pool."""
    if pooling is None:
        return features
    return _POOLING_LAYERS[pooling](name="head_pool")(features)


def finish(inputs, features, *, num_classes, classifier_activation, name, stages=None) -> keras.Model:
    """Add the head and wrap as a functional ``keras.Model`` recording its ``pyramid_outputs``.

    The head is the GAP + dense classifier, or, for ``reszoo.build(..., include_top=False)``, the
    ``pooling`` the build asks for (keras.applications' contract; ``reszoo.layers.options``).
    ``stages`` are the tensors that end each stage, in order: they become
    ``model.pyramid_outputs = {"stage1": ..., "stage2": ...}`` (keras-hub's convention), the feature
    maps ``reszoo.features(model)`` returns.
    """
    build = options.current()
    if build.include_top:
        outputs = classifier(features, check_num_classes(num_classes), classifier_activation)
    else:
        outputs = pool_features(features, build.pooling)
    # An input_tensor may be the output of the user's own layers: the model starts at its source inputs.
    sources = keras.utils.get_source_inputs(inputs)
    model = keras.Model(sources[0] if len(sources) == 1 else sources, outputs, name=name)
    model.pyramid_outputs = {f"stage{i}": tensor for i, tensor in enumerate(stages or (), start=1)}
    return model
