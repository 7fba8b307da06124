"""Building blocks shared by every family: conv/BN with the papers' settings,
and the small parameter-free layers residual networks need.

Written with ``keras.layers`` and ``keras.ops`` only, so the same models run on
Keras' JAX backend.
"""

from __future__ import annotations

import keras
from keras import ops

from reszoo import _checks
from reszoo.layers import options
from reszoo.layers.fused_bn import FusedBatchNormalization

# Torch / PyTorch BatchNorm: running = 0.9 * running + 0.1 * batch, eps 1e-5.
# Keras' defaults (momentum 0.99, eps 1e-3) give short runs whose test accuracy
# lags far behind train accuracy.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5

# He et al. 2015 initialisation as fb.resnet.torch and torchvision do it:
# N(0, sqrt(2 / (k * k * out_channels))), untruncated.
HE_NORMAL_FAN_OUT = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"},
}


def he_normal() -> keras.initializers.Initializer:
    return keras.initializers.get(HE_NORMAL_FAN_OUT)


def conv(x, filters: int, kernel_size: int = 3, stride: int = 1, *, name: str, groups: int = 1):
    """A bias-free conv with symmetric ("Torch") padding.

    Keras' ``padding="same"`` pads a stride-2 conv on an even input only at the
    bottom/right, shifting its sampling grid by one pixel against the papers'
    (and against the option-A shortcut's ``x[::2, ::2]``). Strided convs with
    ``kernel_size > 1`` are therefore padded explicitly and run ``valid``.
    """
    padding = "same"
    if stride > 1 and kernel_size > 1:
        x = keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=stride,
        padding=padding,
        use_bias=False,
        groups=groups,
        kernel_initializer=he_normal(),
        kernel_regularizer=options.current().regularizer(),
        name=name,
    )(x)


def batch_norm(x, *, name: str):
    """The papers' BN (momentum 0.9, eps 1e-5) as ``FusedBatchNormalization``.

    That layer is ``keras.layers.BatchNormalization`` (same weights, config and
    results) whose training step on the TensorFlow backend runs TF's fused
    kernel: 1.1-1.5x faster training on a CPU with oneDNN (benchmarks/RESULTS.md,
    section 3). Inference and every other backend run Keras' own code.
    ``reszoo.build(..., fused_bn=False)`` builds Keras' own layer instead
    (for ``.keras`` files that load without reszoo, or to compare). Both read
    the build's options (``reszoo.layers.options``): the layer class and L2 on
    gamma and beta.
    """
    build = options.current()
    layer_class = FusedBatchNormalization if build.fused_bn else keras.layers.BatchNormalization
    return layer_class(
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        gamma_regularizer=build.regularizer(),
        beta_regularizer=build.regularizer(),
        name=name,
    )(x)


def dense(units: int, *, name: str, activation: str | None = None) -> keras.layers.Dense:
    """A ``Dense`` layer (not yet called, so it can be shared) with the build's L2 on kernel and bias."""
    regularizer = options.current().regularizer()
    return keras.layers.Dense(
        units, activation=activation, kernel_regularizer=regularizer, bias_regularizer=regularizer, name=name
    )


def relu(x, *, name: str):
    return keras.layers.ReLU(name=name)(x)


def bn_relu(x, *, name: str):
    """BN then ReLU, named ``{name}_bn`` / ``{name}_relu``."""
    return relu(batch_norm(x, name=f"{name}_bn"), name=f"{name}_relu")


def classifier(x, num_classes: int, activation: str | None, *, name: str = "predictions"):
    """Global average pool and the dense classifier; softmax computed in float32.

    The Dense layer is always ``name`` ("predictions"), with or without ``activation``, so weight files
    and converted checkpoints address it by one name; the float32 activation after it is ``probabilities``.
    """
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    x = dense(num_classes, name=name)(x)
    if activation:
        x = keras.layers.Activation(activation, dtype="float32", name="probabilities")(x)
    return x


