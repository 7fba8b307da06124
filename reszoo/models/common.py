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
from reszoo.layers import classifier


def model_inputs(input_shape):
    return keras.Input(shape=check_input_shape(input_shape), name="images")


def finish(inputs, features, *, num_classes, classifier_activation, name) -> keras.Model:
    """Add the GAP + dense classifier and wrap as a functional ``keras.Model``."""
    outputs = classifier(features, check_num_classes(num_classes), classifier_activation)
    return keras.Model(inputs, outputs, name=name)
