"""The PyTorch peer: the same CIFAR pre-activation ResNet and FastResNet, trained eagerly on the CPU.

The networks mirror ``reszoo.models.resnet`` layer for layer: a bare 3x3 conv
stem of 16 filters, three stages of n units at 16/32/64 filters (depth 6n+2),
bias-free convs, BN (eps 1e-5, momentum 0.1 in PyTorch's convention = Keras'
0.9), option-A shortcuts (subsample by 2, zero-pad the channels), and a
BN-ReLU-GAP-FC head. The units are the same data as ``reszoo.units.UNIT_OPS``:

* ``preact``: BN-ReLU-conv-BN-ReLU-conv (He et al. 2016);
* ``fast1``: conv-BN-ReLU-conv (the seed's FastResNet, type 1);
* ``fast2``: BN-ReLU-conv-conv (type 2).

Trainable parameter counts equal reszoo's (``benchmarks/run_peer.py`` asserts
it). Training follows ``reszoo.train``'s recipe: SGD with Nesterov momentum
0.9, lr 0.1, weight decay 1e-4, batch 128, float32, 4-px pad + random crop +
horizontal flip per image (done on whole batches with tensor indexing) and
per-channel normalisation, on synthetic 0-255 images.

Run on its own (prints one JSON line with the epoch times, or with ``--inference`` the eval-mode images/s
of the same network serving uint8 images as a reszoo export does)::

    python benchmarks/peer_pytorch.py --kind preact --depth 20 --images 2560 --epochs 3
    python benchmarks/peer_pytorch.py --kind preact --depth 20 --images 512 --inference 1,256

``--profile STEPS`` profiles that many more training steps after the timed epochs (``torch.profiler``) and adds
``step_split`` to the JSON: milliseconds per step in the convolutions (forward, gradients), batch norm and the
rest, the counterpart of ``python -m reszoo.bench throughput``'s split of reszoo's step::

    python benchmarks/peer_pytorch.py --kind preact --depth 20 --epochs 2 --channels-last --compile --profile 10

PyTorch is a benchmark dependency, not one of reszoo's:
``pip install torch==2.13.0`` (a CPU wheel).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

WIDTHS = (16, 32, 64)
UNIT_OPS = {
    "preact": ("bn", "relu", "conv3", "bn", "relu", "conv3"),
    "fast1": ("conv3", "bn", "relu", "conv3"),
    "fast2": ("bn", "relu", "conv3", "conv3"),
}
# CIFAR-10's per-channel training-set statistics (0-255 scale), as reszoo.data normalises.
MEAN = (125.3, 123.0, 113.9)
STD = (63.0, 62.1, 66.7)


class ZeroPadShortcut(nn.Module):
    """Option A: keep every ``stride``-th pixel, append zero channels."""

    def __init__(self, out_channels: int, stride: int):
        super().__init__()
        self.out_channels, self.stride = out_channels, stride

    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.out_channels - x.shape[1]))


class Unit(nn.Module):
    """x + F(x), F built from ``ops`` as reszoo.units.residual_unit builds it (stride on the first conv)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, ops: tuple[str, ...]):
        super().__init__()
        layers, channels, pending_stride = [], in_channels, stride
        for op in ops:
            if op == "bn":
                layers.append(nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1))
            elif op == "relu":
                layers.append(nn.ReLU(inplace=False))
            else:
                layers.append(nn.Conv2d(channels, out_channels, 3, pending_stride, 1, bias=False))
                channels, pending_stride = out_channels, 1
        self.branch = nn.Sequential(*layers)
        self.shortcut = (
            nn.Identity() if stride == 1 and in_channels == out_channels else ZeroPadShortcut(out_channels, stride)
        )

    def forward(self, x):
        return self.shortcut(x) + self.branch(x)


