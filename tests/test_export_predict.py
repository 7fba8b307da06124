"""Export folders (reszoo.export) and inference on them (reszoo.predict, reszoo.load)."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import reszoo
from reszoo import export, predict

SHAPE = (8, 8, 3)
CLASSES = ["ant", "bee", "cat"]


def raw_image_model(input_shape=SHAPE, num_classes=3):
    """A tiny net taking 0-255 images, as reszoo.train exports them (scaling inside the model)."""
    net = reszoo.build("fast_resnet", depth=8, num_classes=num_classes, input_shape=input_shape)
    images = keras.Input(shape=input_shape, name="images")
    return keras.Model(images, net(keras.layers.Rescaling(1 / 255.0, offset=-0.5)(images)))


def random_images(n, shape=SHAPE, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


def write_png(path, image):
    tf.io.write_file(str(path), tf.io.encode_png(tf.constant(image, dtype=tf.uint8)))
    return str(path)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One export folder for the module, with the Keras model's outputs on a fixed batch."""
    keras.utils.set_random_seed(1)
    model = raw_image_model()
    # Nudge the BN statistics away from their initial values so inference mode matters.
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(random_images(8).astype("float32"), np.arange(8) % 3, epochs=1, batch_size=4, verbose=0)
    images = random_images(5, seed=1)
    expected = np.asarray(model(images.astype("float32"), training=False))
    path = str(tmp_path_factory.mktemp("export") / "tiny")
    returned = export.export_model(model, path, class_names=CLASSES, summary={"note": "test"})
    return dict(path=path, returned=returned, images=images, expected=expected)


@pytest.fixture(scope="module")
def predictor(exported):
    return reszoo.load(exported["path"])


def test_export_folder_has_saved_model_keras_model_and_class_names(exported):
    path = exported["path"]
    assert exported["returned"] == os.path.abspath(path)
    assert {"saved_model.pb", "variables", "model.keras", "class_names.json", "summary.json"} <= set(os.listdir(path))
    with open(os.path.join(path, "class_names.json")) as f:
        assert json.load(f) == CLASSES
    # No staging folder is left beside it.
    assert [n for n in os.listdir(os.path.dirname(path)) if "partial" in n] == []


def test_saved_model_serves_float_and_uint8_raw_images(exported):
    served = tf.saved_model.load(exported["path"])
    images, expected = exported["images"], exported["expected"]
    np.testing.assert_allclose(np.asarray(served.serve(tf.constant(images.astype("float32")))), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(served.serve_uint8(tf.constant(images))), expected, atol=1e-5)
    assert {"serving_default", "serve", "serve_uint8"} <= set(served.signatures)
    out = served.signatures["serve_uint8"](images=tf.constant(images))
    np.testing.assert_allclose(np.asarray(out["output_0"]), expected, atol=1e-5)


def test_keras_file_reloads_with_the_same_outputs(exported):
    reloaded = keras.models.load_model(os.path.join(exported["path"], "model.keras"))
    out = np.asarray(reloaded(exported["images"].astype("float32"), training=False))
    np.testing.assert_allclose(out, exported["expected"], atol=1e-5)


def test_predictor_reports_shape_and_classes(predictor, exported):
    assert isinstance(predictor, predict.Predictor)
    assert predictor.input_shape == SHAPE
    assert predictor.class_names == CLASSES
    assert predictor.num_classes == 3


def test_predict_accepts_single_images_batches_lists_uint8_and_float(predictor, exported):
    images, expected = exported["images"], exported["expected"]
    np.testing.assert_allclose(predictor.predict(images), expected, atol=1e-5)
    np.testing.assert_allclose(predictor.predict(images.astype("float64")), expected, atol=1e-5)
    single = predictor.predict(images[2])
    assert single.shape == (1, 3)
    np.testing.assert_allclose(single[0], expected[2], atol=1e-5)
    np.testing.assert_allclose(predictor.predict(list(images)), expected, atol=1e-5)
    np.testing.assert_allclose(predictor.predict(images, batch_size=2), expected, atol=1e-5)


def test_classify_returns_top_k_names_best_first(predictor, exported):
    expected = exported["expected"]
    results = predictor.classify(exported["images"], top_k=2)
    assert len(results) == 5
    for row, top in zip(expected, results, strict=True):
        order = np.argsort(-row)
        assert [name for name, _ in top] == [CLASSES[i] for i in order[:2]]
        np.testing.assert_allclose([p for _, p in top], row[order[:2]], atol=1e-5)
    assert len(predictor.classify(exported["images"][0], top_k=10)[0]) == 3  # clipped to the classes
    with pytest.raises(ValueError, match="top_k must be a positive integer. Received: top_k=0"):
        predictor.classify(exported["images"], top_k=0)


