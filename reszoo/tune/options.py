"""What one search is asked to do: the parsed command line as a frozen ``SearchOptions``.

Plain data and checks only, no TensorFlow import: ``python -m reszoo.tune --help`` and a bad flag read
these and answer at once (``spaces``, which builds the spaces from the model modules, imports Keras).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from reszoo import registry_names
from reszoo.cli import UsageError

if TYPE_CHECKING:
    from reszoo.tune.spaces import SearchSpace

TUNERS = ("random", "bayesian", "hyperband")
# The families with a search space: the keys of ``spaces.SPACES``, in its order, written out as plain data.
# ``--help`` lists them and a mistyped ``--family`` (the likeliest bad flag) is refused from them at once.
# The names are kept rather than the family check put off until after TensorFlow is imported, because the help
# text needs them too, and the spaces themselves cannot be built without the model modules (their depth rules and
# choice tuples). tests/test_cli_startup.py checks that they are the keys of ``spaces.SPACES``.
FAMILIES = ("resnet", "preact_resnet", "fast_resnet", "wrn", "pyramidnet", "densenet", "resnext", "shake_shake")
DEFAULT_VAL_FRACTION = 0.1
DEFAULT_SEED = 0
DEFAULT_EPOCHS = 10
DEFAULT_MAX_TRIALS = 10
# Files in the project folder besides keras-tuner's.
CONFIG_FILE, PARAMS_FILE, EXPORT_FILE = "tune.json", "params.json", "export.json"
TRIAL_BACKUP = "train"  # reszoo.train's backup folder inside each trial folder


@dataclasses.dataclass(frozen=True)
class SearchOptions:
    """One search, checked: every flag of ``python -m reszoo.tune`` and the space it narrows to.

    ``val_split`` is None until ``search.resolve_val_split`` counts the training images (10% of
    them); ``project_dir`` and ``export_dir`` are absolute.
    """

    family: str
    search_space: SearchSpace
    project_dir: str
    tuner: str = "random"
    max_trials: int = DEFAULT_MAX_TRIALS
    epochs: int = DEFAULT_EPOCHS
    dataset: str = "cifar10"
    data_dir: str | None = None
    image_size: int | None = None
    val_split: int | None = None
    recipe: str = "auto"
    max_params: int | None = None
    seed: int = DEFAULT_SEED
    export_dir: str | None = None
    no_export: bool = False
    show_space: bool = False

    def replace(self, **changes) -> SearchOptions:
        return dataclasses.replace(self, **changes)


def check_family(family: str) -> None:
    """``UsageError`` (a ValueError) unless ``family`` has a search space; the message says whether it is a
    reszoo family at all (``registry_names``: the registry's names without importing the models)."""
    if family not in FAMILIES:
        known = family in registry_names.FAMILIES
        what = "has no search space in reszoo.tune" if known else "is not a reszoo family"
        raise UsageError(f"--family {family!r} {what}. Supported: {', '.join(FAMILIES)}. Received: --family={family}")
