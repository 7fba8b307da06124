"""reszoo against PyTorch: training throughput of the same networks on the same data sizes.

For each network (pre-activation ResNet, FastResNet type 1 / type 2) and depth:

1. the reszoo and PyTorch models' trainable parameter counts are asserted equal;
2. reszoo trains through its real command line (``python -m reszoo.train
   --dataset synthetic:N --epochs E --batch-size B ...``, tf.data pipeline,
   ``model.fit``, export) and the runner reads ``epoch_seconds`` from the
   export's ``summary.json``;
3. PyTorch trains (``benchmarks/peer_pytorch.py``) on N synthetic images
   for E epochs with the same batch, float32, SGD + Nesterov, weight decay and
   per-image crop + flip augmentation, in each configuration of ``--torch-configs``
   a user might pick: ``eager`` (NCHW), ``channels_last`` (eager, NHWC),
   ``compile`` and ``compile_channels_last`` (``torch.compile``, TorchInductor);

each in its own process, alternating reszoo and every PyTorch configuration
(the order reversed every other repeat) ``--repeats`` times. reszoo is compared
with the fastest PyTorch configuration (by median). The first epoch of every run is warm-up (graph
tracing, allocator) and is dropped; throughput is images per epoch over the
mean of the remaining epoch times, and the reported figure is the median
over repeats. The fastest single epoch of each side is reported too: on a
machine shared with other work it is the least disturbed estimate (PyTorch's
OpenMP threads slow down far more than TensorFlow's under contention). Prints a table (``--markdown`` for RESULTS.md) and writes JSON
(``--out``).

    python benchmarks/run_peer.py --kinds preact,fast1,fast2 --depths 20 --images 5120 --epochs 3 --repeats 3

Needs PyTorch (``pip install torch==2.13.0``, a CPU wheel; a benchmark
dependency, not one of reszoo's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import peer_pytorch  # noqa: E402  (needs torch; a clear ImportError otherwise)

# PyTorch unit kind -> (reszoo family, builder arguments besides depth).
RESZOO_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "preact": ("preact_resnet", {}),
    "fast1": ("fast_resnet", {"unit_type": 1}),
    "fast2": ("fast_resnet", {"unit_type": 2}),
}


# --torch-configs name -> peer_pytorch.py flags.
TORCH_CONFIGS: dict[str, tuple[str, ...]] = {
    "eager": (),
    "channels_last": ("--channels-last",),
    "compile": ("--compile",),
    "compile_channels_last": ("--compile", "--channels-last"),
}


def parse_torch_configs(text: str) -> list[str]:
    """``eager,compile`` -> ["eager", "compile"]; a ValueError naming the allowed ones otherwise."""
    configs = [c for c in text.split(",") if c]
    unknown = [c for c in configs if c not in TORCH_CONFIGS]
    if unknown or not configs:
        raise ValueError(f"--torch-configs must be among {', '.join(TORCH_CONFIGS)}. Received: {text!r}")
    return configs


def reszoo_params(kind: str, depth: int) -> int:
    """Trainable parameters of the reszoo network (imports TensorFlow in this process)."""
    import reszoo

    family, extra = RESZOO_MODELS[kind]
    return reszoo.trainable_params(reszoo.build(family, depth=depth, **extra))


def check_same_networks(kind: str, depth: int) -> int:
    ours = reszoo_params(kind, depth)
    theirs = peer_pytorch.trainable_params(peer_pytorch.CifarResNet(depth, kind))
    if ours != theirs:
        raise AssertionError(f"{kind} depth {depth}: reszoo has {ours:,} trainable parameters, PyTorch {theirs:,}")
    return ours


def best_images_per_second(images_per_epoch: int, epoch_seconds: list[float]) -> float:
    """Images/s of the fastest epoch after the first: the least disturbed one on a shared machine."""
    return images_per_epoch / min(epoch_seconds[1:])


def steady_images_per_second(images_per_epoch: int, epoch_seconds: list[float]) -> float:
    """Images/s over the epochs after the first (warm-up); needs at least two epochs."""
    if len(epoch_seconds) < 2:
        raise ValueError(f"need at least 2 epochs to drop the warm-up one. Received: {len(epoch_seconds)} epoch(s)")
    return images_per_epoch / statistics.mean(epoch_seconds[1:])


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"), **(extra or {}))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return env


def run_reszoo(
    kind: str,
    depth: int,
    *,
    images: int,
    epochs: int,
    batch_size: int,
    workdir: str,
    env: dict[str, str] | None = None,
    python: str = sys.executable,
) -> dict[str, Any]:
    family, extra = RESZOO_MODELS[kind]
    export_dir = tempfile.mkdtemp(prefix=f"reszoo-{kind}{depth}-", dir=workdir)
    os.rmdir(export_dir)  # reszoo.train wants a folder that does not exist yet
    command = [
        python,
        "-m",
        "reszoo.train",
        "--model",
        family,
        "--set",
        f"depth={depth}",
        *[f"--set={k}={v}" for k, v in extra.items()],
        "--dataset",
        f"synthetic:{images}",
        "--epochs",
        str(epochs),
        "--batch-size",
        str(batch_size),
        "--seed",
        "0",
        "--export-dir",
        export_dir,
    ]
    completed = subprocess.run(command, cwd=ROOT, env=_environment(env), capture_output=True, text=True)
    if completed.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    with open(os.path.join(export_dir, "summary.json")) as f:
        summary = json.load(f)
    return {
        "epoch_seconds": summary["epoch_seconds"],
        "images_per_second": steady_images_per_second(summary["train_size"], summary["epoch_seconds"]),
        "best_images_per_second": best_images_per_second(summary["train_size"], summary["epoch_seconds"]),
        "params": summary["params"],
        "versions": summary.get("versions"),
    }


def run_pytorch(
    kind: str,
    depth: int,
    *,
    images: int,
    epochs: int,
    batch_size: int,
    config: str = "eager",
    python: str = sys.executable,
) -> dict[str, Any]:
    command = [
        python,
        os.path.join(HERE, "peer_pytorch.py"),
        "--kind",
        kind,
        "--depth",
        str(depth),
        "--images",
        str(images),
        "--epochs",
        str(epochs),
        "--batch-size",
        str(batch_size),
        *TORCH_CONFIGS[config],
    ]
    completed = subprocess.run(command, cwd=ROOT, env=_environment(), capture_output=True, text=True)
    if completed.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["images_per_second"] = steady_images_per_second(result["images_per_epoch"], result["epoch_seconds"])
    result["best_images_per_second"] = best_images_per_second(result["images_per_epoch"], result["epoch_seconds"])
    return result


def compare(
    kind: str,
    depth: int,
    *,
    images: int,
    epochs: int,
    batch_size: int,
    repeats: int,
    workdir: str,
    reszoo_env: dict[str, str] | None = None,
    torch_configs: tuple[str, ...] = ("eager",),
) -> dict[str, Any]:
    """Alternate reszoo and every PyTorch configuration (the order reversed each repeat); medians, fastest
    epochs, and reszoo's ratio to the fastest PyTorch configuration."""
    params = check_same_networks(kind, depth)
    runners = {
        "reszoo": lambda: run_reszoo(
            kind, depth, images=images, epochs=epochs, batch_size=batch_size, workdir=workdir, env=reszoo_env
        ),
    }
    for config in torch_configs:
        runners[f"pytorch_{config}"] = lambda config=config: run_pytorch(
            kind, depth, images=images, epochs=epochs, batch_size=batch_size, config=config
        )
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in runners}
    order = list(runners)
    for repeat in range(repeats):
        for side in order if repeat % 2 == 0 else reversed(order):
            runs[side].append(runners[side]())
    median = {side: statistics.median(r["images_per_second"] for r in runs[side]) for side in runs}
    best = {side: max(r["best_images_per_second"] for r in runs[side]) for side in runs}
    fastest = max(torch_configs, key=lambda config: median[f"pytorch_{config}"])
    pytorch_best = max(best[f"pytorch_{config}"] for config in torch_configs)
    return {
        "kind": kind,
        "depth": depth,
        "params": params,
        "median_images_per_second": median,
        "best_images_per_second": best,
        "fastest_pytorch": fastest,
        "reszoo_images_per_second": median["reszoo"],
        "pytorch_images_per_second": median[f"pytorch_{fastest}"],
        "reszoo_to_pytorch": median["reszoo"] / median[f"pytorch_{fastest}"],
        "reszoo_best_images_per_second": best["reszoo"],
        "pytorch_best_images_per_second": pytorch_best,
        "best_reszoo_to_pytorch": best["reszoo"] / pytorch_best,
        "runs": runs,
    }


