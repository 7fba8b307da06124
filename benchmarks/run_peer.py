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
dependency, not one of reszoo's). ``--torch-python`` runs the PyTorch side with another interpreter, such
as a venv holding the newest torch that installs, so it need not share reszoo's environment::

    python -m venv /tmp/torch-new && /tmp/torch-new/bin/pip install torch numpy
    python benchmarks/run_peer.py --torch-python /tmp/torch-new/bin/python ...

For the inference table it needs onnxruntime, tf2onnx and ai-edge-litert
(reszoo's ``test`` extra). It installs nothing: a missing one is named with its pip line, exit status 2.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
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

try:
    import peer_pytorch  # noqa: E402  (needs torch)
except ImportError:  # main() names what to install
    peer_pytorch = None

# What the benchmark needs beyond reszoo's own requirements, as pip names it; it installs nothing itself.
REQUIREMENTS = {
    "torch": "torch==2.13.0",
    "onnxruntime": "onnxruntime==1.32.0",
    "tf2onnx": "tf2onnx==1.17.0",
    "ai_edge_litert": "ai-edge-litert==2.3.0",
}


def missing_requirements(*, inference: bool, find_spec=None) -> list[str]:
    """The pip requirements of ``REQUIREMENTS`` not importable here: torch always, the export runtimes for the
    inference table (``find_spec``: ``importlib.util.find_spec``, or a stand-in)."""
    find_spec = find_spec or importlib.util.find_spec
    modules = ["torch", *(["onnxruntime", "tf2onnx", "ai_edge_litert"] if inference else [])]
    return [REQUIREMENTS[module] for module in modules if find_spec(module) is None]


def torch_version(python: str, timeout_seconds: float = 300) -> str:
    """The version of the torch that ``python`` imports (``--torch-python``: another venv's, such as the newest
    torch that installs); a ValueError naming the interpreter when it cannot run or has no torch."""
    try:
        completed = subprocess.run(
            [python, "-c", "import torch; print(torch.__version__)"],
            capture_output=True,
            text=True,
            timeout=timeout_seconds,
        )
    except OSError as error:
        raise ValueError(
            f"--torch-python must be a Python interpreter. Received: {python!r} ({error.strerror})"
        ) from None
    except subprocess.TimeoutExpired:
        raise ValueError(f"--torch-python {python!r} did not import torch within {timeout_seconds:g} s") from None
    if completed.returncode:
        raise ValueError(f"--torch-python {python!r} cannot import torch: pip install {REQUIREMENTS['torch']} there")
    return completed.stdout.strip().splitlines()[-1]


def torch_versions(pythons: list[str]) -> dict[str, str]:
    """Torch version -> interpreter for ``--torch-python``'s list; a ValueError for one that cannot run torch
    or for two with the same version (their rows could not be told apart)."""
    versions: dict[str, str] = {}
    for python in filter(None, pythons):
        version = torch_version(python)
        if version in versions:
            raise ValueError(f"--torch-python lists {versions[version]!r} and {python!r}, both with torch {version}")
        versions[version] = python
    if not versions:
        raise ValueError("--torch-python needs at least one interpreter")
    return versions


def torch_sides(torch_configs: tuple[str, ...], torch_pythons: dict[str, str] | None) -> dict[str, tuple[str, str]]:
    """Label -> (configuration, interpreter) of every PyTorch side: each configuration under each torch of
    ``torch_pythons`` (version -> interpreter; None: this one). With more than one torch the labels name the
    version (``compile_channels_last@2.14.1``), so every version's fastest configuration is in one run."""
    pythons = torch_pythons or {"": sys.executable}
    if len(pythons) == 1:
        (python,) = pythons.values()
        return {config: (config, python) for config in torch_configs}
    return {f"{config}@{version}": (config, python) for version, python in pythons.items() for config in torch_configs}


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


# --precisions name -> (reszoo.train flags, peer_pytorch.py flags): float32, or each side's mixed precision
# (float32 weights, bfloat16 compute): Keras' mixed_bfloat16 policy against torch.autocast("cpu", bfloat16).
PRECISIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "float32": ((), ()),
    "bfloat16": (("--precision", "mixed_bfloat16"), ("--bf16",)),
}


def parse_precisions(text: str) -> list[str]:
    """``float32,bfloat16`` -> ["float32", "bfloat16"]; a ValueError naming the allowed ones otherwise."""
    precisions = [c for c in text.split(",") if c]
    unknown = [c for c in precisions if c not in PRECISIONS]
    if unknown or not precisions:
        raise ValueError(f"--precisions must be among {', '.join(PRECISIONS)}. Received: {text!r}")
    return precisions


