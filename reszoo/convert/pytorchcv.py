"""pytorchcv's CIFAR checkpoints as reszoo models: the table's entries, the files and the conversion.

torch (and pytorchcv, for downloads and reference models) are imported inside the functions that
need them, so that ``import reszoo.convert`` stays light. pytorchcv's ``model_provider`` is never
imported: it imports torchvision, whose wheels want a CUDA build of torch.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from reszoo.convert import mapping
from reszoo.convert.table import ARCHITECTURES, CHECKPOINTS

DATASETS = {"cifar10": 10, "cifar100": 100}
# pytorchcv's CIFAR input pipeline: ToTensor (0-1), then Normalize(mean, std).
PYTORCHCV_MEAN = (0.4914, 0.4822, 0.4465)
PYTORCHCV_STD = (0.2023, 0.1994, 0.2010)
REPO_URL = "https://github.com/osmr/imgclsmob"
# Where pytorchcv's downloader keeps its files (its `root` default).
DEFAULT_CACHE_DIR = os.path.join("~", ".torch", "models")
WEIGHTS_SUFFIXES = (".pth.zip", ".pth")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# CIFAR-100's fine labels in label order (alphabetical, as in the dataset's meta file and tfds).
CIFAR100_CLASSES = tuple(
    """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can
    castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin
    elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster
    man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck
    pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk
    skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger
    tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm""".split()
)
CLASS_NAMES = {"cifar10": CIFAR10_CLASSES, "cifar100": CIFAR100_CLASSES}


class WeightsUnavailableError(ValueError):
    """A published checkpoint that is neither in the cache nor downloadable now."""


@dataclass(frozen=True)
class Entry:
    """One row of the weights table: a pytorchcv checkpoint and the reszoo model it loads into."""

    name: str
    architecture: str
    family: str
    kwargs: dict[str, Any]
    scheme: str
    module: str
    dataset: str
    params: int
    error_code: str
    sha1: str
    release: str

    @property
    def num_classes(self) -> int:
        return DATASETS[self.dataset]

    @property
    def error(self) -> float:
        """The published test error, in percent."""
        return int(self.error_code) / 100

    @property
    def file_name(self) -> str:
        """pytorchcv's name for the ``.pth`` file (the release asset adds ``.zip``)."""
        return f"{self.name}-{self.error_code}-{self.sha1[:8]}.pth"

    @property
    def url(self) -> str:
        return f"{REPO_URL}/releases/download/{self.release}/{self.file_name}.zip"

    @property
    def configuration(self) -> str:
        """``resnet(depth=20, shortcut='B')``: what ``reszoo.build`` is given."""
        return f"{self.family}({', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())})"


def _make_entry(name: str) -> Entry:
    architecture, dataset = name.rsplit("_", 1)
    arch = ARCHITECTURES[architecture]
    ckpt = CHECKPOINTS[name]
    return Entry(
        name=name,
        architecture=architecture,
        family=arch.family,
        kwargs=dict(arch.kwargs),
        scheme=arch.scheme,
        module=arch.module,
        dataset=dataset,
        params=ckpt.params,
        error_code=ckpt.error_code,
        sha1=ckpt.sha1,
        release=ckpt.release,
    )


def entries() -> dict[str, Entry]:
    """Every convertible pytorchcv name, in table order."""
    return {name: _make_entry(name) for name in CHECKPOINTS}