def render(rows: list[dict[str, Any]], markdown: bool) -> str:
    """One line per network: reszoo and every PyTorch configuration (median images/s), the ratio to the
    fastest of them, and the same by fastest epochs."""
    from reszoo.bench.tables import format_table  # reszoo imports TensorFlow: loaded when needed

    configs = [side for side in rows[0]["median_images_per_second"] if side != "reszoo"] if rows else []
    headers = [
        "network",
        "depth",
        "params",
        "reszoo img/s",
        *[f"{side.replace('pytorch_', 'PyTorch ')} img/s" for side in configs],
        "reszoo / fastest PyTorch",
        "best epochs: reszoo",
        "PyTorch",
        "ratio",
    ]
    cells = [
        [
            r["kind"],
            str(r["depth"]),
            f"{r['params']:,}",
            f"{r['reszoo_images_per_second']:.1f}",
            *[f"{r['median_images_per_second'][side]:.1f}" for side in configs],
            f"{r['reszoo_to_pytorch']:.2f} ({r['fastest_pytorch']})",
            f"{r['reszoo_best_images_per_second']:.1f}",
            f"{r['pytorch_best_images_per_second']:.1f}",
            f"{r['best_reszoo_to_pytorch']:.2f}",
        ]
        for r in rows
    ]
    return format_table(headers, cells, markdown)


