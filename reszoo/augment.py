"""Training-time regularization beyond the papers' crop + flip: Cutout, RandAugment, MixUp, CutMix, label smoothing.

``reszoo.data`` delivers batches that are already cropped and flipped (He et al.
2015, Sec. 4.2); ``augment_training_set`` maps the extra per-image augmentations
on top of them, in the order the later papers use:

1. RandAugment (Cubuk et al. 2020, "RandAugment", Sec. 4.1: applied after the
   standard crop + flip): ``keras.layers.RandAugment`` on raw 0-255 pixels,
   called once per image so every image draws its own two operations (called
   on a batch, Keras draws the operations once for the whole batch).
2. Cutout (DeVries & Taylor 2017, "Improved Regularization of Convolutional
   Neural Networks with Cutout", Sec. 3): one NxN patch per image, its centre
   uniform over the image, clipped at the borders (so a patch near a border is
   smaller). ``keras.layers.RandomErasing`` cannot do this: its patch size is a
   random fraction of the image, its patch never crosses a border, and it
   draws the x and y positions from the same seed. Hence ``cutout`` below.

Label smoothing (Szegedy et al. 2016, Sec. 7) needs one-hot targets in Keras'
``CategoricalCrossentropy``; ``SparseCategoricalCrossentropy`` has no
``label_smoothing``. ``SmoothedSparseCrossentropy`` keeps the integer labels of
every reszoo pipeline (and the sparse ``accuracy`` metric) and one-hot encodes
inside the loss.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from reszoo.training.choices import AUGMENTATIONS

# What reszoo.data applies before the maps here: RandAugment runs after the standard crop + flip.
BASE_AUGMENTATION = {"standard": "standard", "none": "none", "randaugment": "standard"}
# Seed offsets so the maps here draw differently from reszoo.data's shuffle (seed) and crops (seed + 1).
_CUTOUT_SEED_OFFSET = 2
_RANDAUGMENT_SEED_OFFSET = 3


def cutout(images, seed, *, size: int, fill) -> tf.Tensor:
    """One ``size`` x ``size`` patch per image set to ``fill`` (DeVries & Taylor 2017, Sec. 3).

    The patch centre is drawn uniformly over the image, independently for every
    image; the patch covers rows ``[cy - size // 2, cy - size // 2 + size)``
    (likewise columns), clipped at the borders -- the authors' code for their
    even sizes (16 on CIFAR-10, 8 on CIFAR-100), and exactly ``size`` wide for
    odd sizes too.

    Args:
        images: (B, H, W, C) float tensor.
        seed: shape-(2,) integer tensor for the stateless random draws.
        size: int. Patch side in pixels.
        fill: scalar or per-channel (C,) values for the patch. DeVries & Taylor cut
            out *normalized* images (zeros = the mean colour); reszoo normalizes
            inside the model, so training passes the training-set mean here.
    """
    images = tf.convert_to_tensor(images)
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    row_seed, column_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    top = tf.random.stateless_uniform([batch], row_seed, 0, height, dtype=tf.int32) - size // 2
    left = tf.random.stateless_uniform([batch], column_seed, 0, width, dtype=tf.int32) - size // 2
    rows = _inside(tf.range(height), top, size)  # (B, H)
    columns = _inside(tf.range(width), left, size)  # (B, W)
    patch = tf.logical_and(rows[:, :, None], columns[:, None, :])[..., None]  # (B, H, W, 1)
    return tf.where(patch, tf.cast(fill, images.dtype), images)


def _inside(positions, start, size):
    """(B, N) booleans: position n lies in [start_b, start_b + size)."""
    return tf.logical_and(positions[None, :] >= start[:, None], positions[None, :] < start[:, None] + size)


def rand_augment(seed: int | None = None) -> keras.layers.RandAugment:
    """Keras' RandAugment on raw 0-255 pixels, with its defaults (2 operations, magnitude 0.5).

    float32 whatever the global dtype policy: the pipeline's images stay float32 under mixed precision.
    """
    return keras.layers.RandAugment(value_range=(0, 255), seed=seed, dtype="float32")


def augment_training_set(
    dataset: tf.data.Dataset,
    *,
    kind: str = "standard",
    cutout_size: int = 0,
    fill=0.0,
    batch_size: int,
    seed: int | None = None,
) -> tf.data.Dataset:
    """The training pipeline with RandAugment and/or Cutout mapped over ``reszoo.data``'s batches.

    Args:
        dataset: batched (images, labels), raw 0-255 float32 images, already
            cropped and flipped when ``kind`` is ``standard`` or ``randaugment``.
        kind: str. One of ``AUGMENTATIONS``; ``randaugment`` adds RandAugment per image.
        cutout_size: int. Cutout patch side; 0 for none.
        fill: the Cutout fill (the training-set mean colour, see ``cutout``).
        batch_size: int. The batch size of ``dataset`` (RandAugment re-batches).
        seed: int or None. Fixes the draws (every epoch still draws anew).
    """
    if kind not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {', '.join(map(repr, AUGMENTATIONS))}. Received: augment={kind!r}")
    if not isinstance(cutout_size, int) or isinstance(cutout_size, bool) or cutout_size < 0:
        raise ValueError(f"cutout must be a non-negative integer. Received: cutout={cutout_size!r}")
    if kind == "randaugment":
        layer = rand_augment(None if seed is None else seed + _RANDAUGMENT_SEED_OFFSET)
        batches = int(dataset.cardinality())
        dataset = (
            dataset.unbatch()
            .map(lambda image, label: (layer(image, training=True), label), num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch_size)
        )
        if batches >= 0:  # re-batching hides the count; Keras would warn that the input "ran out of data"
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    if cutout_size:
        fill = np.asarray(fill, dtype=np.float32)
        seeds = tf.data.Dataset.random(
            seed=None if seed is None else seed + _CUTOUT_SEED_OFFSET, rerandomize_each_iteration=True
        ).batch(2)
        dataset = tf.data.Dataset.zip(dataset, seeds).map(
            lambda batch, batch_seed: (cutout(batch[0], batch_seed, size=cutout_size, fill=fill), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


@keras.saving.register_keras_serializable(package="reszoo")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy against integer labels smoothed to ``(1 - eps) * one_hot + eps / K``.

    Soft labels (MixUp / CutMix batches, ``(B, K)``) are taken as the target distribution, smoothed
    the same way.

    Equal to ``keras.losses.CategoricalCrossentropy(label_smoothing=eps)`` on
    one-hot labels (it calls ``keras.losses.categorical_crossentropy``), and to
    ``SparseCategoricalCrossentropy`` when ``eps == 0``. Takes probabilities, as
    every reszoo classifier returns them.
    """

    def __init__(self, label_smoothing: float = 0.0, name: str = "smoothed_sparse_crossentropy", **kwargs):
        if not isinstance(label_smoothing, (int, float)) or not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1). Received: label_smoothing={label_smoothing!r}")
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == y_pred.shape[-1]:
            target = keras.ops.cast(y_true, y_pred.dtype)  # MixUp / CutMix soft labels
        else:
            classes = keras.ops.shape(y_pred)[-1]
            labels = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))
            target = keras.ops.one_hot(labels, classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(target, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


# MixUp and CutMix ---------------------------------------------------------------------------------
# Written here rather than with keras.layers.MixUp / CutMix: neither takes a share of images to mix
# (--mix-prob), and Keras' CutMix draws its Beta's alpha anew from U(0, factor) for every batch and keeps the
# box inside the image, where Yun et al. draw lambda ~ Beta(alpha, alpha) and clip a box centred anywhere.
_MIX_SEED_OFFSET = 4


def beta(shape, seed, alpha: float) -> tf.Tensor:
    """Stateless Beta(alpha, alpha) draws: X / (X + Y) for X, Y ~ Gamma(alpha)."""
    x_seed, y_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    x = tf.random.stateless_gamma(shape, x_seed, alpha)
    y = tf.random.stateless_gamma(shape, y_seed, alpha)
    return x / tf.maximum(x + y, 1e-12)


def mix_batch(images, labels, seed, *, num_classes: int, mixup: float = 0.0, cutmix: float = 0.0, prob: float = 1.0):
    """MixUp (Zhang et al. 2018) and CutMix (Yun et al. 2019) per image, with the mixed soft labels.

    Every image ``i`` of the batch draws its own: whether it is mixed (probability ``prob``), with
    both enabled which of the two (half and half), and its lambda ~ Beta(alpha, alpha). Its partner
    is image ``perm[i]`` of one random permutation of the batch. MixUp gives
    ``lam * x_i + (1 - lam) * x_perm[i]``; CutMix pastes the partner's box of side
    ``sqrt(1 - lam)`` times the image's, centred uniformly and clipped at the borders, and lambda
    becomes the share of the image left unpasted. The label is ``lam * onehot_i + (1 - lam) *
    onehot_perm[i]`` (sums to one); an unmixed image keeps its one-hot label.

    Args:
        images: (B, H, W, C) float images (raw 0-255: mixing commutes with the model's normalization).
        labels: (B,) integer labels.
        seed: shape-(2,) integer tensor for the stateless draws.
        num_classes: int. The soft labels' width.
        mixup, cutmix: float. The Beta's alpha of each; 0 disables it.
        prob: float. The share of images mixed.

    Returns:
        (mixed images, (B, num_classes) float32 soft labels).
    """
    images = tf.convert_to_tensor(images, tf.float32)
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    s = tf.unstack(tf.random.experimental.stateless_split(seed, 7))
    partner = tf.argsort(tf.random.stateless_uniform([batch], s[0]))
    mixed = tf.random.stateless_uniform([batch], s[1]) < prob
    if mixup and cutmix:
        use_cutmix = tf.random.stateless_uniform([batch], s[2]) < 0.5
    else:
        use_cutmix = tf.fill([batch], bool(cutmix))
    partner_images = tf.gather(images, partner)
    lam = tf.ones([batch])
    out = images
    if mixup:
        lam_mix = beta([batch], s[3], mixup)
        blend = lam_mix[:, None, None, None] * images + (1.0 - lam_mix[:, None, None, None]) * partner_images
        apply = tf.logical_and(mixed, tf.logical_not(use_cutmix))
        out = tf.where(apply[:, None, None, None], blend, out)
        lam = tf.where(apply, lam_mix, lam)
    if cutmix:
        box, kept = _cutmix_boxes(beta([batch], s[4], cutmix), height, width, s[5], s[6])
        apply = tf.logical_and(mixed, use_cutmix)
        pasted = tf.where(box[..., None], partner_images, images)
        out = tf.where(apply[:, None, None, None], pasted, out)
        lam = tf.where(apply, kept, lam)
    one_hot = tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int32), num_classes)
    soft = lam[:, None] * one_hot + (1.0 - lam[:, None]) * tf.gather(one_hot, partner)
    return out, soft


