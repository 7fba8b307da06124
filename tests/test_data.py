"""reszoo.data: CIFAR through tfds (mocked and from a manual archive, offline), image folders,
synthetic data, the per-image augmentation, hold-out and normalisation statistics."""

import io
import socket
import tarfile

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from reszoo.data import (
    DATASETS,
    DatasetBundle,
    DatasetError,
    channel_mean_std,
    load_dataset,
    normalization_layer,
    random_crop_flip,
)

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR100_FINE = [f"fine_{i:02d}" for i in range(100)]
CIFAR100_COARSE = [f"coarse_{i:02d}" for i in range(20)]


# --------------------------------------------------------------------------- helpers


def epoch(dataset):
    """All (images, labels) of one pass, concatenated."""
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in dataset), strict=True)
    return np.concatenate(images), np.concatenate(labels)


def as_set(images, labels=None):
    """Images (with their labels) as a multiset of byte strings, to compare regardless of order."""
    images = np.asarray(images).astype(np.uint8)
    labels = np.zeros(len(images), int) if labels is None else labels
    return sorted((int(y), x.tobytes()) for x, y in zip(images, labels, strict=True))


def all_crops(image, padding=4):
    """Every crop + flip the standard augmentation can make of one HxWxC image."""
    h, w = image.shape[:2]
    padded = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
    windows = [padded[y : y + h, x : x + w] for y in range(2 * padding + 1) for x in range(2 * padding + 1)]
    return {win.tobytes(): (dy_dx, False) for dy_dx, win in enumerate(windows)} | {
        win[:, ::-1].tobytes(): (dy_dx, True) for dy_dx, win in enumerate(windows)
    }


def write_image(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


# --------------------------------------------------------------------------- CIFAR through tfds


def cifar_records(images, *label_columns):
    """The official CIFAR binary format: label byte(s), then 1024 R, 1024 G, 1024 B bytes."""
    return b"".join(
        bytes(int(col[i]) for col in label_columns) + images[i].transpose(2, 0, 1).tobytes() for i in range(len(images))
    )


def write_tar_gz(path, files):
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def random_split(rng, count, classes):
    return rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8), rng.integers(0, classes, count)