def parse_batch_sizes(text: str) -> tuple[int, ...]:
    """``1,256`` -> (1, 256); ``none`` -> (); a ValueError naming what is allowed otherwise."""
    if text.strip().lower() == "none":
        return ()
    try:
        sizes = tuple(int(b) for b in text.split(",") if b.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise ValueError(
            f"--inference-batch-sizes must be comma-separated positive integers or none. Received: {text!r}"
        )
    return sizes


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


def _run(command: list[str], env: dict[str, str] | None = None) -> str:
    """The stdout of ``command`` run from the repository root; a RuntimeError with the end of its stderr if it fails."""
    completed = subprocess.run(command, cwd=ROOT, env=_environment(env), capture_output=True, text=True)
    if completed.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    return completed.stdout


def _reszoo_model_flags(kind: str, depth: int) -> list[str]:
    """``--model FAMILY --set depth=D [--set k=v ...]``: the network of ``kind`` as reszoo's commands take it."""
    family, extra = RESZOO_MODELS[kind]
    return ["--model", family, "--set", f"depth={depth}", *[f"--set={k}={v}" for k, v in extra.items()]]


def _peer_json(kind: str, depth: int, images: int, flags: list[str], python: str) -> dict[str, Any]:
    """The JSON line ``peer_pytorch.py --kind K --depth D --images N FLAGS`` prints."""
    command = [python, os.path.join(HERE, "peer_pytorch.py"), "--kind", kind, "--depth", str(depth)]
    return json.loads(_run([*command, "--images", str(images), *flags]).strip().splitlines()[-1])


def run_reszoo(
    kind: str,
    depth: int,
    *,
    images: int,
    epochs: int,
    batch_size: int,
    workdir: str,
    env: dict[str, str] | None = None,
    precision: str = "float32",
    python: str = sys.executable,
) -> dict[str, Any]:
    export_dir = tempfile.mkdtemp(prefix=f"reszoo-{kind}{depth}-", dir=workdir)
    os.rmdir(export_dir)  # reszoo.train wants a folder that does not exist yet
    command = [
        python,
        "-m",
        "reszoo.train",
        *_reszoo_model_flags(kind, depth),
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
        *PRECISIONS[precision][0],
    ]
    _run(command, env)
    with open(os.path.join(export_dir, "summary.json")) as f:
        summary = json.load(f)
    return {
        "epoch_seconds": summary["epoch_seconds"],
        "images_per_second": steady_images_per_second(summary["train_size"], summary["epoch_seconds"]),
        "best_images_per_second": best_images_per_second(summary["train_size"], summary["epoch_seconds"]),
        "params": summary["params"],
        "precision": summary["precision"],
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
    precision: str = "float32",
    python: str = sys.executable,
) -> dict[str, Any]:
    flags = ["--epochs", str(epochs), "--batch-size", str(batch_size), *TORCH_CONFIGS[config]]
    result = _peer_json(kind, depth, images, [*flags, *PRECISIONS[precision][1]], python)
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
    precision: str = "float32",
    torch_pythons: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Alternate reszoo and every PyTorch configuration (the order reversed each repeat); medians, fastest
    epochs, and reszoo's ratio to the fastest PyTorch configuration."""
    params = check_same_networks(kind, depth)
    runners = {
        "reszoo": lambda: run_reszoo(
            kind,
            depth,
            images=images,
            epochs=epochs,
            batch_size=batch_size,
            workdir=workdir,
            env=reszoo_env,
            precision=precision,
        ),
    }
    sides = torch_sides(torch_configs, torch_pythons)
    for label, (config, python) in sides.items():
        runners[f"pytorch_{label}"] = lambda config=config, python=python: run_pytorch(
            kind,
            depth,
            images=images,
            epochs=epochs,
            batch_size=batch_size,
            config=config,
            precision=precision,
            python=python,
        )
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in runners}
    order = list(runners)
    for repeat in range(repeats):
        for side in order if repeat % 2 == 0 else reversed(order):
            runs[side].append(runners[side]())
    median = {side: statistics.median(r["images_per_second"] for r in runs[side]) for side in runs}
    best = {side: max(r["best_images_per_second"] for r in runs[side]) for side in runs}
    fastest = max(sides, key=lambda label: median[f"pytorch_{label}"])
    pytorch_best = max(best[f"pytorch_{label}"] for label in sides)
    return {
        "kind": kind,
        "depth": depth,
        "precision": precision,
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


# Inference ------------------------------------------------------------------------------------------

# The export formats `reszoo.bench formats` times, as it labels them.
RESZOO_FORMATS = ("SavedModel", "ONNX", "LiteRT")


def run_reszoo_inference(
    kind: str,
    depth: int,
    *,
    batch_sizes: tuple[int, ...],
    images: int,
    rounds: int,
    workdir: str,
    env: dict[str, str] | None = None,
    python: str = sys.executable,
) -> dict[str, dict[str, float]]:
    """Images/s per export format and batch size: ``python -m reszoo.bench formats`` on the same network (an
    export with random weights, served by ``reszoo.load(path).predict`` on uint8 images)."""
    with tempfile.NamedTemporaryFile(prefix=f"formats-{kind}{depth}-", suffix=".json", dir=workdir, delete=False) as f:
        out = f.name  # written by the bench process
    command = [
        python,
        "-m",
        "reszoo.bench",
        "formats",
        *_reszoo_model_flags(kind, depth),
        "--batch-sizes",
        ",".join(map(str, batch_sizes)),
        "--images",
        str(images),
        "--rounds",
        str(rounds),
        "--out",
        out,
    ]
    _run(command, env)
    with open(out) as f:
        result = json.load(f)
    rates: dict[str, dict[str, float]] = {}
    for row in result["rows"]:
        rates.setdefault(row["format"], {})[str(row["batch_size"])] = row["images_per_second"]
    return rates


def run_pytorch_inference(
    kind: str,
    depth: int,
    *,
    batch_sizes: tuple[int, ...],
    images: int,
    rounds: int,
    config: str,
    python: str = sys.executable,
) -> dict[str, float]:
    """Images/s per batch size of the PyTorch network in eval mode (``peer_pytorch.py --inference``)."""
    flags = ["--rounds", str(rounds), "--inference", ",".join(map(str, batch_sizes)), *TORCH_CONFIGS[config]]
    return _peer_json(kind, depth, images, flags, python)["images_per_second"]


def compare_inference(
    kind: str,
    depth: int,
    *,
    batch_sizes: tuple[int, ...],
    images: int,
    rounds: int,
    repeats: int,
    workdir: str,
    reszoo_env: dict[str, str] | None = None,
    torch_configs: tuple[str, ...] = ("eager",),
    torch_pythons: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One row per batch size: median images/s of each reszoo export format and each PyTorch configuration
    (processes alternating, the order reversed each repeat), and reszoo's ratios to the fastest PyTorch."""
    runs: dict[str, list[dict[str, float]]] = {}

    def reszoo_side() -> None:
        rates = run_reszoo_inference(
            kind, depth, batch_sizes=batch_sizes, images=images, rounds=rounds, workdir=workdir, env=reszoo_env
        )
        for label, by_batch in rates.items():
            runs.setdefault(f"reszoo_{label}", []).append(by_batch)

    def pytorch_side(label: str, config: str, python: str) -> None:
        rates = run_pytorch_inference(
            kind, depth, batch_sizes=batch_sizes, images=images, rounds=rounds, config=config, python=python
        )
        runs.setdefault(f"pytorch_{label}", []).append(rates)

    labels = torch_sides(torch_configs, torch_pythons)
    sides = [reszoo_side, *[functools.partial(pytorch_side, label, *side) for label, side in labels.items()]]
    for repeat in range(repeats):
        for side in sides if repeat % 2 == 0 else reversed(sides):
            side()
    rows = []
    for batch in map(str, batch_sizes):
        median = {side: statistics.median(run[batch] for run in side_runs) for side, side_runs in runs.items()}
        fastest = max(labels, key=lambda label: median[f"pytorch_{label}"])
        best_format = max(RESZOO_FORMATS, key=lambda label: median.get(f"reszoo_{label}", 0.0))
        rows.append(
            {
                "kind": kind,
                "depth": depth,
                "batch_size": int(batch),
                "median_images_per_second": median,
                "fastest_pytorch": fastest,
                "fastest_reszoo_format": best_format,
                "savedmodel_to_pytorch": median["reszoo_SavedModel"] / median[f"pytorch_{fastest}"],
                "best_format_to_pytorch": median[f"reszoo_{best_format}"] / median[f"pytorch_{fastest}"],
                "runs": {side: [run[batch] for run in side_runs] for side, side_runs in runs.items()},
            }
        )
    return rows


def render_inference(rows: list[dict[str, Any]], markdown: bool) -> str:
    """One line per network and batch size: images/s of every reszoo format and PyTorch configuration."""
    from reszoo.bench.tables import format_table

    sides = list(rows[0]["median_images_per_second"]) if rows else []
    headers = [
        "network",
        "depth",
        "batch",
        *[f"{side.replace('reszoo_', '').replace('pytorch_', 'PyTorch ')} img/s" for side in sides],
        "SavedModel / fastest PyTorch",
        "fastest reszoo format / fastest PyTorch",
    ]
    cells = [
        [
            r["kind"],
            str(r["depth"]),
            str(r["batch_size"]),
            *[f"{r['median_images_per_second'][side]:,.0f}" for side in sides],
            f"{r['savedmodel_to_pytorch']:.2f} ({r['fastest_pytorch']})",
            f"{r['best_format_to_pytorch']:.2f} ({r['fastest_reszoo_format']})",
        ]
        for r in rows
    ]
    return format_table(headers, cells, markdown)


def render(rows: list[dict[str, Any]], markdown: bool) -> str:
    """One line per network: reszoo and every PyTorch configuration (median images/s), the ratio to the
    fastest of them, and the same by fastest epochs."""
    from reszoo.bench.tables import format_table  # reszoo imports TensorFlow: loaded when needed

    configs = [side for side in rows[0]["median_images_per_second"] if side != "reszoo"] if rows else []
    headers = [
        "network",
        "depth",
        "precision",
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
            r.get("precision", "float32"),
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
    p.add_argument(
        "--precisions",
        default="float32",
        help="comma-separated: float32, bfloat16 (reszoo --precision mixed_bfloat16 against PyTorch "
        'torch.autocast("cpu", bfloat16)); one row per network and precision (float32)',
    )
    p.add_argument(
        "--inference-batch-sizes",
        default="1,256",
        help="comma-separated batch sizes of the inference table (1,256), or none: reszoo's export as "
        "SavedModel, ONNX and LiteRT against each --torch-configs in eval mode",
    )
    p.add_argument("--inference-images", type=int, default=1024, help="images per timed inference round (1024)")
    p.add_argument(
        "--torch-python",
        default=sys.executable,
        metavar="PYTHON[,PYTHON]",
        help="comma-separated interpreters the PyTorch side runs with (this one): venvs' pythons with other "
        "torch versions, e.g. the newest that installs; each configuration runs under each, labelled with its "
        "version, and the versions are recorded in the JSON",
    )
    p.add_argument("--skip-training", action="store_true", help="only the inference table")
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--out", default=None, help="write the results as JSON")
    args = p.parse_args(argv)
    try:
        torch_configs = tuple(parse_torch_configs(args.torch_configs))
        precisions = parse_precisions(args.precisions)
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
    try:
        inference_batches = parse_batch_sizes(args.inference_batch_sizes)
    except ValueError as error:
        p.error(str(error))
    missing = missing_requirements(inference=bool(inference_batches))
    if missing:
        p.error(
            f"needs {', '.join(missing)} (not installed; this benchmark installs nothing): "
            f"pip install {' '.join(missing)}"
        )
    try:
        torch_pythons = torch_versions(args.torch_python.split(","))
    except ValueError as error:
        p.error(str(error))
    if args.skip_training and not inference_batches:
        p.error("--skip-training leaves nothing to run with --inference-batch-sizes none")
    reszoo_env = {}
    for item in filter(None, args.reszoo_env.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            p.error(f"--reszoo-env expects KEY=VALUE[,KEY=VALUE]. Received: {args.reszoo_env!r}")
        reszoo_env[key] = value
    rows: list[dict[str, Any]] = []
    inference_rows: list[dict[str, Any]] = []
    depths = [int(d) for d in args.depths.split(",") if d]
    with tempfile.TemporaryDirectory(prefix="reszoo-peer-") as workdir:
        for depth in depths if not args.skip_training else ():
            for kind, precision in ((k, p) for k in kinds for p in precisions):
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
                        precision=precision,
                        torch_pythons=torch_pythons,
                    )
                )
                print(render(rows[-1:], markdown=False).splitlines()[-1], flush=True)
        for depth, kind in ((d, k) for d in depths for k in kinds if inference_batches):
            inference_rows += compare_inference(
                kind,
                depth,
                batch_sizes=inference_batches,
                images=args.inference_images,
                rounds=3,
                repeats=args.repeats,
                workdir=workdir,
                reszoo_env=reszoo_env,
                torch_configs=torch_configs,
                torch_pythons=torch_pythons,
            )
            latest = render_inference(inference_rows[-len(inference_batches) :], markdown=False)
            print("\n".join(latest.splitlines()[-len(inference_batches) :]), flush=True)
    reszoo_versions = rows[0]["runs"]["reszoo"][0]["versions"] if rows else None
    result = {
        "command": "peer",
        "settings": vars(args),
        "machine": _machine(),
        "versions": {"torch": ", ".join(torch_pythons), **(reszoo_versions or {})},
        "torch_pythons": torch_pythons,
        "rows": rows,
        "inference_rows": inference_rows,
    }
    if rows:
        print(render(rows, args.markdown))
    if inference_rows:
        print("\ninference (eval mode, float32, images/s):\n" + render_inference(inference_rows, args.markdown))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
