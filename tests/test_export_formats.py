"""ONNX and LiteRT exports (reszoo.export) against the SavedModel, strict serving signatures, and
serving them with reszoo.load / python -m reszoo.predict."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import reszoo
from reszoo import export, predict
from reszoo.registry import families
from reszoo.runtimes import LiteRTRunner, OnnxRunner

# The slowest smoke configurations to convert (80-90 s for both formats on 2 cores) run with the slow tests.
SLOW_FAMILIES = ("attention", "efficientnet")
FAMILY_PARAMS = [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_FAMILIES else n for n in families()]
BAD_SHAPES = [(2, 16, 16, 3), (2, 32, 32, 1), (2, 100, 7, 3), (2, 1, 1, 3)]
CLASSES = [f"class{i}" for i in range(10)]


def deployable(name: str) -> keras.Model:
    """The family's smoke net behind a Normalization layer, as reszoo.train exports it (raw 0-255 pixels in)."""
    family = families()[name]
    net = reszoo.build(name, **family.smoke)
    images = keras.Input(shape=net.input_shape[1:], name="images")
    channels = net.input_shape[-1]
    x = (
        images
        if family.normalizes_inputs
        else keras.layers.Normalization(mean=[120.0] * channels, variance=[4000.0] * channels)(images)
    )
    return keras.Model(images, net(x), name=f"{name}_deploy")


def random_uint8(shape, n=6, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


@pytest.mark.parametrize("name", FAMILY_PARAMS)
def test_onnx_and_litert_outputs_equal_the_saved_models(name, tmp_path):
    model = deployable(name)
    shape = tuple(model.input_shape[1:])
    export.export_saved_model(model, str(tmp_path))
    onnx_path = export.export_onnx_file(model, str(tmp_path / "model.onnx"))
    litert_path = export.export_litert_file(model, str(tmp_path / "model.tflite"))
    images = random_uint8(shape)
    served = tf.saved_model.load(str(tmp_path))
    expected = served.serve_uint8(tf.constant(images)).numpy()
    float_images = images.astype(np.float32)
    diffs = {
        "onnx": np.abs(OnnxRunner(onnx_path).run(float_images) - expected).max(),
        "litert": np.abs(LiteRTRunner(litert_path).run(float_images) - expected).max(),
    }
    print(f"{name}: max |format - SavedModel| {diffs}")
    assert max(diffs.values()) <= 1e-4, diffs


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    """A complete export folder of a small ResNet in every format."""
    keras.utils.set_random_seed(0)
    model = deployable("resnet")
    path = str(tmp_path_factory.mktemp("formats") / "resnet8")
    export.export_model(model, path, class_names=CLASSES, formats=["onnx", "litert"])
    images = random_uint8((32, 32, 3), n=5, seed=1)
    return dict(path=path, images=images, expected=np.asarray(model(images.astype(np.float32), training=False)))


def test_export_folder_holds_every_format_with_class_names(export_dir):
    files = set(os.listdir(export_dir["path"]))
    assert {"saved_model.pb", "variables", "model.keras", "class_names.json"} <= files
    assert {"model.onnx", "model_uint8.onnx", "model.tflite", "model_uint8.tflite"} <= files
    assert not [f for f in os.listdir(os.path.dirname(export_dir["path"])) if ".partial-" in f]


@pytest.mark.parametrize("filename", ["", "model.onnx", "model_uint8.onnx", "model.tflite", "model_uint8.tflite"])
def test_reszoo_load_serves_every_file_with_the_same_api(export_dir, filename):
    predictor = reszoo.load(os.path.join(export_dir["path"], filename))
    assert predictor.input_shape == (32, 32, 3) and predictor.class_names == CLASSES
    for images in (export_dir["images"], export_dir["images"].astype(np.float32)):
        np.testing.assert_allclose(predictor.predict(images, batch_size=2), export_dir["expected"], atol=1e-4)
    with pytest.raises(ValueError, match=r"must be 32x32"):
        predictor.predict(np.zeros((2, 16, 16, 3), np.uint8))


@pytest.mark.parametrize("signature", ["serving_default", "serve", "serve_uint8"])
def test_every_saved_model_signature_refuses_other_shapes(export_dir, signature):
    function = tf.saved_model.load(export_dir["path"]).signatures[signature]
    dtype = tf.uint8 if signature == "serve_uint8" else tf.float32
    assert tuple(function.structured_input_signature[1]["images"].shape) == (None, 32, 32, 3)
    for shape in BAD_SHAPES:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"images must have shape \(N, 32, 32, 3\)"):
            function(images=tf.zeros(shape, dtype))
    assert function(images=tf.zeros((2, 32, 32, 3), dtype))["output_0"].shape == (2, 10)


@pytest.mark.parametrize("filename", ["model.onnx", "model_uint8.onnx"])
def test_onnx_files_declare_the_shape_and_onnxruntime_refuses_others(export_dir, filename):
    import onnxruntime

    session = onnxruntime.InferenceSession(os.path.join(export_dir["path"], filename))
    (spec,) = session.get_inputs()
    assert spec.name == "images" and spec.shape[1:] == [32, 32, 3]
    assert [o.name for o in session.get_outputs()] == ["output_0"]
    dtype = np.uint8 if "uint8" in filename else np.float32
    for shape in BAD_SHAPES:
        with pytest.raises(onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument, match="invalid dimensions"):
            session.run(None, {"images": np.zeros(shape, dtype)})


