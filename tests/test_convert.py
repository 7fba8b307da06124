"""reszoo.convert: pytorchcv checkpoints as reszoo models, reszoo.build(weights=...) and init_from.

Every entry of the weights table gets a random-initialised pytorchcv checkpoint (random BN statistics
and affine parameters, eval mode; tests/convert_checks.py) and must give pytorchcv's probabilities
within 1e-4 with the same argmax. The published files cannot be downloaded on CI's machines; the
download path is tested offline (its error) and through a populated cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import reszoo
from reszoo import convert
from reszoo.convert import cli as convert_cli
from reszoo.convert import pytorchcv as cv
from reszoo.convert.table import ARCHITECTURES, CHECKPOINTS
from tests import convert_checks as checks

TOLERANCE = 1e-4
# The smallest checkpoint of every name-mapping scheme runs in CI (the CLI test adds preresnet20_cifar100),
# the other 99 are marked slow.
FAST = {
    "resnet20_cifar10",
    "resnet20_cifar100",
    "preresnet20_cifar10",
    "seresnet20_cifar100",
    "sepreresnet20_cifar10",
    "wrn16_10_cifar100",
    "densenet40_k12_cifar10",
    "densenet40_k12_bc_cifar100",
    "resnext29_32x4d_cifar10",
    "shakeshakeresnet20_2x16d_cifar10",
    "ror3_56_cifar10",
}
NAMES = [pytest.param(name, marks=[] if name in FAST else [pytest.mark.slow]) for name in CHECKPOINTS]


@pytest.fixture(scope="module")
def images():
    return checks.random_images(8, seed=1)


def converted_and_expected(name, tmp_path, images):
    path = tmp_path / f"{name}.pth"
    net = checks.random_checkpoint(name, path, images=images)
    return convert.from_pytorchcv(name, path), checks.torch_probabilities(net, images), path


def assert_same_probabilities(got, expected):
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == expected.shape
    difference = np.max(np.abs(got - expected))
    assert difference < TOLERANCE, f"max abs difference {difference:.3g}"
    np.testing.assert_array_equal(got.argmax(axis=1), expected.argmax(axis=1))


# ---- the table


def test_the_table_covers_the_residual_families_of_pytorchcv():
    table = convert.entries()
    assert len(table) == 110
    assert {e.family for e in table.values()} == {
        "resnet",
        "preact_resnet",
        "wrn",
        "pyramidnet",
        "densenet",
        "resnext",
        "shake_shake",
        "ror",
    }
    for expected in ("resnet1202_cifar100", "preresnet1001_cifar10", "sepreresnet542bn_cifar100", "wrn40_8_cifar100"):
        assert expected in table
    assert set(ARCHITECTURES) == {name.rsplit("_", 1)[0] for name in CHECKPOINTS}
    item = table["resnet20_cifar10"]
    assert (item.family, item.kwargs, item.error, item.params) == (
        "resnet",
        {"depth": 20, "shortcut": "B"},
        5.97,
        272_474,
    )
    assert item.url == (
        "https://github.com/osmr/imgclsmob/releases/download/v0.0.163/resnet20_cifar10-0597-9b0024ac.pth.zip"
    )
    # A depth pytorchcv counts differently maps explicitly: its ror3_56 has 8 units per group.
    assert table["ror3_56_cifar10"].kwargs == {"base": "resnet", "depth": 50, "levels": 3, "downsample": "max_pool"}


def test_the_class_names_are_cifars():
    assert len(cv.CIFAR10_CLASSES) == 10 and cv.CIFAR10_CLASSES[0] == "airplane"
    assert len(cv.CIFAR100_CLASSES) == 100 and list(cv.CIFAR100_CLASSES) == sorted(cv.CIFAR100_CLASSES)
    assert cv.CIFAR100_CLASSES[-1] == "worm"


def test_import_reszoo_imports_neither_torch_nor_pytorchcv():
    code = (
        "import sys, reszoo, reszoo.convert\n"
        "reszoo.build('resnet', depth=8)\n"
        "assert 'torch' not in sys.modules and 'pytorchcv' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def test_list_prints_every_name_with_its_configuration_params_and_error(capsys):
    assert convert_cli.main(["--list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 1 + len(CHECKPOINTS)
    assert lines[0].split() == [
        "pytorchcv",
        "name",
        "reszoo",
        "configuration",
        "params",
        "C10",
        "err",
        "%",
        "C100",
        "err",
        "%",
    ]
    row = next(line for line in lines if line.startswith("resnet20_cifar10 "))
    assert row.split() == ["resnet20_cifar10", "resnet(depth=20,", "shortcut='B')", "272,474", "5.97", "-"]


# ---- conversions


@pytest.mark.parametrize("name", NAMES)
def test_converted_model_gives_pytorchcvs_probabilities(name, tmp_path, images):
    model, expected, _ = converted_and_expected(name, tmp_path, images)
    assert reszoo.trainable_params(model) == cv.entry(name).params
    assert_same_probabilities(model(images, training=False), expected)


def test_the_model_takes_float_and_uint8_pixels_and_the_zip_the_release_ships(tmp_path, images):
    import zipfile

    model, expected, path = converted_and_expected("resnet20_cifar10", tmp_path, images)
    assert_same_probabilities(model.predict(images.astype("float32"), verbose=0), expected)
    assert_same_probabilities(model.predict(images, verbose=0), expected)
    archive = tmp_path / "resnet20_cifar10-0597-9b0024ac.pth.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(path, "resnet20_cifar10-0597-9b0024ac.pth")
    conversion = convert.convert("resnet20_cifar10", archive)
    assert_same_probabilities(conversion.model(images, training=False), expected)
    assert conversion.sha1 == cv.sha1_of(path.read_bytes()) and conversion.sha1 != cv.entry("resnet20_cifar10").sha1


def test_a_state_dict_of_arrays_converts_too(tmp_path, images):
    net = checks.random_checkpoint("preresnet20_cifar10", tmp_path / "p.pth", images=images)
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    model = convert.from_pytorchcv("preresnet20_cifar10", state_dict=state)
    assert_same_probabilities(model(images, training=False), checks.torch_probabilities(net, images))


# ---- bad checkpoints


@pytest.fixture(scope="module")
def resnet20_state(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "resnet20.pth"
    net = checks.random_checkpoint("resnet20_cifar10", path)
    return {k: v.clone() for k, v in net.state_dict().items()}


def conversion_error(name, state):
    with pytest.raises(ValueError) as info:
        convert.from_pytorchcv(name, state_dict=state)
    return str(info.value)


def test_a_missing_tensor_is_named(resnet20_state):
    state = dict(resnet20_state)
    del state["features.stage2.unit1.identity_conv.bn.running_var"]
    message = conversion_error("resnet20_cifar10", state)
    assert message == (
        "The state_dict given for resnet20_cifar10 does not match the reszoo model 'resnet20': tensors missing "
        "from the checkpoint: features.stage2.unit1.identity_conv.bn.running_var."
    )


def test_an_unused_tensor_is_named(resnet20_state):
    state = {**resnet20_state, "features.stage3.unit4.body.conv1.conv.weight": resnet20_state["output.weight"]}
    message = conversion_error("resnet20_cifar10", state)
    assert message.endswith("checkpoint tensors left unused: features.stage3.unit4.body.conv1.conv.weight.")


def test_a_wrong_name_is_both_missing_and_unused(resnet20_state):
    state = dict(resnet20_state)
    state["output.kernel"] = state.pop("output.weight")
    message = conversion_error("resnet20_cifar10", state)
    assert "tensors missing from the checkpoint: output.weight" in message
    assert "checkpoint tensors left unused: output.kernel" in message


def test_a_checkpoint_of_another_model_is_refused(tmp_path, resnet20_state):
    message = conversion_error("resnet56_cifar10", resnet20_state)
    assert "does not match the reszoo model 'resnet56'" in message
    assert "tensors missing from the checkpoint: features.stage1.unit4.body.conv1.conv.weight" in message
    preact = checks.random_checkpoint("preresnet20_cifar10", tmp_path / "preresnet20.pth")
    message = conversion_error("resnet20_cifar10", preact.state_dict())
    assert "features.init_block.conv.weight" in message and "left unused: features.init_block.weight" in message
    message = conversion_error("resnet20_cifar100", resnet20_state)
    assert "tensors of the wrong shape: output.weight (10, 64) for predictions/kernel (64, 100)" in message


def test_an_unknown_name_suggests_close_ones():
    with pytest.raises(ValueError, match=r"No pytorchcv CIFAR checkpoint named 'resnet20_cifar' .* Did you mean"):
        convert.from_pytorchcv("resnet20_cifar")


@pytest.mark.parametrize(
    "weights_file, message",
    [
        ("model.pt", "A pytorchcv checkpoint is a .pth or .pth.zip file. Received: 'model.pt'"),
        ("missing.pth", "No checkpoint file at "),
    ],
)
def test_bad_weights_files(weights_file, message):
    with pytest.raises(ValueError, match=message):
        convert.from_pytorchcv("resnet20_cifar10", weights_file)


def test_a_file_that_is_no_checkpoint(tmp_path):
    path = tmp_path / "noise.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="is not a readable PyTorch checkpoint"):
        convert.from_pytorchcv("resnet20_cifar10", path)


# ---- the published files: offline, and from the cache


def test_offline_without_the_file_one_error_names_the_url_and_where_to_put_it(tmp_path, monkeypatch):
    import reszoo.data

    monkeypatch.setattr(reszoo.data, "_download_unreachable", lambda url: "github.com unreachable (offline)")
    with pytest.raises(convert.WeightsUnavailableError) as info:
        convert.from_pytorchcv("resnet20_cifar10", cache_dir=tmp_path)
    item = cv.entry("resnet20_cifar10")
    assert str(info.value) == (
        f"The pytorchcv checkpoint resnet20_cifar10 is not in {tmp_path} and could not be fetched (cannot "
        f"download: github.com unreachable (offline)). Download {item.url} on a machine that is online, then "
        f"either unzip it to {tmp_path / item.file_name} (pytorchcv's cache) or pass the .pth.zip or .pth as "
        "weights_file (--weights-file)."
    )


@pytest.fixture
def cache(tmp_path, monkeypatch, images):
    """pytorchcv's cache (~/.torch/models) in tmp_path, holding a random resnet20_cifar10 under its published name."""
    monkeypatch.setattr(cv, "DEFAULT_CACHE_DIR", str(tmp_path / "models"))
    os.makedirs(tmp_path / "models")
    item = cv.entry("resnet20_cifar10")
    net = checks.random_checkpoint(item.name, tmp_path / "models" / item.file_name, images=images)
    return checks.torch_probabilities(net, images)