def entry(name: str) -> Entry:
    """The table's entry for pytorchcv model ``name``; ValueError with close matches otherwise."""
    if isinstance(name, str) and name in CHECKPOINTS:
        return _make_entry(name)
    close = difflib.get_close_matches(str(name), list(CHECKPOINTS), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(
        f"No pytorchcv CIFAR checkpoint named {name!r} in reszoo's weights table.{hint} "
        "`python -m reszoo.convert --list` prints the convertible names."
    )


# ---- checkpoint files


def sha1_of(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Any], str]:
    """``(state_dict, SHA-1 of the .pth)`` from a ``.pth`` or a released ``.pth.zip``.

    Raises:
        ValueError: the file is missing, has another suffix, or holds no state dict.
    """
    path = os.fspath(path)
    if not path.endswith(WEIGHTS_SUFFIXES):
        raise ValueError(f"A pytorchcv checkpoint is a .pth or .pth.zip file. Received: {path!r}")
    if not os.path.isfile(path):
        raise ValueError(f"No checkpoint file at {path}.")
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.endswith(".pth")]
            if len(members) != 1:
                raise ValueError(f"{path} must hold exactly one .pth file; it holds {archive.namelist()}.")
            data = archive.read(members[0])
    else:
        with open(path, "rb") as f:
            data = f.read()
    import torch

    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file becomes one clear error
        raise ValueError(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {exc}).") from None
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(hasattr(v, "shape") for v in state.values()):
        raise ValueError(f"{path} holds no state dict (a mapping of tensor names to tensors).")
    return dict(state), sha1_of(data)


def cached_checkpoint(item: Entry, cache_dir: str | os.PathLike | None = None) -> str:
    """The published checkpoint's path in pytorchcv's cache, downloading it with pytorchcv's own
    downloader when it is not there.

    Raises:
        WeightsUnavailableError: not cached and not downloadable (offline), naming the URL and
            where to put the file.
    """
    from reszoo.data import _download_unreachable

    root = os.path.expanduser(os.fspath(cache_dir or DEFAULT_CACHE_DIR))
    path = os.path.join(root, item.file_name)
    if os.path.isfile(path):
        return path
    unreachable = _download_unreachable(item.url)
    cause = f"cannot download: {unreachable}" if unreachable else ""
    if not unreachable:
        from pytorchcv.models.common.model_store import get_model_file

        try:
            return get_model_file(item.name, local_model_store_dir_path=root)
        except Exception as exc:  # pytorchcv raises RuntimeError / ValueError / requests errors
            cause = f"{type(exc).__name__}: {exc}"
    raise WeightsUnavailableError(
        f"The pytorchcv checkpoint {item.name} is not in {root} and could not be fetched ({cause}). "
        f"Download {item.url} on a machine that is online, then either unzip it to {path} "
        f"(pytorchcv's cache) or pass the .pth.zip or .pth as weights_file (--weights-file)."
    )


# ---- the conversion


def normalization_layer() -> keras.layers.Normalization:
    """pytorchcv's input normalisation on 0-255 pixels, named ``normalize`` like reszoo's own."""
    mean = 255.0 * np.asarray(PYTORCHCV_MEAN)
    std = 255.0 * np.asarray(PYTORCHCV_STD)
    return keras.layers.Normalization(mean=mean, variance=std**2, name="normalize")


def build_network(item: Entry, *, fused_bn: bool | None = None, **overrides: Any) -> keras.Model:
    """The reszoo network of ``item`` (normalised inputs, as ``reszoo.build`` gives), untrained."""
    from reszoo.registry import build

    kwargs = {"num_classes": item.num_classes, **overrides}
    return build(item.family, fused_bn=fused_bn, **item.kwargs, **kwargs)


def load_state_dict(net: keras.Model, item: Entry, state_dict: Mapping[str, Any], *, what: str) -> None:
    """Copy pytorchcv ``state_dict`` into ``net`` by the entry's name mapping (see ``mapping``)."""
    mapping.copy_state_dict(net, state_dict, scheme=item.scheme, kwargs=item.kwargs, what=what)


def with_raw_inputs(net: keras.Model) -> keras.Model:
    """``net`` behind pytorchcv's normalisation: raw 0-255 images in, as every reszoo export takes them."""
    images = keras.Input(shape=tuple(net.input_shape[1:]), name="images")
    return keras.Model(images, net(normalization_layer()(images)), name=net.name)