def _machine() -> dict[str, Any]:
    """What ``bench`` records (CPU model and flags, versions, load), read at the end of the run."""
    from reszoo.bench.machine import machine_info

    return machine_info()


def main(argv=None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kinds", default="preact,fast1,fast2", help="comma-separated: preact, fast1, fast2")
    p.add_argument("--depths", default="20", help="comma-separated 6n+2 depths (20)")
    p.add_argument("--images", type=int, default=5120, help="synthetic training images per epoch (5120)")
    p.add_argument("--epochs", type=int, default=3, help="epochs per run, the first dropped (3)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3, help="runs per side, alternating (3)")
    p.add_argument(
        "--reszoo-env",
        default="",
        metavar="K=V[,K=V]",
        help="extra environment for the reszoo runs, e.g. TF_ENABLE_ONEDNN_OPTS=1",
    )
    p.add_argument(
        "--torch-configs",
        default="eager,channels_last",
        help=f"comma-separated PyTorch configurations, among {', '.join(TORCH_CONFIGS)} (eager,channels_last)",
    )
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--out", default=None, help="write the results as JSON")
    args = p.parse_args(argv)
    try:
        torch_configs = tuple(parse_torch_configs(args.torch_configs))
    except ValueError as error:
        p.error(str(error))
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(RESZOO_MODELS))
    if unknown:
        p.error(f"--kinds must be among {', '.join(RESZOO_MODELS)}. Received: {', '.join(unknown)}")
    if args.epochs < 2:
        p.error(f"--epochs must be >= 2 (the first is dropped as warm-up). Received: {args.epochs}")
    if args.images < args.batch_size or args.images % args.batch_size:
        p.error(
            f"--images must be a positive multiple of --batch-size ({args.batch_size}) so both sides train "
            f"on whole batches. Received: {args.images}"
        )
    reszoo_env = {}
    for item in filter(None, args.reszoo_env.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            p.error(f"--reszoo-env expects KEY=VALUE[,KEY=VALUE]. Received: {args.reszoo_env!r}")
        reszoo_env[key] = value
    rows = []
    with tempfile.TemporaryDirectory(prefix="reszoo-peer-") as workdir:
        for depth in (int(d) for d in args.depths.split(",") if d):
            for kind in kinds:
                rows.append(
                    compare(
                        kind,
                        depth,
                        images=args.images,
                        epochs=args.epochs,
                        batch_size=args.batch_size,
                        repeats=args.repeats,
                        workdir=workdir,
                        reszoo_env=reszoo_env,
                        torch_configs=torch_configs,
                    )
                )
                print(render(rows[-1:], markdown=False).splitlines()[-1], flush=True)
    reszoo_versions = rows[0]["runs"]["reszoo"][0]["versions"] if rows else None
    result = {
        "command": "peer",
        "settings": vars(args),
        "machine": _machine(),
        "versions": {"torch": peer_pytorch.torch.__version__, **(reszoo_versions or {})},
        "rows": rows,
    }
    print(render(rows, args.markdown))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