def test_build_with_published_weights_reads_pytorchcvs_cache(cache, images):
    net = reszoo.build("resnet", depth=20, shortcut="B", weights="cifar10")
    normalized = convert.normalization_layer()(images.astype("float32"))
    assert_same_probabilities(net(normalized, training=False), cache)
    assert_same_probabilities(convert.from_pytorchcv("resnet20_cifar10")(images), cache)


# ---- reszoo.build(weights=...)


def test_build_with_a_checkpoint_file(tmp_path, images):
    path = tmp_path / "sepre.pth"
    net = checks.random_checkpoint("sepreresnet20_cifar100", path, images=images)
    kwargs = dict(depth=20, shortcut="B", attention="se", stem="conv_bn_relu", head="none")
    model = reszoo.build("preact_resnet", weights=path, **kwargs)
    assert model.output_shape == (None, 100)
    assert model.get_layer("predictions").kernel.shape == (64, 100)
    normalized = convert.normalization_layer()(images.astype("float32"))
    assert_same_probabilities(model(normalized, training=False), checks.torch_probabilities(net, images))
    headless = reszoo.build("preact_resnet", weights=path, include_top=False, pooling="avg", **kwargs)
    np.testing.assert_allclose(
        headless(normalized), keras.Model(model.input, model.get_layer("head_pool").output)(normalized), atol=1e-6
    )


