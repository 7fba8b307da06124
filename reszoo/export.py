"""Export folders: a SavedModel for serving plus the files that describe the run.

An export folder (what ``reszoo.train`` writes and ``reszoo.load`` reads) is a
TensorFlow SavedModel at its root, so ``tf.saved_model.load(export_dir)`` and
TF Serving work on it directly, with these files beside it:

- ``saved_model.pb``, ``variables/``: the SavedModel. Its endpoints take **raw
  images** (the model normalizes inside), NHWC, 0-255, and return class
  probabilities of shape ``(N, num_classes)``:

  - ``serve(images)``: float32 images; also the ``serving_default`` signature;
  - ``serve_uint8(images)``: uint8 images (decoded PNG/JPEG as they come).

  Both are also SavedModel signatures of the same names, with input key
  ``images`` and output key ``output_0``.
- ``model.keras``: the Keras model (for fine-tuning or ``keras.models.load_model``).
- ``class_names.json``: the class names, in output order.
- ``summary.json``, ``history.csv``: written by ``reszoo.train``.

Other formats (``write_formats(model, directory, formats)``; ``--export-format`` of ``reszoo.train``,
or ``python -m reszoo.export EXPORT_DIR --format onnx`` for an existing export), from the same
model, normalization inside, beside the SavedModel:

- ``onnx``: ``model.onnx`` (float32 ``images``) and ``model_uint8.onnx`` (uint8), for onnxruntime:
  the SavedModel's ``serve`` function, frozen and converted by tf2onnx (``onnx_proto`` says why not
  Keras' ``model.export(format="onnx")``);
- ``litert``: ``model.tflite`` and ``model_uint8.tflite``, for LiteRT (``ai-edge-litert``), by Keras'
  ``model.export(format="litert")`` with TFLite builtin ops only (no Flex ops, which the plain
  LiteRT runtime cannot run).

Every entry point of every format declares the model's exact ``(None, H, W, C)``. The SavedModel's
signatures check it at the call (``serving_default`` and ``serve_uint8`` included, which TensorFlow
does not check by itself); onnxruntime refuses other shapes by the declared dimensions; LiteRT's
``set_tensor`` and ``resize_tensor_input(..., strict=True)`` refuse them (its ``SignatureRunner``
resizes inputs without checking, a LiteRT behaviour no op in the file can prevent: ``reszoo.load``
checks before it calls). Each file is loaded and run once by its runtime at export, so a layer a
format cannot express fails there (``ExportFormatError`` naming the layer and the format), not when
someone loads it.

For TensorFlow Serving, ``export_for_serving`` (``--serving-dir`` of
``reszoo.train``, or ``python -m reszoo.export EXPORT_DIR --serving-dir BASE``)
copies the SavedModel into TF Serving's layout, a numbered version folder
under a model base path: ``BASE/1/``, ``BASE/2/``, ... (the next free number
unless ``--version`` says otherwise), with ``class_names.json`` beside it.

Folders appear atomically: ``staged_export`` writes into a hidden sibling
(``.<name>.partial-<pid>``) and renames it into place only when everything is
written, and removes it if anything fails, so a folder under ``saved_models/``
is always complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from reszoo import cli
from reszoo.cli import UsageError

# Keras and TensorFlow are imported by the functions that use them, not here: `python -m reszoo.export --help`
# and a bad flag answer at once, and `reszoo.predict` reads this module's file names without TensorFlow.
if TYPE_CHECKING:
    import keras
    import tensorflow as tf

SERVE_FLOAT = "serve"
SERVE_UINT8 = "serve_uint8"
CLASS_NAMES_FILE = "class_names.json"
SUMMARY_FILE = "summary.json"
HISTORY_FILE = "history.csv"
KERAS_FILE = "model.keras"
# What a SavedModel folder holds (fingerprint.pb since TF 2.12); what a serving version folder gets.
SAVED_MODEL_ENTRIES = ("saved_model.pb", "fingerprint.pb", "variables", "assets", CLASS_NAMES_FILE)
SAVED_MODEL = "saved_model"
ONNX = "onnx"
LITERT = "litert"
FORMATS = (SAVED_MODEL, ONNX, LITERT)
# The files each extra format writes: (float32 input, uint8 input).
FORMAT_FILES = {ONNX: ("model.onnx", "model_uint8.onnx"), LITERT: ("model.tflite", "model_uint8.tflite")}
INPUT_NAME = "images"


class ExportFormatError(UsageError):
    """A model (one of its layers) that an export format cannot express."""


def check_export_dir(export_dir: str | os.PathLike) -> str:
    """The absolute export path, or a ValueError if something non-empty is already there."""
    path = os.path.abspath(os.fspath(export_dir))
    if os.path.isdir(path):
        if os.listdir(path):
            raise ValueError(
                f"export dir {path} already exists and is not empty; choose another --export-dir or remove it."
            )
    elif os.path.lexists(path):
        raise ValueError(f"export dir {path} exists and is not a directory.")
    return path


def partial_dir(export_dir: str) -> str:
    """The hidden sibling an export is staged in: ``<parent>/.<name>.partial-<pid>``."""
    parent, name = os.path.split(os.path.abspath(export_dir))
    return os.path.join(parent, f".{name}.partial-{os.getpid()}")


@contextlib.contextmanager
def staged_export(export_dir: str | os.PathLike) -> Iterator[str]:
    """Yield a staging folder; on success move it to ``export_dir``, on any failure delete it.

    The rename is atomic (same parent folder). An existing *empty* ``export_dir``
    is replaced; a non-empty one is refused before anything is written.
    """
    final = check_export_dir(export_dir)
    staging = partial_dir(final)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    shutil.rmtree(staging, ignore_errors=True)  # a leftover from a killed run with our pid
    os.makedirs(staging)
    try:
        yield staging
        check_export_dir(final)  # refuse if something appeared there meanwhile
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def export_saved_model(model: keras.Model, path: str | os.PathLike) -> str:
    """Write ``model`` as a SavedModel with a float32 ``serve`` and a uint8 ``serve_uint8`` endpoint.

    ``model`` takes NHWC images; both endpoints run it in inference mode
    (``training=False``: BN moving statistics, no dropout / drop-path).
    ``serve`` comes first, so it is also ``serving_default``.
    """
    import keras
    import tensorflow as tf

    path = os.fspath(path)
    archive = keras.export.ExportArchive()
    archive.track(model)
    for endpoint, dtype in ((SERVE_FLOAT, tf.float32), (SERVE_UINT8, tf.uint8)):
        archive.add_endpoint(endpoint, shape_checked(model), input_signature=[input_spec(model, dtype)])
    archive.write_out(path, verbose=False)
    return path


def image_shape(model: keras.Model) -> tuple[int, int, int]:
    """The ``(H, W, C)`` the model takes, or a ValueError for a model without a fixed NHWC input."""
    shape = tuple(model.input_shape[1:])
    if len(shape) != 3 or any(d is None for d in shape):
        raise ValueError(f"An export needs a fixed (H, W, C) input. Received: input_shape={model.input_shape!r}")
    return tuple(int(d) for d in shape)  # type: ignore[return-value]


def input_spec(model: keras.Model, dtype: tf.DType | str = "float32") -> tf.TensorSpec:
    """``images``: ``(None, H, W, C)`` of ``dtype``, the input of every exported entry point."""
    import tensorflow as tf

    return tf.TensorSpec((None, *image_shape(model)), tf.as_dtype(dtype), name=INPUT_NAME)


def shape_checked(model: keras.Model):
    """``fn(images)``: the model in inference mode, after checking the images' exact (H, W, C).

    A SavedModel's signatures (``serving_default``, what TF Serving calls) do not check the shapes
    their inputs declare; without this a 16x16 or one-channel batch returns probabilities.
    """
    import tensorflow as tf

    height, width, channels = image_shape(model)

    def serve(images):
        tf.debugging.assert_equal(
            tf.shape(images)[1:],
            tf.constant([height, width, channels]),
            message=f"images must have shape (N, {height}, {width}, {channels}) (NHWC, 0-255); received another",
        )
        return model(tf.cast(images, tf.float32), training=False)

    return serve


def write_json(path: str, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, default=str)  # default: odd --set values (sets, bytes)
        f.write("\n")


def write_model_files(
    model: keras.Model,
    directory: str,
    *,
    class_names: Sequence[str],
    summary: dict[str, Any] | None = None,
) -> None:
    """Write the SavedModel, ``model.keras``, ``class_names.json`` (and ``summary.json``) into ``directory``."""
    num_classes = int(model.output_shape[-1])
    if len(class_names) != num_classes:
        raise ValueError(
            f"class_names must name the model's {num_classes} outputs. Received {len(class_names)} names: "
            f"{list(class_names)!r}"
        )
    export_saved_model(model, directory)
    model.save(os.path.join(directory, KERAS_FILE))
    write_json(os.path.join(directory, CLASS_NAMES_FILE), [str(c) for c in class_names])
    if summary is not None:
        write_json(os.path.join(directory, SUMMARY_FILE), summary)


def check_formats(formats: str | Sequence[str]) -> tuple[str, ...]:
    """``formats`` as a tuple of known format names (duplicates dropped), or a UsageError."""
    names = (formats,) if isinstance(formats, str) else tuple(formats)
    unknown = [f for f in names if f not in FORMATS]
    if unknown or not names:
        raise UsageError(f"export formats must be among {', '.join(FORMATS)}. Received: formats={list(names)!r}")
    return tuple(dict.fromkeys(names))


def uint8_model(model: keras.Model) -> keras.Model:
    """``model`` behind a uint8 input: the same graph, a cast in front (what ``serve_uint8`` runs)."""
    import keras

    images = keras.Input(shape=image_shape(model), dtype="uint8", name=INPUT_NAME)
    return keras.Model(images, model(keras.ops.cast(images, "float32")), name=f"{model.name}_uint8")


def _layer_named_in(text: str, model: keras.Model) -> str | None:
    """The deepest layer of ``model`` whose name appears in a converter's or runtime's message."""
    names = sorted((layer.name for layer in model._flatten_layers(include_self=False)), key=len, reverse=True)
    return next((n for n in names if re.search(rf"(^|[/:\"'(\s]){re.escape(n)}(_\d+)?([/:\"')\s]|$)", text)), None)


def _format_error(model: keras.Model, fmt: str, error: BaseException) -> ExportFormatError:
    text = str(error)
    layer = _layer_named_in(text, model)
    where = f"layer {layer!r} of model {model.name!r}" if layer else f"model {model.name!r}"
    ops = sorted(set(re.findall(r"'(tf\.[A-Za-z0-9_]+)'", text)))
    detail = f" (unsupported ops: {', '.join(ops)})" if ops else ""
    return ExportFormatError(f"{where} cannot be expressed in the {fmt} format{detail}: {cli.one_line(error)[:400]}")


@contextlib.contextmanager
def _graph_grouped_convs() -> Iterator[None]:
    """Trace grouped convolutions as one ``Conv2D`` op instead of Keras' XLA-compiled call.

    Keras' TensorFlow backend runs a grouped conv (ResNeXt) inside a ``jit_compile=True`` function,
    because TensorFlow's CPU kernel lacks groups (keras/src/backend/tensorflow/nn.py). Neither
    tf2onnx nor the LiteRT converter can convert that call, but both convert a grouped ``Conv2D``
    op (ONNX ``Conv(group=...)``, LiteRT ``CONV_2D``). Used only while tracing for those formats;
    the SavedModel keeps Keras' own path, which runs on TensorFlow's CPU.
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import nn as tf_nn

    keras_conv = tf_nn.conv

    def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
        if data_format in (None, "channels_last") and len(inputs.shape) == 4 and inputs.shape[-1] != kernel.shape[-2]:
            return tf.nn.convolution(inputs, kernel, strides, padding.upper(), dilations=dilation_rate)
        return keras_conv(inputs, kernel, strides, padding, data_format, dilation_rate)

    tf_nn.conv = conv
    try:
        yield
    finally:
        tf_nn.conv = keras_conv


