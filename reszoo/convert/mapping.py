"""Explicit name mappings from reszoo layers to pytorchcv modules, and the tensor copy they drive.

A *scheme* is a list of rules ``(pattern, template)``: a regular expression on a reszoo layer name
and the pytorchcv module path it names (``re.Match.expand`` syntax). ``stage2_unit1_proj`` under the
``"resnet"`` scheme is ``features.stage2.unit1.identity_conv.conv``, whose ``.weight`` becomes the
layer's kernel. Layers are matched by name only, never by position, and ``copy_state_dict`` checks
that every checkpoint tensor is used exactly once and every Keras weight is set exactly once.

Layout conversions: conv kernels ``(out, in / groups, kh, kw)`` -> ``(kh, kw, in / groups, out)``;
``nn.Linear`` ``(out, in)`` -> Dense ``(in, out)``; SE's 1x1 convs with bias (pytorchcv's
``SEBlock(use_conv=True)``) -> Dense; BatchNorm ``weight, bias, running_mean, running_var`` ->
``gamma, beta, moving_mean, moving_variance`` (``num_batches_tracked`` is consumed, it has no Keras
counterpart and does not affect inference).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

Rule = tuple[str, str]

_UNIT = r"^stage(\d+)_unit(\d+)"
_FEATURES_UNIT = r"features.stage\1.unit\2"
_SE = (
    (_UNIT + r"_se_reduce$", _FEATURES_UNIT + ".se.conv1"),
    (_UNIT + r"_se_expand$", _FEATURES_UNIT + ".se.conv2"),
)
_OUTPUT = (r"^predictions$", "output")
_HEAD_BN = (r"^head_bn$", "features.post_activ.bn")
_STEM_BLOCK = ((r"^stem_conv$", "features.init_block.conv"), (r"^stem_bn$", "features.init_block.bn"))

# Post-activation ResNet / SE-ResNet / ResNeXt: conv3x3_block(conv, bn) bodies, conv1x1_block projections.
_POST_UNITS = (
    (_UNIT + r"_conv(\d+)$", _FEATURES_UNIT + r".body.conv\3.conv"),
    (_UNIT + r"_bn(\d+)$", _FEATURES_UNIT + r".body.conv\3.bn"),
    (_UNIT + r"_proj$", _FEATURES_UNIT + ".identity_conv.conv"),
    (_UNIT + r"_proj_bn$", _FEATURES_UNIT + ".identity_conv.bn"),
)
# Pre-activation units: pre_conv3x3_block(bn, conv) bodies, bare conv1x1 projections.
_PREACT_UNITS = (
    (_UNIT + r"_conv(\d+)$", _FEATURES_UNIT + r".body.conv\3.conv"),
    (_UNIT + r"_bn(\d+)$", _FEATURES_UNIT + r".body.conv\3.bn"),
    (_UNIT + r"_proj$", _FEATURES_UNIT + ".identity_conv"),
)


def _resnet(kwargs: Mapping[str, Any]) -> list[Rule]:
    return [*_STEM_BLOCK, *_POST_UNITS, *_SE, _OUTPUT]


def _preresnet(kwargs: Mapping[str, Any]) -> list[Rule]:
    return [(r"^stem_conv$", "features.init_block"), *_PREACT_UNITS, *_SE, _HEAD_BN, _OUTPUT]


def _sepreresnet(kwargs: Mapping[str, Any]) -> list[Rule]:
    return [*_STEM_BLOCK, *_PREACT_UNITS, *_SE, _OUTPUT]


def _pyramidnet(kwargs: Mapping[str, Any]) -> list[Rule]:
    # The unit's closing BN (Han et al.'s variant (d)) is the unit's own `bn`, not part of its body.
    closing_bn = 4 if kwargs.get("bottleneck") else 3
    return [
        *_STEM_BLOCK,
        (_UNIT + rf"_bn{closing_bn}$", _FEATURES_UNIT + ".bn"),
        *_PREACT_UNITS,
        _HEAD_BN,
        _OUTPUT,
    ]


def _densenet(kwargs: Mapping[str, Any]) -> list[Rule]:
    layer = r"^block(\d+)_layer(\d+)"
    unit = r"features.stage\1.unit\2"
    if kwargs.get("bottleneck"):
        layer_rules = [
            (layer + r"_conv(\d+)$", unit + r".conv\3.conv"),
            (layer + r"_bn(\d+)$", unit + r".conv\3.bn"),
        ]
    else:  # a single pre_conv3x3_block named `conv`
        layer_rules = [(layer + r"_conv1$", unit + ".conv.conv"), (layer + r"_bn1$", unit + ".conv.bn")]
    return [
        (r"^stem_conv$", "features.init_block"),
        *layer_rules,
        # reszoo's transition after block b opens pytorchcv's stage b+1 (see _next_stage).
        (r"^transition(\d+)_conv1$", r"features.stage{next}.trans{next}.conv.conv"),
        (r"^transition(\d+)_bn1$", r"features.stage{next}.trans{next}.conv.bn"),
        _HEAD_BN,
        _OUTPUT,
    ]


def _shakeshake(kwargs: Mapping[str, Any]) -> list[Rule]:
    return [
        *_STEM_BLOCK,
        (_UNIT + r"_branch(\d+)_conv(\d+)$", _FEATURES_UNIT + r".branch\3.conv\4.conv"),
        (_UNIT + r"_branch(\d+)_bn(\d+)$", _FEATURES_UNIT + r".branch\3.conv\4.bn"),
        (_UNIT + r"_shortcut_conv(\d+)$", _FEATURES_UNIT + r".identity_branch.conv\3"),
        (_UNIT + r"_shortcut_bn$", _FEATURES_UNIT + ".identity_branch.bn"),
        _OUTPUT,
    ]


def _ror(kwargs: Mapping[str, Any]) -> list[Rule]:
    unit = r"features.body.stages.stage\1.units.unit\2"
    return [
        *_STEM_BLOCK,
        (_UNIT + r"_conv(\d+)$", unit + r".body.conv\3.conv"),
        (_UNIT + r"_bn(\d+)$", unit + r".body.conv\3.bn"),
        (_UNIT + r"_proj$", unit + ".identity_conv.conv"),
        (_UNIT + r"_proj_bn$", unit + ".identity_conv.bn"),
        (r"^stage(\d+)_level2_proj$", r"features.body.stages.stage\1.shortcut.conv"),
        (r"^stage(\d+)_level2_proj_bn$", r"features.body.stages.stage\1.shortcut.bn"),
        (r"^level1_proj$", "features.body.shortcut.conv"),
        (r"^level1_proj_bn$", "features.body.shortcut.bn"),
        _OUTPUT,
    ]


SCHEMES = {
    "resnet": _resnet,  # resnet_cifar, seresnet_cifar
    "preresnet": _preresnet,  # preresnet_cifar, wrn_cifar
    "sepreresnet": _sepreresnet,
    "pyramidnet": _pyramidnet,
    "densenet": _densenet,
    "resnext": _resnet,  # resnext_cifar's units name their layers as the post-activation ResNet's
    "shakeshake": _shakeshake,
    "ror": _ror,
}


def torch_module(scheme: str, kwargs: Mapping[str, Any], layer_name: str) -> str | None:
    """The pytorchcv module path that holds the weights of reszoo layer ``layer_name``, or None.

    Examples:
        >>> torch_module("resnet", {}, "stage2_unit1_proj_bn")
        'features.stage2.unit1.identity_conv.bn'
        >>> torch_module("densenet", {"bottleneck": True}, "transition1_conv1")
        'features.stage2.trans2.conv.conv'
    """
    if scheme not in SCHEMES:
        raise ValueError(f"Unknown mapping scheme {scheme!r}. Known: {', '.join(SCHEMES)}.")
    for pattern, template in SCHEMES[scheme](kwargs):
        match = re.match(pattern, layer_name)
        if match:
            if "{next}" in template:
                template = template.replace("{next}", str(int(match.group(1)) + 1))
            return match.expand(template)
    return None


# ---- the copy


def to_numpy(value: Any) -> np.ndarray:
    """A tensor (torch or any array-like) as a numpy array on the CPU."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _conv_kernel(weight: np.ndarray) -> np.ndarray:
    return np.transpose(weight, (2, 3, 1, 0))