def test_build_without_published_weights_lists_the_configurations_that_have_them():
    with pytest.raises(ValueError) as info:
        reszoo.build("resnet20", weights="cifar10")
    message = str(info.value)
    assert message.startswith("No published cifar10 checkpoint for 'resnet20' with its defaults. Configurations ")
    assert "resnet(depth=20, shortcut='B') (resnet20_cifar10)" in message
    assert "resnet(depth=164, bottleneck=True, shortcut='B') (resnet164bn_cifar10)" in message
    with pytest.raises(ValueError, match=r"No published cifar100 checkpoint for 'fast_resnet' .*\(every family\)"):
        reszoo.build("fast_resnet", weights="cifar100")


def test_build_refuses_a_class_count_the_weights_do_not_have():
    with pytest.raises(ValueError) as info:
        reszoo.build("resnet", depth=20, shortcut="B", num_classes=5, weights="cifar100")
    assert str(info.value) == (
        "The cifar100 weights have 100 classes; received num_classes=5. To fine-tune on another class count, "
        "build with num_classes=5 and use reszoo.convert.init_from(model, 'pytorchcv:resnet20_cifar100')."
    )


@pytest.mark.parametrize("weights", ["imagenet", 3, "model.onnx"])
def test_build_refuses_other_weights(weights):
    with pytest.raises(ValueError, match=r"weights must be None, 'cifar10', 'cifar100', or the path of a \.pth"):
        reszoo.build("resnet", depth=8, weights=weights)


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_build_with_a_keras_file_of_the_same_architecture(tmp_path, suffix, images):
    source = reszoo.build("resnet", depth=8, shortcut="B", num_classes=3)
    path = str(tmp_path / f"source{suffix}")
    source.save(path) if suffix == ".keras" else source.save_weights(path)
    model = reszoo.build("resnet", depth=8, shortcut="B", num_classes=3, weights=path)
    x = images.astype("float32") / 255
    np.testing.assert_allclose(model(x), source(x), atol=1e-6)
    with pytest.raises(ValueError, match="is not the same architecture as the model: layer 'predictions'"):
        reszoo.build("resnet", depth=8, shortcut="B", num_classes=4, weights=path)


