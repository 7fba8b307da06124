"""Would an XLA-compiled serving endpoint make the SavedModel faster? (Tried on 2026-12-07, kept off.)

Builds one network as ``bench formats`` does (random weights behind a ``Normalization`` layer), writes two
SavedModels with the same ``serve_uint8`` endpoint as ``reszoo.export`` (``shape_checked``, inference mode):
one plain (reszoo's export), one whose endpoint is a ``tf.function(jit_compile=True)``. Loads both with
``tf.saved_model.load`` and times ``serve_uint8`` at batch 1 and 256, alternating rounds after a warm-up; checks
that both give the same probabilities. Prints and writes (``--out``) images/s per endpoint, their ratio, the
largest difference, and the machine (CPU model and flags).

    python benchmarks/serve_xla.py --depths 20,110 --out benchmarks/serve_xla_cpu_intel.json

On the 2-core Intel Xeon AMX VM (benchmarks/RESULTS.md, section 11): 1.6-2.0x at batch 1, 0.80-0.83x at batch
256, so reszoo's export stays without XLA; for one-image serving the ONNX export is faster still (2.5x PyTorch).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import reszoo  # noqa: E402, F401  (sets TF_ENABLE_ONEDNN_OPTS=1 unless the environment chose)
from reszoo import export  # noqa: E402
from reszoo.bench.formats import deployable  # noqa: E402
from reszoo.bench.machine import machine_info  # noqa: E402

ENDPOINT = "serve_uint8"
# (batch size, calls per round): about the same images per round at batch 1 and 256.
BATCHES = ((1, 400), (256, 6))


def write_endpoint(model, path: str, *, jit_compile: bool) -> str:
    """``model``'s ``serve_uint8`` as reszoo exports it, compiled by XLA when ``jit_compile``."""
    import keras
    import tensorflow as tf

    serve = export.shape_checked(model)
    if jit_compile:
        serve = tf.function(serve, jit_compile=True)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(ENDPOINT, serve, input_signature=[export.input_spec(model, tf.uint8)])
    archive.write_out(path, verbose=False)
    return path


def seconds_per_round(endpoint, images, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        endpoint(images).numpy()
    return time.perf_counter() - start


def measure(depth: int, rounds: int, folder: str) -> list[dict]:
    import tensorflow as tf

    model = deployable(argparse.Namespace(model="preact_resnet", set=[("depth", depth)]))
    loaded = {
        label: getattr(
            tf.saved_model.load(write_endpoint(model, os.path.join(folder, f"{label}{depth}"), jit_compile=jit)),
            ENDPOINT,
        )
        for label, jit in (("plain", False), ("xla", True))
    }
    rng = np.random.default_rng(0)
    rows = []
    for batch, calls in BATCHES:
        images = tf.constant(rng.integers(0, 256, (batch, *model.input_shape[1:]), dtype=np.uint8))
        difference = float(np.abs(loaded["plain"](images).numpy() - loaded["xla"](images).numpy()).max())
        for endpoint in loaded.values():
            seconds_per_round(endpoint, images, max(2, calls // 4))  # warm-up (XLA compiles here)
        seconds = dict.fromkeys(loaded, 0.0)
        for turn in range(rounds):
            order = list(loaded) if turn % 2 == 0 else list(reversed(loaded))
            for label in order:
                seconds[label] += seconds_per_round(loaded[label], images, calls)
        row = {
            "network": f"preact_resnet{depth}",
            "batch_size": batch,
            **{f"{label}_images_per_second": batch * calls * rounds / s for label, s in seconds.items()},
            "xla_over_plain": seconds["plain"] / seconds["xla"],
            "max_abs_difference": difference,
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--depths", default="20,110", help="pre-activation ResNet depths (20,110)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    depths = [int(d) for d in args.depths.split(",")]
    with tempfile.TemporaryDirectory(prefix="reszoo-serve-xla-") as folder:
        rows = [row for depth in depths for row in measure(depth, args.rounds, folder)]
    result = {"command": "serve_xla", "settings": vars(args), "rows": rows, "machine": machine_info()}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