@dataclass(frozen=True)
class Conversion:
    """A converted checkpoint: the model and where its tensors came from."""

    model: keras.Model
    entry: Entry
    source: str
    sha1: str | None

    def summary(self) -> dict[str, Any]:
        """What an export's ``summary.json`` records about the conversion."""
        from reszoo import __version__, trainable_params

        return {
            "source": "pytorchcv",
            "pytorchcv_name": self.entry.name,
            "weights_file": self.source,
            "sha1": self.sha1,
            "published_sha1": self.entry.sha1,
            "sha1_matches_published": self.sha1 == self.entry.sha1,
            "published_error": self.entry.error,
            "dataset": self.entry.dataset,
            "model": self.entry.family,
            "build_kwargs": self.entry.kwargs,
            "num_classes": self.entry.num_classes,
            "trainable_params": trainable_params(self.model),
            "normalization": {"mean": list(PYTORCHCV_MEAN), "std": list(PYTORCHCV_STD), "scale": 255},
            "class_names": list(CLASS_NAMES[self.entry.dataset]),
            "reszoo_version": __version__,
        }


def convert(
    name: str,
    weights_file: str | os.PathLike | None = None,
    *,
    state_dict: Mapping[str, Any] | None = None,
    cache_dir: str | os.PathLike | None = None,
    fused_bn: bool | None = None,
) -> Conversion:
    """``from_pytorchcv`` with the provenance the export records (see there)."""
    item = entry(name)
    if state_dict is not None and weights_file is not None:
        raise ValueError("Give weights_file or state_dict, not both.")
    sha1 = None
    if state_dict is None:
        given = os.fspath(weights_file) if weights_file else cached_checkpoint(item, cache_dir)
        state_dict, sha1 = read_checkpoint(given)
        source = os.path.abspath(given)
        what = f"checkpoint {source} given for {item.name}"
    else:
        source, what = "state_dict", f"state_dict given for {item.name}"
    net = build_network(item, fused_bn=fused_bn)
    load_state_dict(net, item, state_dict, what=what)
    return Conversion(with_raw_inputs(net), item, source, sha1)


def from_pytorchcv(
    name: str,
    weights_file: str | os.PathLike | None = None,
    *,
    state_dict: Mapping[str, Any] | None = None,
    cache_dir: str | os.PathLike | None = None,
    fused_bn: bool | None = None,
) -> keras.Model:
    """A pytorchcv CIFAR checkpoint as a reszoo model taking raw 0-255 images.

    The model is ``images -> normalize (pytorchcv's mean/std on the 0-255 scale) -> the reszoo
    network`` and returns class probabilities, like every reszoo export. The network is built with
    the family and arguments of the weights table; every checkpoint tensor is copied through the
    explicit name mapping of ``reszoo.convert.mapping``.

    Args:
        name: str. pytorchcv's model name, e.g. ``"resnet20_cifar10"`` (``--list`` prints them).
        weights_file: a ``.pth`` or the released ``.pth.zip``. Without it (and without
            ``state_dict``) the published file is taken from pytorchcv's cache (``cache_dir``,
            default ``~/.torch/models``), downloaded there by pytorchcv when online.
        state_dict: a mapping of pytorchcv tensor names to tensors or arrays (tests).
        cache_dir: pytorchcv's model folder. Defaults to ``~/.torch/models``.
        fused_bn: as for ``reszoo.build``.

    Raises:
        ValueError: an unknown name, a file that is not that model's checkpoint (naming the tensors
            or weights left over), or (``WeightsUnavailableError``) a published file that is
            neither cached nor downloadable.

    Example::

        model = reszoo.convert.from_pytorchcv("resnet20_cifar10", "resnet20_cifar10-0597-9b0024ac.pth.zip")
        model.predict(uint8_images)  # (N, 10) probabilities
    """
    return convert(name, weights_file, state_dict=state_dict, cache_dir=cache_dir, fused_bn=fused_bn).model


def reference_model(item: Entry) -> Any:
    """pytorchcv's own model of ``item`` (random-initialised torch ``nn.Module``), for verification."""
    import importlib

    module = importlib.import_module(f"pytorchcv.models.{item.module}")
    return getattr(module, item.name)(pretrained=False)
