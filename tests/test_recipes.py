"""Recipes: every paper's setup as data, --recipe auto from the presets, --list-recipes, He et al.'s warm-up."""

from __future__ import annotations

import math
import types

import keras
import numpy as np
import pytest

import reszoo
from reszoo import recipes, schedules, train
from reszoo.callbacks import IterationWarmup

PAPER_RECIPES = (
    "fastresnet",
    "he2015",
    "preact2016",
    "wrn",
    "pyramidnet",
    "densenet",
    "shake_shake",
    "stochastic_depth",
    "resnext",
    "attention",
)


def resolved(*argv, train_size=50_000, num_classes=10):
    sizes = types.SimpleNamespace(train_size=train_size, num_classes=num_classes)  # what resolve reads of the info
    return train.resolve(train.parse_args(list(argv)), info=sizes)


def test_every_paper_has_a_recipe_and_every_preset_names_a_known_one():
    assert set(PAPER_RECIPES) <= set(recipes.RECIPES)
    for name, preset in reszoo.presets().items():
        assert preset.recipe is None or preset.recipe in recipes.RECIPES, name


@pytest.mark.parametrize(
    "name, expected",
    [
        # (epochs, batch, lr, schedule, milestones, gamma, wd, nesterov)
        ("fastresnet", (160, 128, 0.1, "step", [80, 120], 0.1, 1e-4, True)),
        ("he2015", (164, 128, 0.1, "step", [82, 123], 0.1, 1e-4, False)),
        ("preact2016", (164, 128, 0.1, "step", [82, 123], 0.1, 1e-4, True)),
        ("wrn", (200, 128, 0.1, "step", [60, 120, 160], 0.2, 5e-4, True)),
        ("pyramidnet", (300, 128, 0.1, "step", [150, 225], 0.1, 1e-4, True)),
        ("densenet", (300, 64, 0.1, "step", [150, 225], 0.1, 1e-4, True)),
        ("stochastic_depth", (500, 128, 0.1, "step", [250, 375], 0.1, 1e-4, True)),
        ("resnext", (300, 128, 0.1, "step", [150, 225], 0.1, 5e-4, True)),
        ("shake_shake", (1800, 128, 0.2, "cosine", [], 0.1, 1e-4, True)),
        ("attention", (205, 64, 0.1, "step", [82, 123], 0.1, 1e-4, True)),  # 160k/64k/96k it at 782/epoch
    ],
)
def test_a_recipe_resolves_to_the_papers_numbers_on_cifar10(name, expected):
    args = resolved("--recipe", name, "--model", "fast_resnet")
    got = (args.epochs, args.batch_size, args.lr, args.schedule, list(args.milestones), args.gamma)
    assert got == expected[:6]
    assert (args.weight_decay, args.nesterov, args.momentum) == (expected[6], expected[7], 0.9)
    assert args.recipe == name


def test_pyramidnet_uses_its_cifar100_rate_and_he_counts_iterations_on_the_real_training_set():
    assert resolved("--recipe", "pyramidnet", "--dataset", "cifar100", num_classes=100).lr == 0.5
    # 64k iterations on He et al.'s 45k split at batch 128: 352 steps per epoch -> 182 epochs, steps at 91/136.
    he = resolved("--recipe", "he2015", train_size=45_000)
    assert (he.epochs, he.milestones) == (182, (91, 136))


def test_recipe_auto_picks_the_presets_recipe_and_keeps_the_fastresnet_default():
    default = resolved()
    assert (default.model, default.recipe, default.recipe_choice) == ("fast_resnet20", "fastresnet", "auto")
    assert (default.epochs, default.milestones, default.nesterov, default.weight_decay) == (160, (80, 120), True, 1e-4)
    resnet110 = resolved("--model", "resnet110")
    assert (resnet110.recipe, resnet110.epochs, resnet110.nesterov, resnet110.warmup_iterations) == (
        "he2015",
        164,
        False,
        400,
    )
    assert resolved("--model", "densenet40_k12").batch_size == 64
    # A family name takes the recipe most of its presets use; EfficientNet has none, so the
    # FastResNet schedule with the family's own weight decay.
    assert resolved("--model", "resnet", "--set", "depth=20").recipe == "he2015"
    assert resolved("--model", "ror", "--set", "depth=38").recipe == "stochastic_depth"
    efficientnet = resolved("--model", "efficientnet_b0")
    assert (efficientnet.recipe, efficientnet.epochs) == (None, 160)
    assert efficientnet.weight_decay == reszoo.registry.families()["efficientnet"].weight_decay
    # Flags beat the recipe; --recipe none ignores the preset's.
    assert resolved("--model", "resnet110", "--epochs", "10").milestones == (5, 8)
    assert resolved("--model", "resnet110", "--recipe", "none").nesterov is True


