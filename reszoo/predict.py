"""Inference on an export folder, from Python (``reszoo.load``) or the command line.

``reszoo.load(export_dir)`` returns a ``Predictor``: it loads the SavedModel
with ``tf.saved_model.load`` (no Keras, no reszoo model code needed) and
classifies arrays or image files. ``reszoo.load("EXPORT_DIR/model.onnx")`` serves the ONNX file
through onnxruntime and ``reszoo.load("EXPORT_DIR/model.tflite")`` the LiteRT file through
``ai_edge_litert``, with the same API (class names from the folder's ``class_names.json``)::

    predictor = reszoo.load("saved_models/fast_resnet20-cifar10-20240101-120000")
    predictor.classify("cat.png", top_k=3)   # [[("cat", 0.91), ("dog", 0.05), ("deer", 0.02)]]
    predictor.predict(batch_uint8)           # (N, num_classes) probabilities

Command line::

    python -m reszoo.predict --model-dir DIR|FILE.onnx|FILE.tflite [--top-k K] [--batch-size N] [--format {text,table,json}] INPUT...

Each INPUT is an image file, a folder (its images, recursively, sorted) or a
glob pattern (quoted, so that the shell leaves it alone: ``"photos/**/*.jpg"``).
Images are decoded and classified ``--batch-size`` at a time, so a folder of any
size streams through in constant memory. Output: ``text`` (default) prints
``IMAGE: name 97.31%, name 1.20%, ...`` per image; ``table`` aligned columns
(image, top-1 class and probability, the rest of the top k); ``json`` one JSON
document, ``[{"image": PATH, "top_k": [{"class": NAME, "probability": P}, ...]}, ...]``.
Bad input (no export, a missing file, a pattern or folder without images, an
undecodable file) exits with status 2 and a one-line ``error: ...``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from reszoo import cli
from reszoo.export import CLASS_NAMES_FILE, SERVE_FLOAT, SERVE_UINT8, SUMMARY_FILE
from reszoo.runtimes import LiteRTRunner, OnnxRunner

_PathTypes = (str, os.PathLike)
# What tf.io.decode_image reads; folders and globs keep only these.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")
FORMATS = ("text", "table", "json")
# Model files reszoo.load serves besides an export folder (the SavedModel), and their runners.
RUNNERS = {".onnx": OnnxRunner, ".tflite": LiteRTRunner}


def _read_class_names(export_dir: str) -> list[str]:
    names_path = os.path.join(export_dir, CLASS_NAMES_FILE)
    summary_path = os.path.join(export_dir, SUMMARY_FILE)
    if os.path.isfile(names_path):
        with open(names_path, encoding="utf-8") as f:
            names = json.load(f)
    elif os.path.isfile(summary_path):
        with open(summary_path, encoding="utf-8") as f:
            names = json.load(f).get("class_names")
    else:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(
            f"{export_dir} is not a reszoo export: it has no {CLASS_NAMES_FILE} (or {SUMMARY_FILE} with "
            "class_names). Export folders are written by reszoo.train or reszoo.export.export_model."
        )
    return names


class SavedModelRunner:
    """An export folder's SavedModel: ``serve_uint8`` for uint8 batches, ``serve`` for float ones."""

    def __init__(self, path: str):
        import tensorflow as tf

        self._tf = tf
        self._module = tf.saved_model.load(path)
        if SERVE_FLOAT not in self._module.signatures or SERVE_UINT8 not in self._module.signatures:
            raise ValueError(
                f"{path} is not a reszoo export: its SavedModel lacks the {SERVE_FLOAT!r} and "
                f"{SERVE_UINT8!r} endpoints (found {sorted(self._module.signatures)})."
            )
        signature = self._module.signatures[SERVE_FLOAT]
        spec = signature.structured_input_signature[1]["images"]
        self.input_shape = tuple(int(d) for d in spec.shape[1:])
        self.dtype = None  # takes uint8 and float32 alike
        self.num_outputs = int(next(iter(signature.structured_outputs.values())).shape[-1])

    def run(self, images: np.ndarray) -> np.ndarray:
        endpoint = getattr(self._module, SERVE_UINT8 if images.dtype == np.uint8 else SERVE_FLOAT)
        return np.asarray(endpoint(self._tf.constant(images)))