def _rename_onnx_io(proto, renames: dict[str, str]) -> None:
    """Rename graph inputs / outputs (tf2onnx keeps TensorFlow's ``images:0`` / ``Identity:0``)."""
    for value in [*proto.graph.input, *proto.graph.output]:
        value.name = renames.get(value.name, value.name)
    for node in proto.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]


def onnx_proto(model: keras.Model, dtype: tf.DType):
    """The ONNX graph of the SavedModel's endpoint for ``dtype`` (``shape_checked``), input ``images``, output ``output_0``.

    Keras' ``model.export(format="onnx")`` hands tf2onnx a function whose captured constants (the
    ``Normalization`` layer's mean and variance) become extra graph *inputs* that every caller
    would have to feed. Here the traced function is frozen first (every capture a constant), then
    converted with ``tf2onnx.convert.from_graph_def``.
    """
    import tensorflow as tf
    import tf2onnx
    from keras.src.export.tf2onnx_lib import patch_tf2onnx
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    with _graph_grouped_convs():
        concrete = tf.function(shape_checked(model)).get_concrete_function(input_spec(model, dtype))
    frozen = convert_variables_to_constants_v2(concrete)
    with warnings.catch_warnings():
        # Keras' tf2onnx shim (keras/src/export/tf2onnx_lib.py) reads np.object, which numpy 2 warns about.
        warnings.filterwarnings("ignore", message=r"In the future `np\.object`", category=FutureWarning)
        patch_tf2onnx()
        proto, _ = tf2onnx.convert.from_graph_def(
            frozen.graph.as_graph_def(),
            input_names=[t.name for t in frozen.inputs],
            output_names=[t.name for t in frozen.outputs],
        )
    _rename_onnx_io(proto, {frozen.inputs[0].name: INPUT_NAME, frozen.outputs[0].name: "output_0"})
    return proto