def test_recipe_model_args_apply_to_family_builds_not_to_presets():
    family = resolved("--model", "wrn", "--set", "depth=10", "--set", "width=1")
    assert (family.recipe, family.build_kwargs) == ("wrn", {"dropout": 0.3, "depth": 10, "width": 1})
    assert resolved("--model", "wrn28_10").build_kwargs == {}  # the preset without dropout stays so
    assert resolved("--model", "wrn28_10", "--set", "dropout=0.3").build_kwargs == {"dropout": 0.3}


def test_list_recipes_prints_one_line_per_recipe(capsys):
    assert train.main(["--list-recipes"]) == 0
    table, note = capsys.readouterr().out.strip().split("\n\n")
    lines = table.splitlines()
    assert [line.split()[0] for line in lines] == list(recipes.RECIPES)
    assert note.startswith("How a recipe scales:") and "at least 1 iteration and at most 10% of the run" in note
    he = next(line for line in lines if line.startswith("he2015"))
    assert "64000 it" in he and "x0.1 at 32k/48k it" in he and "momentum 0.9" in he
    assert "warm-up 0.01 for 400 it or until train acc 0.2" in he
    assert "lr 0.1 (C100 0.5)" in next(line for line in lines if line.startswith("pyramidnet"))
    assert "{'dropout': 0.3}" in next(line for line in lines if line.startswith("wrn"))


def test_summary_records_the_resolved_recipe(tmp_path):
    summary = train.run(
        [
            "--model",
            "fast_resnet",
            "--set",
            "depth=8",
            "--recipe",
            "he2015",
            "--dataset",
            "synthetic:16",
            "--image-size",
            "8",
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--warmup-iterations",
            "3",
            "--export-dir",
            str(tmp_path / "out"),
        ]
    )
    args = summary["args"]
    assert (summary["recipe"], args["recipe_choice"], args["nesterov"], args["weight_decay"]) == (
        "he2015",
        "he2015",
        False,
        1e-4,
    )
    assert (args["warmup_lr"], args["warmup_iterations"], args["warmup_accuracy"]) == (0.01, 3, 0.2)
    # 2 batches per epoch: the warm-up ends at iteration 3 (in epoch 1) unless the accuracy got there first.
    ended = summary["warmup"]["ended"]
    assert ended["iteration"] == 3 or ended["accuracy"] >= 0.2
    # The rates that ran: the first batch warms up at 0.01; the last batch of each epoch as history.csv says.
    assert summary["learning_rates"][0] == pytest.approx(0.01)
    assert summary["history_learning_rates"] == pytest.approx(summary["learning_rates_last"])
    assert summary["warmup"]["origin"] == "as given"


# He et al.'s warm-up, batch by batch ------------------------------------------------------------


