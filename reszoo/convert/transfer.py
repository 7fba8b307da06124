"""Weights from one reszoo model into another of the same architecture, by layer name.

``init_from(model, source)`` is what ``python -m reszoo.train --init-from SOURCE`` runs before
fine-tuning; ``load_weights(net, path)`` is ``reszoo.build(..., weights=path)`` for Keras files.
A source is an export folder (its ``model.keras``), a ``.keras`` file, a ``.weights.h5`` file, or
``pytorchcv:NAME`` (a converted pytorchcv checkpoint, ``reszoo.convert.from_pytorchcv``).

Layers are matched by name (reszoo's names are stable: ``stage2_unit1_conv1``, ``predictions``);
an export's model (raw images -> ``normalize`` -> network) and a bare network are both accepted on
either side. ``.weights.h5`` files store weights by position in the model's structure, not by
name, so they are read through Keras' own loader into a copy of the target network (with the
file's class count) and copied from there by name.
"""

from __future__ import annotations

import copy
import os
import tempfile

import keras

CLASSIFIER = "predictions"
PYTORCHCV_PREFIX = "pytorchcv:"


def network_of(model: keras.Model) -> keras.Model:
    """The reszoo network inside ``model``: the one nested model of an export, else ``model`` itself."""
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) > 1:
        raise ValueError(
            f"Model {model.name!r} nests {len(nested)} models ({', '.join(m.name for m in nested)}); "
            "expected a reszoo network or an export's model (images -> normalize -> network)."
        )
    return nested[0] if nested else model


def weight_layers(net: keras.Model) -> dict[str, keras.layers.Layer]:
    """``{name: layer}`` for every layer of ``net`` that holds weights."""
    return {
        layer.name: layer
        for layer in net._flatten_layers(include_self=False)
        if layer.weights and not isinstance(layer, keras.Model)
    }


def _listing(names: list[str], limit: int = 6) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def copy_by_name(source: keras.Model, target: keras.Model, *, what: str, new_classifier: bool) -> list[str]:
    """Copy every weight of ``target`` from the layer of the same name in ``source``.

    Args:
        source, target: reszoo networks (or export models: their networks are used).
        what: how messages name the source.
        new_classifier: when the classifier ``predictions`` has another class count in ``source``,
            leave the target's freshly initialised (True) or refuse (False).

    Returns the messages to log. Raises ValueError when the architectures differ, naming the layers.
    """
    source_layers = weight_layers(network_of(source))
    target_layers = weight_layers(network_of(target))
    only_target = [n for n in target_layers if n not in source_layers]
    only_source = [n for n in source_layers if n not in target_layers]
    if only_target or only_source:
        parts = [f"layers only in the model: {_listing(only_target)}"] if only_target else []
        parts += [f"layers only in the source: {_listing(only_source)}"] if only_source else []
        raise ValueError(f"{what} is not the same architecture as the model: " + "; ".join(parts) + ".")
    messages, fresh, copied = [], None, 0
    for name, layer in target_layers.items():
        values = source_layers[name].get_weights()
        shapes = [tuple(w.shape) for w in layer.weights]
        if [tuple(v.shape) for v in values] != shapes:  # fused or Keras BN: the same weights
            in_features = len(values) == 2 and values[0].shape[0] == shapes[0][0]
            if name == CLASSIFIER and new_classifier and in_features:
                fresh = (values[-1].shape[0], shapes[-1][0])
                continue
            raise ValueError(
                f"{what} is not the same architecture as the model: layer {name!r} has weights "
                f"{[tuple(v.shape) for v in values]} there and {shapes} in the model."
            )
        layer.set_weights(values)
        copied += 1
    messages.append(f"initialised {copied} of {len(target_layers)} layers with weights from {what}")
    if fresh:
        messages.append(
            f"the classifier {CLASSIFIER!r} is initialised afresh: the source has {fresh[0]} classes, "
            f"the model {fresh[1]}"
        )
    return messages


def _with_classes(net: keras.Model, num_classes: int) -> keras.Model:
    """A fresh copy of ``net`` (same config) whose classifier has ``num_classes`` outputs."""
    config = copy.deepcopy(net.get_config())
    for layer in config["layers"]:
        if layer["config"].get("name") == CLASSIFIER:
            layer["config"]["units"] = int(num_classes)
    return net.__class__.from_config(config)


def _h5_shapes(path: str) -> dict[str, tuple[int, ...]]:
    import h5py

    shapes: dict[str, tuple[int, ...]] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: shapes.update({name: obj.shape}) if isinstance(obj, h5py.Dataset) else None)
    return shapes


def _wrapped(net: keras.Model) -> keras.Model:
    """``net`` behind a weightless ``normalize`` layer: the structure of an export's model."""
    images = keras.Input(shape=tuple(net.input_shape[1:]), name="images")
    normalize = keras.layers.Normalization(mean=[0.0] * images.shape[-1], variance=[1.0] * images.shape[-1])
    return keras.Model(images, net(normalize(images)), name=net.name)