def write_tiny_cifar_archives(manual_dir, rng):
    """cifar-10-binary.tar.gz (5 x 3 train, 5 test) and cifar-100-binary.tar.gz (12 train, 4 test)."""
    c10 = {"train": random_split(rng, 15, 10), "test": random_split(rng, 5, 10)}
    (train_x, train_y), prefix = c10["train"], "cifar-10-batches-bin/"
    files = {
        f"{prefix}data_batch_{i + 1}.bin": cifar_records(train_x[3 * i : 3 * i + 3], train_y[3 * i : 3 * i + 3])
        for i in range(5)
    }
    files[f"{prefix}test_batch.bin"] = cifar_records(*c10["test"])
    files[f"{prefix}batches.meta.txt"] = ("\n".join(CIFAR10_NAMES) + "\n\n").encode()
    write_tar_gz(manual_dir / "cifar-10-binary.tar.gz", files)

    c100 = {"train": random_split(rng, 12, 100), "test": random_split(rng, 4, 100)}
    prefix = "cifar-100-binary/"
    files = {f"{prefix}{split}.bin": cifar_records(images, fine // 5, fine) for split, (images, fine) in c100.items()}
    files[f"{prefix}coarse_label_names.txt"] = "\n".join(CIFAR100_COARSE).encode()
    files[f"{prefix}fine_label_names.txt"] = "\n".join(CIFAR100_FINE).encode()
    write_tar_gz(manual_dir / "cifar-100-binary.tar.gz", files)
    return {"cifar10": c10, "cifar100": c100}


def refuse_network(*args, **kwargs):
    raise OSError("network access refused by the test")


@pytest.fixture(scope="module")
def prepared_cifar(tmp_path_factory):
    """A tfds data_dir prepared offline from tiny archives in downloads/manual, end to end.

    tfds checks a manual archive against the checksum of the official 170 MB file; the only
    stand-in here is that registered checksum, replaced by the tiny archive's own.
    """
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download import checksums

    root = tmp_path_factory.mktemp("tfds")
    manual = root / "downloads" / "manual"
    written = write_tiny_cifar_archives(manual, np.random.default_rng(7))
    url_infos = {
        f"https://www.cs.toronto.edu/~kriz/{archive}": checksums.compute_url_info(manual / archive)
        for archive in ("cifar-10-binary.tar.gz", "cifar-100-binary.tar.gz")
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "create_connection", refuse_network)
        for name in ("cifar10", "cifar100"):
            mp.setattr(tfds.builder_cls(name), "url_infos", url_infos)
        bundles = {name: load_dataset(name, data_dir=str(root), batch_size=4, augment="none") for name in written}
    return root, written, bundles


@pytest.mark.parametrize("name, classes", [("cifar10", 10), ("cifar100", 100)])
def test_cifar_prepared_offline_from_manual_archive(prepared_cifar, name, classes):
    root, written, bundles = prepared_cifar
    bundle = bundles[name]
    (train_x, train_y), (test_x, test_y) = written[name]["train"], written[name]["test"]
    assert (root / name / "3.0.2").is_dir()
    assert (bundle.name, bundle.num_classes, bundle.image_shape) == (name, classes, (32, 32, 3))
    assert bundle.class_names == (CIFAR10_NAMES if name == "cifar10" else CIFAR100_FINE)
    assert (bundle.train_size, bundle.test_size, bundle.val_size) == (len(train_x), len(test_x), 0)
    # every pixel and label of the official binary format arrives (tfds reorders examples)
    assert as_set(*epoch(bundle.train)) == as_set(train_x, train_y)
    assert as_set(*epoch(bundle.test)) == as_set(test_x, test_y)
    np.testing.assert_allclose(bundle.mean, train_x.reshape(-1, 3).astype(np.float64).mean(0), rtol=1e-12)


@pytest.mark.parametrize("name, classes, first", [("cifar10", 10, "airplane"), ("cifar100", 100, "fine_00")])
def test_cifar_with_tfds_mock_data(prepared_cifar, tmp_path, name, classes, first):
    import tensorflow_datasets as tfds

    root = prepared_cifar[0]  # holds the datasets' metadata (class names), as tfds' mocking expects
    with tfds.testing.mock_data(num_examples=40, data_dir=str(root)):
        bundle = load_dataset(name, data_dir=str(tmp_path), batch_size=16, val_split=8, seed=0)
        train = list(bundle.train)
        test = list(bundle.test)
        val = list(bundle.val)
    assert isinstance(bundle, DatasetBundle) and not bundle.synthetic
    assert (bundle.num_classes, bundle.class_names[0], len(bundle.class_names)) == (classes, first, classes)
    assert (bundle.train_size, bundle.val_size, bundle.test_size) == (32, 8, 40)
    assert [len(y) for _, y in train] == [16, 16]
    assert [len(y) for _, y in test] == [16, 16, 8]
    assert [len(y) for _, y in val] == [8]
    images, labels = train[0]
    assert images.shape == (16, 32, 32, 3) and images.dtype == tf.float32
    assert labels.dtype == tf.int32 and 0 <= int(tf.reduce_min(labels)) and int(tf.reduce_max(labels)) < classes
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 255.0
    assert bundle.train.element_spec[0].shape.as_list() == [None, 32, 32, 3]
    assert bundle.mean.shape == bundle.std.shape == (3,)


def test_cifar_with_plain_tfds_mock_data_needs_no_network(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(socket, "create_connection", refuse_network)
    with tfds.testing.mock_data(num_examples=12):  # no metadata: tfds numbers the classes
        bundle = load_dataset("cifar10", data_dir=str(tmp_path), batch_size=8)
        assert [tuple(x.shape) for x, _ in bundle.train] == [(8, 32, 32, 3), (4, 32, 32, 3)]
    assert (bundle.num_classes, bundle.class_names[:2], bundle.train_size) == (10, ["0", "1"], 12)


@pytest.mark.parametrize(
    "name, archive", [("cifar10", "cifar-10-binary.tar.gz"), ("cifar100", "cifar-100-binary.tar.gz")]
)
def test_cifar_offline_without_data_says_how_to_bring_it_in(tmp_path, monkeypatch, name, archive):
    monkeypatch.setattr(socket, "create_connection", refuse_network)
    with pytest.raises(DatasetError) as info:
        load_dataset(name, data_dir=str(tmp_path))
    message = str(info.value)
    assert str(tmp_path) in message and archive in message and "downloads/manual" in message
    assert f"{name}/3.0.2" in message  # or copy a prepared tfds folder
    assert "network access refused by the test" in message
    error = info.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)  # no tfds chain


def test_cifar_failed_download_becomes_dataset_error(tmp_path, monkeypatch):
    import requests
    from tensorflow_datasets.core.download import downloader

    import reszoo.data

    def failing_open(url, **kwargs):
        raise requests.ConnectionError(f"cannot reach {url} (test)")

    monkeypatch.setattr(reszoo.data, "_download_unreachable", lambda url: None)  # the probe says: online
    monkeypatch.setattr(downloader, "_open_url", failing_open)
    with pytest.raises(DatasetError) as info:
        load_dataset("cifar10", data_dir=str(tmp_path))
    message = str(info.value)
    assert str(tmp_path) in message and "cifar-10-binary.tar.gz" in message and "downloads/manual" in message
    assert "ConnectionError" in message and info.value.__cause__ is None and info.value.__suppress_context__


def test_cifar_manual_archive_with_wrong_checksum(tmp_path, monkeypatch):
    monkeypatch.setattr(socket, "create_connection", refuse_network)
    write_tar_gz(tmp_path / "downloads" / "manual" / "cifar-10-binary.tar.gz", {"junk.txt": b"not cifar"})
    with pytest.raises(DatasetError, match="is not the official cifar-10-binary.tar.gz"):
        load_dataset("cifar10", data_dir=str(tmp_path))


# --------------------------------------------------------------------------- folders


@pytest.fixture
def rgb_folder(tmp_path):
    """train: cat x3, dog x2; test: cat x1, dog x2; all 20x24 RGB PNG."""
    rng = np.random.default_rng(1)
    written = {}
    for split, counts in (("train", {"cat": 3, "dog": 2}), ("test", {"cat": 1, "dog": 2})):
        written[split] = ([], [])
        for label, (cls, count) in enumerate(counts.items()):
            for i in range(count):
                image = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
                write_image(tmp_path / split / cls / f"{i}.png", image)
                written[split][0].append(image)
                written[split][1].append(label)
    return tmp_path, written


def test_folder_keeps_classes_size_and_pixels(rgb_folder):
    root, written = rgb_folder
    bundle = load_dataset(f"folder:{root}", batch_size=2, augment="none")
    assert bundle.name == f"folder:{root.resolve()}"
    assert (bundle.class_names, bundle.num_classes, bundle.image_shape) == (["cat", "dog"], 2, (20, 24, 3))
    assert (bundle.train_size, bundle.test_size, bundle.synthetic) == (5, 3, False)
    assert as_set(*epoch(bundle.train)) == as_set(*written["train"])
    test_x, test_y = epoch(bundle.test)
    np.testing.assert_array_equal(test_x, np.stack(written["test"][0]))  # test: fixed order, exact pixels
    np.testing.assert_array_equal(test_y, written["test"][1])


def test_folder_image_size_override_and_grayscale(tmp_path):
    rng = np.random.default_rng(2)
    for split, cls, i in (("train", "a", 0), ("train", "a", 1), ("train", "b", 0), ("test", "b", 0)):
        write_image(tmp_path / split / cls / f"{i}.png", rng.integers(0, 256, (10, 14), dtype=np.uint8))
    gray = load_dataset(f"folder:{tmp_path}", batch_size=4)
    assert gray.image_shape == (10, 14, 1) and gray.mean.shape == (1,)
    assert next(iter(gray.train))[0].shape == (3, 10, 14, 1)
    resized = load_dataset(f"folder:{tmp_path}", batch_size=4, image_size=8)
    assert resized.image_shape == (8, 8, 1)
    assert next(iter(resized.test))[0].shape == (1, 8, 8, 1)


def test_folder_mixed_sizes_follow_first_image_and_test_may_lack_classes(tmp_path):
    write_image(tmp_path / "train" / "a" / "0.png", np.full((12, 16, 3), 10, np.uint8))
    write_image(tmp_path / "train" / "b" / "0.png", np.full((30, 30), 200, np.uint8))  # grayscale, other size
    write_image(tmp_path / "test" / "b" / "0.png", np.full((8, 8, 3), 90, np.uint8))
    bundle = load_dataset(f"folder:{tmp_path}", batch_size=4, augment="none")
    assert bundle.image_shape == (12, 16, 3)  # first image's size; rgb because not all are grayscale
    assert bundle.class_names == ["a", "b"]
    test_x, test_y = epoch(bundle.test)
    assert test_x.shape == (1, 12, 16, 3) and test_y.tolist() == [1]
    np.testing.assert_array_equal(test_x, 90)


@pytest.mark.parametrize(
    "breakage, culprit",
    [
        ("missing_root", ""),
        ("missing_test", "test"),
        ("empty_class", "train/dog"),
        ("text_file", "train/cat/notes.txt"),
        ("corrupt_png", "train/cat/broken.png"),
        ("stray_file", "train/readme.md"),
        ("extra_test_class", "test"),
    ],
)
def test_folder_errors_name_the_path_and_layout(rgb_folder, breakage, culprit):
    import shutil

    root, _ = rgb_folder
    if breakage == "missing_root":
        root = root / "absent"
    elif breakage == "missing_test":
        shutil.rmtree(root / "test")
    elif breakage == "empty_class":
        shutil.rmtree(root / "train" / "dog")
        (root / "train" / "dog").mkdir()
    elif breakage == "text_file":
        (root / "train" / "cat" / "notes.txt").write_text("not an image")
    elif breakage == "corrupt_png":
        (root / "train" / "cat" / "broken.png").write_bytes(b"\x89PNG but not really")
    elif breakage == "stray_file":
        (root / "train" / "readme.md").write_text("hello")
    elif breakage == "extra_test_class":
        write_image(root / "test" / "bird" / "0.png", np.zeros((20, 24, 3), np.uint8))
    with pytest.raises(DatasetError) as info:
        load_dataset(f"folder:{root}")
    message = str(info.value)
    assert str((root / culprit).resolve()) in message
    if breakage != "corrupt_png":
        assert "Expected layout" in message and "DIR/train/<class>/" in message


# --------------------------------------------------------------------------- synthetic


def test_synthetic_sizes_and_name():
    bundle = load_dataset("synthetic", batch_size=128, seed=0)
    assert (bundle.name, bundle.synthetic, bundle.num_classes) == ("synthetic:512", True, 10)
    assert (bundle.train_size, bundle.test_size, bundle.image_shape) == (512, 102, (32, 32, 3))
    assert [len(y) for _, y in bundle.train] == [128] * 4
    small = load_dataset("synthetic:7", batch_size=4)
    assert (small.name, small.train_size, small.test_size) == ("synthetic:7", 7, 1)


def test_synthetic_is_deterministic_with_seed():
    first, second, other = (load_dataset("synthetic:48", batch_size=16, seed=s) for s in (3, 3, 4))
    for split in ("train", "test"):
        a, b, c = (epoch(getattr(bundle, split)) for bundle in (first, second, other))
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        assert not np.array_equal(a[0], c[0])
    np.testing.assert_array_equal(first.mean, second.mean)


def test_train_is_reshuffled_each_epoch_and_one_pass_is_one_epoch():
    bundle = load_dataset("synthetic:40", batch_size=16, augment="none", seed=0)
    (x1, y1), (x2, y2) = epoch(bundle.train), epoch(bundle.train)
    assert len(x1) == len(x2) == 40
    assert as_set(x1, y1) == as_set(x2, y2)
    assert not np.array_equal(x1, x2)


def test_unknown_specs():
    for spec in ("imagenet", "synthetic:abc", "synthetic:0", "folder:", 42):
        with pytest.raises(DatasetError, match="Accepted: cifar10, cifar100|positive integer N"):
            load_dataset(spec)


BAD_ARGUMENTS = [
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=2.5), "batch_size"),
    (dict(augment="autoaugment"), "augment"),
    (dict(image_size=(0, 4)), "image_size"),
    (dict(image_size="32"), "image_size"),
    (dict(val_split=-1), "val_split"),
    (dict(val_split=16), "val_split"),  # synthetic:16 has 16 training images
    (dict(seed="a"), "seed"),
]