def _check_saved_model_files(path: str) -> None:
    """The SavedModel's files are there, or a ValueError naming the missing one (not TensorFlow's reader error)."""
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise ValueError(
            f"{path} is not a reszoo export: it has no saved_model.pb. Export folders are written by "
            "reszoo.train or reszoo.export.export_model."
        )
    index = os.path.join(path, "variables", "variables.index")
    if not os.path.isfile(index) or not glob.glob(os.path.join(path, "variables", "variables.data-*")):
        raise ValueError(
            f"{path} is an incomplete export: {os.path.join(path, 'variables')} (variables.index and "
            "variables.data-*, the weights) is missing or incomplete beside saved_model.pb. Copy the whole "
            "export folder, variables/ included."
        )


class Predictor:
    """Classifies images with an exported reszoo model.

    Args:
        export_dir: str. A folder written by ``reszoo.train`` or
            ``reszoo.export.export_model`` (its SavedModel), or a ``.onnx`` /
            ``.tflite`` file in such a folder (``model.onnx``, ``model_uint8.tflite``,
            ...), served by onnxruntime / LiteRT.

    Attributes:
        input_shape: ``(H, W, C)`` the model takes.
        class_names: the class names, in output order.

    Raises:
        FileNotFoundError: ``export_dir`` does not exist.
        ValueError: it is not a reszoo export folder or model file.
    """

    def __init__(self, export_dir: str | os.PathLike):
        path = os.path.abspath(os.fspath(export_dir))
        extension = os.path.splitext(path)[1].lower()
        if extension in RUNNERS and os.path.isfile(path):
            folder = os.path.dirname(path)
            self.class_names = _read_class_names(folder)
            self._runner: Any = RUNNERS[extension](path)
        elif os.path.isdir(path):
            folder = path
            _check_saved_model_files(path)
            self.class_names = _read_class_names(path)
            self._runner = SavedModelRunner(path)
        else:
            raise FileNotFoundError(f"No export folder at {path} (nor a {' / '.join(RUNNERS)} model file).")
        self.export_dir, self.model_path = folder, path
        self.input_shape = self._runner.input_shape
        if self._runner.num_outputs != len(self.class_names):
            raise ValueError(
                f"{path}: the model has {self._runner.num_outputs} outputs but {len(self.class_names)} class names."
            )

    def __repr__(self) -> str:
        return f"Predictor({self.model_path!r}, input_shape={self.input_shape}, classes={len(self.class_names)})"

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def predict(self, images_or_paths: Any, *, batch_size: int = 128) -> np.ndarray:
        """Class probabilities, shape ``(N, num_classes)`` (N = 1 for a single image).

        Args:
            images_or_paths: one ``HxWxC`` array, an ``NxHxWxC`` batch (uint8 or
                float, values 0-255, exactly the model's size and channels), a
                list of such arrays, or one or more image file paths (JPEG, PNG,
                GIF, BMP, WebP), which are decoded, converted to the model's
                channel count and resized to its input size.
            batch_size: int. Images per call of the SavedModel.
        """
        images = self._as_batch(images_or_paths)
        dtype = self._runner.dtype
        if dtype is not None and images.dtype != dtype:  # a uint8 file: round float pixels to uint8
            images = np.clip(np.rint(images), 0, 255).astype(dtype) if dtype == np.uint8 else images.astype(dtype)
        chunks = [self._runner.run(images[start : start + batch_size]) for start in range(0, len(images), batch_size)]
        return np.concatenate(chunks, axis=0)

    def classify(self, images_or_paths: Any, top_k: int = 5) -> list[list[tuple[str, float]]]:
        """The ``top_k`` most probable ``(class_name, probability)`` pairs for each image, best first."""
        if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
            raise ValueError(f"top_k must be a positive integer. Received: top_k={top_k!r}")
        probs = self.predict(images_or_paths)
        k = min(top_k, self.num_classes)
        order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        return [[(self.class_names[i], float(row[i])) for i in idx] for row, idx in zip(probs, order, strict=True)]

    # Input handling ---------------------------------------------------------------

    def _as_batch(self, inputs: Any) -> np.ndarray:
        if isinstance(inputs, _PathTypes):
            return np.stack([self._load_image(inputs)])
        if isinstance(inputs, (list, tuple)):
            if not inputs:
                raise ValueError("No images given: received an empty list.")
            paths = [isinstance(item, _PathTypes) for item in inputs]
            if all(paths):
                return np.stack([self._load_image(p) for p in inputs])
            if any(paths):
                raise ValueError("Pass either image file paths or arrays, not a mix of both.")
            shapes = {np.shape(item) for item in inputs}
            if len(shapes) > 1:
                raise ValueError(f"All images in a list must have one shape; received shapes {sorted(shapes)}.")
            inputs = np.stack([np.asarray(item) for item in inputs])
        return self._check_array(np.asarray(inputs))

    def _check_array(self, images: np.ndarray) -> np.ndarray:
        expected = self.input_shape
        if images.dtype.kind not in "uif":
            raise ValueError(
                f"images must be numeric (uint8 or float, 0-255). Received dtype {images.dtype} with shape "
                f"{images.shape}."
            )
        if images.ndim == 3:
            images = images[np.newaxis]
        if images.ndim != 4:
            raise ValueError(
                f"images must be one HxWxC image or an NxHxWxC batch with (H, W, C) = {expected}. "
                f"Received shape {images.shape}."
            )
        if images.shape[-1] != expected[-1]:
            raise ValueError(
                f"images must have {expected[-1]} channels: the model takes (H, W, C) = {expected}. "
                f"Received shape {images.shape}."
            )
        if images.shape[1:3] != expected[:2]:
            raise ValueError(
                f"images must be {expected[0]}x{expected[1]}: the model takes (H, W, C) = {expected}. "
                f"Received shape {images.shape}. Resize arrays first, or pass file paths (resized on loading)."
            )
        if images.shape[0] == 0:
            raise ValueError(f"No images given: received shape {images.shape}.")
        return images if images.dtype == np.uint8 else images.astype(np.float32)

    def _load_image(self, path: str | os.PathLike) -> np.ndarray:
        """Decode an image file to float32 ``(H, W, C)`` at the model's size and channel count."""
        import tensorflow as tf

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No image file at {path}.")
        try:
            image = tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError):
            # TensorFlow's own text ("{{function_node __wrapped__DecodeImage_device_...}} ...") says nothing
            # a user can act on: name the file, what it starts with, and what was expected.
            raise ValueError(_undecodable(path)) from None
        image = _convert_channels(tf, image, self.input_shape[-1], path)
        height, width = self.input_shape[:2]
        if tuple(image.shape[:2]) != (height, width):
            image = tf.image.resize(image, (height, width), method="bilinear", antialias=True)
        return np.asarray(image, dtype=np.float32)


