"""``reszoo.build(name, weights=...)``: a registered configuration with pretrained or saved weights.

``weights`` is ``"cifar10"`` / ``"cifar100"`` (the pytorchcv checkpoint published for exactly this
configuration, from pytorchcv's cache or downloaded), or a path: a pytorchcv ``.pth`` / ``.pth.zip``
of this configuration, or a reszoo ``.keras`` / ``.weights.h5`` file of the same architecture.
The model is what ``reszoo.build`` always returns, a network taking normalised images: for
pytorchcv weights, normalised as pytorchcv does (``reszoo.convert.normalization_layer()`` on 0-255
pixels; ``reszoo.convert.from_pytorchcv`` gives the model with that layer inside).
"""

from __future__ import annotations

import os
from typing import Any

import keras

from reszoo.convert import pytorchcv as cv
from reszoo.convert.transfer import load_weights

KERAS_SUFFIXES = (".keras", ".weights.h5")
CLASSIFIER_TENSORS = ("output.weight", "output.bias")
_FIXED_BY_WEIGHTS = {"input_shape": (32, 32, 3)}


def _configuration(family: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The family arguments of a build with every default filled in (what the weights depend on)."""
    config = {name: p.default for name, p in family.family_args().items()}
    config.update({k: v for k, v in kwargs.items() if k in config})
    if family.name == "preact_resnet" and config.get("shortcut") is None:  # the builder's own default
        config["shortcut"] = "B" if config.get("bottleneck") else "A"
    return config


def published_entries(dataset: str | None = None) -> list[cv.Entry]:
    return [e for e in cv.entries().values() if dataset is None or e.dataset == dataset]


def matching_entry(name: str, dataset: str | None, kwargs: dict[str, Any]) -> cv.Entry:
    """The weights-table entry whose architecture is build ``name(**kwargs)``, for ``dataset``.

    Raises:
        ValueError: no checkpoint for that configuration (listing the configurations that have
            one), or ``num_classes`` / ``input_shape`` contradicting the weights.
    """
    from reszoo.registry import resolve

    family, merged, _ = resolve(name, **kwargs)
    for arg, fixed in _FIXED_BY_WEIGHTS.items():
        if arg in merged and tuple(merged[arg]) != fixed:
            raise ValueError(f"Pretrained CIFAR weights need {arg}={fixed}. Received: {arg}={merged[arg]!r}")
    wanted = _configuration(family, merged)
    candidates = published_entries(dataset)
    for item in candidates:
        if item.family == family.name and _configuration(family, item.kwargs) == wanted:
            if "num_classes" in merged and merged["num_classes"] != item.num_classes:
                raise ValueError(
                    f"The {item.dataset} weights have {item.num_classes} classes; received "
                    f"num_classes={merged['num_classes']!r}. To fine-tune on another class count, build "
                    f"with num_classes={merged['num_classes']!r} and use "
                    f"reszoo.convert.init_from(model, 'pytorchcv:{item.name}')."
                )
            return item
    same_family = [e for e in candidates if e.family == family.name]
    listed = same_family or candidates
    listing = "; ".join(f"{e.configuration} ({e.name})" for e in listed)
    what = f"{dataset} " if dataset else ""
    raise ValueError(
        f"No published {what}checkpoint for {name!r} with {_arguments(kwargs)}. "
        f"Configurations with {what}weights{'' if same_family else ' (every family)'}: {listing}."
    )


def _arguments(kwargs: dict[str, Any]) -> str:
    shown = {k: v for k, v in kwargs.items() if v is not None}
    return ", ".join(f"{k}={v!r}" for k, v in shown.items()) or "its defaults"


def _load(net: keras.Model, item: cv.Entry, state: dict[str, Any], kwargs: dict[str, Any], *, what: str) -> None:
    if kwargs.get("include_top") is False:  # a headless network takes everything but the classifier
        state = {k: v for k, v in state.items() if k not in CLASSIFIER_TENSORS}
    cv.load_state_dict(net, item, state, what=what)


def _from_checkpoint(name: str, path: str, fused_bn: bool | None, kwargs: dict[str, Any]) -> keras.Model:
    from reszoo.registry import build

    state, _ = cv.read_checkpoint(path)
    output = state.get("output.weight")
    classes = int(output.shape[0]) if output is not None else None
    dataset = {10: "cifar10", 100: "cifar100"}.get(classes) if classes else None
    if dataset is None:
        raise ValueError(
            f"{path} is not a pytorchcv CIFAR checkpoint: its classifier 'output.weight' has "
            f"{'no tensor' if output is None else f'{classes} classes'} (expected 10 or 100)."
        )
    item = matching_entry(name, dataset, kwargs)
    net = build(name, fused_bn=fused_bn, **{**kwargs, "num_classes": item.num_classes})
    _load(net, item, state, kwargs, what=f"checkpoint {path} given for {item.name}")
    return net


def build_with_weights(name: str, weights: Any, *, fused_bn: bool | None = None, **kwargs: Any) -> keras.Model:
    """``reszoo.build(name, weights=weights, **kwargs)`` (see the module docstring)."""
    from reszoo.registry import build

    if isinstance(weights, str) and weights in cv.DATASETS:
        item = matching_entry(name, weights, kwargs)
        state, _ = cv.read_checkpoint(cv.cached_checkpoint(item))
        net = build(name, fused_bn=fused_bn, **{**kwargs, "num_classes": item.num_classes})
        _load(net, item, state, kwargs, what=f"published checkpoint of {item.name}")
        return net
    if isinstance(weights, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(weights))
        if path.endswith(cv.WEIGHTS_SUFFIXES):
            return _from_checkpoint(name, path, fused_bn, kwargs)
        if path.endswith(KERAS_SUFFIXES):
            return load_weights(build(name, fused_bn=fused_bn, **kwargs), path)
    raise ValueError(
        "weights must be None, 'cifar10', 'cifar100', or the path of a .pth, .pth.zip, .keras or "
        f".weights.h5 file. Received: weights={weights!r}"
    )