def export_onnx_file(model: keras.Model, path: str, dtype: tf.DType | str = "float32") -> str:
    """Write one ONNX file taking ``dtype`` images; loaded and run once by onnxruntime.

    Raises:
        ExportFormatError: naming the layer that tf2onnx or onnxruntime cannot handle.
    """
    import tensorflow as tf

    from reszoo.runtimes import OnnxRunner

    dtype = tf.as_dtype(dtype)
    try:
        proto = onnx_proto(model, dtype)
        with open(path, "wb") as f:
            f.write(proto.SerializeToString())
        OnnxRunner(path).run(np.zeros((1, *image_shape(model)), dtype.as_numpy_dtype))
    except Exception as error:  # tf2onnx and onnxruntime raise their own classes: name the layer
        raise _format_error(model, ONNX, error) from error
    return path


def export_litert_file(model: keras.Model, path: str, dtype: tf.DType | str = "float32") -> str:
    """Write one LiteRT file taking ``dtype`` images with ``model.export(format="litert")``.

    Builtin ops only: Keras allows Flex (TensorFlow) ops, which the LiteRT runtime (ai-edge-litert)
    cannot run, so a layer that needs one would fail only when loaded; here it fails the conversion,
    naming the layer. The file is then loaded and run once by LiteRT.
    """
    import tensorflow as tf

    from reszoo.runtimes import LiteRTRunner

    dtype = tf.as_dtype(dtype)
    exported = model if dtype == tf.float32 else uint8_model(model)
    builtins = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}
    try:
        with _graph_grouped_convs():
            exported.export(
                path, format="litert", input_signature=[input_spec(model, dtype)], verbose=False, target_spec=builtins
            )
        LiteRTRunner(path).run(np.zeros((1, *image_shape(model)), dtype.as_numpy_dtype))
    except Exception as error:  # the converter's and LiteRT's own classes: name the layer
        raise _format_error(model, LITERT, error) from error
    return path