@pytest.mark.parametrize("filename", ["model.tflite", "model_uint8.tflite"])
def test_litert_files_declare_the_shape_and_refuse_others(export_dir, filename):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=os.path.join(export_dir["path"], filename))
    (spec,) = interpreter.get_input_details()
    assert list(spec["shape_signature"]) == [-1, 32, 32, 3]
    interpreter.allocate_tensors()
    runner = LiteRTRunner(os.path.join(export_dir["path"], filename))
    for shape in BAD_SHAPES:
        with pytest.raises(ValueError, match=r"Dimension mismatch|Cannot set tensor"):
            interpreter.set_tensor(spec["index"], np.zeros(shape, spec["dtype"]))
        with pytest.raises(RuntimeError, match=r"ResizeInputTensorStrict only allows mutating unknown dimensions"):
            interpreter.resize_tensor_input(spec["index"], list(shape), strict=True)
        with pytest.raises(ValueError, match=r"takes images of shape \(N, 32, 32, 3\)"):
            runner.run(np.zeros(shape, spec["dtype"]))


@pytest.mark.parametrize("filename", ["model.onnx", "model.tflite"])
def test_predict_cli_takes_onnx_and_tflite_files(export_dir, filename, tmp_path, capsys):
    image = tmp_path / "a.png"
    tf.io.write_file(str(image), tf.io.encode_png(tf.constant(export_dir["images"][0])))
    model = os.path.join(export_dir["path"], filename)
    assert predict.main(["--model", model, "--format", "json", "--top-k", "1", str(image)]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["top_k"][0]["class"] == CLASSES[int(np.argmax(export_dir["expected"][0]))]


def test_export_cli_adds_formats_to_an_existing_export(export_dir, tmp_path, capsys):
    keras.utils.set_random_seed(0)
    path = str(tmp_path / "plain")
    export.export_model(deployable("resnet"), path, class_names=CLASSES)
    assert "model.onnx" not in os.listdir(path)
    assert export.main([path, "--format", "onnx"]) == 0
    assert capsys.readouterr().out.split() == [os.path.join(path, "model.onnx"), os.path.join(path, "model_uint8.onnx")]
    assert {"model.onnx", "model_uint8.onnx", "saved_model.pb", "class_names.json"} <= set(os.listdir(path))
    assert sorted(os.listdir(tmp_path)) == ["plain"]  # nothing staged left behind


@pytest.mark.parametrize(
    "argv, message",
    [
        (["{path}"], "error: nothing to do: pass --format FORMAT"),
        (["{path}", "--format", "coreml"], "error: argument --format: invalid choice: 'coreml'"),
        (["{missing}", "--format", "onnx"], "error: No export folder at"),
        (["{empty}", "--format", "onnx"], "error: {empty} is not an export folder with a Keras model"),
    ],
)
def test_export_cli_refuses_bad_input_with_one_error_line(export_dir, tmp_path, capsys, argv, message):
    (tmp_path / "empty").mkdir()
    names = dict(path=export_dir["path"], missing=str(tmp_path / "missing"), empty=str(tmp_path / "empty"))
    assert export.main([a.format(**names) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message.format(**names)) and len(err.strip().splitlines()) == 1


@keras.saving.register_keras_serializable(package="reszoo_tests")
class CumProd(keras.layers.Layer):
    """A cumulative product: a TensorFlow op that neither TFLite builtins nor ONNX (tf2onnx) express."""

    def call(self, x):
        return tf.math.cumprod(x, axis=-1)  # test-only: the TensorFlow backend


@pytest.mark.parametrize("fmt, write", [("onnx", export.export_onnx_file), ("litert", export.export_litert_file)])
def test_a_layer_a_format_cannot_express_fails_at_export_naming_it(fmt, write, tmp_path):
    images = keras.Input(shape=(8, 8, 3), name="images")
    model = keras.Model(images, keras.layers.GlobalAveragePooling2D()(CumProd(name="cumprod")(images)))
    with pytest.raises(
        export.ExportFormatError, match=rf"layer 'cumprod' of model .* cannot be expressed in the {fmt} format"
    ):
        write(model, str(tmp_path / ("model.onnx" if fmt == "onnx" else "model.tflite")))


def test_an_export_without_variables_says_which_files_are_missing(export_dir, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(export_dir["path"], broken)
    shutil.rmtree(broken / "variables")
    with pytest.raises(
        ValueError, match=r"is an incomplete export: .*variables \(variables.index and variables.data-\*"
    ):
        reszoo.load(str(broken))


def test_predict_names_an_undecodable_image_in_user_words(export_dir, tmp_path, capsys):
    bad = tmp_path / "photo.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    assert predict.main(["--model-dir", export_dir["path"], str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad} is not an image file that can be decoded: expected a JPEG, PNG")
    assert "function_node" not in err and "DecodeImage" not in err


@pytest.mark.slow
def test_bench_formats_measures_every_format(capsys):
    from reszoo.bench import cli as bench_cli

    result = bench_cli.run(["formats", "--model", "resnet", "--set", "depth=8", "--images", "8", "--rounds", "1"])
    assert [(r["format"], r["batch_size"]) for r in result["rows"]] == [
        (f, b) for b in (1, 64) for f in ("SavedModel", "ONNX", "LiteRT")
    ]
    assert all(r["images_per_second"] > 0 and r["bytes"] > 10_000 for r in result["rows"])
    assert "images/s, batch 64" in capsys.readouterr().out
