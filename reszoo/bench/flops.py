"""Forward multiply-adds per image, counted from the layer shapes on every backend."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import keras

# Layers whose multiply-adds are prod(output spatial dims) x prod(kernel shape).
_KERNEL_LAYERS = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
    keras.layers.Dense,
)


@dataclass
class FlopCount:
    """Forward multiply-adds per image from conv and dense layers, and the layers not counted."""

    macs: int
    uncounted: list[str] = field(default_factory=list)

    @property
    def forward_flops(self) -> int:
        return 2 * self.macs

    @property
    def training_flops(self) -> int:
        """Forward + backward (gradients w.r.t. activations and weights) ~ 3 x forward."""
        return 3 * self.forward_flops


def _call_output_shapes(layer) -> list[tuple]:
    return [tuple(node.outputs[0].shape) for node in getattr(layer, "_inbound_nodes", []) if node.outputs]


def count_forward_macs(model: keras.Model) -> FlopCount:
    """Multiply-adds of one image's forward pass, counted from the layer shapes.

    Convolutions and dense layers are the papers' FLOP convention (He et al.
    2015 count ResNet-20 option A as 40.55M multiply-adds): for each call, the
    product of the output's spatial sizes times the kernel's size (kernel
    height x width x input channels / groups x filters). BN, activations,
    pooling and additions are not counted. We count from the layer shapes
    rather than with ``tf.profiler`` so the count runs on every backend; any
    layer that carries a kernel we do not know how to count, or that runs
    outside the functional graph (inside a custom layer), is listed in
    ``uncounted`` instead of silently ignored.
    """
    macs, uncounted = 0, []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.Model):
            continue
        kernels = [w for w in layer.weights if "kernel" in w.path.rsplit("/", 1)[-1]]
        if not kernels:
            continue
        shapes = _call_output_shapes(layer)
        if isinstance(layer, _KERNEL_LAYERS) and shapes:
            kernel_size = math.prod(layer.kernel.shape)
            macs += sum(math.prod(s[1:-1]) * kernel_size for s in shapes)
        elif isinstance(layer, keras.layers.SeparableConv2D) and shapes:
            kernel_size = math.prod(layer.depthwise_kernel.shape) + math.prod(layer.pointwise_kernel.shape)
            macs += sum(math.prod(s[1:-1]) * kernel_size for s in shapes)
        else:
            uncounted.append(layer.name)
    return FlopCount(macs, uncounted)
