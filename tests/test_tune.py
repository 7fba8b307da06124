"""Hyperparameter search (reszoo.tune): search spaces, the parameter budget, resuming, results, export, errors."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shlex
import sys

import keras
import keras_tuner as kt
import numpy as np
import pytest
from PIL import Image

import reszoo
from reszoo import data, registry, train, tune
from reszoo.layers.attention import ATTENTION_KINDS
from reszoo.layers.shake import SHAKE_LEVELS, SHAKE_MODES
from reszoo.models import densenet as densenet_module
from reszoo.models import pyramidnet as pyramidnet_module
from reszoo.models import resnet as resnet_module
from reszoo.models import resnext as resnext_module
from reszoo.models import shake_shake as shake_shake_module
from reszoo.models import wrn as wrn_module
from reszoo.models.common import units_from_depth
from reszoo.training import TrainConfig, loop
from reszoo.units import SHORTCUTS

CLASSES = ("cat", "dog", "ship")
TRAIN_PER_CLASS, TEST_PER_CLASS = 8, 2
# A tiny, quick corner of fast_resnet's space: depth 8 only, no attention or stochastic depth.
TINY_SPACE = ["--space", "depth=8", "--space", "attention=none", "--space", "drop_path=0.0"]
# keras-tuner 1.4's oracle calls threading.currentThread() and getName(), deprecated since Python 3.10.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras_tuner")


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """DIR/train/<class>/*.png (8 per class) and DIR/test/<class>/*.png (2 per class), 32x32 RGB."""
    root = tmp_path_factory.mktemp("tune_data")
    rng = np.random.default_rng(0)
    for split, count in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        for index, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                image = rng.integers(0, 80, (32, 32, 3), dtype=np.uint8) + np.uint8(80 * index)
                Image.fromarray(image).save(folder / f"{i}.png")
    return str(root)


def tune_argv(image_folder, project_dir, *extra, space=TINY_SPACE):
    return [
        "--family",
        "fast_resnet",
        "--epochs",
        "1",
        "--dataset",
        f"folder:{image_folder}",
        "--project-dir",
        str(project_dir),
        *space,
        *extra,
    ]


def assert_inside_space(space: tune.SearchSpace, values: dict) -> None:
    """Every knob active exactly when its condition holds, with one of its declared values."""
    for knob in space.knobs:
        active = knob.when is None or values.get(knob.when[0]) in knob.when[1]
        assert (knob.name in values) == active, (knob.name, values)
        if not active:
            continue
        value = values[knob.name]
        if knob.span is not None:
            assert knob.span[0] <= value <= knob.span[1], (knob.name, value)
        else:
            assert value in knob.values and type(value) is type(knob.values[0]), (knob.name, value)


# End to end ------------------------------------------------------------------------------


def test_search_resumes_then_exports_the_best(image_folder, tmp_path):
    project = tmp_path / "project"
    first = tune.run(tune_argv(image_folder, project, "--max-trials", "1", "--no-export"))
    assert first["ran"] == ["0"] and first["export_dir"] is None
    assert [row["status"] for row in first["trials"]] == ["completed"]
    record_path = project / "trial_0" / tune.TRIAL_RECORD
    first_record = record_path.read_text()
    first_mtime = os.path.getmtime(record_path)

    # The same command with a larger budget runs exactly one more trial, then retrains and exports the best.
    second = tune.run(tune_argv(image_folder, project, "--max-trials", "2"))
    assert second["ran"] == ["1"]
    assert record_path.read_text() == first_record and os.path.getmtime(record_path) == first_mtime
    rows = second["trials"]
    assert [row["trial"] for row in rows] == ["0", "1"]
    assert rows[0]["hyperparameters"] == first["trials"][0]["hyperparameters"]

    space = tune.search_space("fast_resnet").restricted({"depth": (8,), "attention": ("none",), "drop_path": (0.0,)})
    for row in rows:
        assert row["status"] == "completed" and row["epochs"] == 1 and row["reason"] is None
        assert_inside_space(space, row["hyperparameters"])
        kwargs = space.builder_kwargs(row["hyperparameters"])
        assert row["params"] == reszoo.trainable_params(reszoo.build("fast_resnet", **kwargs, num_classes=3))
        assert 0.0 <= row["val_error"] <= 100.0
        assert row["mean_epoch_seconds"] > 0

    # The table is printed and written as JSON and CSV in the project folder.
    saved = json.loads((project / tune.RESULTS_JSON).read_text())
    assert [t["trial"] for t in saved["trials"]] == ["0", "1"] and saved["best"] == second["best"]
    with open(project / tune.RESULTS_CSV, newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["trial"] for r in table] == ["0", "1"]
    assert {"depth", "unit_type", "shortcut", "lr", "weight_decay", "batch_size", "params", "val_error"} <= set(
        table[0]
    )
    assert int(table[1]["params"]) == rows[1]["params"]

    # The best is retrained by reszoo.train with its hyperparameters and exported like a training run.
    best = second["best"]
    assert best["val_error"] == min(row["val_error"] for row in rows)
    summary, export_dir = second["summary"], second["export_dir"]
    assert export_dir == str(project / f"best_trial_{best['trial']}")
    for name in ("summary.json", "class_names.json", "model.keras", "history.csv", "saved_model.pb"):
        assert os.path.isfile(os.path.join(export_dir, name)), name
    hps = best["hyperparameters"]
    assert summary["args"]["lr"] == hps["lr"] and summary["args"]["batch_size"] == hps["batch_size"]
    assert summary["args"]["weight_decay"] == hps["weight_decay"]
    assert summary["builder_kwargs"]["unit_type"] == hps["unit_type"]
    assert summary["builder_kwargs"]["shortcut"] == hps["shortcut"]
    assert summary["params"] == best["params"]
    # The default validation split: 10% of the 24 training images, never the test split.
    assert summary["val_size"] == 2 and summary["train_size"] == 22 and summary["test_size"] == 6
    predictor = reszoo.load(export_dir)
    assert predictor.class_names == list(CLASSES)
    probabilities = predictor.predict(np.zeros((4, 32, 32, 3), np.uint8))
    assert probabilities.shape == (4, len(CLASSES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


# The simulated kill skips Keras' CSVLogger.on_train_end, which would close history.csv; a real kill ends the process.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_interrupted_trial_resumes_at_its_last_epoch(image_folder, tmp_path, monkeypatch):
    class Interrupt(keras.callbacks.Callback):
        """A kill after epoch 0 has been backed up (it runs after reszoo.train's callbacks)."""

        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    make_callbacks = loop.make_callbacks

    def interrupted_callbacks(*args, **kwargs):
        callbacks, named = make_callbacks(*args, **kwargs)
        return [*callbacks, Interrupt()], named

    project = tmp_path / "killed"
    argv = tune_argv(image_folder, project, "--max-trials", "1", "--no-export", "--epochs", "3")
    monkeypatch.setattr(loop, "make_callbacks", interrupted_callbacks)
    with pytest.raises(KeyboardInterrupt):
        tune.run(argv)
    history = project / "trial_0" / tune.TRIAL_BACKUP / "history.csv"
    first_epoch = history.read_text().splitlines()[1]
    monkeypatch.setattr(loop, "make_callbacks", make_callbacks)

    result = tune.run(argv)
    assert result["ran"] == ["0"] and [row["status"] for row in result["trials"]] == ["completed"]
    lines = history.read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "1", "2"]
    assert lines[1] == first_epoch, "epoch 0 was not trained again"
    assert len(json.loads((project / "trial_0" / tune.TRIAL_RECORD).read_text())["epoch_seconds"]) == 3


def test_max_params_rejects_big_networks_before_training(image_folder, tmp_path):
    limit = reszoo.trainable_params(reszoo.build("fast_resnet", depth=8, shortcut="B", num_classes=3))
    project = tmp_path / "budget"
    space = ["--space", "depth=8,14", *TINY_SPACE[2:]]
    argv = tune_argv(image_folder, project, "--max-trials", "1", "--no-export", space=space)
    argv += ["--max-params", str(limit), "--seed", "2"]
    result = tune.run(argv)
    rows = result["trials"]
    rejected = [r for r in rows if r["status"] == "rejected"]
    completed = [r for r in rows if r["status"] == "completed"]
    assert len(completed) == 1, "rejected trials do not count towards --max-trials"
    assert rejected, "seed 2 samples depth 14 first"
    assert all(r["hyperparameters"]["depth"] == 8 and r["params"] <= limit for r in completed)
    for row in rejected:
        assert row["hyperparameters"]["depth"] == 14 and row["params"] > limit
        assert row["val_error"] is None and row["epochs"] is None
        assert f"--max-params {limit:,}" in row["reason"]
        # Rejected before anything was built for training: no keras-tuner checkpoint, no backup.
        trial_dir = project / f"trial_{row['trial']}"
        assert not (trial_dir / "checkpoint.weights.h5").exists() and not (trial_dir / tune.TRIAL_BACKUP).exists()
    printed = tune.format_table(rows)
    assert printed.count("rejected") == len(rejected)
    assert len(json.loads((project / tune.PARAMS_FILE).read_text())) >= 2  # counts cached by configuration


def test_every_trial_failing_exits_1_with_the_reason(image_folder, tmp_path, monkeypatch, capsys):
    def broken_fit(self, hp, model, *args, **kwargs):
        raise RuntimeError("the accelerator caught fire")

    monkeypatch.setattr(tune.FamilyHyperModel, "fit", broken_fit)
    status = tune.main(tune_argv(image_folder, tmp_path / "p1", "--max-trials", "2", "--no-export"))
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == tune.EXIT_FAILED == 1
    assert error.startswith("error: no trial completed (2 run)")
    assert "trial 1 failed: RuntimeError: the accelerator caught fire" in error

    # Three real failures in a row end a longer search early.
    status = tune.main(tune_argv(image_folder, tmp_path / "p2", "--max-trials", "10", "--no-export"))
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 1
    assert error == ("error: 3 trials in a row failed; the last (trial 02): RuntimeError: the accelerator caught fire")


# Errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--family", "foo"], "error: --family 'foo' is not a reszoo family. Supported: resnet, preact_resnet, "),
        (["--family", "attention"], "error: --family 'attention' has no search space in reszoo.tune. Supported: "),
        (["--tuner", "grid"], "error: argument --tuner: invalid choice: 'grid' (choose from 'random', 'bayesian', "),
        (["--max-trials", "0"], "error: --max-trials must be >= 1. Received: --max-trials=0"),
        (["--epochs", "0"], "error: --epochs must be >= 1. Received: --epochs=0"),
        (["--max-params", "0"], "error: --max-params must be >= 1. Received: --max-params=0"),
        (["--val-split", "0"], "error: --val-split must be >= 1 (the objective needs validation images)."),
        (["--space", "depth"], "error: argument --space: expected NAME=V1[,V2...], e.g. depth=8,14."),
        (["--space", "width=2"], "error: --space names a knob fast_resnet does not have: width. Its knobs: depth,"),
        (["--space", "depth=9"], "error: --space depth allows 8, 14, 20, 32, 44, 56, 110. Received: --space depth=9"),
        (["--space", "lr=1.5"], "error: --space lr allows numbers in [0.01, 0.4]. Received: --space lr=1.5"),
        (["--space", "depth=8", "--space", "depth=14"], "error: --space gives depth more than once."),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys):
    assert tune.main(argv) == tune.EXIT_USAGE == 2
    error = capsys.readouterr().err
    assert error.startswith(message), error
    assert error.count("\n") == 1


def test_max_params_below_the_smallest_network_is_refused_up_front(image_folder, tmp_path, capsys):
    project = tmp_path / "nothing"
    assert tune.main(tune_argv(image_folder, project, "--max-params", "1000")) == 2
    smallest = reszoo.trainable_params(reszoo.build("fast_resnet", depth=8, unit_type=2, num_classes=3))
    assert capsys.readouterr().err == (
        f"error: --max-params 1,000 is below the smallest fast_resnet in the search space (depth=8, unit_type=2, "
        f"shortcut='A', dropout=0.0, drop_path=0.0, attention=None: {smallest:,} trainable parameters); nothing "
        "fits. Received: --max-params=1000\n"
    )
    assert not project.exists()


def test_missing_data_is_a_usage_error(tmp_path, capsys):
    assert tune.main(["--dataset", f"folder:{tmp_path / 'absent'}", "--project-dir", str(tmp_path / "p")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert not (tmp_path / "p").exists()


def test_a_project_of_another_search_is_refused(tmp_path):
    args = tune.parse_args(["--family", "wrn", "--project-dir", str(tmp_path / "p"), "--epochs", "3"])
    args = args.replace(val_split=5)
    tune.open_project(args)
    tune.open_project(args)  # the same search continues
    other = tune.parse_args(["--family", "wrn", "--project-dir", str(tmp_path / "p"), "--epochs", "5"]).replace(
        val_split=5
    )
    with pytest.raises(ValueError, match=r"holds a search with other epochs \(epochs=3 there, 5 now\)"):
        tune.open_project(other)
    narrowed = tune.parse_args(
        ["--family", "wrn", "--project-dir", str(tmp_path / "p"), "--epochs", "3", "--space", "width=1,2"]
    ).replace(val_split=5)
    with pytest.raises(ValueError, match=r"other space \(space knobs width: "):
        tune.open_project(narrowed)


def test_bayesian_needs_scipy_and_sklearn(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("scipy", "sklearn") else real_find_spec(name, *a),
    )
    with pytest.raises(
        ValueError, match=r"--tuner bayesian needs scipy and sklearn \(pip install 'keras-tuner\[bayesian\]'\)"
    ):
        tune.check_environment("bayesian")
    tune.check_environment("random")


# Search spaces ---------------------------------------------------------------------------


class _Validated(Exception):
    """Raised where a builder starts creating layers: every argument passed its checks."""


@pytest.fixture
def validate_only(monkeypatch):
    """``reszoo.build`` that only runs the builders' up-front argument checks.

    Every builder validates all its arguments before its first layer (``model_inputs``); raising there
    checks a configuration in microseconds, without building it.
    """

    def stop(*args, **kwargs):
        raise _Validated

    for family in tune.SPACES:
        module = sys.modules[registry.families()[family].builder.__module__]
        monkeypatch.setattr(module, "model_inputs", stop)

    def validate(family, kwargs):
        with pytest.raises(_Validated):
            reszoo.build(family, **kwargs)

    return validate


def test_the_required_families_have_search_spaces():
    assert {"resnet", "preact_resnet", "fast_resnet", "wrn", "pyramidnet", "densenet", "resnext", "shake_shake"} <= set(
        tune.supported_families()
    )
    for family in tune.supported_families():
        space = tune.search_space(family)
        names = [k.name for k in space.knobs]
        assert len(names) == len(set(names)), f"{family}: keras-tuner needs distinct names"
        assert {"lr", "weight_decay", "batch_size"} <= set(names)
        arguments = registry.families()[family].family_args()
        for knob in space.knobs:
            assert knob.training or knob.target is None or knob.target in arguments, (family, knob.name)
            if knob.when:
                assert knob.when[0] in names[: names.index(knob.name)], "a condition's parent comes first"


@pytest.mark.parametrize("family", tune.supported_families())
def test_every_configuration_of_the_space_is_valid(family, validate_only):
    space = tune.search_space(family)
    count = 0
    for values in space.model_configurations():
        assert_inside_space(space, values)
        kwargs = space.builder_kwargs(values)
        registry.resolve(family, **kwargs)  # argument names
        validate_only(family, kwargs)  # argument values: depth rules, widths, exclusive options
        count += 1
    assert count >= 24


@pytest.mark.parametrize("family", tune.supported_families())
def test_the_validity_check_rejects_invalid_values(family, validate_only):
    """The fast check above is not vacuous: an impossible depth fails the builders' checks."""
    kwargs = tune.search_space(family).builder_kwargs(tune.search_space(family).smallest())
    with pytest.raises(ValueError, match="depth"):
        reszoo.build(family, **{**kwargs, "depth": kwargs["depth"] + 1})


@pytest.mark.parametrize("family", tune.supported_families())
def test_the_smallest_configuration_builds(family):
    space = tune.search_space(family)
    model = reszoo.build(family, **space.builder_kwargs(space.smallest()), input_shape=(8, 8, 3), num_classes=3)
    assert model.output_shape == (None, 3)


@pytest.mark.parametrize("family", tune.supported_families())
def test_keras_tuner_samples_stay_inside_the_declared_space(family, tmp_path):
    space = tune.search_space(family)
    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("val_accuracy", "max"), max_trials=40, seed=1)
    oracle._set_project_dir(str(tmp_path), family)  # an oracle without a tuner needs its folder set
    oracle.verbose = 0
    declared = kt.HyperParameters()
    space.declare(declared)
    oracle.update_space(declared)
    seen = set()
    for _ in range(25):
        trial = oracle.create_trial("test")
        values = space.decode(trial.hyperparameters.values)
        assert_inside_space(space, values)
        registry.resolve(family, **space.builder_kwargs(values))
        seen.add(tuple(sorted((k, v) for k, v in values.items() if k not in ("lr", "weight_decay"))))
        oracle.update_trial(trial.trial_id, {"val_accuracy": 0.5})
        trial.status = kt.engine.trial.TrialStatus.COMPLETED
        oracle.end_trial(trial)
    assert len(seen) > 5


def _depth_knobs(space: tune.SearchSpace):
    return [k for k in space.knobs if k.target == "depth"]


@pytest.mark.parametrize(
    "family, rules",
    [
        ("resnet", resnet_module.DEPTH_RULES),
        ("preact_resnet", resnet_module.DEPTH_RULES),
        ("fast_resnet", {False: resnet_module.DEPTH_RULES[False]}),
        ("pyramidnet", pyramidnet_module.DEPTH_RULES),
        ("resnext", {True: resnext_module.DEPTH_RULE}),
        ("shake_shake", {False: shake_shake_module.DEPTH_RULE}),
    ],
)
def test_depth_choices_follow_the_family_depth_rule(family, rules):
    """Every depth of a depth knob is valid by the family module's rule (units_from_depth raises otherwise),
    one per unit count, and is what ``spaces.depths`` gives back for those unit counts."""
    for knob in _depth_knobs(tune.search_space(family)):
        bottleneck = bool(knob.when and knob.when[1][0]) or family == "resnext"
        units = [units_from_depth(depth, **rules[bottleneck]) for depth in knob.values]
        assert units == sorted(set(units)), "one depth per unit count, smallest network first"
        assert tune.spaces.depths(tune.spaces.rule(**rules[bottleneck]), units) == knob.values


@pytest.mark.parametrize(
    "family, depth_rule, kwargs",
    [
        ("resnet", resnet_module.DEPTH_RULES[False], {}),
        ("resnet", resnet_module.DEPTH_RULES[True], {"bottleneck": True}),
        ("pyramidnet", pyramidnet_module.DEPTH_RULES[False], {}),
        ("pyramidnet", pyramidnet_module.DEPTH_RULES[True], {"bottleneck": True}),
        ("resnext", resnext_module.DEPTH_RULE, {}),
        ("shake_shake", shake_shake_module.DEPTH_RULE, {}),
    ],
    ids=["resnet", "resnet-bottleneck", "pyramidnet", "pyramidnet-bottleneck", "resnext", "shake_shake"],
)
def test_the_builder_and_the_space_read_the_same_depth_rule(family, depth_rule, kwargs, validate_only, monkeypatch):
    """Not a copy: with the module's rule changed (one more extra layer) the builder accepts other depths, and
    the spaces derived afresh list those depths."""
    depth = 3 * depth_rule["layers_per_unit"] + depth_rule["extra"]  # one unit per stage
    validate_only(family, {**kwargs, "depth": depth})
    knob = "bottleneck_depth" if kwargs.get("bottleneck") else "depth"
    before = next(k.values for k in tune.spaces.family_spaces()[family] if k.name == knob)
    monkeypatch.setitem(depth_rule, "extra", depth_rule["extra"] + 1)
    validate_only(family, {**kwargs, "depth": depth + 1})
    with pytest.raises(ValueError, match="depth"):
        reszoo.build(family, **kwargs, depth=depth)
    after = next(k.values for k in tune.spaces.family_spaces()[family] if k.name == knob)
    assert after == tuple(d + 1 for d in before)


def test_wrn_and_densenet_depths_come_from_their_validators():
    assert [wrn_module.wrn_units(d) for d in tune.search_space("wrn").knobs[0].values] == [1, 2, 3, 4, 6]
    basic, bottleneck = _depth_knobs(tune.search_space("densenet"))
    assert [densenet_module.layers_per_block(d, False) for d in basic.values] == [1, 3, 6, 12, 32]
    assert [densenet_module.layers_per_block(d, True) for d in bottleneck.values] == [1, 2, 4, 6, 16, 31, 41]
    with pytest.raises(ValueError, match=r"no depth up to 1000 has \[400\] units per stage"):
        tune.spaces.depths(wrn_module.wrn_units, (400,))


def test_choice_knobs_are_the_family_modules_own_tuples():
    def values(family, name):
        return next(k.values for k in tune.search_space(family).knobs if k.name == name)

    assert values("preact_resnet", "unit") == resnet_module.PREACT_UNITS
    assert values("shake_shake", "mode") == tuple(SHAKE_MODES)
    assert values("shake_shake", "level") == SHAKE_LEVELS
    for family in ("resnet", "preact_resnet", "fast_resnet", "wrn"):
        assert values(family, "attention") == tuple(tune.NONE if a is None else a for a in ATTENTION_KINDS)
        assert set(tune.search_space(family).builder_kwargs({"attention": "none"}).values()) <= set(ATTENTION_KINDS)
    for family in ("resnet", "preact_resnet", "fast_resnet"):
        assert set(values(family, "shortcut")) <= set(SHORTCUTS)


def test_space_data_helpers():
    space = tune.search_space("pyramidnet")
    assert space.smallest() == {
        "bottleneck": False,
        "depth": 8,
        "alpha": 12,
        "branch_drop": "none",
        "lr": 0.01,
        "weight_decay": 5e-05,
        "batch_size": 64,
    }
    values = {**space.smallest(), "branch_drop": "shakedrop", "shakedrop": 0.3}
    assert space.builder_kwargs(values) == {"bottleneck": False, "depth": 8, "alpha": 12, "shakedrop": 0.3}
    assert space.training_values(values) == {"lr": 0.01, "weight_decay": 5e-05, "batch_size": 64}
    bottleneck = {**values, "bottleneck": True, "bottleneck_depth": 164}
    del bottleneck["depth"]
    assert space.builder_kwargs(bottleneck)["depth"] == 164
    assert tune.search_space("resnet").builder_kwargs({"attention": "none", "shortcut": "B"}) == {
        "attention": None,
        "shortcut": "B",
    }
    narrowed = space.restricted({"alpha": (48, 12), "lr": (0.1,)})
    assert narrowed.smallest()["alpha"] == 12 and narrowed.smallest()["lr"] == 0.1
    assert "alpha              12, 24, 48, 84, 150, 200, 270" in space.table()
    assert tune.parse_space_item("shortcut=A,B") == ("shortcut", ("A", "B"))
    assert tune.parse_space_item("bottleneck=False") == ("bottleneck", (False,))
    with pytest.raises(ValueError, match=r"--space bottleneck allows False, True. Received: --space bottleneck=1"):
        tune.search_space("resnet").restricted({"bottleneck": (1,)})


@pytest.mark.parametrize("family", tune.supported_families())
def test_a_trial_config_is_a_train_config_and_its_command_line_resolves_back_to_it(family, tmp_path):
    args = tune.parse_args(["--family", family, "--project-dir", str(tmp_path), "--epochs", "3"]).replace(val_split=100)
    space = args.search_space
    info = data.describe("cifar10", val_split=100)
    for values in (space.smallest(), next(iter(reversed(list(space.model_configurations()))))):
        values = {**values, "lr": 0.0123456789, "weight_decay": 3.3e-4, "batch_size": 128}
        config = tune.trial_config(args, space, values, info=info, export_dir=str(tmp_path / "e"))
        assert isinstance(config, TrainConfig)
        expected = {k: v for k, v in space.builder_kwargs(values).items() if v is not None}
        assert dict(config.overrides) == expected
        assert all(type(config.build_kwargs[k]) is type(v) for k, v in expected.items())
        assert (config.lr, config.weight_decay, config.batch_size) == (0.0123456789, 3.3e-4, 128)
        assert (config.model, config.epochs, config.val_split, config.seed) == (family, 3, 100, 0)
        argv = shlex.split(config.command_line())
        assert train.resolve(train.parse_args(argv[argv.index("reszoo.train") + 1 :]), info=info) == config


def test_show_space_prints_the_knobs(capsys):
    assert tune.main(["--family", "wrn", "--show-space"]) == 0
    out = capsys.readouterr().out
    assert "depth              10, 16, 22, 28, 40" in out
    assert "lr                 0.01 .. 0.4 (log-uniform)" in out


@pytest.mark.slow
@pytest.mark.parametrize("family", tune.supported_families())
def test_every_value_builds_and_the_first_values_give_the_smallest_network(family):
    """Each knob's every value, the others at their first: builds for real, never below the smallest."""
    space = tune.search_space(family)

    def params(values):
        kwargs = space.builder_kwargs(values)
        return reszoo.trainable_params(reszoo.build(family, **kwargs, input_shape=(8, 8, 3)))

    floor = params(space.smallest())
    for knob in space.knobs:
        if knob.training:
            continue
        parent = {knob.when[0]: knob.when[1][0]} if knob.when else {}
        for value in knob.values:
            assert params(space.smallest(**parent, **{knob.name: value})) >= floor, (knob.name, value)