def _saved_shapes(model: keras.Model) -> dict[str, tuple[int, ...]]:
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "reference.weights.h5")
        model.save_weights(path)
        return _h5_shapes(path)


def read_weights_h5(path: str, like: keras.Model) -> keras.Model:
    """A copy of network ``like`` holding the weights of ``.weights.h5`` file ``path``.

    The file may come from a bare network or from an export's model (whose network Keras stores
    under ``layers/functional/``), and may have another class count; anything else that differs is
    refused.
    """
    source_shapes = _h5_shapes(path)
    net = network_of(like)
    nested = any(key.startswith("layers/functional/") for key in source_shapes)

    def holder(classes: int) -> tuple[keras.Model, keras.Model]:
        inner = _with_classes(net, classes)
        return (_wrapped(inner) if nested else inner), inner

    outer, inner = holder(int(net.output_shape[-1]))
    reference_shapes = _saved_shapes(outer)
    refused = ValueError(
        f"{path} is not a .weights.h5 file of this architecture ({net.name!r}): its weights do not fit "
        "the network's layers."
    )
    if set(reference_shapes) != set(source_shapes):
        raise refused
    differing = sorted(k for k in source_shapes if source_shapes[k] != reference_shapes[k])
    if differing:
        groups = {key.rsplit("/vars/", 1)[0] for key in differing}
        if len(groups) != 1 or len(differing) != 2:
            raise refused
        # Only the classifier's kernel and bias differ: the file has another class count.
        outer, inner = holder(int(source_shapes[f"{groups.pop()}/vars/1"][0]))
    outer.load_weights(path)
    return inner


def read_source(source: str | os.PathLike, like: keras.Model) -> tuple[keras.Model, str]:
    """``(network, description)`` for an ``init_from`` source (see the module docstring)."""
    text = os.fspath(source)
    if text.startswith(PYTORCHCV_PREFIX):
        from reszoo.convert.pytorchcv import convert

        conversion = convert(text[len(PYTORCHCV_PREFIX) :])
        return network_of(conversion.model), f"pytorchcv checkpoint {conversion.entry.name} ({conversion.source})"
    path = os.path.abspath(text)
    if os.path.isdir(path):
        keras_file = os.path.join(path, "model.keras")
        if not os.path.isfile(keras_file):
            raise ValueError(f"{path} is not a reszoo export: it has no model.keras.")
        path = keras_file
    if not os.path.isfile(path) and not text.endswith((".keras", ".weights.h5")):
        raise ValueError(
            "The weights source must be an export folder, a .keras or .weights.h5 file, or pytorchcv:NAME. "
            f"Received: {text!r}"
        )
    if not os.path.isfile(path):
        raise ValueError(f"No weights file at {path}.")
    if path.endswith(".weights.h5"):
        return read_weights_h5(path, like), f"weights file {path}"
    if path.endswith(".keras"):
        return network_of(keras.models.load_model(path, compile=False)), f"model file {path}"
    raise ValueError(
        "The weights source must be an export folder, a .keras or .weights.h5 file, or pytorchcv:NAME. "
        f"Received: {text!r}"
    )


def init_from(model: keras.Model, source: str | os.PathLike) -> list[str]:
    """Initialise ``model`` from ``source`` for fine-tuning; returns the messages to log.

    Args:
        model: a reszoo network, or a training / export model wrapping one (its network is set).
        source: an export folder, a ``.keras`` or ``.weights.h5`` file, or ``pytorchcv:NAME``
            (the published checkpoint, from pytorchcv's cache or downloaded).

    The architecture must be the same; when the class count differs, the classifier
    ``predictions`` keeps its fresh initialisation and the messages say so. Normalisation layers
    are not copied: a pytorchcv network was trained on inputs normalised with pytorchcv's mean/std.

    Raises:
        ValueError: a bad source, or another architecture (naming the layers that differ).

    Example::

        model = reszoo.build("resnet", depth=20, shortcut="B", num_classes=5)
        for line in reszoo.convert.init_from(model, "pytorchcv:resnet20_cifar10"):
            print(line)
    """
    source_net, what = read_source(source, network_of(model))
    messages = copy_by_name(source_net, model, what=what, new_classifier=True)
    if os.fspath(source).startswith(PYTORCHCV_PREFIX):
        messages.append(
            "pytorchcv trained it on inputs normalised with mean (0.4914, 0.4822, 0.4465) and "
            "std (0.2023, 0.1994, 0.2010) on the 0-1 scale"
        )
    return messages


def load_weights(net: keras.Model, source: str | os.PathLike) -> keras.Model:
    """Set every weight of ``net`` from a ``.keras`` / ``.weights.h5`` file or export folder of the
    same architecture and class count (``reszoo.build(..., weights=path)``); returns ``net``."""
    source_net, what = read_source(source, net)
    copy_by_name(source_net, net, what=what, new_classifier=False)
    return net
