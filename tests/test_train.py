"""Training: schedules, the epoch timer, argument validation, distributed runs and the CLI end to end."""

from __future__ import annotations

import csv
import doctest
import hashlib
import itertools
import json
import math
import os
import re
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import reszoo
from reszoo import augment, data, recipes, schedules, train
from reszoo.callbacks import EpochTimer
from reszoo.training import loop
from reszoo.training.config import builder_arguments

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--model", "fast_resnet", "--set", "depth=8"]


# Schedules -------------------------------------------------------------------------------


def test_step_schedule_is_the_fastresnet_recipe():
    schedule = schedules.make_schedule("step", lr=0.1, epochs=160, milestones=(80, 120))
    rates = [schedule(epoch) for epoch in range(160)]
    assert rates[:80] == pytest.approx([0.1] * 80)
    assert rates[80:120] == pytest.approx([0.01] * 40)
    assert rates[120:] == pytest.approx([0.001] * 40)
    assert schedule(79, 0.5) == pytest.approx(0.1)  # the Keras (epoch, lr) call form ignores lr


def test_step_schedule_with_gamma_and_linear_warmup():
    schedule = schedules.make_schedule(
        "step", lr=0.1, epochs=200, milestones=(60, 120, 160), gamma=0.2, warmup_epochs=4
    )
    assert [schedule(e) for e in range(5)] == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1])
    assert [schedule(e) for e in (59, 60, 120, 160, 199)] == pytest.approx([0.1, 0.02, 0.004, 0.0008, 0.0008])


def test_cosine_schedule_endpoints_and_midpoint():
    schedule = schedules.make_schedule("cosine", lr=0.2, epochs=100)
    assert schedule(0) == pytest.approx(0.2)
    assert schedule(50) == pytest.approx(0.1)
    assert schedule(99) == pytest.approx(0.1 * (1 + math.cos(math.pi * 99 / 100)))
    assert 0 < schedule(99) < 1e-4
    assert schedules.cosine_schedule(0.2, 100)(100) == pytest.approx(0.0)
    rates = [schedule(e) for e in range(100)]
    assert all(a > b for a, b in itertools.pairwise(rates))


def test_cosine_schedule_after_warmup_starts_at_the_peak():
    schedule = schedules.make_schedule("cosine", lr=0.4, epochs=12, warmup_epochs=2)
    assert [schedule(e) for e in (0, 1, 2)] == pytest.approx([0.4 / 3, 0.8 / 3, 0.4])
    assert schedule(7) == pytest.approx(0.2)  # halfway through the 10 cosine epochs


def test_milestones_scale_with_the_run_length():
    assert schedules.scale_milestones((80, 120), 160, 160) == (80, 120)
    assert schedules.scale_milestones((80, 120), 160, 40) == (20, 30)
    assert schedules.scale_milestones((82, 123), 164, 164) == (82, 123)
    assert schedules.scale_milestones((80, 120), 160, 2) == (1,)
    assert schedules.scale_milestones((80, 120), 160, 1) == ()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(milestones=(80, 80)), r"strictly increasing. Received: milestones=\[80, 80\]"),
        (dict(milestones=(80, 160)), r"lie in \[1, epochs - 1\] = \[1, 159\].*milestones=\[80, 160\] with epochs=160"),
        (dict(milestones=(80,), warmup_epochs=160), r"warmup_epochs must be an integer in \[0, epochs - 1\]"),
        (dict(milestones=(80,), gamma=2.0), r"gamma must be in \(0, 1\]. Received: gamma=2.0"),
    ],
)
def test_make_schedule_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        schedules.make_schedule("step", lr=0.1, epochs=160, **kwargs)


def test_schedule_docstring_examples_run():
    result = doctest.testmod(schedules)
    assert result.attempted >= 4 and result.failed == 0


def test_constant_warmup_is_he_et_al_s():
    schedule = schedules.make_schedule(
        "step", lr=0.1, epochs=164, milestones=(82, 123), warmup_epochs=1, warmup_lr=0.01
    )
    assert [schedule(e) for e in (0, 1, 81, 82, 123)] == pytest.approx([0.01, 0.1, 0.1, 0.01, 0.001])


# The epoch timer -----------------------------------------------------------------------------


class FakeClock:
    def __init__(self, *times):
        self.times = list(times)

    def __call__(self):
        return self.times.pop(0)


def test_epoch_timer_stops_when_evaluation_begins():
    timer = EpochTimer(clock=FakeClock(10.0, 13.0, 20.0, 21.5))
    timer.on_train_begin()
    logs = {}
    timer.on_epoch_begin(0)
    timer.on_test_begin()  # t=13: evaluation starts, training time 3 s
    timer.on_test_begin()  # a second evaluation in the same epoch does not move the stop
    timer.on_epoch_end(0, logs)
    assert logs == {"epoch_seconds": 3.0}
    timer.on_epoch_begin(1)  # t=20, no evaluation: stops at epoch end, t=21.5
    timer.on_epoch_end(1, logs)
    assert logs["epoch_seconds"] == 1.5
    assert timer.epoch_seconds == [3.0, 1.5]


def test_epoch_timer_excludes_slow_evaluation_from_fit(tmp_path):
    sleep = 0.3

    class SlowEvaluationAndWallClock(keras.callbacks.Callback):
        """Sleeps in every evaluation batch and measures each whole epoch, evaluation included."""

        def __init__(self):
            super().__init__()
            self.walls = []

        def on_epoch_begin(self, epoch, logs=None):
            self.begun = time.perf_counter()

        def on_test_batch_end(self, batch, logs=None):
            time.sleep(sleep)

        def on_epoch_end(self, epoch, logs=None):
            self.walls.append(time.perf_counter() - self.begun)

    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer, slow = EpochTimer(), SlowEvaluationAndWallClock()
    path = str(tmp_path / "history.csv")
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        validation_data=(x[:8], y[:8]),
        verbose=0,
        callbacks=[timer, slow, keras.callbacks.CSVLogger(path)],
    )
    assert len(timer.epoch_seconds) == 2
    for training, whole in zip(timer.epoch_seconds, slow.walls, strict=True):
        assert 0 < training <= whole - sleep  # the slow evaluation batch is not counted
    assert history.history["epoch_seconds"] == timer.epoch_seconds
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [float(r["epoch_seconds"]) for r in rows] == pytest.approx(timer.epoch_seconds)


