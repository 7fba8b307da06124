"""Random-initialised pytorchcv checkpoints and the comparison every weights-table entry gets.

``random_checkpoint(name, path)`` builds pytorchcv's own model for a table entry, randomises every
BatchNorm's affine parameters and statistics (so that a BN mapped to the wrong layer shows), scales
each residual branch down as training does, rescales the classifier so that the probabilities stay
informative (a saturated softmax would hide differences), puts it in eval mode and writes its state
dict to ``path``. ``torch_probabilities`` runs it on uint8 images with pytorchcv's normalisation.
"""

from __future__ import annotations

import numpy as np
import torch

from reszoo.convert import pytorchcv as cv

TARGET_LOGIT_STD = 2.0
# The factor (per channel, drawn from this range) by which the last BN of every residual branch scales
# the branch. Trained deep ResNets have small residual branches (small last-BN gammas); a random net whose
# branches are as large as the identity is chaotic at depth: for seresnet542bn, resnet1202 and
# preresnet1001, PyTorch's own float32 and float64 probabilities differ by 3e-3, 6e-4 and 2e-3 with
# unscaled branches, by 1e-6, 1e-5 and 6e-6 with these.
BRANCH_SCALE = (0.1, 0.3)
# Beyond this many residual branches the range shrinks by sqrt(DEEP_BRANCHES / branches): resnet1001_cifar100
# (333 branches) still differed from its own float64 run by 4e-4 at (0.1, 0.3), by 5e-6 at half of it.
DEEP_BRANCHES = 200


def random_images(count: int = 8, seed: int = 0) -> np.ndarray:
    """Random uint8 RGB images, (count, 32, 32, 3)."""
    return np.random.default_rng(seed).integers(0, 256, size=(count, 32, 32, 3), dtype=np.uint8)


def torch_probabilities(net: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    """pytorchcv's probabilities for uint8 NHWC images: ToTensor (0-1), Normalize(mean, std), softmax."""
    with torch.no_grad():
        logits = net(_normalized(images))
    return torch.softmax(logits.double(), dim=1).numpy()


def _normalized(images: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(images.astype(np.float32) / 255.0).permute(0, 3, 1, 2)
    return (x - torch.tensor(cv.PYTORCHCV_MEAN).view(1, 3, 1, 1)) / torch.tensor(cv.PYTORCHCV_STD).view(1, 3, 1, 1)


def branch_end_norms(net: torch.nn.Module) -> list[torch.nn.BatchNorm2d]:
    """The last BatchNorm of every residual branch of a pytorchcv model.

    A residual unit is a module with a ``body`` (ResUnit, PreResUnit, the SE units, PyrUnit, ResNeXtUnit,
    RoR's units) or ``branch1``/``branch2`` (shake-shake) child; its branch is every child but the
    identity path (``identity_*``, ``shortcut``), or each ``branch*`` child. Post-activation branches end
    with that BN (PyrUnit: its own ``bn``); pre-activation ones with BN-ReLU-conv, where ReLU commutes with
    a positive scale. DenseNets have none.
    """
    norms = []
    for module in net.modules():
        children = dict(module.named_children())
        if isinstance(module, torch.nn.Sequential) or not ({"body", "branch1"} & children.keys()):
            continue
        branches = [c for k, c in children.items() if k.startswith("branch")] or [
            torch.nn.ModuleList(c for k, c in children.items() if not k.startswith(("identity", "shortcut")))
        ]
        for branch in branches:
            found = [m for m in branch.modules() if isinstance(m, torch.nn.BatchNorm2d)]
            if found:
                norms.append(found[-1])
    return norms


def _randomise_batch_norms(net: torch.nn.Module, calibration: torch.Tensor, generator: torch.Generator) -> None:
    """Random gamma / beta, residual branches scaled down, then running statistics measured on
    ``calibration`` and perturbed at random.

    Measured first, as training leaves them: purely random statistics that do not fit the activations
    make a deep random network amplify every rounding difference exponentially (its outputs then
    depend on float32 noise, in PyTorch as in Keras), which a trained network does not do. The branch
    scale (``BRANCH_SCALE``) is set before the statistics are measured, so they fit it.
    """
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    branch_ends = branch_end_norms(net)
    shrink = min(1.0, (DEEP_BRANCHES / max(len(branch_ends), 1)) ** 0.5)
    low, high = BRANCH_SCALE[0] * shrink, BRANCH_SCALE[1] * shrink
    with torch.no_grad():
        for module in norms:
            n = module.num_features
            module.weight.copy_(0.4 + 0.4 * torch.rand(n, generator=generator))
            module.bias.copy_(0.1 * torch.randn(n, generator=generator))
        for module in branch_ends:
            scale = low + (high - low) * torch.rand(module.num_features, generator=generator)
            module.weight.mul_(scale)
            module.bias.mul_(scale)
        for module in norms:
            module.reset_running_stats()
            module.momentum = None  # a cumulative average: one batch sets the batch's statistics
        net.train()
        net(calibration)
        net.eval()
        for module in norms:
            n = module.num_features
            std = module.running_var.sqrt()
            module.running_mean.add_(0.02 * std * torch.randn(n, generator=generator))
            module.running_var.mul_(0.96 + 0.08 * torch.rand(n, generator=generator))
            module.momentum = 0.1


def random_checkpoint(name: str, path, *, seed: int = 0, images: np.ndarray | None = None) -> torch.nn.Module:
    """Write a random-initialised pytorchcv ``name`` (eval mode, random BN) to ``path``; return the model."""
    torch.manual_seed(seed)
    net = cv.reference_model(cv.entry(name))
    _randomise_batch_norms(net, _normalized(random_images(16, seed + 100)), torch.Generator().manual_seed(seed))
    images = random_images() if images is None else images
    with torch.no_grad():
        logits = net(_normalized(images))
        scale = TARGET_LOGIT_STD / max(float(logits.std()), 1e-6)
        net.output.weight.mul_(scale)
        net.output.bias.mul_(scale)
    torch.save(net.state_dict(), path)
    return net
