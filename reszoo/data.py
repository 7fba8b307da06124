"""Training data: CIFAR-10/100 (tensorflow-datasets), image folders and synthetic images,
with the papers' per-image CIFAR augmentation and fast ``tf.data`` pipelines.

``load_dataset(spec)`` returns a ``DatasetBundle``: batched ``tf.data`` pipelines of raw
0-255 float32 NHWC images and int32 labels, plus what the model needs to know (input shape,
classes, the training split's per-channel mean and std). Normalisation is *not* applied in
the pipeline: ``normalization_layer(bundle)`` puts it inside the model, so an exported model
takes raw 0-255 images.

Every split is decoded once into a uint8 array held in memory (CIFAR: 150 MB), which is the
"cache decoded uint8" step: epochs then only gather, augment and cast. Augmentation follows
He et al. 2015 ("Deep Residual Learning", Sec. 4.2) and every CIFAR paper after it: pad 4
pixels with zeros, crop a random HxW window, flip horizontally with probability 1/2 -- drawn
independently for every image.

Examples:
    bundle = load_dataset("synthetic:64", batch_size=16, seed=0)
    images, labels = next(iter(bundle.train))   # (16, 32, 32, 3) float32, (16,) int32
"""

from __future__ import annotations

import dataclasses
import os
import socket
import urllib.parse
import urllib.request
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

AUGMENTATIONS = ("standard", "none")
CROP_PADDING = 4  # pixels of zero padding before the random crop (He et al. 2015, Sec. 4.2)
SYNTHETIC_DEFAULT_SIZE = 512
SYNTHETIC_CLASSES = 10
SYNTHETIC_IMAGE_SIZE = (32, 32)
# What keras.utils.image_dataset_from_directory decodes; anything else in a class folder is an error.
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
GRAYSCALE_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
DOWNLOAD_PROBE_TIMEOUT_S = 5.0
_LOAD_BATCH = 4096  # images per step when materialising a split into a numpy array

CIFAR_ARCHIVES = {
    "cifar10": "cifar-10-binary.tar.gz",
    "cifar100": "cifar-100-binary.tar.gz",
}
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/"

FOLDER_LAYOUT = (
    "DIR/train/<class>/<image>.png|jpg|jpeg|bmp|gif and DIR/test/<class>/<image>..., "
    "one folder per class (test/ uses the class folders of train/)"
)

DATASETS = (
    "cifar10, cifar100: through tensorflow-datasets in --data-dir (offline: put the official "
    "cifar-10-binary.tar.gz / cifar-100-binary.tar.gz in <data-dir>/downloads/manual/); "
    f"folder:DIR: your images, laid out as {FOLDER_LAYOUT}; "
    f"synthetic[:N]: N (default {SYNTHETIC_DEFAULT_SIZE}) random 32x32 RGB images in "
    f"{SYNTHETIC_CLASSES} classes, for smoke tests and benchmarks"
)


class DatasetError(ValueError):
    """The data cannot be loaded: missing folder, CIFAR absent offline, unreadable image, bad spec."""


@dataclasses.dataclass
class DatasetBundle:
    """Batched pipelines plus what the model and the logs need to know about the data."""

    name: str
    train: tf.data.Dataset
    test: tf.data.Dataset
    val: tf.data.Dataset | None
    num_classes: int
    class_names: list[str]
    image_shape: tuple[int, int, int]
    mean: np.ndarray
    std: np.ndarray
    train_size: int
    test_size: int
    val_size: int
    synthetic: bool

    def info(self) -> DatasetInfo:
        """The loaded data's ``DatasetInfo``, as ``describe`` gives it before loading."""
        return DatasetInfo(
            name=self.name,
            train_size=self.train_size,
            test_size=self.test_size,
            val_size=self.val_size or 0,
            num_classes=self.num_classes,
            class_names=tuple(self.class_names),
            image_shape=(int(self.image_shape[0]), int(self.image_shape[1]), int(self.image_shape[2])),
        )


@dataclasses.dataclass
class _Source:
    """Decoded splits as uint8 NHWC images and int32 labels, before hold-out and batching."""

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: list[str]
    synthetic: bool = False


# --------------------------------------------------------------------------- public API