def _dense_kernel(weight: np.ndarray) -> np.ndarray:
    if weight.ndim == 4:  # SE's 1x1 conv with bias acting on a pooled 1x1 map
        weight = weight[:, :, 0, 0]
    return np.transpose(weight)


def layer_tensors(layer: keras.layers.Layer, module: str) -> list[tuple[keras.Variable, str, Any]]:
    """``(keras variable, checkpoint key, layout conversion)`` for every weight of ``layer``."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return [
            (layer.gamma, f"{module}.weight", None),
            (layer.beta, f"{module}.bias", None),
            (layer.moving_mean, f"{module}.running_mean", None),
            (layer.moving_variance, f"{module}.running_var", None),
        ]
    if isinstance(layer, keras.layers.Conv2D) and not layer.use_bias:
        return [(layer.kernel, f"{module}.weight", _conv_kernel)]
    if isinstance(layer, keras.layers.Dense):
        return [(layer.kernel, f"{module}.weight", _dense_kernel), (layer.bias, f"{module}.bias", None)]
    raise ValueError(f"reszoo.convert has no pytorchcv layout for layer {layer.name!r} ({type(layer).__name__}).")


# Checkpoint entries without a Keras counterpart: consumed, never copied.
_BOOKKEEPING_SUFFIXES = (".num_batches_tracked",)


def _listing(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def copy_state_dict(
    net: keras.Model, state_dict: Mapping[str, Any], *, scheme: str, kwargs: Mapping[str, Any], what: str
) -> None:
    """Set every weight of ``net`` from ``state_dict`` through the scheme's name mapping.

    Args:
        net: the reszoo network (built with the table's family and kwargs).
        state_dict: pytorchcv's ``state_dict()``: names to tensors or arrays.
        scheme: a key of ``SCHEMES``.
        kwargs: the build kwargs (some schemes depend on them: bottleneck or not).
        what: how errors name the checkpoint ("checkpoint /x/resnet20.pth for resnet20_cifar10").

    Raises:
        ValueError: naming the layers without a mapping, the checkpoint tensors missing, of the
            wrong shape or left unused, or the Keras weights left unset.
    """
    arrays = {str(key): value for key, value in state_dict.items()}
    used: set[str] = set()
    assigned: dict[int, str] = {}
    unmapped, missing, wrong_shape, twice = [], [], [], []
    updates: list[tuple[keras.Variable, np.ndarray]] = []
    for layer in net._flatten_layers(include_self=False):
        if not layer.weights or isinstance(layer, keras.Model):
            continue
        module = torch_module(scheme, kwargs, layer.name)
        if module is None:
            unmapped.append(layer.name)
            continue
        for variable, key, convert in layer_tensors(layer, module):
            if key not in arrays:
                missing.append(key)
                continue
            if key in used:
                twice.append(key)
                continue
            used.add(key)
            value = to_numpy(arrays[key]).astype(np.float32)
            value = convert(value) if convert is not None else value
            if tuple(value.shape) != tuple(variable.shape):
                wrong_shape.append(
                    f"{key} {tuple(to_numpy(arrays[key]).shape)} for {variable.path} {tuple(variable.shape)}"
                )
                continue
            updates.append((variable, value))
            assigned[id(variable)] = variable.path
    for key in arrays:
        if key.endswith(_BOOKKEEPING_SUFFIXES) and key[: key.rindex(".")] + ".running_mean" in used:
            used.add(key)
    unset = [w.path for w in net.weights if id(w) not in assigned]
    unused = sorted(set(arrays) - used)
    problems = []
    if unmapped:
        problems.append(f"reszoo layers with no pytorchcv name: {_listing(unmapped)}")
    if missing:
        problems.append(f"tensors missing from the checkpoint: {_listing(missing)}")
    if wrong_shape:
        problems.append(f"tensors of the wrong shape: {_listing(wrong_shape, 4)}")
    if twice:
        problems.append(f"tensors claimed twice: {_listing(twice)}")
    if unused:
        problems.append(f"checkpoint tensors left unused: {_listing(unused)}")
    if unset and not problems:
        problems.append(f"Keras weights left unset: {_listing(unset)}")
    if problems:
        raise ValueError(f"The {what} does not match the reszoo model {net.name!r}: " + "; ".join(problems) + ".")
    for variable, value in updates:
        variable.assign(value)
