"""``bench formats``: size on disk and inference images/s of one model in each export format.

The model (``--model``, ``--set``; random weights behind a ``Normalization`` layer, as ``reszoo.train``
exports it) is written with ``reszoo.export.export_model(..., formats=["onnx", "litert"])`` into a
temporary folder; then ``reszoo.load(path).predict`` on uint8 batches (``--batch-sizes 1,64``) is timed
for the SavedModel, ``model.onnx`` (onnxruntime) and ``model.tflite`` (LiteRT), the formats alternating
round by round after a warm-up. TensorFlow only (the export needs it).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

import keras
import numpy as np

import reszoo
from reszoo.bench.machine import cpu_model, machine_info, require_tensorflow
from reszoo.bench.tables import format_table

# (label, file in the export folder; "" is the SavedModel folder itself).
FORMATS = (("SavedModel", ""), ("ONNX", "model.onnx"), ("LiteRT", "model.tflite"))
SAVED_MODEL_FILES = ("saved_model.pb", "fingerprint.pb", "variables")


def disk_size(path: str) -> int:
    """Bytes of a file, or of every file under a folder."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def deployable(args: argparse.Namespace) -> keras.Model:
    net = reszoo.build(args.model, **dict(args.set))
    images = keras.Input(net.input_shape[1:], name="images")
    channels = net.input_shape[-1]
    normalize = keras.layers.Normalization(mean=[125.0] * channels, variance=[3600.0] * channels)
    return keras.Model(images, net(normalize(images)), name=net.name)


def time_predict(predictor, images: np.ndarray, calls: int) -> float:
    """Seconds for ``calls`` predictions of the batch ``images``."""
    start = time.perf_counter()
    for _ in range(calls):
        predictor.predict(images, batch_size=len(images))
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Sizes and images/s per format and batch size."""
    require_tensorflow("bench formats exports with TensorFlow")
    from reszoo import export

    model = deployable(args)
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="reszoo-bench-formats-") as tmp:
        folder = os.path.join(tmp, "export")
        export.export_model(
            model, folder, class_names=[str(i) for i in range(model.output_shape[-1])], formats=["onnx", "litert"]
        )
        predictors = {label: reszoo.load(os.path.join(folder, name)) for label, name in FORMATS}
        sizes = {
            label: disk_size(os.path.join(folder, name))
            if name
            else sum(
                disk_size(os.path.join(folder, e)) for e in SAVED_MODEL_FILES if os.path.exists(os.path.join(folder, e))
            )
            for label, name in FORMATS
        }
        for batch in args.batch_sizes:
            images = rng.integers(0, 256, (batch, *model.input_shape[1:]), dtype=np.uint8)
            calls = max(1, args.images // batch)
            seconds = dict.fromkeys(predictors, 0.0)
            for predictor in predictors.values():
                time_predict(predictor, images, max(1, calls // 4))  # warm-up
            for _ in range(args.rounds):
                for label, predictor in predictors.items():
                    seconds[label] += time_predict(predictor, images, calls)
            for label in predictors:
                rows.append(
                    {
                        "format": label,
                        "batch_size": batch,
                        "images_per_second": batch * calls * args.rounds / seconds[label],
                        "bytes": sizes[label],
                    }
                )
    return {
        "command": "formats",
        "model": model.name,
        "params": reszoo.trainable_params(model),
        "cpu": cpu_model(),
        "settings": {"batch_sizes": args.batch_sizes, "images": args.images, "rounds": args.rounds},
        "rows": rows,
        "machine": machine_info(),
    }


def render(result: dict[str, Any], markdown: bool = False) -> str:
    batches = result["settings"]["batch_sizes"]
    by_format: dict[str, dict[int, float]] = {}
    sizes: dict[str, int] = {}
    for row in result["rows"]:
        by_format.setdefault(row["format"], {})[row["batch_size"]] = row["images_per_second"]
        sizes[row["format"]] = row["bytes"]
    headers = ["format", "size on disk", *(f"images/s, batch {b}" for b in batches)]
    rows = [
        [label, f"{sizes[label] / 2**20:.2f} MiB", *(f"{ips[b]:,.0f}" for b in batches)]
        for label, ips in by_format.items()
    ]
    title = f"{result['model']} ({result['params']:,} parameters), CPU: {result['cpu']}"
    return title + "\n" + format_table(headers, rows, markdown)
