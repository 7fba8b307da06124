"""reszoo against PyTorch: test accuracy of the same networks trained the same way on the same real images.

For every network, epoch budget, augmentation and seed:

1. reszoo trains through its real command line (``python -m reszoo.train ... --dataset folder:DIR
   --export-dir ...``, in a subprocess) and the runner reads the test accuracy, the resolved
   config and the learning rates that ran from the export's ``summary.json``;
2. an independent plain PyTorch loop (``peer_pytorch.CifarResNet``, the same layers and parameter
   count, ``run_peer.check_same_networks`` asserts it) trains on the same decoded pixels with the
   hyperparameters of that resolved config: ``torch.optim.SGD`` with the recipe's momentum, Nesterov
   and weight decay (on every parameter, as reszoo's L2(wd / 2)), the same learning rate per epoch
   (or per iteration when reszoo's config says ``schedule_unit: iteration``), the same batch, epochs,
   last partial batch, per-channel mean/std of the training set (population std, as
   ``reszoo.data.channel_mean_std``), the same augmentation (none, or 4-px zero pad + random crop +
   horizontal flip drawn per image) and BN momentum 0.1 (Keras' 0.9), eps 1e-5. Its warm-up is the
   recipe's, scaled to the run (``--peer-warmup scaled``: He et al.'s 400 of 64k iterations become
   the same 0.625% of this run, at least one iteration; what issue 12 asks of reszoo), or exactly
   the resolved one (``as-resolved``), or none.

Data: Debian's ``dataset-fashion-mnist`` (``apt-get install -y dataset-fashion-mnist``; gzip IDX
files under /usr/share/datasets/fashion-mnist), a deterministic stratified subset
(``--train-images``, ``--test-images``: the first N/10 images of every class in the files' order),
zero-padded 28 -> 32 (2 px on every side, no interpolation) and replicated to 3 channels, written
as PNGs to ``DIR/{train,test}/<class>/*.png``; the PyTorch loop reads the same PNGs back.

Prints per cell (network, epochs, augmentation) the test accuracy mean, std, min and max of both
sides and the target of issue 12: reszoo's mean >= the peer's mean - 1 point. Writes JSON
(``--out``) with every run, the exact commands, the CPU (model name, flags), load and versions.

    python benchmarks/peer_quality.py --epochs 3 15 --augment none standard --seeds 3 \\
        --networks preact20 fast20 he_warmup --train-images 10000 --test-images 2000 \\
        --out benchmarks/peer_quality_cpu.json

Ablations of the PyTorch side (measure a suspected cause without touching reszoo):
``--peer-momentum keras`` (velocity with the rate folded in, Keras' SGD), ``--peer-classifier-init
glorot`` (Keras' Dense default), ``--peer-warmup as-resolved``; ``--reuse-reszoo OLD.json`` takes
the reszoo runs from an earlier output and trains only the peer; ``--reuse OLD.json`` takes both sides'
runs, so ``--seeds 6 --reuse OLD.json`` adds seeds 3-5 to the cells of a 3-seed run. ``--extra-reszoo-args`` passes
flags through to reszoo.train (e.g. ``"--schedule-unit iteration"``); the peer follows the config
reszoo resolved and records it.

Needs PyTorch (``pip install torch==2.13.0``, a CPU wheel; a benchmark dependency, not reszoo's).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import peer_pytorch  # noqa: E402  (needs torch; a clear ImportError otherwise)
import run_peer  # noqa: E402  (parameter check and the subprocess environment)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FASHION_CLASSES = ("tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")
TARGET_POINTS = 1.0  # reszoo's mean accuracy may lag the peer's by at most this many points


@dataclasses.dataclass(frozen=True)
class Network:
    """A network of the benchmark: reszoo.train's model flags and the PyTorch peer's unit kind."""

    kind: str  # peer_pytorch unit: preact, fast1, fast2
    depth: int
    reszoo_args: tuple[str, ...]
    about: str


NETWORKS = {
    "preact20": Network(
        "preact",
        20,
        ("--model", "preact_resnet", "--set", "depth=20", "--recipe", "none", "--schedule", "cosine"),
        "pre-activation ResNet-20, lr 0.1 cosine, Nesterov, wd 1e-4, no warm-up",
    ),
    "fast20": Network(
        "fast1", 20, ("--model", "fast_resnet20"), "FastResNet-20 with its own recipe (fastresnet: step x0.1)"
    ),
    "he_warmup": Network(
        "preact",
        20,
        ("--model", "preact_resnet", "--set", "depth=20", "--recipe", "preact2016"),
        "pre-activation ResNet-20 with He et al. 2016's recipe (step, 0.01 warm-up for 400 of 64k iterations)",
    ),
}


# --------------------------------------------------------------------------- data


def read_idx(path: str) -> np.ndarray:
    """An IDX file (gzip) as a numpy array: magic 0x0000 08 NDIM, big-endian dims, uint8 data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\0\0" or raw[2] != 8:
        raise ValueError(f"{path} is not a uint8 IDX file (magic {raw[:4].hex()})")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def stratified_subset(labels: np.ndarray, count: int | None, classes: int = 10) -> np.ndarray:
    """Indices of the first ``count / classes`` images of every class (files' order), sorted; all when None."""
    if count is None:
        return np.arange(len(labels))
    if count % classes or count <= 0:
        raise ValueError(f"image counts must be positive multiples of {classes}. Received: {count}")
    per_class = count // classes
    picked = []
    for c in range(classes):
        where = np.flatnonzero(labels == c)
        if len(where) < per_class:
            raise ValueError(f"class {c} has {len(where)} images, fewer than {per_class}")
        picked.append(where[:per_class])
    return np.sort(np.concatenate(picked))