def test_predict_on_files_decodes_resizes_and_converts_channels(predictor, exported, tmp_path):
    images, expected = exported["images"], exported["expected"]
    paths = [write_png(tmp_path / f"img{i}.png", img) for i, img in enumerate(images[:2])]
    np.testing.assert_allclose(predictor.predict(paths), expected[:2], atol=1e-5)
    np.testing.assert_allclose(predictor.predict(paths[1]), expected[1:2], atol=1e-5)

    big = random_images(1, shape=(20, 12, 3), seed=3)[0]
    resized = tf.image.resize(big, SHAPE[:2], antialias=True).numpy()
    np.testing.assert_allclose(
        predictor.predict(write_png(tmp_path / "big.png", big)), predictor.predict(resized), atol=1e-5
    )

    gray = random_images(1, shape=(8, 8, 1), seed=4)[0]
    as_rgb = np.repeat(gray, 3, axis=-1)
    np.testing.assert_allclose(
        predictor.predict(write_png(tmp_path / "gray.png", gray)), predictor.predict(as_rgb), atol=1e-5
    )


@pytest.mark.parametrize(
    "images, message",
    [
        (
            np.zeros((2, 1, 8, 8, 3), np.uint8),
            r"one HxWxC image or an NxHxWxC batch .* Received shape \(2, 1, 8, 8, 3\)",
        ),
        (np.zeros((8, 8), np.uint8), r"Received shape \(1, 8, 8\)|Received shape \(8, 8\)"),
        (
            np.zeros((2, 8, 8, 1), np.uint8),
            r"must have 3 channels: the model takes \(H, W, C\) = \(8, 8, 3\)\. "
            r"Received shape \(2, 8, 8, 1\)",
        ),
        (
            np.zeros((2, 16, 16, 3), np.uint8),
            r"must be 8x8: the model takes \(H, W, C\) = \(8, 8, 3\)\. "
            r"Received shape \(2, 16, 16, 3\)",
        ),
        (np.array(["a", "b"]), r"must be numeric"),
    ],
)
def test_predict_rejects_arrays_of_the_wrong_shape(predictor, images, message):
    with pytest.raises(ValueError, match=message):
        predictor.predict(images)