def export_onnx(model: keras.Model, directory: str) -> list[str]:
    """Write ``model.onnx`` (float32 ``images``) and ``model_uint8.onnx`` (uint8), output ``output_0``."""
    import tensorflow as tf

    files = zip(FORMAT_FILES[ONNX], (tf.float32, tf.uint8), strict=True)
    return [export_onnx_file(model, os.path.join(directory, name), dtype) for name, dtype in files]


def export_litert(model: keras.Model, directory: str) -> list[str]:
    """Write ``model.tflite`` (float32 ``images``) and ``model_uint8.tflite`` (uint8), output ``output_0``."""
    import tensorflow as tf

    files = zip(FORMAT_FILES[LITERT], (tf.float32, tf.uint8), strict=True)
    return [export_litert_file(model, os.path.join(directory, name), dtype) for name, dtype in files]


def write_formats(model: keras.Model, directory: str | os.PathLike, formats: str | Sequence[str]) -> list[str]:
    """Write ``model`` into ``directory`` in each of ``formats`` ("saved_model", "onnx", "litert").

    What ``reszoo.train --export-format`` calls inside its staged export folder. ``model`` takes raw
    0-255 NHWC images (normalization inside) and returns probabilities.

    Args:
        model: keras.Model. The trained model.
        directory: str. An existing folder (an export being staged).
        formats: a format name or several.

    Returns:
        The paths written (the folder itself for the SavedModel).

    Raises:
        UsageError: an unknown format. ExportFormatError: a layer the format cannot express.

    Example::

        write_formats(model, staging, ["onnx", "litert"])
        # ['.../model.onnx', '.../model_uint8.onnx', '.../model.tflite', '.../model_uint8.tflite']
    """
    directory = os.fspath(directory)
    written: list[str] = []
    for fmt in check_formats(formats):
        if fmt == SAVED_MODEL:
            written.append(export_saved_model(model, directory))
        elif fmt == ONNX:
            written.extend(export_onnx(model, directory))
        else:
            written.extend(export_litert(model, directory))
    return written


