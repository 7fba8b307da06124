"""What one search is asked to do: the parsed command line as a frozen ``SearchOptions``."""

from __future__ import annotations

import dataclasses

from reszoo.tune.spaces import SearchSpace

TUNERS = ("random", "bayesian", "hyperband")
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