def test_predict_rejects_non_image_and_missing_files(predictor, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(ValueError, match=r"notes.txt is not an image file that can be decoded"):
        predictor.predict(str(text))
    with pytest.raises(FileNotFoundError, match=r"No image file at .*missing.png"):
        predictor.predict(str(tmp_path / "missing.png"))
    with pytest.raises(ValueError, match="not a mix"):
        predictor.predict([str(text), np.zeros(SHAPE)])


def test_load_rejects_missing_and_non_export_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No export folder at .*nowhere"):
        reszoo.load(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"is not a reszoo export: it has no saved_model.pb"):
        reszoo.load(tmp_path)


def test_load_rejects_a_saved_model_without_class_names(tmp_path):
    model = raw_image_model()
    export.export_saved_model(model, tmp_path / "bare")
    with pytest.raises(ValueError, match=r"is not a reszoo export: it has no class_names.json"):
        reszoo.load(tmp_path / "bare")


def test_export_refuses_a_non_empty_folder_and_wrong_class_names(tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    model = raw_image_model()
    with pytest.raises(ValueError, match=r"already exists and is not empty"):
        export.export_model(model, taken, class_names=CLASSES)
    assert os.listdir(taken) == ["keep.txt"]
    with pytest.raises(ValueError, match=r"class_names must name the model's 3 outputs. Received 2 names"):
        export.export_model(model, tmp_path / "fresh", class_names=["a", "b"])
    assert sorted(os.listdir(tmp_path)) == ["taken"]  # nothing partial left behind


def test_staged_export_appears_only_on_success(tmp_path):
    final = tmp_path / "run"
    with pytest.raises(RuntimeError, match="boom"):
        with export.staged_export(final) as staging:
            assert os.path.basename(staging) == f".run.partial-{os.getpid()}"
            (tmp_path / staging / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []

    final.mkdir()  # an empty folder may be replaced
    with export.staged_export(final) as staging:
        (tmp_path / staging / "done.txt").write_text("done")
    assert os.listdir(tmp_path) == ["run"]
    assert (final / "done.txt").read_text() == "done"


def test_predict_cli_prints_top_classes_and_fails_cleanly(exported, tmp_path, capsys):
    paths = [write_png(tmp_path / f"img{i}.png", img) for i, img in enumerate(exported["images"][:2])]
    assert predict.main(["--model-dir", exported["path"], "--top-k", "2", *paths]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for path, line, row in zip(paths, lines, exported["expected"][:2], strict=True):
        best = CLASSES[int(np.argmax(row))]
        assert line.startswith(f"{path}: {best} {100 * row.max():.2f}%, ")

    assert predict.main(["--model-dir", str(tmp_path / "nowhere"), paths[0]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No export folder at") and "Traceback" not in err


def write_image_tree(root, images):
    """root/a.png, root/sub/b.png, root/sub/c.PNG and a non-image root/notes.txt."""
    (root / "sub").mkdir(parents=True)
    paths = [root / "a.png", root / "sub" / "b.png", root / "sub" / "c.PNG"]
    for path, image in zip(paths, images, strict=False):
        write_png(path, image)
    (root / "notes.txt").write_text("not an image")
    return [str(p) for p in paths]


def test_predict_cli_expands_folders_and_globs_in_batches_and_prints_json(exported, tmp_path, capsys, monkeypatch):
    paths = write_image_tree(tmp_path / "imgs", exported["images"][:3])
    calls = []
    classify = predict.Predictor.classify
    monkeypatch.setattr(
        predict.Predictor, "classify", lambda self, x, top_k: calls.append(len(x)) or classify(self, x, top_k)
    )
    argv = ["--model-dir", exported["path"], "--top-k", "2", "--batch-size", "2", "--format", "json"]
    assert predict.main([*argv, str(tmp_path / "imgs"), str(tmp_path / "imgs" / "**" / "b.png")]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["image"] for r in results] == sorted(paths) + [paths[1]]  # the folder recursively, then the glob
    assert calls == [2, 2]  # four images, two batches of two
    expected = dict(zip(paths, exported["expected"][:3], strict=True))
    for result in results:
        row = expected[result["image"]]
        assert [t["class"] for t in result["top_k"]] == [CLASSES[i] for i in np.argsort(-row)[:2]]
        assert result["top_k"][0]["probability"] == pytest.approx(float(row.max()), abs=1e-5)


def test_predict_cli_table_has_one_aligned_row_per_image(exported, tmp_path, capsys):
    paths = write_image_tree(tmp_path / "imgs", exported["images"][:3])
    assert (
        predict.main(
            ["--model-dir", exported["path"], "--format", "table", "--top-k", "3", str(tmp_path / "imgs" / "*.png")]
        )
        == 0
    )
    header, *rows = capsys.readouterr().out.strip().splitlines()
    assert header.split() == ["image", "class", "prob", "next"] and len(rows) == 1
    row = exported["expected"][0]
    assert rows[0].split()[:3] == [paths[0], CLASSES[int(np.argmax(row))], f"{100 * row.max():.2f}%"]
    assert rows[0].index(CLASSES[int(np.argmax(row))]) == header.index("class")


@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda root: str(root), "error: the folder {root} holds no images (.jpg"),
        (lambda root: str(root / "*.jpg"), "error: the pattern '{root}/*.jpg' matches no images"),
        (lambda root: str(root / "missing.png"), "error: No image file, folder or pattern match at {root}/missing.png"),
    ],
)
def test_predict_cli_names_inputs_without_images(exported, tmp_path, capsys, make_input, message):
    (tmp_path / "notes.txt").write_text("no images here")
    assert predict.main(["--model-dir", exported["path"], make_input(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message.format(root=tmp_path)) and "Traceback" not in err


def test_export_for_serving_writes_numbered_version_folders(exported, tmp_path, capsys):
    base = tmp_path / "models" / "tiny"
    first = export.export_for_serving(exported["path"], base)
    assert first == str(base / "1")
    assert export.main([exported["path"], "--serving-dir", str(base)]) == 0
    assert capsys.readouterr().out.strip() == str(base / "2")
    assert sorted(os.listdir(base)) == ["1", "2"]  # nothing staged left behind
    assert set(os.listdir(base / "2")) >= {"saved_model.pb", "variables", "class_names.json"}
    assert "model.keras" not in os.listdir(base / "2")  # a serving folder holds the SavedModel only
    served = tf.saved_model.load(str(base / "2"))
    np.testing.assert_allclose(
        served.signatures["serving_default"](images=tf.constant(exported["images"], tf.float32))["output_0"].numpy(),
        exported["expected"],
        atol=1e-5,
    )
    assert export.export_for_serving(exported["path"], base, version=7) == str(base / "7")
    assert export.next_serving_version(str(base)) == 8


def test_export_for_serving_refuses_existing_versions_and_non_exports(exported, tmp_path, capsys):
    base = tmp_path / "tiny"
    export.export_for_serving(exported["path"], base, version=3)
    with pytest.raises(ValueError, match=r"version 3 already exists at .*; pass another --version"):
        export.export_for_serving(exported["path"], base, version=3)
    with pytest.raises(ValueError, match=r"version must be a positive integer .* Received: 0"):
        export.export_for_serving(exported["path"], base, version=0)
    assert export.main([str(tmp_path), "--serving-dir", str(base)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path} is not an export folder: it has no saved_model.pb")
    assert sorted(os.listdir(base)) == ["3"]