class CifarResNet(nn.Module):
    """Pre-activation-style CIFAR ResNet of depth 6n+2 with the given unit."""

    def __init__(self, depth: int, unit: str, num_classes: int = 10):
        super().__init__()
        if unit not in UNIT_OPS:
            raise ValueError(f"unit must be one of {', '.join(UNIT_OPS)}. Received: unit={unit!r}")
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6n+2 (8, 20, 56, 110, ...). Received: depth={depth!r}")
        n = (depth - 2) // 6
        self.stem = nn.Conv2d(3, WIDTHS[0], 3, 1, 1, bias=False)
        units, channels = [], WIDTHS[0]
        for stage, width in enumerate(WIDTHS):
            for index in range(n):
                stride = 2 if stage > 0 and index == 0 else 1
                units.append(Unit(channels, width, stride, UNIT_OPS[unit]))
                channels = width
        self.units = nn.Sequential(*units)
        self.head = nn.Sequential(nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1), nn.ReLU())
        self.fc = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):  # He et al. 2015: N(0, sqrt(2 / (k * k * out_channels)))
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.head(self.units(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def trainable_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def augment(images: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Per image: zero-pad by ``pad``, random crop back to size, random horizontal flip."""
    n, c, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad))
    top = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    left = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (top[:, None] + torch.arange(h))[:, None, :, None]
    cols = (left[:, None] + torch.arange(w))[:, None, None, :]
    crops = padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
    flip = torch.rand(n, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], crops.flip(3), crops)


def train(
    kind: str,
    depth: int,
    *,
    images: int,
    epochs: int,
    batch_size: int = 128,
    seed: int = 0,
    channels_last: bool = False,
    compile: bool = False,
    bf16: bool = False,
    profile_steps: int = 0,
) -> dict:
    """Train on ``images`` synthetic images for ``epochs`` epochs; returns per-epoch seconds and the model's size.

    ``compile``: the model through ``torch.compile`` (TorchInductor, forward and backward; the optimizer
    step stays eager); its compilation falls in the first epoch, which the runner drops as warm-up.
    ``bf16``: forward and loss under ``torch.autocast("cpu", dtype=torch.bfloat16)``, PyTorch's mixed precision
    (float32 weights and optimizer; convolutions and the classifier in bfloat16), as reszoo's
    ``--precision mixed_bfloat16`` keeps float32 variables and computes in bfloat16.
    ``profile_steps``: that many more steps under ``torch.profiler`` after the timed epochs, reported as
    ``step_split`` (``profile_step_split``): where PyTorch's step goes, beside ``bench throughput``'s split of
    reszoo's.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    network = CifarResNet(depth, kind)
    data = torch.randint(0, 256, (images, 3, 32, 32), generator=generator).float()
    labels = torch.randint(0, 10, (images,), generator=generator)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    network = network.to(memory_format=memory_format)
    model = torch.compile(network) if compile else network
    optimizer = torch.optim.SGD(network.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    model.train()

    def step(index: torch.Tensor) -> int:
        """One SGD step on the images ``index``; the number of them the network got right."""
        x = ((augment(data[index], generator) - mean) / std).contiguous(memory_format=memory_format)
        y = labels[index]
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
            loss = F.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        return int((logits.argmax(1) == y).sum())  # as Keras' accuracy metric does

    epoch_seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(images, generator=generator)
        for first in range(0, images - batch_size + 1, batch_size):  # whole batches only
            step(order[first : first + batch_size])
        epoch_seconds.append(time.perf_counter() - start)
    split = profile_step_split(step, images, batch_size, profile_steps, generator) if profile_steps else None
    steps = images // batch_size
    return {
        "kind": kind,
        "depth": depth,
        "params": trainable_params(network),
        "images": images,
        "batch_size": batch_size,
        "images_per_epoch": steps * batch_size,
        "epoch_seconds": epoch_seconds,
        "channels_last": channels_last,
        "compile": compile,
        "precision": "bfloat16 autocast" if bf16 else "float32",
        "threads": torch.get_num_threads(),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        **({"step_split": split} if split else {}),
    }


# Op groups of the step split, by the names torch.profiler gives aten's ops. Under torch.compile the
# convolutions stay aten's (extern kernels Inductor calls); batch norm, ReLU and the adds become Inductor's
# fused loops, which the profiler does not name, so they fall in "other".
CONV_FORWARD, CONV_GRADIENTS, BATCH_NORM, OTHER = (
    "convolution forward",
    "convolution gradients",
    "batch norm",
    "other",
)


def op_group(name: str) -> str:
    """The step-split group of the aten op ``name``."""
    if "convolution" in name:
        return CONV_GRADIENTS if "backward" in name else CONV_FORWARD
    return BATCH_NORM if "batch_norm" in name else OTHER


def split_step(self_seconds: dict[str, float], wall_seconds: float, steps: int) -> dict[str, Any]:
    """Milliseconds per step of each op group (from the ops' self times, which do not overlap: PyTorch runs one
    op at a time on its intra-op threads) and their shares of the wall step; what no named op covers (Python,
    the optimizer's loops, Inductor's fused kernels) is "other"."""
    grouped = dict.fromkeys((CONV_FORWARD, CONV_GRADIENTS, BATCH_NORM), 0.0)
    for name, seconds in self_seconds.items():
        group = op_group(name)
        if group != OTHER:
            grouped[group] += seconds
    grouped[OTHER] = max(0.0, wall_seconds - sum(grouped.values()))
    return {
        "steps": steps,
        "wall_ms_per_step": 1000 * wall_seconds / steps,
        "ms_per_step": {group: 1000 * seconds / steps for group, seconds in grouped.items()},
        "share": {group: seconds / wall_seconds for group, seconds in grouped.items()},
    }


def profile_step_split(step, images: int, batch_size: int, steps: int, generator) -> dict[str, Any]:
    """``steps`` more training steps under ``torch.profiler``, split by op group (``split_step``)."""
    from torch.profiler import ProfilerActivity, profile

    batches = [torch.randperm(images, generator=generator)[:batch_size] for _ in range(steps)]
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        start = time.perf_counter()
        for index in batches:
            step(index)
        wall_seconds = time.perf_counter() - start
    self_seconds = {event.key: event.self_cpu_time_total / 1e6 for event in profiler.key_averages()}
    return split_step(self_seconds, wall_seconds, steps)


class Served(nn.Module):
    """What a reszoo export serves, in PyTorch: uint8 NCHW images in, normalised as in training, softmax out."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, images):
        return F.softmax(self.network((images.float() - self.mean) / self.std), dim=1)


def infer(
    kind: str,
    depth: int,
    *,
    batch_sizes: tuple[int, ...] = (1, 256),
    images: int = 512,
    rounds: int = 3,
    channels_last: bool = False,
    compile: bool = False,
) -> dict:
    """Eval-mode images/s per batch size under ``torch.inference_mode`` (float32): ``images // batch`` calls a
    round after a quarter as many untimed, as ``reszoo.bench formats`` times the exported model.

    ``compile``: ``torch.compile(dynamic=False)`` once per batch size, so each is specialised to its shape
    as a deployment would be (its compilation falls in the untimed calls).
    """
    torch.manual_seed(0)
    served = Served(CifarResNet(depth, kind)).eval()
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    served = served.to(memory_format=memory_format)
    generator = torch.Generator().manual_seed(0)
    rates = {}
    with torch.inference_mode():
        for batch in batch_sizes:
            x = torch.randint(0, 256, (batch, 3, 32, 32), generator=generator, dtype=torch.uint8)
            x = x.contiguous(memory_format=memory_format)
            model = torch.compile(served, dynamic=False) if compile else served
            calls = max(1, images // batch)
            for _ in range(max(1, calls // 4)):
                model(x)
            start = time.perf_counter()
            for _ in range(rounds * calls):
                model(x)
            rates[str(batch)] = batch * calls * rounds / (time.perf_counter() - start)
    return {
        "kind": kind,
        "depth": depth,
        "params": trainable_params(served),
        "images_per_second": rates,
        "channels_last": channels_last,
        "compile": compile,
        "threads": torch.get_num_threads(),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description="Train the PyTorch peer on synthetic data and print epoch times as JSON.")
    p.add_argument("--kind", choices=list(UNIT_OPS), default="preact")
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--images", type=int, default=2560)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true", help="the model through torch.compile (TorchInductor)")
    p.add_argument("--bf16", action="store_true", help='forward and loss under torch.autocast("cpu", bfloat16)')
    p.add_argument(
        "--inference",
        metavar="BATCH_SIZES",
        default=None,
        help="time eval-mode inference at these comma-separated batch sizes instead of training (e.g. 1,256)",
    )
    p.add_argument("--rounds", type=int, default=3, help="timed rounds of --inference (3)")
    p.add_argument(
        "--profile",
        metavar="STEPS",
        type=int,
        default=0,
        help="after training, profile this many more steps and report the split of the step by op group",
    )
    args = p.parse_args(argv)
    if args.inference and args.bf16:
        p.error("--bf16 is for training; --inference times float32 eval mode")
    if args.profile and args.inference:
        p.error("--profile splits a training step; it cannot be combined with --inference")
    if args.profile < 0:
        p.error(f"--profile must be a number of steps >= 0. Received: {args.profile}")
    common = dict(images=args.images, channels_last=args.channels_last, compile=args.compile)
    if args.inference:
        batch_sizes = tuple(int(b) for b in args.inference.split(",") if b)
        result = infer(args.kind, args.depth, batch_sizes=batch_sizes, rounds=args.rounds, **common)
    else:
        result = train(
            args.kind,
            args.depth,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            bf16=args.bf16,
            profile_steps=args.profile,
            **common,
        )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