def to_rgb32(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) grey -> (N, 32, 32, 3) uint8: zero-pad 2 px on every side, grey copied to R, G, B."""
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    return np.repeat(padded[..., None], 3, axis=-1)


def write_folder(directory: str, train_images: int | None, test_images: int | None) -> dict[str, Any]:
    """Write the Fashion-MNIST subset as ``directory/{train,test}/<class>/*.png`` (reused when complete)."""
    from PIL import Image

    manifest_path = os.path.join(directory, "manifest.json")
    wanted = {"source": FASHION_DIR, "train_images": train_images, "test_images": test_images, "layout": "pad2-rgb"}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
        if {k: manifest.get(k) for k in wanted} == wanted:
            return manifest
        raise SystemExit(f"{directory} holds a different subset ({manifest_path}); pick another --data-dir")
    counts = {}
    for split, (image_file, label_file) in FASHION_FILES.items():
        images = read_idx(os.path.join(FASHION_DIR, image_file))
        labels = read_idx(os.path.join(FASHION_DIR, label_file))
        keep = stratified_subset(labels, train_images if split == "train" else test_images)
        rgb = to_rgb32(images[keep])
        for c, name in enumerate(FASHION_CLASSES):
            os.makedirs(os.path.join(directory, split, f"{c}_{name}"), exist_ok=True)
        for index, image, label in zip(keep, rgb, labels[keep], strict=True):
            path = os.path.join(directory, split, f"{label}_{FASHION_CLASSES[label]}", f"{index:05d}.png")
            Image.fromarray(image, "RGB").save(path)
        counts[split] = len(keep)
    manifest = {**wanted, "counts": counts}
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest


def read_folder(directory: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The PNGs of one split decoded back (uint8 NHWC, int64 labels); classes in sorted folder order."""
    from PIL import Image

    root = os.path.join(directory, split)
    images, labels = [], []
    for label, name in enumerate(sorted(os.listdir(root))):
        for file in sorted(os.listdir(os.path.join(root, name))):
            with Image.open(os.path.join(root, name, file)) as image:
                images.append(np.asarray(image.convert("RGB")))
            labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.int64)


def channel_mean_std(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and population std of uint8 NHWC images in float64 (reszoo.data's definition)."""
    values = images.reshape(-1, images.shape[-1]).astype(np.float64)
    return values.mean(axis=0), values.std(axis=0)


# --------------------------------------------------------------------------- the recipe, on the PyTorch side


def epoch_rate(config: dict[str, Any], epoch: float) -> float:
    """The rate at (possibly fractional) ``epoch`` of the resolved config's step or cosine schedule, after
    its epoch warm-up (linear up to the schedule's value, or constant at warmup_lr). Written from the
    papers' definitions, not imported from reszoo."""
    lr, epochs, warmup = config["lr"], config["epochs"], config.get("warmup_epochs") or 0
    if warmup and epoch < warmup:  # per iteration the epoch is fractional and the linear ramp continuous
        if config.get("warmup_lr") is not None:
            return config["warmup_lr"]
        return epoch_rate({**config, "warmup_epochs": 0}, warmup) * (epoch + 1) / (warmup + 1)
    if config["schedule"] == "step":
        return lr * config["gamma"] ** sum(1 for m in config["milestones"] if math.floor(epoch) >= m)
    if config["schedule"] == "cosine":
        t = min(max(epoch - warmup, 0.0), epochs - warmup) / (epochs - warmup)
        return lr * 0.5 * (1.0 + math.cos(math.pi * t))
    raise ValueError(f"the peer knows the step and cosine schedules. Received: {config['schedule']!r}")


def peer_warmup_iterations(config: dict[str, Any], total_iterations: int, mode: str, explicit: bool) -> int:
    """Iterations of the constant (He et al.) warm-up the peer runs.

    ``scaled``: a recipe's warm-up keeps its share of the recipe's iteration budget (400 / 64k), at
    least one iteration; an explicit ``--warmup-iterations`` is taken as given. ``as-resolved``:
    the resolved config's count, as reszoo reads it. ``unscaled``: the recipe's own count (400),
    whatever the run's length. ``none``: no warm-up.
    """
    resolved = int(config.get("warmup_iterations") or 0)
    if mode == "none" or not resolved:
        return 0
    if mode == "as-resolved" or explicit or not config.get("recipe"):
        return resolved
    sys.path.insert(0, ROOT)
    from reszoo.recipes import get_recipe

    recipe = get_recipe(config["recipe"])
    if not recipe.iterations or not recipe.warmup_iterations:
        return resolved
    if mode == "unscaled":  # the paper's count as is: what reszoo ran before warm-ups scaled (issue 12)
        return recipe.warmup_iterations
    return max(1, round(recipe.warmup_iterations * total_iterations / recipe.iterations))


class KerasSGD(torch.optim.Optimizer):
    """Keras 3's SGD update in PyTorch, for the ablation ``--peer-momentum keras``: the rate is folded into
    the velocity (``v = m v - lr g``; ``w += v``, Nesterov ``w += m v - lr g``), where torch keeps
    ``b = m b + g`` and steps ``-lr b``; the two agree while the rate is constant."""

    def __init__(self, params, lr: float, momentum: float, nesterov: bool, weight_decay: float):
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, m, wd = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.add(p, alpha=wd) if wd else p.grad
                v = self.state[p].setdefault("velocity", torch.zeros_like(p))
                v.mul_(m).add_(g, alpha=-lr)
                p.add_(v * m - lr * g if group["nesterov"] else v)


def train_peer(
    network: Network,
    config: dict[str, Any],
    *,
    data_dir: str,
    seed: int,
    warmup_mode: str,
    explicit_warmup: bool,
    momentum_mode: str = "torch",
    classifier_init: str = "torch",
    threads: int = 1,
) -> dict[str, Any]:
    """Train the PyTorch peer with the hyperparameters of reszoo's resolved ``config``; test accuracy and more."""
    started = time.perf_counter()
    torch.set_num_threads(threads)
    train_x, train_y = read_folder(data_dir, "train")
    test_x, test_y = read_folder(data_dir, "test")
    mean, std = channel_mean_std(train_x)
    to_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2))).float()  # noqa: E731
    data, test_data = to_tensor(train_x), to_tensor(test_x)
    labels, test_labels = torch.from_numpy(train_y), torch.from_numpy(test_y)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = peer_pytorch.CifarResNet(network.depth, network.kind, num_classes=int(train_y.max()) + 1)
    if classifier_init == "glorot":  # Keras' Dense default: Glorot uniform kernel, zero bias
        nn.init.xavier_uniform_(model.fc.weight)
        nn.init.zeros_(model.fc.bias)
    optimizer_class = KerasSGD if momentum_mode == "keras" else torch.optim.SGD
    optimizer = optimizer_class(
        model.parameters(),
        lr=config["lr"],
        momentum=config["momentum"],
        nesterov=bool(config["nesterov"]),
        weight_decay=config["weight_decay"],
    )
    batch, epochs, n = int(config["batch_size"]), int(config["epochs"]), len(data)
    steps = math.ceil(n / batch)  # the last partial batch too, as reszoo's tf.data pipeline
    per_iteration = config.get("schedule_unit") == "iteration"
    warmup_left = peer_warmup_iterations(config, steps * epochs, warmup_mode, explicit_warmup)
    warmup_planned, warmup_ended = warmup_left, None
    until_accuracy = config.get("warmup_accuracy")
    smoothing = float(config.get("label_smoothing") or 0.0)
    rates, epoch_seconds, train_accuracy = [], [], 0.0
    for epoch in range(epochs):
        tick = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=generator)
        correct = seen = 0
        epoch_rates = []
        for step in range(steps):
            index = order[step * batch : (step + 1) * batch]
            x = data[index]
            if config["augment"] == "standard":
                x = peer_pytorch.augment(x, generator)
            elif config["augment"] != "none":
                raise ValueError(f"the peer knows augment none and standard. Received: {config['augment']!r}")
            x = (x - mean_t) / std_t
            rate = epoch_rate(config, epoch + step / steps if per_iteration else epoch)
            if warmup_left:
                rate = config["warmup_lr"]
            for group in optimizer.param_groups:
                group["lr"] = rate
            epoch_rates.append(rate)
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = F.cross_entropy(logits, labels[index], label_smoothing=smoothing)
            loss.backward()
            optimizer.step()
            correct += int((logits.argmax(1) == labels[index]).sum())
            seen += len(index)
            if warmup_left:  # checked after the batch, on the epoch's running accuracy (Keras' logs)
                warmup_left -= 1
                if until_accuracy is not None and correct / seen >= until_accuracy:
                    warmup_left = 0
                if not warmup_left:
                    warmup_ended = {"epoch": epoch, "iteration": epoch * steps + step + 1}
        train_accuracy = correct / seen
        epoch_seconds.append(time.perf_counter() - tick)
        rates.append({"first": epoch_rates[0], "last": epoch_rates[-1]})
    model.eval()
    correct = 0
    with torch.no_grad():
        for first in range(0, len(test_data), 500):
            x = (test_data[first : first + 500] - mean_t) / std_t
            correct += int((model(x).argmax(1) == test_labels[first : first + 500]).sum())
    return {
        "test_accuracy": correct / len(test_data),
        "train_accuracy": train_accuracy,
        "learning_rates": rates,
        "warmup_iterations": warmup_planned,
        "warmup_ended": warmup_ended,
        "epoch_seconds": epoch_seconds,
        "wall_seconds": time.perf_counter() - started,
        "threads": torch.get_num_threads(),
        "schedule_unit": "iteration" if per_iteration else "epoch",
        "momentum": momentum_mode,
        "classifier_init": classifier_init,
        "mean": mean.tolist(),
        "std": std.tolist(),
    }


# --------------------------------------------------------------------------- reszoo through its CLI


def reszoo_command(network: Network, *, data_dir, epochs, augment, seed, batch_size, extra, export_dir) -> list[str]:
    return [
        sys.executable,
        "-m",
        "reszoo.train",
        *network.reszoo_args,
        "--dataset",
        f"folder:{data_dir}",
        "--epochs",
        str(epochs),
        "--batch-size",
        str(batch_size),
        "--augment",
        augment,
        "--seed",
        str(seed),
        *extra,
        "--export-dir",
        export_dir,
    ]


def run_reszoo(network: Network, *, workdir: str, **settings) -> dict[str, Any]:
    """One reszoo.train run in a subprocess; its summary's accuracy, resolved config and rates."""
    export_dir = tempfile.mkdtemp(prefix="reszoo-quality-", dir=workdir)
    os.rmdir(export_dir)  # reszoo.train wants a folder that does not exist yet
    command = reszoo_command(network, export_dir=export_dir, **settings)
    sources = reszoo_sources_digest()
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, env=run_peer._environment(), capture_output=True, text=True)
    wall = time.perf_counter() - started
    if completed.returncode:
        raise RuntimeError(f"{shlex.join(command)} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    with open(os.path.join(export_dir, "summary.json")) as f:
        summary = json.load(f)
    shutil.rmtree(export_dir, ignore_errors=True)
    config = summary.get("config") or summary.get("args") or {}
    accuracy = summary.get("test_accuracy")
    if accuracy is None:
        accuracy = 1.0 - summary["test_error"] / 100.0
    startup = [line for line in completed.stderr.splitlines() + completed.stdout.splitlines() if "training " in line]
    return {
        "command": shlex.join(command[1:]).replace(export_dir, "EXPORT_DIR"),
        "test_accuracy": accuracy,
        "train_accuracy": 1.0 - summary["train_error"] / 100.0,
        "config": config,
        "learning_rates": summary.get("learning_rates"),
        "history_learning_rates": summary.get("history_learning_rates"),
        "warmup": summary.get("warmup"),
        "epoch_seconds": summary.get("epoch_seconds"),
        "wall_seconds": wall,
        "startup_line": startup[0] if startup else None,
        "versions": summary.get("versions"),
        "reszoo_sources_sha256": sources,
    }


def reszoo_sources_digest() -> str:
    """sha256 of reszoo/**/*.py as they are on disk (the package may change between runs of a long benchmark)."""
    digest = hashlib.sha256()
    for folder, _, files in sorted(os.walk(os.path.join(ROOT, "reszoo"))):
        for file in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, file)
            digest.update(os.path.relpath(path, ROOT).encode())
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()[:16]


# --------------------------------------------------------------------------- cells, report


def spread(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.mean(values),
        "median": statistics.median(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def cell_summary(cell: dict[str, Any]) -> dict[str, Any] | None:
    if not cell["reszoo"] or not cell["pytorch"]:
        return None
    ours = spread([r["test_accuracy"] for r in cell["reszoo"]])
    theirs = spread([r["test_accuracy"] for r in cell["pytorch"]])
    gap = 100.0 * (ours["mean"] - theirs["mean"])
    return {"reszoo": ours, "pytorch": theirs, "gap_points": gap, "target_holds": gap >= -TARGET_POINTS}


def reszoo_warmup_text(warmup: dict[str, Any] | None) -> str:
    """Iterations reszoo's warm-up ran, from summary.json's ``warmup`` record (``-`` for none)."""
    if not warmup or warmup.get("kind") != "iterations":
        return "-" if not warmup else str(warmup.get("kind"))
    ended = warmup.get("ended")
    if ended is None:
        return f"whole run (max {warmup.get('max_iterations', warmup.get('iterations'))})"
    return str(ended.get("iteration"))


def render(cells: list[dict[str, Any]], markdown: bool) -> str:
    headers = ["network", "epochs", "augment", "reszoo mean ± std (median) [min, max]"]
    headers += ["PyTorch mean ± std (median) [min, max]"]
    headers += ["gap (points)", "target", "schedule unit", "warm-up its: reszoo / PyTorch"]
    fmt = lambda s: f"{s['mean']:.4f} ± {s['std']:.4f} ({s['median']:.4f}) [{s['min']:.4f}, {s['max']:.4f}]"  # noqa: E731
    rows = [
        [
            c["network"],
            str(c["epochs"]),
            c["augment"],
            fmt(c["summary"]["reszoo"]),
            fmt(c["summary"]["pytorch"]),
            f"{c['summary']['gap_points']:+.2f}",
            "holds" if c["summary"]["target_holds"] else "FAILS",
            str(c["reszoo"][0]["config"].get("schedule_unit", "epoch")),
            f"{reszoo_warmup_text(c['reszoo'][0].get('warmup'))} / {c['pytorch'][0]['warmup_iterations']}",
        ]
        for c in cells
        if c.get("summary")
    ]
    if not rows:
        return "no complete cell"
    if markdown:
        return "\n".join(
            ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
            + ["| " + " | ".join(r) + " |" for r in rows]
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in [headers, *rows])


def cpu_info() -> dict[str, Any]:
    """``/proc/cpuinfo``'s model name and the SIMD flags that matter for these kernels."""
    model, flags = None, set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model is None:
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    wanted = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile")
    return {"model_name": model, "flags": [f for f in wanted if f in flags]}


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu": cpu_info(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def find_reused(previous: dict[str, Any] | None, side: str, network: str, epochs: int, augment: str, seed: int):
    """The run of ``side`` ("reszoo" or "pytorch") for this cell and seed in an earlier ``--out``, or None."""
    for cell in (previous or {}).get("cells", []):
        if (cell["network"], cell["epochs"], cell["augment"]) == (network, epochs, augment):
            for run in cell[side]:
                if run.get("seed") == seed:
                    return run
    return None