def _undecodable(path: str) -> str:
    with open(path, "rb") as f:
        head = f.read(8)
    size = os.path.getsize(path)
    what = "an empty file" if not size else f"a {size}-byte file starting with {head!r}"
    return (
        f"{path} is not an image file that can be decoded: expected a JPEG, PNG, GIF, BMP or WebP file, "
        f"found {what} (a truncated download, another format, or not an image)."
    )


def _convert_channels(tf, image, channels: int, path: str):
    """Grayscale / RGB / RGBA conversions to the model's channel count (alpha is dropped)."""
    have = int(image.shape[-1])
    if have in (2, 4):  # gray+alpha, RGBA: drop alpha
        image, have = image[..., : have - 1], have - 1
    if have == channels:
        return image
    if have == 1 and channels == 3:
        return tf.image.grayscale_to_rgb(image)
    if have == 3 and channels == 1:
        return tf.cast(tf.round(tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))), image.dtype)
    raise ValueError(f"{path}: cannot convert a {have}-channel image to the model's {channels} channels.")


def format_top_k(label: str, top: Sequence[tuple[str, float]]) -> str:
    return f"{label}: " + ", ".join(f"{name} {100 * prob:.2f}%" for name, prob in top)


def _is_image_file(path: str) -> bool:
    return os.path.isfile(path) and path.lower().endswith(IMAGE_EXTENSIONS)