# Argument resolution -----------------------------------------------------------------------


def test_defaults_are_the_fastresnet_recipe_on_cifar10():
    args = train.resolve(train.parse_args([]))
    assert (args.model, args.dataset, args.epochs, args.batch_size, args.lr, args.schedule) == (
        "fast_resnet20",
        "cifar10",
        160,
        128,
        0.1,
        "step",
    )
    assert (args.milestones, args.gamma, args.momentum, args.nesterov, args.warmup_epochs) == (
        (80, 120),
        0.1,
        0.9,
        True,
        0,
    )
    assert builder_arguments(args) == {"depth": 20, "unit_type": 1}
    assert args.weight_decay == 1e-4
    fast = recipes.get_recipe("fastresnet").resolve(50_000)
    assert {k: getattr(args, k) for k in fast if k != "model_args"} == {
        k: tuple(v) if k == "milestones" else v for k, v in fast.items() if k != "model_args"
    }


def test_a_recipe_gives_defaults_and_flags_override_it():
    args = train.resolve(
        train.parse_args(
            [
                "--recipe",
                "he2015",
                "--epochs",
                "40",
                "--nesterov",
                "--model",
                "resnet",
                "--set",
                "depth=56",
                "--set",
                "shortcut=B",
                "--set",
                "drop_path=0.1",
                "--weight-decay",
                "0",
            ]
        )
    )
    # He et al.'s 32k/48k of 64k iterations at 391 per epoch, moved to 40 epochs; their 0.01 warm-up until
    # the training error is below 80% (accuracy 0.2), its 400 of 164 x 391 iterations scaled to 40 x 391: 98.
    assert (args.epochs, args.milestones, args.nesterov, args.batch_size) == (40, (20, 30), True, 128)
    assert (args.warmup_epochs, args.warmup_lr, args.momentum) == (0, 0.01, 0.9)
    assert (args.warmup_iterations, args.warmup_accuracy) == (98, 0.2)
    assert args.warmup_origin == "the recipe's 400 of 64,124 iterations, scaled to this run's 15,640"
    assert dict(args.overrides) == args.build_kwargs == {"depth": 56, "shortcut": "B", "drop_path": 0.1}
    assert args.weight_decay == 0.0

    he = train.resolve(train.parse_args(["--recipe", "he2015"]))
    assert (he.epochs, he.milestones, he.nesterov) == (164, (82, 123), False)
    wrn = train.resolve(train.parse_args(["--recipe", "wrn", *TINY]))
    assert wrn.build_kwargs["dropout"] == 0.3 and "dropout" not in dict(wrn.overrides)  # the recipe's model argument
    assert (wrn.weight_decay, wrn.milestones, wrn.gamma) == (5e-4, (60, 120, 160), 0.2)
    keep = train.resolve(train.parse_args(["--recipe", "wrn", *TINY, "--set", "dropout=0"]))
    assert keep.build_kwargs["dropout"] == 0
    assert train.resolve(train.parse_args(["--schedule", "cosine"])).milestones == ()
    assert train.dataset_tag("folder:/data/flowers/") == "flowers"
    assert train.dataset_tag("synthetic:64") == "synthetic"