def load_json(path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    with open(path) as f:
        return json.load(f)


def main(argv=None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, nargs="+", default=[3, 15])
    p.add_argument("--augment", nargs="+", choices=("none", "standard"), default=["none", "standard"])
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per cell and side (3)")
    p.add_argument("--networks", nargs="+", choices=list(NETWORKS), default=list(NETWORKS))
    p.add_argument("--train-images", type=int, default=None, help="stratified subset (default: all 60,000)")
    p.add_argument("--test-images", type=int, default=None, help="stratified subset (default: all 10,000)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--data-dir", default=None, help="image folder (default /tmp/reszoo-fashion-mnist-TRAIN-TEST)")
    p.add_argument("--extra-reszoo-args", default="", help="flags passed to every reszoo.train run (one string)")
    p.add_argument("--peer-warmup", choices=("scaled", "as-resolved", "unscaled", "none"), default="scaled")
    p.add_argument("--peer-momentum", choices=("torch", "keras"), default="torch")
    p.add_argument("--peer-classifier-init", choices=("torch", "glorot"), default="torch")
    p.add_argument(
        "--peer-threads",
        type=int,
        default=1,
        help="PyTorch intra-op threads (1: on a shared 2-core machine 2 OpenMP threads ran 2.7x slower)",
    )
    p.add_argument("--reuse-reszoo", default=None, metavar="JSON", help="take reszoo's runs from an earlier --out")
    p.add_argument(
        "--reuse",
        default=None,
        metavar="JSON",
        help="take both sides' runs of a seed from an earlier --out (add seeds to a cell: --seeds 6 --reuse OLD.json)",
    )
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--out", default=None, help="write the results as JSON (rewritten after every run)")
    args = p.parse_args(argv)
    if args.seeds < 1:
        p.error(f"--seeds must be >= 1. Received: {args.seeds}")
    extra = shlex.split(args.extra_reszoo_args)
    explicit_warmup = any(a.split("=")[0] in ("--warmup-iterations", "--warmup-epochs") for a in extra)
    if args.reuse and args.reuse_reszoo:
        p.error("--reuse takes both sides' runs and --reuse-reszoo reszoo's only: give one of them")
    previous = load_json(args.reuse or args.reuse_reszoo)
    previous_peer = previous if args.reuse else None
    data_dir = args.data_dir or f"/tmp/reszoo-fashion-mnist-{args.train_images or 'all'}-{args.test_images or 'all'}"
    manifest = write_folder(data_dir, args.train_images, args.test_images)
    params = {name: run_peer.check_same_networks(NETWORKS[name].kind, NETWORKS[name].depth) for name in args.networks}
    result: dict[str, Any] = {
        "command": "peer_quality",
        "argv": shlex.join([os.path.relpath(__file__, ROOT), *(sys.argv[1:] if argv is None else argv)]),
        "settings": vars(args),
        "data": {
            **manifest,
            "dir": data_dir,
            "note": "Fashion-MNIST, first N/10 per class; 28x28 zero-padded to 32x32, grey copied to RGB",
        },
        "networks": {n: {**dataclasses.asdict(NETWORKS[n]), "params": params[n]} for n in args.networks},
        "machine_at_start": machine(),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "cells": [],
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="reszoo-quality-") as workdir:
        for epochs in args.epochs:
            for augment in args.augment:
                for name in args.networks:
                    network = NETWORKS[name]
                    cell = {"network": name, "epochs": epochs, "augment": augment, "reszoo": [], "pytorch": []}
                    cell["summary"] = None
                    result["cells"].append(cell)
                    for seed in range(args.seeds):
                        ours = find_reused(previous, "reszoo", name, epochs, augment, seed)
                        if ours is None:
                            try:
                                ours = run_reszoo(
                                    network,
                                    workdir=workdir,
                                    data_dir=data_dir,
                                    epochs=epochs,
                                    augment=augment,
                                    seed=seed,
                                    batch_size=args.batch_size,
                                    extra=extra,
                                )
                            except RuntimeError as error:  # reszoo changed under us: record it, go on
                                cell.setdefault("errors", []).append({"seed": seed, "error": str(error)[-2000:]})
                                print(f"{name} {epochs} ep {augment} seed {seed}: reszoo failed", flush=True)
                                continue
                            ours["seed"] = seed
                        result["versions"].update(ours.get("versions") or {})
                        cell["reszoo"].append(ours)
                        theirs = find_reused(previous_peer, "pytorch", name, epochs, augment, seed) or train_peer(
                            network,
                            ours["config"],
                            data_dir=data_dir,
                            seed=seed,
                            warmup_mode=args.peer_warmup,
                            explicit_warmup=explicit_warmup,
                            momentum_mode=args.peer_momentum,
                            classifier_init=args.peer_classifier_init,
                            threads=args.peer_threads,
                        )
                        theirs["seed"] = seed
                        cell["pytorch"].append(theirs)
                        print(
                            f"{name} {epochs} ep {augment} seed {seed}: reszoo {ours['test_accuracy']:.4f} "
                            f"({ours['wall_seconds']:.0f} s), PyTorch {theirs['test_accuracy']:.4f} "
                            f"({theirs['wall_seconds']:.0f} s); warm-up reszoo {ours['warmup']}, "
                            f"PyTorch {theirs['warmup_iterations']} it",
                            flush=True,
                        )
                        cell["summary"] = cell_summary(cell)
                        result["wall_seconds"] = time.perf_counter() - started
                        result["machine_at_end"] = machine()
                        if args.out:
                            with open(args.out, "w") as f:
                                json.dump(result, f, indent=2)
    print(render(result["cells"], args.markdown))
    for cell in result["cells"]:
        s = cell.get("summary")
        if not s:
            continue
        verdict = "holds" if s["target_holds"] else "FAILS"
        print(
            f"target {cell['network']} {cell['epochs']} ep {cell['augment']}: reszoo {s['reszoo']['mean']:.4f} >= "
            f"PyTorch {s['pytorch']['mean']:.4f} - 0.01? {verdict} ({s['gap_points']:+.2f} points)"
        )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