def _images_in_folder(folder: str) -> list[str]:
    found = [os.path.join(root, name) for root, _, names in os.walk(folder) for name in names]
    return sorted(p for p in found if _is_image_file(p))


def expand_inputs(inputs: Sequence[str]) -> list[str]:
    """Image paths from files, folders (recursively) and glob patterns, in the order given.

    An explicit file is kept whatever its extension (decoding reports a
    non-image); folders and patterns yield only files with an image extension.
    Raises FileNotFoundError for a missing file and ValueError for a folder or
    pattern without images.
    """
    paths: list[str] = []
    for item in inputs:
        if glob.has_magic(item) and not os.path.exists(item):
            matches = sorted(glob.glob(item, recursive=True))
            found = [
                p for m in matches for p in (_images_in_folder(m) if os.path.isdir(m) else [m]) if _is_image_file(p)
            ]
            what = f"the pattern {item!r} matches"
        elif os.path.isdir(item):
            found, what = _images_in_folder(item), f"the folder {item} holds"
        elif os.path.isfile(item):
            found, what = [item], ""
        else:
            raise FileNotFoundError(f"No image file, folder or pattern match at {item}.")
        if not found:
            raise ValueError(f"{what} no images ({', '.join(IMAGE_EXTENSIONS)}).")
        paths.extend(found)
    return paths


def classify_in_batches(
    predictor: Predictor, paths: Sequence[str], *, top_k: int, batch_size: int
) -> Iterator[tuple[str, list[tuple[str, float]]]]:
    """``(path, top k)`` for every path, decoding only ``batch_size`` images at a time."""
    for start in range(0, len(paths), batch_size):
        chunk = list(paths[start : start + batch_size])
        yield from zip(chunk, predictor.classify(chunk, top_k=top_k), strict=True)


def format_table(results: Sequence[tuple[str, list[tuple[str, float]]]]) -> str:
    """Aligned columns: image, top-1 class, its probability, then the other top classes."""
    rows = [
        (path, top[0][0], f"{100 * top[0][1]:.2f}%", ", ".join(f"{n} {100 * p:.2f}%" for n, p in top[1:]))
        for path, top in results
    ]
    header = ("image", "class", "prob", "next")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    return "\n".join(
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip() for r in [header, *rows]
    )


def format_json(results: Sequence[tuple[str, list[tuple[str, float]]]]) -> str:
    return json.dumps(
        [{"image": p, "top_k": [{"class": n, "probability": prob} for n, prob in top]} for p, top in results],
        indent=2,
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, received {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(
        prog="python -m reszoo.predict", description="Classify image files with an exported reszoo model."
    )
    parser.add_argument(
        "--model-dir",
        "--model",
        dest="model_dir",
        required=True,
        help="export folder written by reszoo.train (its SavedModel), or its model.onnx / model.tflite "
        "(or *_uint8) file, served by onnxruntime / LiteRT",
    )
    parser.add_argument("--top-k", type=_positive_int, default=5, help="classes to print per image (default 5)")
    parser.add_argument("--batch-size", type=_positive_int, default=64, help="images decoded and run at once (64)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="text (default), table or json")
    parser.add_argument(
        "images",
        nargs="+",
        metavar="INPUT",
        help="image files (JPEG, PNG, GIF, BMP, WebP), folders (searched recursively) or quoted glob patterns",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2: bad arguments, a missing export or image)."""
    errors = {cli.UsageError: cli.EXIT_USAGE, ValueError: cli.EXIT_USAGE, FileNotFoundError: cli.EXIT_USAGE}
    return cli.run_main(_predict, argv, errors)


def _predict(argv: list[str]) -> None:
    args = _parser().parse_args(argv)
    paths = expand_inputs(args.images)
    predictor = Predictor(args.model_dir)
    results = classify_in_batches(predictor, paths, top_k=args.top_k, batch_size=args.batch_size)
    if args.format == "text":  # streams: each batch prints as soon as it is classified
        for path, top in results:
            print(format_top_k(path, top), flush=True)
    else:
        print(format_table(list(results)) if args.format == "table" else format_json(list(results)))


if __name__ == "__main__":
    sys.exit(main())