def test_bad_arguments_name_argument_and_value():
    # one test, not a parametrization: conftest's per-test Keras reset costs ~1 s each
    for kwargs, arg in BAD_ARGUMENTS:
        with pytest.raises(ValueError, match=f"Received: {arg}=") as info:
            load_dataset("synthetic:16", **kwargs)
        if arg == "augment":
            assert "'standard', 'none'" in str(info.value)


def test_datasets_help_text_lists_every_spec():
    for spec in ("cifar10", "cifar100", "folder:DIR", "synthetic[:N]", "cifar-10-binary.tar.gz"):
        assert spec in DATASETS


# --------------------------------------------------------------------------- augmentation


def test_random_crop_flip_is_per_image_and_exact():
    image = np.random.default_rng(5).integers(1, 256, (32, 32, 3), dtype=np.uint8)
    batch = np.repeat(image[None], 64, axis=0)
    out = random_crop_flip(batch, tf.constant([1, 2], tf.int64)).numpy()
    assert out.shape == batch.shape and out.dtype == np.uint8
    crops = all_crops(image)
    found = [crops.get(o.tobytes()) for o in out]
    assert all(f is not None for f in found)  # each is a shifted (and maybe flipped) copy
    offsets, flips = {f[0] for f in found}, [f[1] for f in found]
    assert len(offsets) >= 25  # 64 draws from 81 offsets: ~45 distinct expected, 1 if shared
    assert 16 <= sum(flips) <= 48
    again = random_crop_flip(batch, tf.constant([1, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(out, again)  # stateless: the seed decides


def test_standard_augmentation_in_the_pipeline(tmp_path):
    image = np.random.default_rng(6).integers(1, 256, (12, 10, 3), dtype=np.uint8)
    for i in range(64):
        write_image(tmp_path / "train" / ("a" if i % 2 else "b") / f"{i:02d}.png", image)  # two classes, one image
    write_image(tmp_path / "test" / "a" / "0.png", image)
    bundle = load_dataset(f"folder:{tmp_path}", batch_size=64, seed=0)
    (first,) = [x.numpy().astype(np.uint8) for x, _ in bundle.train]
    (second,) = [x.numpy().astype(np.uint8) for x, _ in bundle.train]
    crops = all_crops(image)
    assert all(o.tobytes() in crops for o in np.concatenate([first, second]))
    assert len({o.tobytes() for o in first}) >= 20  # independent per image
    assert not np.array_equal(first, second)  # re-drawn every epoch
    test_x, _ = epoch(bundle.test)
    np.testing.assert_array_equal(test_x[0], image)  # test is never augmented
    identity = load_dataset(f"folder:{tmp_path}", batch_size=64, augment="none")
    np.testing.assert_array_equal(epoch(identity.train)[0], np.repeat(image[None], 64, axis=0))


def test_every_pipeline_runs_without_tf_data_autotuning_even_after_augmentation():
    """tf.data's autotuner made every other fit epoch wait for its doubling sleep (reszoo.data.without_autotune):
    the training, validation and test pipelines and what RandAugment, Cutout and MixUp/CutMix build on them
    all run without it."""
    from reszoo import augment

    bundle = load_dataset("synthetic:64", batch_size=16, val_split=16, seed=0)
    datasets = {"train": bundle.train, "val": bundle.val, "test": bundle.test}
    augmented = augment.augment_training_set(
        bundle.train, kind="randaugment", cutout_size=8, fill=bundle.mean, batch_size=16, seed=0
    )
    datasets["augmented"] = augment.mix_training_set(augmented, num_classes=10, mixup=0.2, cutmix=1.0, prob=1.0, seed=0)
    assert {name: d.options().autotune.enabled for name, d in datasets.items()} == dict.fromkeys(datasets, False)
    assert bundle.train.options().autotune.enabled is False and tf.data.Options().autotune.enabled is None


# --------------------------------------------------------------------------- statistics and hold-out


def test_mean_std_match_numpy_on_the_training_split_after_hold_out():
    full = load_dataset("synthetic:60", batch_size=32, augment="none", seed=1)
    held = load_dataset("synthetic:60", batch_size=32, augment="none", val_split=12, seed=1)
    train_x, train_y = epoch(held.train)
    val_x, val_y = epoch(held.val)
    assert (held.train_size, held.val_size, len(train_x), len(val_x)) == (48, 12, 48, 12)
    assert as_set(np.concatenate([train_x, val_x]), np.concatenate([train_y, val_y])) == as_set(*epoch(full.train))
    pixels = train_x.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(held.mean, pixels.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(held.std, pixels.std(axis=0), rtol=1e-12)
    assert not np.allclose(held.mean, full.mean, rtol=1e-6)  # the hold-out is excluded
    again = load_dataset("synthetic:60", batch_size=32, augment="none", val_split=12, seed=1)
    assert as_set(*epoch(again.val)) == as_set(val_x, val_y)  # deterministic with seed


def test_channel_mean_std_is_exact():
    images = np.random.default_rng(3).integers(0, 256, (7, 5, 6, 3), dtype=np.uint8)
    mean, std = channel_mean_std(images)
    pixels = images.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(mean, pixels.mean(0), rtol=1e-14)
    np.testing.assert_allclose(std, pixels.std(0), rtol=1e-13)


def test_normalization_layer():
    bundle = load_dataset("synthetic:20", batch_size=20, augment="none", seed=0)
    layer = normalization_layer(bundle)
    images, _ = next(iter(bundle.train))
    out = np.asarray(layer(images))
    assert layer.name == "normalize"
    np.testing.assert_allclose(out, (images.numpy() - bundle.mean) / bundle.std, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out.reshape(-1, 3).mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.reshape(-1, 3).std(0), 1.0, atol=1e-4)
    explicit = normalization_layer([10.0, 20.0], [2.0, 4.0])
    np.testing.assert_allclose(np.asarray(explicit(np.array([[12.0, 28.0]]))), [[1.0, 2.0]], rtol=1e-6)
    with pytest.raises(ValueError, match="std"):
        normalization_layer(bundle, [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="std"):
        normalization_layer([1.0, 2.0])