@contextlib.contextmanager
def staged_update(export_dir: str) -> Iterator[str]:
    """Yield a copy of ``export_dir`` to add files to; on success it replaces ``export_dir``.

    Two renames (the old folder aside, the copy into place), so a reader sees either the old folder
    or the complete new one, never a half-written file; on failure the copy is removed.
    """
    final = os.path.abspath(export_dir)
    staging, retired = partial_dir(final), partial_dir(final) + ".old"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(final, staging)
    try:
        yield staging
        os.replace(final, retired)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def add_formats(export_dir: str | os.PathLike, formats: str | Sequence[str]) -> list[str]:
    """Add ``formats`` to an existing export folder, from its ``model.keras``; returns the files written.

    ``saved_model`` rewrites the SavedModel (e.g. to give an older export the shape-checking
    signatures). The folder is updated atomically (``staged_update``).

    Example::

        add_formats("saved_models/resnet20-cifar10-20261204", ["onnx"])
        # ['.../model.onnx', '.../model_uint8.onnx']
    """
    formats = check_formats(formats)
    source = os.path.abspath(os.fspath(export_dir))
    keras_file = os.path.join(source, KERAS_FILE)
    if not os.path.isfile(keras_file):
        raise UsageError(
            f"{source} is not an export folder with a Keras model: it has no {KERAS_FILE} "
            "(export folders are written by reszoo.train or reszoo.export.export_model)."
        )
    import keras

    # model.keras names reszoo's registered classes (its layers, reszoo.backbone.Functional), which
    # ``import reszoo`` alone no longer registers: without this, a fresh ``python -m reszoo.export``
    # could not load it ("Could not locate class 'ZeroPadShortcut'").
    import reszoo.models  # noqa: F401

    model = keras.models.load_model(keras_file)
    with staged_update(source) as staging:
        written = write_formats(model, staging, formats)
    return [os.path.join(source, os.path.relpath(p, staging)) if p != staging else source for p in written]


def export_model(
    model: keras.Model,
    export_dir: str | os.PathLike,
    *,
    class_names: Sequence[str],
    summary: dict[str, Any] | None = None,
    formats: Sequence[str] = (),
) -> str:
    """Atomically write a complete export folder for ``model``, readable by ``reszoo.load``.

    ``model`` must take raw 0-255 images (normalization inside) and return
    probabilities. ``formats`` adds "onnx" / "litert" files (``write_formats``) beside the
    SavedModel. Returns the absolute export path.

    Example::

        export_model(trained, "saved_models/mine", class_names=["cat", "dog"])
        reszoo.load("saved_models/mine").classify("cat.png", top_k=1)
    """
    final = check_export_dir(export_dir)
    with staged_export(final) as staging:
        write_model_files(model, staging, class_names=class_names, summary=summary)
        extra = [f for f in check_formats([SAVED_MODEL, *formats]) if f != SAVED_MODEL]
        if extra:
            write_formats(model, staging, extra)
    return final