# ---- exports


def test_the_cli_writes_an_export_that_plain_tensorflow_serves(tmp_path, images, capsys):
    path = tmp_path / "preresnet20.pth"
    net = checks.random_checkpoint("preresnet20_cifar100", path, images=images)
    expected = checks.torch_probabilities(net, images)
    export_dir = tmp_path / "export"
    assert (
        convert_cli.main(
            ["pytorchcv", "preresnet20_cifar100", "--weights-file", str(path), "--export-dir", str(export_dir)]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == str(export_dir)
    served = tf.saved_model.load(str(export_dir))
    assert_same_probabilities(served.serve_uint8(tf.constant(images)), expected)
    assert_same_probabilities(
        served.signatures["serving_default"](images=tf.constant(images, tf.float32))["output_0"], expected
    )
    summary = json.loads((export_dir / "summary.json").read_text())
    assert summary["source"] == "pytorchcv" and summary["pytorchcv_name"] == "preresnet20_cifar100"
    assert summary["published_error"] == 30.22 and summary["sha1"] == cv.sha1_of(path.read_bytes())
    assert summary["published_sha1"] == cv.entry("preresnet20_cifar100").sha1 and not summary["sha1_matches_published"]
    assert json.loads((export_dir / "class_names.json").read_text()) == list(cv.CIFAR100_CLASSES)
    predictor = reszoo.load(export_dir)
    assert_same_probabilities(predictor.predict(images), expected)
    assert predictor.classify(images[:1], top_k=1)[0][0][0] == cv.CIFAR100_CLASSES[int(expected[0].argmax())]


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["pytorchcv", "resnet21_cifar10", "--export-dir", "{d}"],
            "error: No pytorchcv CIFAR checkpoint named 'resnet21_cifar10'",
        ),
        (
            ["pytorchcv", "resnet20_cifar10", "--weights-file", "{d}.pth", "--export-dir", "{d}"],
            "error: No checkpoint file at ",
        ),
        (
            ["pytorchcv", "resnet20_cifar10", "--weights-file", "{ckpt}", "--export-dir", "{d}"],
            "error: The checkpoint ",
        ),
        (["pytorchcv", "resnet56_cifar10"], "error: --export-dir is required"),
        (["tensorflow", "resnet56_cifar10", "--export-dir", "{d}"], "error: argument source: invalid choice"),
        ([], "error: give the source and the model name"),
    ],
)
def test_cli_bad_input_exits_2_with_one_error_line_and_writes_nothing(argv, message, tmp_path, capsys, resnet20_state):
    import torch

    ckpt = tmp_path / "other.pth"
    torch.save({k: v for k, v in resnet20_state.items() if "stage3" not in k}, ckpt)
    export_dir = tmp_path / "out"
    argv = [a.format(d=export_dir, ckpt=ckpt) for a in argv]
    assert convert_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert sorted(os.listdir(tmp_path)) == (["other.pth"])