def load_dataset(
    spec: str,
    *,
    data_dir: str | None = None,
    batch_size: int = 128,
    image_size: tuple[int, int] | int | None = None,
    augment: str = "standard",
    val_split: int = 0,
    seed: int | None = None,
) -> DatasetBundle:
    """Load a dataset by spec (see ``DATASETS``) into batched ``tf.data`` pipelines.

    Args:
        spec: str. ``"cifar10"``, ``"cifar100"``, ``"folder:DIR"``, ``"synthetic"`` or ``"synthetic:N"``.
        data_dir: str. tensorflow-datasets' data_dir for CIFAR. Defaults to tfds' own
            (``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).
        batch_size: int. Images per batch of every split. Defaults to 128.
        image_size: int or (height, width). The model's input size; images are resized to it.
            Defaults to the data's own size.
        augment: str. ``"standard"`` (4-px zero pad, random crop, random flip, per image) or
            ``"none"``. Defaults to ``"standard"``.
        val_split: int. Training images held out (at random, fixed by ``seed``) as ``val``.
            Defaults to 0 (no ``val``).
        seed: int. Fixes shuffling, augmentation, the hold-out and synthetic data.

    Returns:
        A ``DatasetBundle``. Its ``train`` is reshuffled and re-augmented every epoch.
    """
    batch_size = _check_positive_int("batch_size", batch_size)
    size = _check_image_size(image_size)
    if augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {', '.join(map(repr, AUGMENTATIONS))}. Received: augment={augment!r}")
    if not isinstance(val_split, int) or isinstance(val_split, bool) or val_split < 0:
        raise ValueError(f"val_split must be a non-negative integer. Received: val_split={val_split!r}")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ValueError(f"seed must be an integer or None. Received: seed={seed!r}")

    source = _load_source(spec, data_dir=data_dir, image_size=size, seed=seed)
    if size is not None:
        source.train_images = _resize_uint8(source.train_images, size)
        source.test_images = _resize_uint8(source.test_images, size)
    train_images, train_labels, val_images, val_labels = _hold_out(
        source.train_images, source.train_labels, val_split, seed
    )
    mean, std = channel_mean_std(train_images)
    return DatasetBundle(
        name=source.name,
        train=_train_pipeline(train_images, train_labels, batch_size, augment, seed),
        test=_eval_pipeline(source.test_images, source.test_labels, batch_size),
        val=_eval_pipeline(val_images, val_labels, batch_size) if val_split else None,
        num_classes=len(source.class_names),
        class_names=list(source.class_names),
        image_shape=tuple(int(d) for d in train_images.shape[1:]),
        mean=mean,
        std=std,
        train_size=len(train_images),
        test_size=len(source.test_images),
        val_size=len(val_images),
        synthetic=source.synthetic,
    )


