"""The frozen TrainConfig: resolution once, JSON round trip, reruns from summary.json, data.describe."""

from __future__ import annotations

import dataclasses
import json
import shlex

import numpy as np
import pytest
from PIL import Image

from reszoo import data, registry, train
from reszoo.training import TrainConfig, resolve

TINY = dict(model="fast_resnet", dataset="synthetic:64", epochs=1, batch_size=32, overrides={"depth": 8})


def test_config_is_frozen():
    config = TrainConfig.create(**TINY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 2


def test_create_resolves_like_the_command_line():
    config = TrainConfig.create(**TINY)
    assert (config.recipe_choice, config.recipe) == ("auto", "fastresnet")
    assert (config.lr, config.schedule, config.weight_decay) == (0.1, "step", 0.0001)
    assert config.overrides == (("depth", 8),)
    assert config.build_kwargs == {"depth": 8}
    assert config.milestones == ()
    assert config.fused_bn is True


def test_create_rejects_unknown_settings():
    with pytest.raises(ValueError, match=r"Unknown training settings \['batchsize'\]"):
        TrainConfig.create(model="fast_resnet", batchsize=3)


def test_to_dict_round_trips_through_json():
    config = TrainConfig.create(**TINY, milestones=None, image_size=24, seed=3)
    values = json.loads(json.dumps(config.to_dict()))
    assert values["image_size"] == 24 and values["milestones"] == []
    assert TrainConfig.from_dict(values) == config


def test_from_dict_names_unknown_keys():
    values = {**TrainConfig.create(**TINY).to_dict(), "bogus": 1}
    with pytest.raises(ValueError, match=r"Unknown TrainConfig keys \['bogus'\]"):
        TrainConfig.from_dict(values)


def test_namespace_resolves_back_to_the_same_config():
    config = TrainConfig.create(**{**TINY, "epochs": 10}, recipe="none", milestones=[4, 8])
    assert resolve(config.to_namespace(), info=data.describe("synthetic:64")) == config


@pytest.mark.parametrize(("recipe", "expected"), [("none", 1), ("auto", 2)])
def test_resolve_calls_registry_resolve_once(monkeypatch, recipe, expected):
    """One resolution of the model and its overrides; --recipe auto adds one name lookup."""
    calls = []
    real = registry.resolve

    def counting(name, /, **kwargs):
        calls.append(name)
        return real(name, **kwargs)

    monkeypatch.setattr(registry, "resolve", counting)
    argv = ["--model", "fast_resnet", "--set", "depth=8", "--dataset", "synthetic:64", "--recipe", recipe]
    resolve(train.parse_args(argv), info=data.describe("synthetic:64"))
    assert calls == ["fast_resnet"] * expected


def test_summary_config_reruns_the_same_run(tmp_path):
    first = tmp_path / "first"
    argv = ["--model", "fast_resnet", "--set", "depth=8", "--dataset", "synthetic:64", "--epochs", "1"]
    train.run([*argv, "--batch-size", "32", "--export-dir", str(first)])
    config = TrainConfig.from_summary(str(first / "summary.json"))
    assert config.export_dir == str(first)
    summary = json.loads((first / "summary.json").read_text())
    assert summary["fused_bn"] is True and summary["builder_kwargs"]["depth"] == 8
    second = tmp_path / "second"
    rerun = train.run(config.replace(export_dir=str(second), backup_dir=None))
    again = TrainConfig.from_dict(rerun["config"])
    assert again == config.replace(export_dir=str(second), backup_dir=again.backup_dir)


# data.describe -------------------------------------------------------------------------


def test_describe_synthetic_matches_the_loaded_data():
    info = data.describe("synthetic:64", val_split=4)
    bundle = data.load_dataset("synthetic:64", batch_size=16, seed=0, val_split=4)
    assert bundle.info() == info
    assert (info.train_size, info.test_size, info.val_size) == (bundle.train_size, bundle.test_size, bundle.val_size)
    assert (info.num_classes, list(info.class_names), info.image_shape) == (
        bundle.num_classes,
        bundle.class_names,
        tuple(bundle.image_shape),
    )


def test_describe_cifar_without_the_data(tmp_path):
    info = data.describe("cifar10", data_dir=str(tmp_path), val_split=5000)
    assert (info.train_size, info.test_size, info.val_size, info.num_classes) == (45_000, 10_000, 5000, 10)
    assert info.class_names[:2] == ("airplane", "automobile") and info.image_shape == (32, 32, 3)
    assert data.describe("cifar100").num_classes == 100
    assert not any(tmp_path.iterdir())  # nothing downloaded or prepared


def test_describe_folder_counts_files(tmp_path):
    for split, counts in (("train", {"cat": 3, "dog": 2}), ("test", {"cat": 1, "dog": 1})):
        for name, count in counts.items():
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(count):
                Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(tmp_path / split / name / f"{i}.png")
    info = data.describe(f"folder:{tmp_path}")
    assert (info.train_size, info.test_size, info.num_classes) == (5, 2, 2)
    assert (info.class_names, info.image_shape) == (("cat", "dog"), (6, 8, 3))


@pytest.mark.parametrize(
    ("spec", "kwargs", "message"),
    [
        ("imagenet", {}, "Unknown dataset spec 'imagenet'"),
        ("synthetic:0", {}, "synthetic:N needs a positive integer N"),
        ("synthetic:8", {"val_split": 8}, r"val_split must be smaller than the training split \(8 images\)"),
    ],
)
def test_describe_rejects_bad_specs(spec, kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.describe(spec, **kwargs)


@pytest.mark.parametrize(
    "settings",
    [
        dict(TINY, epochs=3),
        dict(TINY, model="resnet", overrides={"depth": 8, "shortcut": "B"}, recipe="he2015", epochs=3),
        dict(TINY, model="wrn", overrides={"depth": 10}, recipe="wrn", epochs=4),
        dict(TINY, model="preact_resnet", schedule="cosine", epochs=3, fused_bn=False, seed=1, deterministic=True),
        dict(TINY, milestones=(), label_smoothing=0.1, cutout=4, jit=False, keep_best=True, val_split=8),
    ],
)
def test_command_line_resolves_back_to_the_config(settings):
    """The printed command is complete: parsed and resolved again it gives the same frozen config."""
    config = TrainConfig.create(**settings)
    words = shlex.split(config.command_line())
    assert (words[0] == "RESZOO_FUSED_BN=0") is (not config.fused_bn)
    args = train.parse_args(words[words.index("reszoo.train") + 1 :])
    args.fused_bn = "RESZOO_FUSED_BN=0" not in words
    assert resolve(args) == config


def test_the_loop_does_not_change_the_config(tmp_path):
    """What run() trains and records is the config it was given, with only the paths filled in."""
    config = TrainConfig.create(**TINY, export_dir=str(tmp_path / "out"))
    summary = train.run(config)
    recorded = TrainConfig.from_dict(summary["config"])
    assert recorded == config.replace(backup_dir=recorded.backup_dir)
    assert recorded.backup_dir == str(tmp_path / "out") + ".backup"