def test_cli_refuses_a_non_empty_export_dir(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "kept.txt").write_text("mine")
    assert convert_cli.main(["pytorchcv", "resnet20_cifar10", "--export-dir", str(tmp_path / "out")]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert os.listdir(tmp_path / "out") == ["kept.txt"]


# ---- init_from


def tiny(num_classes=10, depth=8):
    return reszoo.build("resnet", depth=depth, shortcut="B", num_classes=num_classes)


def assert_all_but_classifier_equal(source, target):
    for layer in source.layers:
        if layer.weights and layer.name != "predictions":
            for a, b in zip(layer.get_weights(), target.get_layer(layer.name).get_weights(), strict=True):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["export", ".keras", ".weights.h5", "wrapped .weights.h5"])
def test_init_from_copies_every_layer_and_leaves_a_new_classifier_fresh(kind, tmp_path):
    from reszoo.export import export_model

    source = tiny(10)
    wrapped = cv.with_raw_inputs(source)
    if kind == "export":
        path = export_model(wrapped, tmp_path / "export", class_names=[str(i) for i in range(10)])
    elif kind == ".keras":
        path = str(tmp_path / "m.keras")
        source.save(path)
    else:
        path = str(tmp_path / "m.weights.h5")
        (wrapped if kind.startswith("wrapped") else source).save_weights(path)
    target = tiny(3)
    fresh = target.get_layer("predictions").get_weights()
    messages = convert.init_from(target, path)
    layers = len(convert.transfer.weight_layers(target))
    assert messages[0] == f"initialised {layers - 1} of {layers} layers with weights from " + (
        f"model file {path}/model.keras"
        if kind == "export"
        else f"{'model' if kind == '.keras' else 'weights'} file {path}"
    )
    assert messages[1] == "the classifier 'predictions' is initialised afresh: the source has 10 classes, the model 3"
    assert_all_but_classifier_equal(source, target)
    for a, b in zip(fresh, target.get_layer("predictions").get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    same = tiny(10)
    assert len(convert.init_from(cv.with_raw_inputs(same), path)) == 1
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(same(x), source(x), atol=1e-6)


def test_init_from_refuses_another_architecture(tmp_path):
    path = str(tmp_path / "m.keras")
    tiny(10).save(path)
    with pytest.raises(ValueError) as info:
        convert.init_from(tiny(10, depth=14), path)
    assert str(info.value) == (
        f"model file {path} is not the same architecture as the model: layers only in the model: "
        "stage1_unit2_conv1, stage1_unit2_bn1, stage1_unit2_conv2, stage1_unit2_bn2, stage2_unit2_conv1, "
        "stage2_unit2_bn1 and 6 more."
    )
    h5 = str(tmp_path / "m.weights.h5")
    tiny(10).save_weights(h5)
    with pytest.raises(ValueError, match=r"is not a \.weights\.h5 file of this architecture \('resnet14'\)"):
        convert.init_from(tiny(10, depth=14), h5)


@pytest.mark.parametrize("source", ["model.onnx", "missing.keras", "{tmp}"])
def test_init_from_refuses_bad_sources(source, tmp_path):
    with pytest.raises(ValueError, match="export folder|No weights file|has no model.keras"):
        convert.init_from(tiny(), source.format(tmp=tmp_path))


def test_init_from_pytorchcv_then_fine_tune_on_an_image_folder_with_three_classes(cache, tmp_path, images):
    from PIL import Image

    from reszoo import data

    for split, count in (("train", 6), ("test", 2)):
        for c in range(3):
            os.makedirs(tmp_path / "folder" / split / f"class{c}")
            for i in range(count):
                pixels = np.full((32, 32, 3), 60 * c + 40, np.uint8) + images[i] // 8
                Image.fromarray(pixels).save(tmp_path / "folder" / split / f"class{c}" / f"{i}.png")
    bundle = data.load_dataset(f"folder:{tmp_path / 'folder'}", batch_size=6, augment="none", seed=0)
    net = reszoo.build("resnet", depth=20, shortcut="B", num_classes=bundle.num_classes)
    messages = convert.init_from(net, "pytorchcv:resnet20_cifar10")
    assert "the source has 10 classes, the model 3" in messages[1] and "pytorchcv trained it" in messages[2]
    pretrained = convert.from_pytorchcv("resnet20_cifar10")
    assert_all_but_classifier_equal(convert.transfer.network_of(pretrained), net)
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, net(convert.normalization_layer()(inputs)))
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy", jit_compile=False)
    before = model.evaluate(bundle.train, verbose=0)
    model.fit(bundle.train, epochs=3, shuffle=False, verbose=0)
    assert model.evaluate(bundle.train, verbose=0) < before


