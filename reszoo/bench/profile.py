"""``bench profile``: where a training step's time goes, as kernel time per TensorFlow op type.

Read from a ``tf.profiler`` trace of a few steps (the inter-op threads; executor bookkeeping excluded).
TensorFlow only; imported when the command runs.
"""

from __future__ import annotations

import argparse
import glob
import os
import tempfile
from typing import Any

import reszoo
from reszoo.bench.machine import machine_info, require_tensorflow
from reszoo.bench.tables import format_table
from reszoo.bench.timing import compile_for_training, set_precision, settings, synthetic_batches, train_steps
from reszoo.bench.variants import variant_model

# Trace events that wrap kernels (the executor, intra-op sharding) rather than being kernels.
_WRAPPER_EVENTS = ("Process", "ParallelFor", "ExecutorDoneCallback")


def op_time_breakdown(xspace_bytes: bytes) -> dict[str, int]:
    """Picoseconds per TF op type on the inter-op ("tf_Compute") threads of a profiler trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # shipped with TensorFlow; no public reader

    space = xplane_pb2.XSpace()
    space.ParseFromString(xspace_bytes)
    totals: dict[str, int] = {}
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                op_type = plane.event_metadata[event.metadata_id].name.rsplit(":", 1)[-1]
                if op_type not in _WRAPPER_EVENTS and not op_type.startswith("ThreadpoolListener"):
                    totals[op_type] = totals.get(op_type, 0) + event.duration_ps
    return totals


# What each op type's kernel time is spent on, by the first rule its name matches (TensorFlow's and
# oneDNN's names: Conv2DBackpropFilter, _MklNativeConv2DBackpropInput, _FusedConv2D, FusedBatchNormGradV3...).
OP_GROUPS = (
    ("convolution gradients", ("Conv2DBackprop", "DepthwiseConv2dNativeBackprop")),
    ("convolution forward", ("Conv2D", "DepthwiseConv2dNative")),
    ("batch norm", ("BatchNorm",)),
    ("matmul", ("MatMul",)),
)
OTHER_GROUP = "other (elementwise, slices, pads, optimizer)"


def op_group(op_type: str) -> str:
    """The ``OP_GROUPS`` name an op type's kernel time counts under (``OTHER_GROUP`` when none)."""
    return next((group for group, parts in OP_GROUPS if any(part in op_type for part in parts)), OTHER_GROUP)


def group_shares(totals: dict[str, int]) -> dict[str, float]:
    """Share of the kernel time per ``op_group``, in ``OP_GROUPS`` order (groups with no time left out)."""
    total = sum(totals.values()) or 1
    shares: dict[str, float] = {}
    for group in (*(name for name, _ in OP_GROUPS), OTHER_GROUP):
        time = sum(ps for op, ps in totals.items() if op_group(op) == group)
        if time:
            shares[group] = time / total
    return shares


def traced_op_times(model, batches, steps: int) -> dict[str, int]:
    """Picoseconds per op type over ``steps`` training steps, traced into a temporary folder."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="reszoo-profile-") as logdir:
        tf.profiler.experimental.start(logdir)
        train_steps(model, batches, steps)
        tf.profiler.experimental.stop()
        (trace,) = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        with open(trace, "rb") as f:
            return op_time_breakdown(f.read())


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Where a training step's time goes: kernel time per TF op type (tf.profiler trace; TensorFlow only)."""
    require_tensorflow("bench profile reads TensorFlow's profiler")
    set_precision(args.precision)
    model = compile_for_training(
        variant_model(reszoo.build(args.model, **dict(args.set)), args.variant), jit_compile=False
    )
    batches = synthetic_batches(args.batch_size, model.input_shape[1:], model.output_shape[-1])
    train_steps(model, batches, args.warmup_steps)
    totals = traced_op_times(model, batches, args.steps)
    total = sum(totals.values())
    rows = [
        {"op": op, "ms_per_step": ps / args.steps / 1e9, "share": ps / total}
        for op, ps in sorted(totals.items(), key=lambda item: -item[1])
    ]
    return {
        "command": "profile",
        "model": model.name,
        "variant": args.variant,
        "settings": settings(args, "batch_size", "precision", "steps", "warmup_steps"),
        "kernel_ms_per_step": total / args.steps / 1e9,
        "group_shares": group_shares(totals),
        "rows": rows,
        "machine": machine_info(),
    }


def render(result: dict[str, Any], markdown: bool = False) -> str:
    """The op types taking at least 0.5% of the kernel time, under the total per step."""
    headers = ["op", "ms per step", "share"]
    rows = [
        [r["op"], f"{r['ms_per_step']:.1f}", f"{100 * r['share']:.1f}%"] for r in result["rows"] if r["share"] >= 0.005
    ]
    groups = ", ".join(f"{group} {share:.0%}" for group, share in result["group_shares"].items())
    return f"kernel time per step: {result['kernel_ms_per_step']:.0f} ms ({groups})\n" + format_table(
        headers, rows, markdown
    )