@keras.saving.register_keras_serializable(package="reszoo")
class ZeroPadShortcut(keras.layers.Layer):
    """Parameter-free shortcut: downsample, then zero-pad the channels.

    ``pooling="subsample"`` keeps every ``stride``-th pixel (He et al. 2015's
    option A, as fb.resnet.torch implements it); ``pooling="average"`` takes a
    ``stride`` x ``stride`` average first (PyramidNet, stochastic depth).
    Zeros are appended after the input channels.

    The subsample runs as a 1x1 max pool with stride ``stride``: the same pixels as
    ``x[:, ::stride, ::stride, :]`` (a max over one value is that value, forward and gradient, for any
    size, odd ones included), but TensorFlow's CPU runs a pooling kernel instead of ``StridedSlice``,
    whose forward and gradient took 5.6% of pre-activation ResNet-20's training step
    (benchmarks/RESULTS.md, section 11). ``subsample_by_pooling = False`` slices (for comparison:
    ``bench variants --variant strided_slice_shortcut``).
    """

    subsample_by_pooling = True

    def __init__(self, filters: int, stride: int = 1, pooling: str = "subsample", **kwargs):
        super().__init__(**kwargs)
        _checks.check_choice("pooling", pooling, ("subsample", "average"))
        self.filters = int(filters)
        self.stride = int(stride)
        self.pooling = pooling

    def call(self, x):
        if self.stride > 1:
            if self.pooling == "average":
                # "same" pooling excludes the padding, like PyTorch's AvgPool2d(ceil_mode=True) in the
                # official PyramidNet code, so odd sizes give ceil(h / stride) like the strided conv.
                x = ops.average_pool(x, self.stride, self.stride, padding="same")
            elif self.subsample_by_pooling:
                x = ops.max_pool(x, 1, self.stride, padding="valid")
            else:
                x = x[:, :: self.stride, :: self.stride, :]
        extra = self.filters - x.shape[-1]
        if extra < 0:
            raise ValueError(f"ZeroPadShortcut cannot shrink {x.shape[-1]} channels to {self.filters}.")
        if extra:
            x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]])
        return x

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        if self.stride > 1:
            h = None if h is None else -(-h // self.stride)
            w = None if w is None else -(-w // self.stride)
        return (n, h, w, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "stride": self.stride, "pooling": self.pooling}


@keras.saving.register_keras_serializable(package="reszoo")
class StochasticDepth(keras.layers.Layer):
    """Stochastic depth on a residual branch (Huang et al. 2016, eq. 2-5).

    While training, the branch is kept with probability ``survival_prob`` and
    otherwise zeroed; at inference it is scaled by ``survival_prob``, as the
    paper does. ``per_sample=False`` draws one gate per mini-batch (the paper);
    ``True`` draws one per image (lower-variance, as timm's drop-path).
    """

    def __init__(self, survival_prob: float, per_sample: bool = False, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        _checks.check_interval("survival_prob", survival_prob, closed_lower=False, closed_upper=True)
        self.survival_prob = float(survival_prob)
        self.per_sample = bool(per_sample)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training:
            return x * self.survival_prob
        shape = (ops.shape(x)[0], 1, 1, 1) if self.per_sample else (1, 1, 1, 1)
        noise = keras.random.uniform(shape, seed=self.seed_generator, dtype=x.dtype)
        gate = ops.cast(noise < self.survival_prob, x.dtype)
        return x * gate

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "survival_prob": self.survival_prob,
            "per_sample": self.per_sample,
            "seed": self.seed,
        }


def linear_survival(unit_index: int, num_units: int, drop_path: float) -> float:
    """Huang et al. 2016's linear decay: p_l = 1 - (l / L) * drop, l = 1..L."""
    return 1.0 - (unit_index / num_units) * drop_path


@keras.saving.register_keras_serializable(package="reszoo")
class ResizeImages(keras.layers.Layer):
    """Bilinear resize to a fixed (height, width) inside a model.

    Keras 3.15's ``keras.layers.Resizing`` (a TFDataLayer) breaks ``model.export``
    on the TensorFlow backend: BatchNormalization layers after it serve wrong
    outputs from the SavedModel while ``.keras`` is fine (reproduced with six
    layers). This plain layer on ``keras.ops.image.resize`` exports correctly.
    """

    def __init__(self, height: int, width: int, interpolation: str = "bilinear", **kwargs):
        super().__init__(**kwargs)
        self.height, self.width, self.interpolation = int(height), int(width), interpolation

    def call(self, x):
        return ops.image.resize(x, (self.height, self.width), interpolation=self.interpolation)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width, "interpolation": self.interpolation}
