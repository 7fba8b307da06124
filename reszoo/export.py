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

Folders appear atomically: ``staged_export`` writes into a hidden sibling
(``.<name>.partial-<pid>``) and renames it into place only when everything is
written, and removes it if anything fails, so a folder under ``saved_models/``
is always complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from typing import Any

import keras
import tensorflow as tf

SERVE_FLOAT = "serve"
SERVE_UINT8 = "serve_uint8"
CLASS_NAMES_FILE = "class_names.json"
SUMMARY_FILE = "summary.json"
HISTORY_FILE = "history.csv"
KERAS_FILE = "model.keras"


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
    height, width, channels = tuple(model.input_shape[1:])
    path = os.fspath(path)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        SERVE_FLOAT,
        lambda images: model(images, training=False),
        input_signature=[tf.TensorSpec((None, height, width, channels), tf.float32, name="images")],
    )
    archive.add_endpoint(
        SERVE_UINT8,
        lambda images: model(tf.cast(images, tf.float32), training=False),
        input_signature=[tf.TensorSpec((None, height, width, channels), tf.uint8, name="images")],
    )
    archive.write_out(path, verbose=False)
    return path


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


def export_model(
    model: keras.Model,
    export_dir: str | os.PathLike,
    *,
    class_names: Sequence[str],
    summary: dict[str, Any] | None = None,
) -> str:
    """Atomically write a complete export folder for ``model``, readable by ``reszoo.load``.

    ``model`` must take raw 0-255 images (normalization inside) and return
    probabilities. Returns the absolute export path.

    Example::

        export_model(trained, "saved_models/mine", class_names=["cat", "dog"])
        reszoo.load("saved_models/mine").classify("cat.png", top_k=1)
    """
    final = check_export_dir(export_dir)
    with staged_export(final) as staging:
        write_model_files(model, staging, class_names=class_names, summary=summary)
    return final