def next_serving_version(base_path: str) -> int:
    """One more than the largest numbered version folder under ``base_path`` (1 for none)."""
    existing = [int(n) for n in os.listdir(base_path) if n.isdigit()] if os.path.isdir(base_path) else []
    return max(existing, default=0) + 1


def export_for_serving(
    export_dir: str | os.PathLike, base_path: str | os.PathLike, *, version: int | None = None
) -> str:
    """Copy an export folder's SavedModel into TF Serving's layout, ``base_path/<version>/``.

    TF Serving (``--model_base_path=base_path``) serves the highest version and
    picks up new ones as they appear, so the version folder is staged under a
    hidden name and renamed into place only when complete.

    Args:
        export_dir: a folder written by ``reszoo.train`` or ``export_model``.
        base_path: the model's base path; created if missing.
        version: positive int; default the next free number.

    Returns the absolute version folder. Raises ValueError for a folder that is
    not an export, a bad version, or a version that already exists.
    """
    source = os.path.abspath(os.fspath(export_dir))
    if not os.path.isfile(os.path.join(source, "saved_model.pb")):
        raise ValueError(f"{source} is not an export folder: it has no saved_model.pb.")
    base = os.path.abspath(os.fspath(base_path))
    if version is None:
        version = next_serving_version(base)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"version must be a positive integer (TF Serving's version folders). Received: {version!r}")
    target = os.path.join(base, str(version))
    if os.path.lexists(target):
        raise ValueError(f"version {version} already exists at {target}; pass another --version or leave it out.")
    with staged_export(target) as staging:
        for entry in SAVED_MODEL_ENTRIES:
            path = os.path.join(source, entry)
            if os.path.isdir(path):
                shutil.copytree(path, os.path.join(staging, entry))
            elif os.path.isfile(path):
                shutil.copy2(path, staging)
    return target


def build_parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(
        prog="python -m reszoo.export",
        description="Add export formats (ONNX, LiteRT) to an export folder, or copy its SavedModel into "
        "TensorFlow Serving's versioned layout (BASE/<version>/).",
        epilog="Exit status 2: bad input (one error: line), including a layer a format cannot express.",
    )
    parser.add_argument("export_dir", help="export folder written by reszoo.train")
    parser.add_argument(
        "--format",
        dest="formats",
        action="append",
        choices=FORMATS,
        help="write this format into the folder, from its model.keras (repeatable): saved_model rewrites the "
        "SavedModel, onnx adds model.onnx and model_uint8.onnx, litert model.tflite and model_uint8.tflite",
    )
    parser.add_argument("--serving-dir", default=None, help="TF Serving model base path (--model_base_path)")
    parser.add_argument("--version", type=int, default=None, help="version number (default: the next free one)")
    return parser


def run(argv: Sequence[str]) -> list[str]:
    """Parse ``argv``, add the formats and/or the serving version; returns and prints the paths written."""
    args = build_parser().parse_args(argv)
    if not args.formats and args.serving_dir is None:
        raise UsageError("nothing to do: pass --format FORMAT (saved_model, onnx, litert) and/or --serving-dir BASE")
    if not os.path.isdir(args.export_dir):
        raise UsageError(f"No export folder at {os.path.abspath(args.export_dir)}.")
    written = add_formats(args.export_dir, args.formats) if args.formats else []
    if args.serving_dir is not None:
        try:
            written.append(export_for_serving(args.export_dir, args.serving_dir, version=args.version))
        except ValueError as error:
            raise UsageError(str(error)) from None
    for path in written:
        print(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reszoo.export EXPORT_DIR [--format F ...] [--serving-dir BASE [--version N]]``; the exit status."""
    return cli.run_main(run, argv, {UsageError: cli.EXIT_USAGE})


if __name__ == "__main__":
    sys.exit(main())