class RecordRates(keras.callbacks.Callback):
    """The optimizer's rate during every training batch."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def warmup_schedule(warmup_iterations, steps=4):
    return schedules.TrainingSchedule(
        "step", lr=0.1, epochs=3, steps_per_epoch=steps, milestones=(2,), warmup_lr=0.01,
        warmup_iterations=warmup_iterations,
    )  # fmt: skip


def warmup_fit(warmup, epochs=3, learnable=True, steps=4):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8 * steps, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") if learnable else rng.integers(0, 2, size=len(x)).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    optimizer = keras.optimizers.SGD(warmup.schedule)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    record = RecordRates()
    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, callbacks=[warmup, record])
    return record.rates


def test_warmup_holds_the_low_rate_for_the_given_iterations_then_follows_the_schedule():
    warmup = IterationWarmup(warmup_schedule(6))
    rates = warmup_fit(warmup)
    # 4 batches per epoch: 6 warm-up batches span epochs 0 and 1, then 0.1 for the rest of epoch 1, 0.01 at epoch 2.
    assert rates == pytest.approx([0.01] * 6 + [0.1] * 2 + [0.01] * 4)
    assert warmup.ended == {"epoch": 1, "iteration": 6, "accuracy": pytest.approx(warmup.ended["accuracy"])}


def test_warmup_ends_early_once_the_training_accuracy_reaches_the_threshold():
    warmup = IterationWarmup(warmup_schedule(400), until_accuracy=0.05)
    rates = warmup_fit(warmup)
    ended = warmup.ended["iteration"]
    assert ended < 4 and warmup.ended["accuracy"] >= 0.05  # within the first epoch
    assert rates[: ended + 1] == pytest.approx([0.01] * ended + [0.1])
    never = IterationWarmup(warmup_schedule(400), until_accuracy=1.0)
    assert warmup_fit(never, learnable=False) == pytest.approx([0.01] * 12)
    assert never.ended is None and never.iterations == 12


def test_warmup_state_survives_a_restart(tmp_path):
    path = str(tmp_path / "warmup.json")
    first = IterationWarmup(warmup_schedule(6), state_path=path)
    warmup_fit(first, epochs=1)
    assert (first.iterations, first.ended) == (4, None)
    # A resumed run: the optimizer's iteration count (restored by the backup) and the warm-up state go on.
    again = IterationWarmup(warmup_schedule(6), state_path=path)
    again.set_model(keras.Sequential([keras.Input((1,))]))
    again.on_train_begin()
    assert (again.iterations, again.ended) == (4, None)
    assert [round(again.schedule.rate(step), 6) for step in (4, 5, 6, 7)] == [0.01, 0.01, 0.1, 0.1]
    ended_early = IterationWarmup(warmup_schedule(10), until_accuracy=0.0, state_path=str(tmp_path / "w.json"))
    warmup_fit(ended_early, epochs=1)
    resumed = IterationWarmup(warmup_schedule(10), until_accuracy=0.0, state_path=str(tmp_path / "w.json"))
    resumed.set_model(keras.Sequential([keras.Input((1,))]))
    resumed.on_train_begin()
    assert resumed.schedule.rate(1) == pytest.approx(0.1)  # the early end is applied again on resume


def test_he2015_warmup_is_the_papers_rule():
    he = recipes.get_recipe("he2015")
    # "until the training error is below 80% (about 400 iterations)": accuracy 0.2, at most 400 iterations.
    assert (he.warmup_lr, he.warmup_iterations, he.warmup_accuracy, he.warmup_epochs) == (0.01, 400, 0.2, 0)
    preact = recipes.get_recipe("preact2016")
    assert (preact.warmup_lr, preact.warmup_iterations, preact.warmup_accuracy) == (0.01, 400, None)
    assert math.isclose(he.resolve(50_000)["lr"], 0.1)


# Warm-ups that scale with the run --------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "train_size", "expected"),
    [
        ((), 50_000, 400),  # the paper's own run: 164 epochs x 391 iterations
        (("--epochs", "82"), 50_000, 200),  # half the run, half the warm-up
        (("--epochs", "3", "--batch-size", "128"), 10_000, 1),  # 237 iterations: 0.6% is 1.48, rounded to 1
        (("--epochs", "1", "--batch-size", "2"), 20, 1),  # 10 iterations: at least 1, at most 10% of the run
    ],
)
def test_a_recipe_warmup_keeps_its_share_of_the_run(argv, train_size, expected):
    config = resolved("--recipe", "preact2016", "--model", "preact_resnet", *argv, train_size=train_size)
    assert config.warmup_iterations == expected
    assert config.warmup_lr == 0.01


def test_a_warmup_longer_than_the_run_is_refused(capsys):
    argv = ["--model", "fast_resnet", "--set", "depth=8", "--dataset", "synthetic:64", "--batch-size", "32"]
    assert train.main([*argv, "--epochs", "2", "--warmup-iterations", "5", "--warmup-lr", "0.01"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: --warmup-iterations must not exceed the run's 4 iterations (2 epochs x 2 batches). "
        "Received: --warmup-iterations=5"
    )
    config = train.resolve(train.parse_args([*argv, "--epochs", "2", "--warmup-iterations", "4", "--warmup-lr", "0.1"]))
    assert (config.warmup_iterations, config.warmup_origin) == (4, "as given")


def test_dry_run_prints_the_resolved_rates_and_exits(tmp_path, capsys):
    argv = ["--model", "preact_resnet", "--set", "depth=8", "--dataset", "synthetic:1000", "--epochs", "3"]
    out = tmp_path / "never"
    assert train.main([*argv, "--schedule", "cosine", "--export-dir", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert not out.exists()
    assert "1,000 training images, batch 128: 8 iterations per epoch, 24 in all; cosine schedule per iteration" in text
    assert "warm-up constant 0.01 for the first 1 iteration (the recipe's 400 of " in text
    rows = [line.split() for line in text.splitlines() if line.strip()[:1].isdigit() and "-" in line.split()[1]]
    assert [row[:2] for row in rows] == [["0", "0-7"], ["1", "8-15"], ["2", "16-23"]]
    assert float(rows[0][2]) == pytest.approx(0.01) and rows[0][4:] == ["warm-up", "0.01", "at", "iterations", "0-0"]
    schedule = schedules.TrainingSchedule("cosine", lr=0.1, epochs=3, steps_per_epoch=8, unit="iteration")
    assert float(rows[1][2]) == pytest.approx(schedule.rate(8), rel=1e-5)
    assert float(rows[2][3]) == pytest.approx(schedule.rate(23), rel=1e-5)
    assert "command: python -m reszoo.train --model preact_resnet" in text
