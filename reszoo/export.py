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

import argparse
import contextlib
import json
import os
import shutil
import sys
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
# What a SavedModel folder holds (fingerprint.pb since TF 2.12); what a serving version folder gets.
SAVED_MODEL_ENTRIES = ("saved_model.pb", "fingerprint.pb", "variables", "assets", CLASS_NAMES_FILE)


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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reszoo.export EXPORT_DIR --serving-dir BASE [--version N]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m reszoo.export",
        description="Copy an export folder's SavedModel into TensorFlow Serving's versioned layout (BASE/<version>/).",
    )
    parser.add_argument("export_dir", help="export folder written by reszoo.train")
    parser.add_argument("--serving-dir", required=True, help="TF Serving model base path (--model_base_path)")
    parser.add_argument("--version", type=int, default=None, help="version number (default: the next free one)")
    args = parser.parse_args(argv)
    try:
        target = export_for_serving(args.export_dir, args.serving_dir, version=args.version)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