# Bad input: exit 2, one error line, nothing left behind ---------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "resnett"], r"error: Unknown model 'resnett'\. Did you mean .*Known families: resnet, "),
        (["--set", "depth"], r"error: argument --set: expected KEY=VALUE .* Received: 'depth'"),
        (["--set", "num_classes=3"], r"error: argument --set: num_classes cannot be set with --set"),
        (["--set", "depht=20"], r"error: Unknown argument\(s\) depht for model 'fast_resnet20'"),
        (
            ["--epochs", "100", "--milestones", "80,120"],
            r"error: --milestones must lie in \[1, epochs - 1\] = "
            r"\[1, 99\].*Received: milestones=\[80, 120\]",
        ),
        (["--milestones", "80,x"], r"error: argument --milestones: expected comma-separated epochs"),
        (["--epochs", "0"], r"error: --epochs must be >= 1. Received: --epochs=0"),
        (["--schedule", "cosine", "--milestones", "10"], r"error: --milestones apply only to --schedule step"),
        (
            ["--strategy", "mirrored", "--batch-size", "3"],
            r"error: --batch-size must be divisible by the number of replicas \(2\). Received: --batch-size=3",
        ),
        (["--dataset", "folder:/nonexistent/reszoo-data"], r"error: .*nonexistent/reszoo-data"),
        (
            ["--recipe", "he2016"],
            r"error: argument --recipe: invalid choice: 'he2016' \(choose from 'auto', 'none', 'fastresnet', ",
        ),
        (["--precision", "float8"], r"error: argument --precision: invalid choice: 'float8'"),
        (["--augment", "autoaugment"], r"error: argument --augment: invalid choice: 'autoaugment'"),
        (
            ["--image-size", "8", "--cutout", "9"],
            r"error: --cutout must not exceed the image size \(8\)\. Received: --cutout=9",
        ),
        (
            ["--dataset", "synthetic:8", "--cutout", "33"],  # checked against the loaded images' size
            r"error: --cutout must not exceed the image size \(32x32\)\. Received: --cutout=33",
        ),
        (["--label-smoothing", "1"], r"error: --label-smoothing must be in \[0, 1\)\. Received: --label-smoothing=1"),
        (["--keep-best"], r"error: --keep-best selects on the validation split, never on the test split"),
        (["--deterministic"], r"error: --deterministic needs --seed\."),
        (["--backup-every", "0"], r"error: --backup-every must be >= 1\. Received: --backup-every=0"),
        (["--warmup-iterations", "10"], r"error: --warmup-iterations needs --warmup-lr"),
        (["--warmup-accuracy", "0.5"], r"error: --warmup-accuracy ends a --warmup-iterations warm-up"),
        (
            ["--warmup-epochs", "2", "--warmup-iterations", "5", "--warmup-lr", "0.01"],
            r"error: give one warm-up: --warmup-epochs or --warmup-iterations",
        ),
        (
            [*TINY[:2], "--set", "depth=7", "--dataset", "synthetic:8", "--epochs", "1", "--batch-size", "4"],
            r"error: depth must be 6n\+2 .* Received: depth=7",
        ),
    ],
)
def test_bad_input_exits_2_with_one_error_line_and_no_export(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert train.main([*argv, "--export-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert re.match(message, err.strip()), err
    assert os.listdir(tmp_path) == []


def test_a_backup_dir_inside_the_export_dir_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    assert train.main([*TINY, "--export-dir", str(out), "--backup-dir", str(out / "backup")]) == 2
    assert capsys.readouterr().err.startswith("error: --backup-dir must lie outside the export dir")
    assert os.listdir(tmp_path) == []


def test_default_backup_dir_follows_the_export_dir_or_the_command():
    explicit = train.resolve(train.parse_args(["--export-dir", "runs/a"]))
    assert train.default_backup_dir(explicit, "/x/runs/a") == "/x/runs/a.backup"
    # With the time-stamped default export dir, the same arguments find the same backup.
    one, two = (train.resolve(train.parse_args(["--epochs", "40"])) for _ in range(2))
    other = train.resolve(train.parse_args(["--epochs", "41"]))
    first = train.default_backup_dir(one, "/x/saved_models/fast_resnet20-cifar10-20250101-000000")
    assert first == train.default_backup_dir(two, "/x/saved_models/fast_resnet20-cifar10-20250101-000100")
    assert first != train.default_backup_dir(other, "/x/saved_models/fast_resnet20-cifar10-20250101-000000")
    assert re.fullmatch(r"/x/saved_models/fast_resnet20-cifar10-[0-9a-f]{12}\.backup", first)


def test_existing_export_dir_is_refused(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("keep")
    assert train.main([*TINY, "--dataset", "synthetic:8", "--export-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: export dir ") and "already exists and is not empty" in err
    assert os.listdir(tmp_path / "out") == ["old.txt"]


def test_an_interrupted_run_leaves_no_export_only_its_backup(tmp_path, monkeypatch):
    class Interrupt(EpochTimer):
        def on_epoch_begin(self, epoch, logs=None):
            assert os.path.exists(tmp_path / "out.backup" / "run.json")
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "EpochTimer", Interrupt)
    with pytest.raises(KeyboardInterrupt):
        train.run(
            [
                *TINY,
                "--dataset",
                "synthetic:8",
                "--image-size",
                "8",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--export-dir",
                str(tmp_path / "out"),
            ]
        )
    assert os.listdir(tmp_path) == ["out.backup"]  # what a rerun resumes from


# Training runs --------------------------------------------------------------------------------


def read_history(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_mirrored_run_over_two_cpus_trains_validates_and_exports(tmp_path, capsys):
    assert len(tf.config.list_logical_devices("CPU")) == 2  # tests/conftest.py
    out = tmp_path / "out"
    summary = train.run(
        [
            *TINY,
            "--dataset",
            "synthetic:32",
            "--image-size",
            "8",
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--val-split",
            "8",
            "--strategy",
            "mirrored",
            "--seed",
            "0",
            "--export-dir",
            str(out),
        ]
    )
    assert "on synthetic:32" in capsys.readouterr().out
    assert (summary["strategy"], summary["replicas"]) == ("mirrored", 2)
    assert summary["params"] == reszoo.trainable_params(reszoo.build("fast_resnet", depth=8, input_shape=(8, 8, 3)))
    assert (summary["train_size"], summary["val_size"], summary["test_size"]) == (24, 8, 6)
    assert summary["args"]["milestones"] == [1]  # 80/160 of 2 epochs
    assert summary["learning_rates"] == pytest.approx([0.1, 0.01])
    assert len(summary["epoch_seconds"]) == 2 and min(summary["epoch_seconds"]) > 0
    assert summary["train_images_per_second"] == pytest.approx(24 * 2 / sum(summary["epoch_seconds"]))
    with open(out / "summary.json") as f:
        assert json.load(f)["replicas"] == 2

    rows = read_history(out / "history.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert [float(r["learning_rate"]) for r in rows] == pytest.approx([0.1, 0.01])
    assert [float(r["epoch_seconds"]) for r in rows] == pytest.approx(summary["epoch_seconds"])
    assert 100 * (1 - float(rows[-1]["accuracy"])) == pytest.approx(summary["train_error"])
    assert 100 * (1 - float(rows[-1]["val_accuracy"])) == pytest.approx(summary["val_error"])  # the held-out 8

    # test_error is the exported model's error on the test split.
    bundle = data.load_dataset("synthetic:32", image_size=8, val_split=8, seed=0, batch_size=64)
    images, labels = next(iter(bundle.test))
    probs = reszoo.load(out).predict(images.numpy())
    assert 100 * np.mean(probs.argmax(1) != labels.numpy()) == pytest.approx(summary["test_error"])


# The command line, end to end -------------------------------------------------------------------

CLASS_COLOURS = {"cat": (200, 80, 40), "dog": (40, 90, 210)}


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """``pets/{train,test}/{cat,dog}/*.png``: 16x16 RGB images, a colour per class plus noise."""
    root = tmp_path_factory.mktemp("data") / "pets"
    rng = np.random.default_rng(0)
    for split, count in (("train", 4), ("test", 2)):
        for name, colour in CLASS_COLOURS.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                image = np.clip(np.array(colour) + rng.normal(0, 20, size=(16, 16, 3)), 0, 255).astype(np.uint8)
                tf.io.write_file(str(folder / f"{i}.png"), tf.io.encode_png(image))
    return root


def run_cli(module, *argv, timeout=300):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, argv)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_cli_trains_on_an_image_folder_exports_and_predicts(image_folder, tmp_path):
    out = tmp_path / "out"
    done = run_cli(
        "reszoo.train",
        *TINY,
        "--dataset",
        f"folder:{image_folder}",
        "--epochs",
        1,
        "--batch-size",
        4,
        "--seed",
        0,
        "--export-dir",
        out,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"on folder:{image_folder}" in done.stdout

    with open(out / "summary.json") as f:
        summary = json.load(f)
    required = {
        "model",
        "args",
        "params",
        "epochs",
        "epoch_seconds",
        "train_images_per_second",
        "train_error",
        "test_error",
        "class_names",
        "dataset",
        "input_shape",
        "versions",
        "strategy",
        "replicas",
    }
    assert required <= set(summary)
    net = reszoo.build("fast_resnet", depth=8, num_classes=2, input_shape=(16, 16, 3))
    assert summary["params"] == reszoo.trainable_params(net)
    assert (summary["model"], summary["epochs"], summary["class_names"]) == ("fast_resnet", 1, ["cat", "dog"])
    assert (summary["dataset"], summary["input_shape"]) == (f"folder:{image_folder}", [16, 16, 3])
    assert (summary["strategy"], summary["replicas"]) == ("default", 1)
    assert summary["args"]["batch_size"] == 4 and summary["args"]["milestones"] == []
    assert set(summary["versions"]) >= {"tensorflow", "keras", "reszoo", "python"}
    assert len(summary["epoch_seconds"]) == 1 and summary["epoch_seconds"][0] > 0
    assert summary["train_images_per_second"] == pytest.approx(8 / summary["epoch_seconds"][0])
    assert summary["test_error"] in (0.0, 25.0, 50.0, 75.0, 100.0)  # 4 test images
    rows = read_history(out / "history.csv")
    assert [r["epoch"] for r in rows] == ["0"]
    assert float(rows[0]["epoch_seconds"]) == pytest.approx(summary["epoch_seconds"][0])

    # The SavedModel serves raw uint8 images exactly as the .keras model computes them.
    test_images = np.stack(
        [
            tf.io.decode_png(tf.io.read_file(str(image_folder / "test" / name / f"{i}.png"))).numpy()
            for name in CLASS_COLOURS
            for i in range(2)
        ]
    )
    model = keras.models.load_model(out / "model.keras")
    expected = np.asarray(model(test_images.astype("float32"), training=False))
    served = tf.saved_model.load(str(out))
    np.testing.assert_allclose(np.asarray(served.serve_uint8(tf.constant(test_images))), expected, atol=1e-5)
    assert 100 * np.mean(expected.argmax(1) != [0, 0, 1, 1]) == pytest.approx(summary["test_error"])

    paths = [image_folder / "test" / "cat" / "0.png", image_folder / "test" / "dog" / "1.png"]
    shown = run_cli("reszoo.predict", "--model-dir", out, "--top-k", 2, *paths)
    assert shown.returncode == 0, shown.stderr[-3000:]
    lines = shown.stdout.strip().splitlines()
    assert len(lines) == 2
    for path, line in zip(paths, lines, strict=True):
        assert line.startswith(f"{path}: ") and "cat" in line and "dog" in line


# Augmentation beyond crop + flip, label smoothing ------------------------------------------------


def cutout_overlap(centre, size, length):
    """Pixels of [centre - size // 2, centre - size // 2 + size) inside [0, length): DeVries & Taylor's clipping."""
    start = centre - size // 2
    return min(start + size, length) - max(start, 0)


def test_cutout_cuts_one_clipped_patch_per_image_at_a_uniform_centre():
    images = tf.ones((4000, 8, 8, 3))
    cut = augment.cutout(images, tf.constant([1, 2]), size=4, fill=[0.0, 0.5, 2.0]).numpy()
    patch = cut[..., 0] == 0
    assert np.all(cut[patch] == [0.0, 0.5, 2.0]) and np.all(cut[~patch] == 1.0)
    rows, cols = patch.any(axis=2), patch.any(axis=1)
    # One axis-aligned rectangle per image: its area is its row extent times its column extent.
    assert np.array_equal(patch.sum(axis=(1, 2)), rows.sum(1) * cols.sum(1))
    # Centres uniform over the 8 pixels, patches clipped at the borders: the mean extent is exact in expectation.
    expected = np.mean([cutout_overlap(c, 4, 8) for c in range(8)])  # (2 + 3 + 4 * 5 + 3) / 8 = 3.5
    assert rows.sum(1).mean() == pytest.approx(expected, abs=0.05)
    assert cols.sum(1).mean() == pytest.approx(expected, abs=0.05)
    assert rows[:, 0].mean() == pytest.approx(3 / 8, abs=0.03)  # row 0 is cut when the centre is 0, 1 or 2
    assert len({tuple(r) for r in rows[:50]}) > 3  # every image draws its own centre
    again = augment.cutout(images, tf.constant([1, 2]), size=4, fill=[0.0, 0.5, 2.0]).numpy()
    assert np.array_equal(cut, again)  # stateless: the seed decides


def test_randaugment_runs_per_image_on_raw_pixels():
    images = np.tile(np.linspace(0, 255, 8 * 8 * 3, dtype="float32").reshape(1, 8, 8, 3), (16, 1, 1, 1))
    labels = np.arange(16, dtype="int32")
    batches = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8)
    out = list(augment.augment_training_set(batches, kind="randaugment", batch_size=8, seed=0))
    assert [x.shape for x, _ in out] == [(8, 8, 8, 3), (8, 8, 8, 3)]
    assert np.array_equal(np.concatenate([y for _, y in out]), labels)
    augmented = np.concatenate([x.numpy() for x, _ in out])
    assert augmented.dtype == np.float32 and augmented.min() >= 0 and augmented.max() <= 255
    distinct = {hashlib.sha1(a.tobytes()).hexdigest() for a in augmented}
    assert len(distinct) > 8  # identical inputs, different operations per image


def test_augment_training_set_rejects_bad_arguments():
    data_set = tf.data.Dataset.from_tensor_slices((np.zeros((2, 4, 4, 3), "float32"), np.zeros(2, "int32"))).batch(2)
    with pytest.raises(
        ValueError, match=r"augment must be one of 'standard', 'none', 'randaugment'. Received: augment='x'"
    ):
        augment.augment_training_set(data_set, kind="x", batch_size=2)
    with pytest.raises(ValueError, match=r"cutout must be a non-negative integer. Received: cutout=-1"):
        augment.augment_training_set(data_set, cutout_size=-1, batch_size=2)


def test_smoothed_sparse_crossentropy_is_keras_label_smoothing_on_integer_labels():
    probs = keras.ops.softmax(np.random.default_rng(0).normal(size=(6, 5)).astype("float32"))
    labels = np.array([0, 1, 2, 3, 4, 0])
    one_hot = np.eye(5, dtype="float32")[labels]
    smoothed = augment.SmoothedSparseCrossentropy(0.1)(labels, probs)
    assert float(smoothed) == pytest.approx(
        float(keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(one_hot, probs))
    )
    plain = augment.SmoothedSparseCrossentropy(0.0)(labels, probs)
    assert float(plain) == pytest.approx(float(keras.losses.SparseCategoricalCrossentropy()(labels, probs)), rel=1e-6)
    restored = keras.losses.deserialize(keras.losses.serialize(augment.SmoothedSparseCrossentropy(0.1)))
    assert isinstance(restored, augment.SmoothedSparseCrossentropy) and restored.label_smoothing == 0.1
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\). Received: label_smoothing=1.5"):
        augment.SmoothedSparseCrossentropy(1.5)


def tiny_run(tmp_path, *extra, name="out"):
    argv = [*TINY, "--dataset", "synthetic:32", "--image-size", "8", "--epochs", "2", "--batch-size", "8"]
    return train.run([*argv, "--seed", "0", *extra, "--export-dir", str(tmp_path / name)])


def test_randaugment_cutout_and_label_smoothing_train_and_are_recorded(tmp_path):
    summary = tiny_run(tmp_path, "--augment", "randaugment", "--cutout", "4", "--label-smoothing", "0.1")
    assert (summary["args"]["augment"], summary["args"]["cutout"], summary["args"]["label_smoothing"]) == (
        "randaugment",
        4,
        0.1,
    )
    model = keras.models.load_model(tmp_path / "out" / "model.keras")
    assert isinstance(model.loss, augment.SmoothedSparseCrossentropy) and model.loss.label_smoothing == 0.1
    assert math.isfinite(summary["train_loss"])


# Speed switches --------------------------------------------------------------------------------------


def test_mixed_float16_trains_with_loss_scaling_and_float32_outputs(tmp_path):
    summary = tiny_run(tmp_path, "--precision", "mixed_float16")
    assert summary["precision"] == "mixed_float16" and summary["args"]["precision"] == "mixed_float16"
    assert keras.config.dtype_policy().name == "float32"  # restored after the run
    model = keras.models.load_model(tmp_path / "out" / "model.keras")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    net = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    assert net.get_layer("stem_conv").dtype_policy.name == "mixed_float16"
    images = np.random.default_rng(0).uniform(0, 255, size=(2, 8, 8, 3)).astype("float32")
    assert model(images).dtype == "float32"
    saved_model = tf.saved_model.load(str(tmp_path / "out"))  # keep it referenced while serving
    served = saved_model.serve(tf.constant(images))
    assert served.dtype == tf.float32 and np.allclose(served.numpy().sum(1), 1, atol=1e-3)


@pytest.mark.parametrize(
    ("cpu_flags", "gpus", "onednn", "policy", "reason"),
    [
        (["avx2", "avx512f", "amx_tile", "amx_bf16"], [], True, "mixed_bfloat16", r"native bfloat16 \(amx_bf16\)"),
        (["avx2", "avx512f", "avx512_bf16"], [], True, "mixed_bfloat16", r"native bfloat16 \(avx512_bf16\)"),
        (["avx2", "fma", "avx512f", "avx512_vnni"], [], True, "float32", "no native bfloat16"),
        (["amx_bf16"], [], False, "float32", "TF_ENABLE_ONEDNN_OPTS=0"),
        (["avx2"], [(9, 0)], True, "mixed_bfloat16", "GPU compute capability 9.0 has bfloat16"),
        (["amx_bf16"], [(8, 0), (7, 5)], True, "mixed_float16", "7.5 has float16 tensor cores, not bfloat16"),
        (["amx_bf16"], [(6, 1)], True, "float32", "6.1 has no reduced-precision"),
    ],
)
def test_auto_precision_picks_bfloat16_only_where_the_hardware_computes_it(cpu_flags, gpus, onednn, policy, reason):
    from reszoo.hardware import auto_precision

    chosen, why = auto_precision(cpu_flags=cpu_flags, gpu_capabilities=gpus, onednn=onednn)
    assert chosen == policy and re.search(reason, why) and why.startswith("--precision auto: ")


def test_precision_auto_resolves_once_to_a_policy_named_in_the_log_summary_and_dry_run(tmp_path, monkeypatch, capsys):
    from reszoo import hardware

    monkeypatch.setattr(hardware, "cpu_flags", lambda: ["avx512f", "amx_bf16"])
    monkeypatch.setattr(hardware, "gpu_capabilities", lambda: [])
    assert train.main([*TINY, "--dataset", "synthetic:64", "--precision", "auto", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"precision\s+'mixed_bfloat16'", printed) and "--precision mixed_bfloat16" in printed
    assert "the CPU has native bfloat16 (amx_bf16)" in printed
    summary = tiny_run(tmp_path, "--precision", "auto")
    assert summary["precision"] == summary["config"]["precision"] == "mixed_bfloat16"
    assert summary["precision_origin"] == "--precision auto: the CPU has native bfloat16 (amx_bf16)"
    assert "mixed_bfloat16 (--precision auto: the CPU has native bfloat16 (amx_bf16))" in capsys.readouterr().out
    net = next(
        layer
        for layer in keras.models.load_model(tmp_path / "out" / "model.keras").layers
        if isinstance(layer, keras.Model)
    )
    assert net.get_layer("stem_conv").dtype_policy.name == "mixed_bfloat16"
    monkeypatch.setattr(hardware, "cpu_flags", lambda: ["avx2", "fma"])
    config = train.resolve(train.parse_args([*TINY, "--dataset", "synthetic:64", "--precision", "auto"]))
    assert (config.precision, config.precision_origin) == (
        "float32",
        "--precision auto: the CPU has no native bfloat16 (amx_bf16 / avx512_bf16)",
    )
    named = train.resolve(train.parse_args([*TINY, "--dataset", "synthetic:64", "--precision", "float32"]))
    assert named.precision_origin == "" and named == config  # the origin is for people, not a setting


@pytest.mark.parametrize("flags, expected", [(["--jit"], True), (["--no-jit"], False), ([], False)])
def test_jit_flag_reaches_compile(flags, expected):
    args = train.resolve(train.parse_args([*TINY, *flags]))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    train.compile_model(model, args)
    assert model.jit_compile is expected  # without the flag, Keras' "auto": no XLA on a CPU-only machine
    assert model.steps_per_execution == 1  # the command line's; bench fit --steps-per-execution times more
    train.compile_model(model, args, steps_per_execution=4)
    assert model.steps_per_execution == 4


# Reliability: validation, selection, seeds, TensorBoard ---------------------------------------------


def test_val_split_selects_on_validation_and_reports_test_separately(tmp_path):
    summary = tiny_run(tmp_path, "--val-split", "8", "--keep-best", "--epochs", "4", "--milestones", "none")
    rows = read_history(tmp_path / "out" / "history.csv")
    val_accuracy = [float(r["val_accuracy"]) for r in rows]
    best = int(np.argmax(val_accuracy))
    assert summary["selected_epoch"] == best
    assert summary["val_error"] == pytest.approx(100 * (1 - val_accuracy[best]))
    # The exported model is the selected epoch's; its errors on val and test are the summary's.
    bundle = data.load_dataset("synthetic:32", image_size=8, val_split=8, seed=0, batch_size=64)
    model = reszoo.load(tmp_path / "out")
    for split, key in ((bundle.val, "val_error"), (bundle.test, "test_error")):
        images, labels = next(iter(split))
        error = 100 * np.mean(model.predict(images.numpy()).argmax(1) != labels.numpy())
        assert error == pytest.approx(summary[key]), key
    assert {"val_loss", "val_accuracy"} <= set(rows[0]) and "test_accuracy" not in rows[0]


def test_the_same_seed_gives_bit_identical_weights(tmp_path):
    def weights(name, seed):
        tiny_run(tmp_path, "--seed", str(seed), "--cutout", "3", name=name)
        return keras.models.load_model(tmp_path / name / "model.keras").get_weights()

    first, again, other = weights("a", 1), weights("b", 1), weights("c", 2)
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(first, other, strict=True))


def test_tensorboard_logs_land_in_the_export(tmp_path):
    tiny_run(tmp_path, "--tensorboard", "--epochs", "1")
    for split in ("train", "validation"):
        events = os.listdir(tmp_path / "out" / "logs" / split)
        assert events and all(name.startswith("events.out.tfevents.") for name in events), split
        assert os.path.getsize(tmp_path / "out" / "logs" / split / events[0]) > 0
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_serving_dir_adds_a_tf_serving_version_folder_with_the_same_model(tmp_path):
    tiny_run(tmp_path, "--epochs", "1", "--serving-dir", str(tmp_path / "serving" / "reszoo"))
    version = tmp_path / "serving" / "reszoo" / "1"
    assert sorted(os.listdir(tmp_path / "serving" / "reszoo")) == ["1"]  # no staging folder left
    assert {"saved_model.pb", "variables", "class_names.json"} <= set(os.listdir(version))
    images = tf.constant(np.random.default_rng(0).uniform(0, 255, size=(3, 8, 8, 3)).astype("float32"))
    exported, served = tf.saved_model.load(str(tmp_path / "out")), tf.saved_model.load(str(version))
    np.testing.assert_allclose(served.serve(images).numpy(), exported.serve(images).numpy(), atol=1e-6)


# Step-exact schedules (keras LearningRateSchedule) ----------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kind="step", milestones=(3, 5), gamma=0.2),
        dict(kind="cosine", warmup_epochs=2),
        dict(kind="cosine", warmup_epochs=2, warmup_lr=0.02),
        dict(kind="step", milestones=(4,), warmup_epochs=1),
    ],
)
def test_per_epoch_training_schedule_is_the_epoch_function_at_every_step(kwargs):
    kind = kwargs.pop("kind")
    reference = schedules.make_schedule(kind, lr=0.4, epochs=7, **kwargs)
    schedule = schedules.TrainingSchedule(kind, lr=0.4, epochs=7, steps_per_epoch=5, unit="epoch", **kwargs)
    assert [schedule.rate(step) for step in range(35)] == pytest.approx(
        [reference(step // 5) for step in range(35)], rel=1e-6
    )


def test_per_iteration_cosine_and_linear_warmup_move_every_step():
    cosine = schedules.TrainingSchedule("cosine", lr=0.1, epochs=4, steps_per_epoch=10, unit="iteration")
    for step in (0, 1, 7, 20, 39):
        assert cosine.rate(step) == pytest.approx(0.05 * (1 + math.cos(math.pi * step / 40)), rel=1e-5, abs=1e-7)
    ramp = schedules.TrainingSchedule("step", lr=0.1, epochs=4, steps_per_epoch=10, warmup_epochs=2, unit="iteration")
    # (e + 1) / (W + 1) of the target with a fractional epoch e = step / 10: climbs every step to 0.1 at step 20.
    assert [round(ramp.rate(step), 6) for step in (0, 5, 10, 19, 20)] == [0.033333, 0.05, 0.066667, 0.096667, 0.1]
    config = schedules.TrainingSchedule.from_config(ramp.get_config())
    assert [config.rate(step) for step in range(40)] == pytest.approx([ramp.rate(step) for step in range(40)])
    assert schedules.default_unit("cosine") == "iteration" and schedules.default_unit("step") == "epoch"
    assert schedules.default_unit("step", warmup_epochs=2) == "iteration"
    with pytest.raises(ValueError, match="unit must be one of 'epoch', 'iteration'. Received: unit='batch'"):
        schedules.TrainingSchedule("step", lr=0.1, epochs=2, steps_per_epoch=3, unit="batch")


def test_schedule_unit_flag_and_the_recorded_rates(tmp_path):
    summary = tiny_run(tmp_path, "--schedule", "cosine", "--epochs", "3", "--recipe", "none")
    assert summary["schedule"] == {"kind": "cosine", "unit": "iteration", "steps_per_epoch": 4}
    cosine = schedules.TrainingSchedule("cosine", lr=0.1, epochs=3, steps_per_epoch=4, unit="iteration")
    assert summary["learning_rates"] == pytest.approx([cosine.rate(0), cosine.rate(4), cosine.rate(8)], rel=1e-6)
    assert summary["learning_rates_last"] == pytest.approx([cosine.rate(3), cosine.rate(7), cosine.rate(11)], rel=1e-6)
    rows = read_history(tmp_path / "out" / "history.csv")
    assert [float(r["lr_first"]) for r in rows] == pytest.approx(summary["learning_rates"])
    per_epoch = tiny_run(tmp_path, "--schedule", "cosine", "--epochs", "3", "--schedule-unit", "epoch", name="e")
    assert per_epoch["learning_rates"] == pytest.approx(per_epoch["learning_rates_last"])  # constant in an epoch
    assert per_epoch["learning_rates"] == pytest.approx([0.1, 0.075, 0.025])


@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_per_iteration_rates_continue_exactly_across_a_resume(tmp_path, monkeypatch):
    class InterruptAtEpoch2(EpochTimer):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:  # epochs 0 and 1 are backed up: a kill now
                raise KeyboardInterrupt
            super().on_epoch_begin(epoch, logs)

    argv = ["--schedule", "cosine", "--epochs", "4", "--recipe", "none", "--backup-dir", str(tmp_path / "b")]
    argv += ["--mixup", "0.2", "--ema", "0.9"]  # the regularisers' state resumes too
    monkeypatch.setattr(loop, "EpochTimer", InterruptAtEpoch2)
    with pytest.raises(KeyboardInterrupt):
        tiny_run(tmp_path, *argv)
    monkeypatch.undo()
    summary = tiny_run(tmp_path, *argv)
    assert summary["resumed_at_epoch"] == 2
    cosine = schedules.TrainingSchedule("cosine", lr=0.1, epochs=4, steps_per_epoch=4, unit="iteration")
    assert summary["learning_rates"] == pytest.approx([cosine.rate(4 * e) for e in range(4)], rel=1e-6)
    assert summary["learning_rates_last"] == pytest.approx([cosine.rate(4 * e + 3) for e in range(4)], rel=1e-6)


# MixUp, CutMix, EMA -----------------------------------------------------------------------------


def two_class_batch(size=8, side=6):
    """Images of one constant colour per class (class c: pixel value 10 * (c + 1))."""
    labels = np.arange(size) % 4
    images = np.broadcast_to((10.0 * (labels + 1))[:, None, None, None], (size, side, side, 3)).astype("float32")
    return tf.constant(images), tf.constant(labels)


def test_mixup_mixes_each_image_with_its_own_draw_and_labels_sum_to_one():
    images, labels = two_class_batch(64)
    mixed, soft = augment.mix_batch(images, labels, tf.constant([1, 2]), num_classes=4, mixup=1.0)
    soft, mixed = soft.numpy(), mixed.numpy()
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    own = soft[np.arange(64), labels.numpy()]
    assert len(np.unique(np.round(own, 4))) > 32  # one lambda per image, not one per batch
    # Pixel = lam * own colour + (1 - lam) * partner colour, with the label's lam.
    colours = 10.0 * (np.arange(4) + 1)
    np.testing.assert_allclose(mixed[:, 0, 0, 0], soft @ colours, rtol=1e-5)


def test_cutmix_pastes_a_box_whose_area_is_the_partner_share():
    images, labels = two_class_batch(64, side=32)
    mixed, soft = augment.mix_batch(images, labels, tf.constant([3, 4]), num_classes=4, cutmix=1.0)
    mixed, soft = mixed.numpy(), soft.numpy()
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    own_colour = 10.0 * (labels.numpy() + 1)
    kept = (mixed[..., 0] == own_colour[:, None, None]).mean(axis=(1, 2))
    same_class = soft.max(axis=1) == 1.0  # unmixed or mixed with its own class: nothing to see
    own = soft[np.arange(64), labels.numpy()]
    np.testing.assert_allclose(kept[~same_class], own[~same_class], atol=1e-6)
    assert len(np.unique(np.round(own, 4))) > 8


def test_mix_prob_leaves_the_other_images_alone():
    images, labels = two_class_batch(256)
    mixed, soft = augment.mix_batch(
        images, labels, tf.constant([5, 6]), num_classes=4, mixup=1.0, cutmix=1.0, prob=0.25
    )
    untouched = np.all(mixed.numpy() == images.numpy(), axis=(1, 2, 3))
    assert 0.6 < untouched.mean() < 0.9  # 75% unmixed, plus those that drew themselves or their own class
    np.testing.assert_array_equal(soft.numpy()[untouched].max(axis=1), 1.0)


def test_mixup_cutmix_and_ema_train_resume_record_and_export_the_averaged_weights(tmp_path):
    summary = tiny_run(tmp_path, "--mixup", "0.4", "--cutmix", "1.0", "--mix-prob", "0.5", "--ema", "0.5")
    assert summary["regularisers"] == {
        "mixup": 0.4,
        "cutmix": 1.0,
        "mix_prob": 0.5,
        "ema": 0.5,
        "label_smoothing": 0.0,
        "cutout": 0,
    }
    model = keras.models.load_model(tmp_path / "out" / "model.keras")
    optimizer = model.optimizer
    averaged = [v.numpy() for v in optimizer._model_variables_moving_average]
    trainable = [v.numpy() for v in model.trainable_variables]
    for ema, weight in zip(averaged, trainable, strict=True):
        np.testing.assert_allclose(ema, weight, rtol=1e-6, atol=1e-7)  # the export holds the averaged weights
    raw = [v.numpy() for v in optimizer._model_variables_moving_average]
    assert raw  # EMA state is saved with the optimizer
    rows = read_history(tmp_path / "out" / "history.csv")
    assert 0 <= float(rows[-1]["accuracy"]) <= 1 and "val_accuracy" in rows[-1]


def test_mixup_cutmix_and_ema_under_mirrored_strategy(tmp_path):
    summary = tiny_run(tmp_path, "--strategy", "mirrored", "--cutmix", "1.0", "--mixup", "0.2", "--ema", "0.9")
    assert (summary["strategy"], summary["replicas"]) == ("mirrored", 2)
    assert summary["regularisers"]["ema"] == 0.9 and summary["regularisers"]["cutmix"] == 1.0
    assert 0 <= summary["test_error"] <= 100


def test_ema_differs_from_the_raw_weights_and_is_what_fit_leaves_in_the_model():
    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):  # before fit swaps the averages in
            self.raw = [v.numpy().copy() for v in self.model.trainable_variables]
            self.ema = [v.numpy().copy() for v in self.model.optimizer._model_variables_moving_average]

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    train.compile_model(model, train.resolve(train.parse_args([*TINY, "--ema", "0.9"])), 0.5)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    record = Record()
    model.fit(x, (x[:, 0] > 0).astype("int32"), batch_size=8, epochs=1, verbose=0, callbacks=[record])
    assert np.abs(record.raw[0] - record.ema[0]).max() > 1e-3  # the average lags the raw weights
    for weight, ema in zip(model.trainable_variables, record.ema, strict=True):
        np.testing.assert_allclose(weight.numpy(), ema, rtol=1e-6)  # fit ends with the averaged weights


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--mix-prob", "0.5"], "--mix-prob is the share of images --mixup / --cutmix mix; give one of them."),
        (["--mixup", "-1"], re.escape("--mixup must be >= 0 (0: none). Received: --mixup=-1.0")),
        (["--ema", "1"], r"--ema must be in \(0, 1\). Received: --ema=1.0"),
        (["--ema", "0.9", "--keep-best", "--val-split", "4"], "--keep-best and --ema do not go together"),
    ],
)
def test_bad_regulariser_flags_exit_2(flags, message, capsys):
    assert train.main([*TINY, "--dataset", "synthetic:16", *flags]) == 2
    assert re.match("error: " + message, capsys.readouterr().err.strip())


def test_export_format_writes_onnx_beside_the_savedmodel(tmp_path):
    summary = tiny_run(tmp_path, "--epochs", "1", "--export-format", "onnx", "--export-format", "onnx")
    assert summary["config"]["export_formats"] == ["onnx"]
    out = tmp_path / "out"
    assert {"model.onnx", "model_uint8.onnx", "saved_model.pb", "class_names.json"} <= set(os.listdir(out))
    images = np.random.default_rng(0).integers(0, 256, size=(3, 8, 8, 3)).astype("uint8")
    from_onnx = reszoo.load(str(out / "model.onnx")).predict(images)
    from_saved_model = reszoo.load(str(out)).predict(images)
    np.testing.assert_allclose(from_onnx, from_saved_model, atol=1e-5)


def test_init_from_fine_tunes_an_export_on_a_folder_with_other_classes(tmp_path, capsys):
    tiny_run(tmp_path, "--epochs", "1", name="source")  # 10 synthetic classes
    for split, count in (("train", 4), ("test", 2)):
        for name in ("ant", "bee", "cat"):
            (tmp_path / "folder" / split / name).mkdir(parents=True)
            for i in range(count):
                pixels = np.random.default_rng(i).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(tmp_path / "folder" / split / name / f"{i}.png")
    argv = [*TINY, "--dataset", f"folder:{tmp_path / 'folder'}", "--epochs", "1", "--batch-size", "4", "--seed", "0"]
    capsys.readouterr()
    summary = train.run([*argv, "--init-from", str(tmp_path / "source"), "--export-dir", str(tmp_path / "tuned")])
    out = capsys.readouterr().out
    assert f"--init-from {tmp_path / 'source'}: " in out and "predictions" in out, out
    assert summary["num_classes"] == 3 and summary["config"]["init_from"] == str(tmp_path / "source")
    assert train.main([*argv, "--init-from", str(tmp_path / "nowhere"), "--export-dir", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --init-from {tmp_path / 'nowhere'}: ") and "\n" not in err, err
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.backup").exists()