# ---- the builder options that express pytorchcv's architectures


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("shake_shake", dict(depth=8, width=8, unit="post")),
        ("preact_resnet", dict(depth=8, shortcut="B", attention="se", stem="conv_bn_relu", head="none")),
        ("ror", dict(base="resnet", depth=8, levels=3, downsample="max_pool")),
    ],
    ids=["shake_shake-post", "sepreresnet", "ror-max_pool"],
)
def test_pytorchcv_forms_build_train_and_round_trip(name, kwargs, tmp_path):
    from tests import family_checks

    model = reszoo.build(name, **kwargs)  # new layer arrangements, no new layer kinds: no SavedModel check
    batch, labels = family_checks.fixed_batch()
    family_checks.check_forward(model, batch, 10)
    family_checks.check_gradients_reach_every_weight(model, batch, labels)
    family_checks.check_config_round_trip(model, batch)


def test_the_pytorchcv_forms_differ_from_the_papers_where_pytorchcv_does():
    post = {layer.name for layer in reszoo.build("shake_shake", depth=8, width=8, unit="post").layers}
    paper = {layer.name for layer in reszoo.build("shake_shake", depth=8, width=8).layers}
    assert {"stem_relu", "stage1_unit1_out_relu"} <= post - paper and "head_relu" in paper - post
    assert "stage2_unit1_shortcut_relu" in paper - post
    ror = reszoo.build("ror", base="resnet", depth=14, downsample="max_pool")
    assert ror.get_layer("stage1_pool").output.shape[1:3] == (16, 16) and ror.get_layer("level1_proj").strides == (4, 4)
    assert all(layer.strides == (1, 1) for layer in ror.layers if layer.name.endswith("_conv1"))
    with pytest.raises(ValueError, match="downsample='max_pool' is pytorchcv's RoR-3: it needs base='resnet'"):
        reszoo.build("ror", base="wrn", depth=10, width=2, downsample="max_pool")
    with pytest.raises(ValueError, match="head must be one of"):
        reszoo.build("preact_resnet", depth=8, head="relu")