def _cutmix_boxes(lam, height, width, row_seed, column_seed):
    """((B, H, W) box masks, the share of each image outside its box): Yun et al.'s clipped boxes."""
    batch = tf.shape(lam)[0]
    ratio = tf.sqrt(1.0 - lam)
    cut_h = tf.cast(tf.cast(height, tf.float32) * ratio, tf.int32)
    cut_w = tf.cast(tf.cast(width, tf.float32) * ratio, tf.int32)
    cy = tf.random.stateless_uniform([batch], row_seed, 0, height, dtype=tf.int32)
    cx = tf.random.stateless_uniform([batch], column_seed, 0, width, dtype=tf.int32)
    top, bottom = tf.clip_by_value(cy - cut_h // 2, 0, height), tf.clip_by_value(cy + cut_h // 2, 0, height)
    left, right = tf.clip_by_value(cx - cut_w // 2, 0, width), tf.clip_by_value(cx + cut_w // 2, 0, width)
    rows = tf.logical_and(tf.range(height)[None, :] >= top[:, None], tf.range(height)[None, :] < bottom[:, None])
    cols = tf.logical_and(tf.range(width)[None, :] >= left[:, None], tf.range(width)[None, :] < right[:, None])
    box = tf.logical_and(rows[:, :, None], cols[:, None, :])
    area = tf.cast((bottom - top) * (right - left), tf.float32)
    return box, 1.0 - area / tf.cast(height * width, tf.float32)


def mix_training_set(
    dataset: tf.data.Dataset,
    *,
    num_classes: int,
    mixup: float = 0.0,
    cutmix: float = 0.0,
    prob: float = 1.0,
    seed: int | None = None,
) -> tf.data.Dataset:
    """``mix_batch`` mapped over batched (images, labels): labels become (B, num_classes) soft labels."""
    seeds = tf.data.Dataset.random(
        seed=None if seed is None else seed + _MIX_SEED_OFFSET, rerandomize_each_iteration=True
    ).batch(2)
    return tf.data.Dataset.zip(dataset, seeds).map(
        lambda batch, batch_seed: mix_batch(
            batch[0], batch[1], batch_seed, num_classes=num_classes, mixup=mixup, cutmix=cutmix, prob=prob
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


@keras.saving.register_keras_serializable(package="reszoo", name="mixed_label_accuracy")
def accuracy(y_true, y_pred):
    """Top-1 accuracy against integer labels or (soft, mixed) label distributions: the argmax class counts."""
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == y_pred.shape[-1]:
        y_true = keras.ops.argmax(y_true, axis=-1)
    labels = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))
    predicted = keras.ops.cast(keras.ops.argmax(y_pred, axis=-1), "int32")
    return keras.ops.cast(keras.ops.equal(labels, predicted), "float32")


def accuracy_metric() -> keras.metrics.Metric:
    """``accuracy`` for runs with MixUp / CutMix: soft labels in training, integer labels in evaluation."""
    return keras.metrics.MeanMetricWrapper(accuracy, name="accuracy")