CIFAR_SIZES = {"cifar10": (50_000, 10_000, 10), "cifar100": (50_000, 10_000, 100)}  # train, test, classes
CIFAR10_CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a run needs to know about its data before loading it: sizes, classes, image shape.

    ``class_names`` is empty where it is not known without the data (CIFAR-100's names live
    in tensorflow-datasets' metadata).
    """

    name: str
    train_size: int
    test_size: int
    val_size: int
    num_classes: int
    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]


def describe(spec: str, data_dir=None, image_size=None, val_split: int = 0) -> DatasetInfo:
    """Sizes and classes of ``spec`` without decoding its images.

    CIFAR gives known constants, ``synthetic:N`` its own arithmetic (as ``load_dataset``),
    and a folder counts the files in its class folders and reads one image header. The train
    size is what is left after ``val_split`` images are held out, as in ``load_dataset``.

    Examples:
        describe("synthetic:64").train_size   # 64
        describe("cifar10", val_split=5000).train_size   # 45000
    """
    if not isinstance(spec, str):
        raise DatasetError(f"The dataset spec must be a string. Received: {spec!r}. Accepted: {DATASETS}")
    size = _check_image_size(image_size)
    kind, _, argument = spec.partition(":")
    if spec in CIFAR_SIZES:
        train, test, classes = CIFAR_SIZES[spec]
        names = CIFAR10_CLASS_NAMES if spec == "cifar10" else ()
        name, shape = spec, (*(size or (32, 32)), 3)
    elif kind == "folder" and argument:
        name, train, test, names, shape = _describe_folder(argument, size)
        classes = len(names)
    elif kind == "synthetic":
        if argument and not (argument.isdigit() and int(argument) > 0):
            raise DatasetError(f"synthetic:N needs a positive integer N. Received: 'synthetic:{argument}'")
        train = int(argument) if argument else SYNTHETIC_DEFAULT_SIZE
        test, classes = max(1, train // 5), SYNTHETIC_CLASSES
        names = tuple(f"class_{i}" for i in range(SYNTHETIC_CLASSES))
        name, shape = f"synthetic:{train}", (*(size or SYNTHETIC_IMAGE_SIZE), 3)
    else:
        raise DatasetError(f"Unknown dataset spec {spec!r}. Accepted: {DATASETS}")
    if val_split and val_split >= train:
        raise ValueError(
            f"val_split must be smaller than the training split ({train} images). Received: val_split={val_split}"
        )
    return DatasetInfo(name, train - val_split, test, val_split, classes, tuple(names), tuple(shape))


def _describe_folder(directory: str, image_size):
    """(name, train files, test files, class names, image shape) of a class-folder dataset."""
    root = Path(directory).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(f"Dataset folder {root} does not exist. Expected layout: {FOLDER_LAYOUT}")
    train_classes, test_classes = _class_folders(root / "train"), _class_folders(root / "test")
    (width, height), mode = _image_header(next(iter(train_classes.values()))[0])
    channels = 1 if mode in GRAYSCALE_MODES else 3
    shape = (*(image_size or (height, width)), channels)
    count = lambda classes: sum(len(files) for files in classes.values())  # noqa: E731
    return f"folder:{root}", count(train_classes), count(test_classes), tuple(sorted(train_classes)), shape


def normalization_layer(bundle_or_mean, std=None) -> keras.layers.Normalization:
    """A ``Normalization`` layer (named ``normalize``) for the first layer of a model.

    Takes a ``DatasetBundle``, or a per-channel mean and std on the 0-255 scale.
    """
    if isinstance(bundle_or_mean, DatasetBundle):
        if std is not None:
            raise ValueError(f"std comes from the bundle; pass no std with a bundle. Received: std={std!r}")
        mean, std = bundle_or_mean.mean, bundle_or_mean.std
    else:
        if std is None:
            raise ValueError("std is required when the first argument is a mean. Received: std=None")
        mean = bundle_or_mean
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    if mean.shape != std.shape or mean.ndim != 1:
        raise ValueError(
            f"mean and std must be per-channel vectors of equal length. "
            f"Received: mean.shape={mean.shape}, std.shape={std.shape}"
        )
    return keras.layers.Normalization(mean=mean, variance=std**2, name="normalize")


def channel_mean_std(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (population) std of uint8 NHWC images, in float64, exactly.

    Counts the 256 pixel values per channel (``np.bincount``) and takes the moments of that
    histogram: exact, and O(1) memory beyond one channel, where ``images.astype(float64)``
    would need 1.2 GB for CIFAR's 50,000 images.
    """
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8. Received: images.dtype={images.dtype}")
    values = np.arange(256, dtype=np.float64)
    means, stds = [], []
    for channel in range(images.shape[-1]):
        counts = np.bincount(images[..., channel].ravel(), minlength=256).astype(np.float64)
        total = counts.sum()
        mean = (counts * values).sum() / total
        means.append(mean)
        stds.append(np.sqrt((counts * (values - mean) ** 2).sum() / total))
    return np.array(means), np.array(stds)


def random_crop_flip(images, seed, *, padding: int = CROP_PADDING) -> tf.Tensor:
    """The papers' CIFAR augmentation on a batch, drawn independently for every image.

    Zero-pads ``padding`` pixels on each side, crops an HxW window at a random offset per
    image and flips it horizontally with probability 1/2 (He et al. 2015, Sec. 4.2).
    ``keras.layers.RandomCrop`` is no substitute: Keras 3 draws ONE offset per call, so a
    whole batch would share the same shift -- not the papers' augmentation. Written as two
    batched ``tf.gather``s (rows, then columns; the flip is folded into the column indices),
    so a batch costs two gathers instead of one crop op per image.

    Args:
        images: (B, H, W, C) tensor of any dtype.
        seed: shape-(2,) integer tensor for the stateless random ops.
        padding: int. Zero pixels added on every side before cropping.
    """
    images = tf.convert_to_tensor(images)
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    padded = tf.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]])
    offset_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    offsets = tf.random.stateless_uniform([2, batch], offset_seed, 0, 2 * padding + 1, dtype=tf.int32)
    flip = tf.random.stateless_uniform([batch], flip_seed, 0, 2, dtype=tf.int32) > 0
    rows = offsets[0][:, None] + tf.range(height)[None, :]
    columns = tf.where(flip[:, None], tf.range(width - 1, -1, -1)[None, :], tf.range(width)[None, :])
    columns = offsets[1][:, None] + columns
    cropped = tf.gather(padded, rows, axis=1, batch_dims=1)
    cropped = tf.gather(cropped, columns, axis=2, batch_dims=1)
    cropped.set_shape(images.shape)  # the gathers lose the static H, W that Keras can use
    return cropped


