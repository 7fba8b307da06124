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
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(recipes.RECIPES)
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
    assert summary["history_learning_rates"] == pytest.approx(summary["learning_rates"])


# He et al.'s warm-up, batch by batch ------------------------------------------------------------


class RecordRates(keras.callbacks.Callback):
    """The optimizer's rate during every training batch."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def warmup_fit(warmup, epochs=3, learnable=True, steps=4):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8 * steps, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") if learnable else rng.integers(0, 2, size=len(x)).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    record = RecordRates()
    callbacks = [keras.callbacks.LearningRateScheduler(warmup.schedule), warmup, record]
    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks)
    return record.rates


def test_warmup_holds_the_low_rate_for_the_given_iterations_then_follows_the_schedule():
    warmup = IterationWarmup(
        schedules.make_schedule("step", lr=0.1, epochs=3, milestones=(2,)), warmup_lr=0.01, max_iterations=6
    )
    rates = warmup_fit(warmup)
    # 4 batches per epoch: 6 warm-up batches span epochs 0 and 1, then 0.1 for the rest of epoch 1, 0.01 at epoch 2.
    assert rates == pytest.approx([0.01] * 6 + [0.1] * 2 + [0.01] * 4)
    assert warmup.ended == {"epoch": 1, "iteration": 6, "accuracy": pytest.approx(warmup.ended["accuracy"])}


def test_warmup_ends_early_once_the_training_accuracy_reaches_the_threshold():
    schedule = schedules.make_schedule("step", lr=0.1, epochs=3, milestones=(2,))
    warmup = IterationWarmup(schedule, warmup_lr=0.01, max_iterations=400, until_accuracy=0.05)
    rates = warmup_fit(warmup)
    ended = warmup.ended["iteration"]
    assert ended < 4 and warmup.ended["accuracy"] >= 0.05  # within the first epoch
    assert rates[: ended + 1] == pytest.approx([0.01] * ended + [0.1])
    never = IterationWarmup(schedule, warmup_lr=0.01, max_iterations=400, until_accuracy=1.0)
    assert warmup_fit(never, learnable=False) == pytest.approx([0.01] * 12)
    assert never.ended is None and never.iterations == 12


def test_warmup_state_survives_a_restart(tmp_path):
    schedule = schedules.make_schedule("step", lr=0.1, epochs=3, milestones=(2,))
    path = str(tmp_path / "warmup.json")
    first = IterationWarmup(schedule, warmup_lr=0.01, max_iterations=10, state_path=path)
    warmup_fit(first, epochs=1)
    assert (first.iterations, first.ended) == (4, None)
    again = IterationWarmup(schedule, warmup_lr=0.01, max_iterations=10, state_path=path)
    rates = warmup_fit(again, epochs=3)  # a fresh fit: the 4 done iterations count
    assert rates == pytest.approx([0.01] * 6 + [0.1] * 2 + [0.01] * 4)
    assert again.ended["iteration"] == 10


def test_he2015_warmup_is_the_papers_rule():
    he = recipes.get_recipe("he2015")
    # "until the training error is below 80% (about 400 iterations)": accuracy 0.2, at most 400 iterations.
    assert (he.warmup_lr, he.warmup_iterations, he.warmup_accuracy, he.warmup_epochs) == (0.01, 400, 0.2, 0)
    preact = recipes.get_recipe("preact2016")
    assert (preact.warmup_lr, preact.warmup_iterations, preact.warmup_accuracy) == (0.01, 400, None)
    assert math.isclose(he.resolve(50_000)["lr"], 0.1)
