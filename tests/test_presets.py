"""Every preset's trainable count: the golden table, the official code's exact count, the paper's figure.

Parametrized over ``reszoo.presets()``. tests/golden_params.json pins every preset, those without a
published figure too (fast_resnet*, se_/cbam_ presets, RoR), as pycls pins its complexity JSON;
regenerate it with ``python -m tests.make_golden_params`` when an architecture changes on purpose.

How a paper counted is data on the preset, ``extra["published_basis"]`` (see ``PRINTED_COUNTS``), and
its notes say why; a figure we cannot reproduce is ``"not_reproduced"`` (or pyramidnet's
``"unexplained"``) and is asserted to differ, so a fix shows up as a failing test.
"""

import json
import math
import pathlib

import keras
import pytest

import reszoo
from reszoo.registry import presets

GOLDEN = json.loads(pathlib.Path(__file__).with_name("golden_params.json").read_text())
PRESETS = [pytest.param(name, marks=[pytest.mark.slow] if p.slow else []) for name, p in presets().items()]


def weights_of(model, layer_class, attribute):
    layers = [layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, layer_class)]
    return sum(math.prod(w.shape) for layer in layers for w in getattr(layer, attribute))


def non_trainable(model):
    return sum(math.prod(w.shape) for w in model.non_trainable_weights)


def imagenet_head(preset, ours):
    """Our count with the 1000-class head the paper counted instead of the 10-class one."""
    return ours + 990 * (preset.extra["features"] + 1)


# What the paper's printed figure counts, from our model: basis -> (model, preset, our trainable count) -> count.
PRINTED_COUNTS = {
    None: lambda model, preset, ours: ours,
    "truncated": lambda model, preset, ours: ours,  # printed truncated, not rounded
    "no_bn": lambda model, preset, ours: ours - weights_of(model, keras.layers.BatchNormalization, "trainable_weights"),
    "conv_weights": lambda model, preset, ours: sum(
        math.prod(layer.kernel.shape)
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.Conv2D)
    ),
    "imagenet_head": lambda model, preset, ours: imagenet_head(preset, ours),
    # keras' count_params(): BN moving statistics included.
    "imagenet_head_all_weights": lambda model, preset, ours: imagenet_head(preset, ours) + non_trainable(model),
}
NOT_REPRODUCED = ("not_reproduced", "unexplained")


def as_printed(count, published, *, truncate=False):
    """``count`` in millions with as many decimals as the paper printed (``12`` has none, ``27.0`` one)."""
    digits = 0 if isinstance(published, int) else len(repr(published).split(".")[1])
    millions = count / 1e6
    return math.floor(millions * 10**digits) / 10**digits if truncate else round(millions, digits)


@pytest.mark.parametrize("name", PRESETS)
def test_trainable_count_is_golden_exact_and_as_published(name):
    preset = presets()[name]
    model = reszoo.build(name)
    ours = reszoo.trainable_params(model)
    assert ours == GOLDEN[name], f"{name}: {ours:,} trainable, golden {GOLDEN[name]:,}"
    if preset.exact is not None:
        assert ours == preset.exact, f"{name}: {ours:,} trainable, official code {preset.exact:,}"
    if preset.published is None:
        return
    basis = preset.extra.get("published_basis")
    if basis in NOT_REPRODUCED:
        assert as_printed(ours, preset.published) != preset.published, f"{name} now matches: drop {basis!r}"
        return
    if basis == "imagenet_head":
        assert imagenet_head(preset, ours) == preset.extra["imagenet_params"]
    printed = as_printed(PRINTED_COUNTS[basis](model, preset, ours), preset.published, truncate=basis == "truncated")
    assert printed == preset.published, f"{name}: {printed}M ({basis or 'trainable'}), paper {preset.published}M"


def test_golden_table_lists_exactly_the_registered_presets():
    registered = list(presets())
    assert sorted(set(registered) - set(GOLDEN)) == [], "missing: run python -m tests.make_golden_params"
    assert sorted(set(GOLDEN) - set(registered)) == [], "stale: run python -m tests.make_golden_params"
    assert list(GOLDEN) == registered  # registration order, so diffs stay readable
    assert all(isinstance(count, int) and count > 0 for count in GOLDEN.values())


def test_every_published_basis_is_known_and_explained():
    for preset in presets().values():
        basis = preset.extra.get("published_basis")
        assert basis in PRINTED_COUNTS or basis in NOT_REPRODUCED, (preset.name, basis)
        if basis is not None:
            assert preset.published is not None and preset.notes, f"{preset.name}: say in the notes how it counted"


def test_documented_deviations_stay_documented():
    """The two printed figures no counting convention reproduces, with our counts in the notes."""
    for name, ours in (("attention452", "10,108,826"), ("ror3_wrn58_4_sd", "13,645,530")):
        preset = presets()[name]
        assert preset.extra["published_basis"] == "not_reproduced"
        assert ours in preset.notes and f"{preset.published}M" in preset.notes
        assert GOLDEN[name] == int(ours.replace(",", ""))