# --------------------------------------------------------------------------- pipelines


def without_autotune(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``dataset`` with tf.data's autotuning off (``tf.data.Options().autotune.enabled = False``), which the
    datasets built on it inherit.

    Why: the autotuner's thread sleeps 10 ms, 20 ms, 40 ms, ... (doubling up to 60 s) between its passes, and
    an iterator's destructor waits until that sleep is over (TensorFlow 2.21). Keras' ``fit`` makes a new
    iterator every epoch and every evaluation, so in about half the epochs measured the epoch lasted until the
    next 10 ms x 2^k after its iterator was made: a 3.4 s epoch took 5.12 s, a 7 s one 10.24 s, a 14 s one 20.48 s,
    the cores idle meanwhile (``python -m reszoo.bench fit``; benchmarks/RESULTS.md, section 9). Without the
    autotuner, ``AUTOTUNE`` means one parallel call per core, and the pipeline still delivers far more than
    training takes (``bench pipeline``).
    """
    return with_autotune(dataset, enabled=False)


def with_autotune(dataset: tf.data.Dataset, *, enabled: bool) -> tf.data.Dataset:
    """``dataset`` with tf.data's autotuner on or off (``bench fit --with-autotune`` turns it back on)."""
    options = tf.data.Options()
    options.autotune.enabled = enabled
    return dataset.with_options(options)


def _train_pipeline(images, labels, batch_size, augment, seed) -> tf.data.Dataset:
    """Shuffled (every epoch) batches of augmented images; one pass is one epoch.

    Shuffles indices, not images (no 150 MB shuffle buffer), gathers each batch from the
    in-memory uint8 array and augments the whole batch at once. Measured on the project's
    2-core CPU machine (TF 2.21, 32x32x3, batch 128, 20k images; CPU time, because other jobs
    shared the cores): this pipeline delivers ~34-39k augmented images per CPU-second; a
    per-image parallel map of ``tf.image.stateless_random_crop`` + flip before batching
    ~8.5k; the same pipeline without augmentation ~95-119k. ``crop_and_resize`` with nearest
    sampling was within noise (~41k) but exact only up to float rounding at the border.
    """
    images_t = tf.convert_to_tensor(images)
    labels_t = tf.convert_to_tensor(labels, dtype=tf.int32)
    order = (
        tf.data.Dataset.range(len(images))
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )
    # One stateless seed per batch, different every epoch, reproducible when `seed` is set.
    seeds = tf.data.Dataset.random(seed=None if seed is None else seed + 1, rerandomize_each_iteration=True).batch(2)

    def gather_and_augment(indices, batch_seed):
        batch = tf.gather(images_t, indices)
        if augment == "standard":
            batch = random_crop_flip(batch, batch_seed)
        return tf.cast(batch, tf.float32), tf.gather(labels_t, indices)

    return without_autotune(
        tf.data.Dataset.zip(order, seeds)
        .map(gather_and_augment, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def _eval_pipeline(images, labels, batch_size) -> tf.data.Dataset:
    """Batches in a fixed order, not augmented."""
    return without_autotune(
        tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
        .batch(batch_size)
        .map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def _hold_out(images, labels, count, seed):
    """Split ``count`` random training images off as a validation set."""
    if count >= len(images):
        raise ValueError(
            f"val_split must be smaller than the training split ({len(images)} images). Received: val_split={count}"
        )
    order = np.random.default_rng(seed).permutation(len(images))
    val, train = np.sort(order[:count]), np.sort(order[count:])
    return images[train], labels[train], images[val], labels[val]


def _resize_uint8(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize to ``size`` (no-op when already that size), chunked to bound memory."""
    if images.shape[1:3] == tuple(size):
        return images
    chunks = [
        np.clip(np.round(tf.image.resize(images[i : i + _LOAD_BATCH], size).numpy()), 0, 255).astype(np.uint8)
        for i in range(0, len(images), _LOAD_BATCH)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, *size, images.shape[-1]), np.uint8)


# --------------------------------------------------------------------------- argument checks


def _check_positive_int(arg, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{arg} must be a positive integer. Received: {arg}={value!r}")
    return value


def _check_image_size(image_size) -> tuple[int, int] | None:
    if image_size is None:
        return None
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    ok = isinstance(image_size, (tuple, list)) and len(image_size) == 2
    ok = ok and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in image_size)
    if not ok:
        raise ValueError(
            "image_size must be a positive integer or a (height, width) pair of them. "
            f"Received: image_size={image_size!r}"
        )
    return tuple(image_size)


# --------------------------------------------------------------------------- sources


def _load_source(spec, *, data_dir, image_size, seed) -> _Source:
    if not isinstance(spec, str):
        raise DatasetError(f"The dataset spec must be a string. Received: {spec!r}. Accepted: {DATASETS}")
    kind, _, argument = spec.partition(":")
    if spec in CIFAR_ARCHIVES:
        return _load_cifar(spec, data_dir)
    if kind == "folder" and argument:
        return _load_folder(argument, image_size)
    if kind == "synthetic":
        return _load_synthetic(argument, image_size or SYNTHETIC_IMAGE_SIZE, seed)
    raise DatasetError(f"Unknown dataset spec {spec!r}. Accepted: {DATASETS}")


def _load_synthetic(argument: str, image_size, seed) -> _Source:
    """``N`` images of 10 classes: per class a colour and a texture, plus Gaussian noise per image.

    The class colour makes the task learnable even after global pooling (loss falls within
    an epoch or two) while the data stay trivially cheap. The images depend only on ``seed``
    (None means 0), so a name always means the same data.
    """
    if argument and not (argument.isdigit() and int(argument) > 0):
        raise DatasetError(f"synthetic:N needs a positive integer N. Received: 'synthetic:{argument}'")
    count = int(argument) if argument else SYNTHETIC_DEFAULT_SIZE
    rng = np.random.default_rng(0 if seed is None else seed)
    colours = rng.uniform(40, 215, size=(SYNTHETIC_CLASSES, 1, 1, 3))
    textures = rng.uniform(-30, 30, size=(SYNTHETIC_CLASSES, *image_size, 3))
    patterns = (colours + textures).astype(np.float32)

    def split(n):
        labels = rng.permutation(np.arange(n) % SYNTHETIC_CLASSES).astype(np.int32)
        images = np.empty((n, *image_size, 3), np.uint8)
        for start in range(0, n, _LOAD_BATCH):  # chunks bound the float32 noise to ~50 MB
            chunk = labels[start : start + _LOAD_BATCH]
            noise = rng.standard_normal((len(chunk), *image_size, 3), dtype=np.float32) * 30
            images[start : start + len(chunk)] = np.clip(np.rint(patterns[chunk] + noise), 0, 255)
        return images, labels

    train_images, train_labels = split(count)
    test_images, test_labels = split(max(1, count // 5))
    return _Source(
        name=f"synthetic:{count}",
        train_images=train_images,
        train_labels=train_labels,
        test_images=test_images,
        test_labels=test_labels,
        class_names=[f"class_{i}" for i in range(SYNTHETIC_CLASSES)],
        synthetic=True,
    )


# ---- CIFAR through tensorflow-datasets


def _load_cifar(name: str, data_dir) -> _Source:
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    _prepare_cifar(builder, name)
    train_images, train_labels = _tfds_split_arrays(builder, "train")
    test_images, test_labels = _tfds_split_arrays(builder, "test")
    return _Source(
        name=name,
        train_images=train_images,
        train_labels=train_labels,
        test_images=test_images,
        test_labels=test_labels,
        class_names=list(builder.info.features["label"].names),
    )


def _prepare_cifar(builder, name: str) -> None:
    """Make sure tfds has the prepared dataset, from a manual archive or by downloading.

    tfds itself picks up ``<data_dir>/downloads/manual/<archive>``: its DownloadManager looks
    for the URL's file name in ``manual_dir`` before downloading, and checks it against the
    checksum tfds registers for the official archive (so the official file is needed; a
    different one raises NonMatchingChecksumError, reported below). Offline, tfds' downloader
    would retry with exponential back-off for about 200 s before failing, hence the quick
    connection probe first.
    """
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

    if builder.data_path.exists():
        return
    root = Path(os.fspath(builder.data_dir_root))
    manual_dir = root / "downloads" / "manual"
    archive = manual_dir / CIFAR_ARCHIVES[name]
    if not archive.exists() and not _downloads_mocked(builder):
        unreachable = _download_unreachable(CIFAR_URL + CIFAR_ARCHIVES[name])
        if unreachable:
            raise DatasetError(_cifar_missing_message(builder, name, f"cannot download: {unreachable}"))
    config = tfds.download.DownloadConfig(manual_dir=os.fspath(manual_dir), try_download_gcs=False)
    try:
        builder.download_and_prepare(download_config=config)
    except NonMatchingChecksumError:
        raise DatasetError(
            f"{archive} is not the official {CIFAR_ARCHIVES[name]} (its checksum differs from the "
            f"one tensorflow-datasets expects). Replace it with the file from {CIFAR_URL}."
        ) from None
    except Exception as exc:  # any failure to download/prepare becomes one readable error
        cause = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        raise DatasetError(_cifar_missing_message(builder, name, cause)) from None


def _downloads_mocked(builder) -> bool:
    """True under ``tfds.testing.mock_data``, whose download_and_prepare downloads nothing."""
    return type(builder).download_and_prepare.__module__.startswith("tensorflow_datasets.testing")


def _download_unreachable(url: str) -> str | None:
    """Why ``url``'s host cannot be reached right now, or None if it can (or a proxy is set)."""
    scheme = urllib.parse.urlsplit(url).scheme
    if urllib.request.getproxies().get(scheme):
        return None  # the proxy decides; let tfds try
    host = urllib.parse.urlsplit(url).hostname
    try:
        socket.create_connection((host, 443), timeout=DOWNLOAD_PROBE_TIMEOUT_S).close()
    except OSError as exc:
        return f"{host} unreachable ({exc})"
    return None


def _cifar_missing_message(builder, name: str, cause: str) -> str:
    root = Path(os.fspath(builder.data_dir_root))
    archive = CIFAR_ARCHIVES[name]
    version = f"{name}/{builder.version}"
    return (
        f"{name} is not prepared in the tensorflow-datasets data_dir {root} and could not be "
        f"prepared ({cause}).\n"
        f"To bring it in, either:\n"
        f"  1. download {CIFAR_URL}{archive} elsewhere and copy it to {root / 'downloads' / 'manual' / archive} "
        f"(folder downloads/manual inside the data_dir), then run again: tfds prepares it offline; or\n"
        f"  2. copy a prepared tfds folder {version}/ (e.g. from ~/tensorflow_datasets on a machine "
        f"that has it) to {root / version}; or\n"
        f"  3. pass --data-dir pointing to a data_dir that already holds {version}/."
    )


def _tfds_split_arrays(builder, split: str) -> tuple[np.ndarray, np.ndarray]:
    dataset = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
    images, labels = [], []
    for batch_images, batch_labels in dataset.batch(_LOAD_BATCH).as_numpy_iterator():
        images.append(batch_images)
        labels.append(batch_labels)
    return np.concatenate(images).astype(np.uint8), np.concatenate(labels).astype(np.int32)


# ---- image folders


def _load_folder(directory: str, image_size) -> _Source:
    root = Path(directory).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(f"Dataset folder {root} does not exist. Expected layout: {FOLDER_LAYOUT}")
    train_classes = _class_folders(root / "train")
    test_classes = _class_folders(root / "test")
    extra = sorted(set(test_classes) - set(train_classes))
    if extra:
        raise DatasetError(
            f"{root / 'test'} has classes that {root / 'train'} lacks: {extra}. Expected layout: {FOLDER_LAYOUT}"
        )
    class_names = sorted(train_classes)
    files = [f for classes in (train_classes, test_classes) for c in sorted(classes) for f in classes[c]]
    sizes, modes = zip(*(_image_header(path) for path in files), strict=True)
    if image_size is None:
        width, height = sizes[0]  # all images share it, or the first one decides (the rest are resized)
        image_size = (height, width)
    color_mode = "grayscale" if all(mode in GRAYSCALE_MODES for mode in modes) else "rgb"
    train_images, train_labels = _read_images(root / "train", class_names, class_names, color_mode, image_size)
    test_images, test_labels = _read_images(root / "test", sorted(test_classes), class_names, color_mode, image_size)
    return _Source(
        name=f"folder:{root}",
        train_images=train_images,
        train_labels=train_labels,
        test_images=test_images,
        test_labels=test_labels,
        class_names=class_names,
    )


def _class_folders(split_dir: Path) -> dict[str, list[Path]]:
    """{class name: image files} of one split folder, rejecting anything off the layout."""
    if not split_dir.is_dir():
        raise DatasetError(f"Missing folder {split_dir}. Expected layout: {FOLDER_LAYOUT}")
    classes = {}
    for entry in sorted(split_dir.iterdir()):
        if entry.name.startswith("."):
            continue  # .DS_Store and friends
        if not entry.is_dir():
            raise DatasetError(f"{entry} is a file where a class folder belongs. Expected layout: {FOLDER_LAYOUT}")
        files = sorted(f for f in entry.rglob("*") if f.is_file() and not f.name.startswith("."))
        if not files:
            raise DatasetError(f"Class folder {entry} holds no images. Expected layout: {FOLDER_LAYOUT}")
        classes[entry.name] = files
    if not classes:
        raise DatasetError(f"{split_dir} has no class folders. Expected layout: {FOLDER_LAYOUT}")
    if split_dir.name == "train" and len(classes) == 1:
        raise DatasetError(
            f"{split_dir} has one class folder ({next(iter(classes))}); a classifier needs at least 2. "
            f"Expected layout: {FOLDER_LAYOUT}"
        )
    return classes


def _image_header(path: Path) -> tuple[tuple[int, int], str]:
    """(width, height) and PIL mode of an image file, or a DatasetError naming the file."""
    from PIL import Image, UnidentifiedImageError

    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise DatasetError(
            f"{path} is not an image file (allowed: {', '.join(IMAGE_SUFFIXES)}). Expected layout: {FOLDER_LAYOUT}"
        )
    try:
        with Image.open(path) as image:
            image.verify()
            return image.size, image.mode
    except (OSError, UnidentifiedImageError, SyntaxError) as exc:
        raise DatasetError(f"{path} is not a readable image ({exc}).") from None


def _read_images(split_dir: Path, split_classes, class_names, color_mode, image_size):
    """Decode one split with keras' directory loader into uint8 images and labels (sorted, unshuffled).

    Keras numbers the split's own class folders; labels are mapped to indices into
    ``class_names`` (the training classes) so that a test split may lack some classes.
    """
    label_ids = np.array([class_names.index(name) for name in split_classes], dtype=np.int32)
    dataset = keras.utils.image_dataset_from_directory(
        os.fspath(split_dir),
        labels="inferred",
        label_mode="int",
        class_names=split_classes,
        color_mode=color_mode,
        batch_size=256,
        image_size=image_size,
        shuffle=False,
        verbose=False,
    )
    images, labels = [], []
    for batch_images, batch_labels in dataset.as_numpy_iterator():
        images.append(np.clip(np.round(batch_images), 0, 255).astype(np.uint8))
        labels.append(label_ids[batch_labels])
    return np.concatenate(images), np.concatenate(labels)
