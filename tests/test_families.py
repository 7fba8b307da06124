"""The shared checks (tests/family_checks.py) on every registered family's smoke configuration.

Parametrized over ``reszoo.registry.families()``: a family registers its smoke configuration with
``register_family(..., smoke=...)`` and gets these tests without writing any, as keras-hub gives every
family one ``TestCase`` and timm tests every ``list_models()`` entry. Each check is its own test so that
pytest-xdist spreads the families over the workers. The assertions live in the checks themselves.
"""

import pytest

import reszoo
from reszoo.registry import families
from tests import family_checks as checks

FAMILIES = list(families())


def smoke_build(name):
    """The family's smoke model and a fixed batch of what it expects (0-255 pixels where it normalises)."""
    family = families()[name]
    model = reszoo.build(name, **family.smoke)
    num_classes = family.smoke.get("num_classes", 10)
    images, labels = checks.fixed_batch(tuple(model.input_shape[1:]), num_classes, pixels=family.normalizes_inputs)
    return model, images, labels, num_classes


@pytest.mark.parametrize("name", FAMILIES)
def test_forward_gradients_and_deterministic_inference(name):
    model, images, labels, num_classes = smoke_build(name)
    checks.check_forward(model, images, num_classes)
    checks.check_deterministic_inference(model, images)
    checks.check_gradients_reach_every_weight(model, images, labels)


@pytest.mark.parametrize("name", FAMILIES)
def test_keras_and_savedmodel_round_trips(name, tmp_path):
    model, images, _, _ = smoke_build(name)
    checks.check_round_trips(model, images, str(tmp_path))


@pytest.mark.parametrize("name", FAMILIES)
def test_config_round_trip(name):
    model, images, _, _ = smoke_build(name)
    checks.check_config_round_trip(model, images)


@pytest.mark.parametrize("name", FAMILIES)
def test_training_lowers_the_loss(name):
    model, images, labels, _ = smoke_build(name)
    checks.check_training_reduces_loss(model, images, labels, lr=0.01)


# Variants whose code paths a family's smoke configuration does not take (other unit kinds, shortcut
# options, bases, regularisers): each gets every shared check too, as the per-family files gave them.
VARIANTS = [
    ("resnet", dict(depth=8)),
    ("resnet", dict(depth=11, bottleneck=True, shortcut="B")),
    ("preact_resnet", dict(depth=11, bottleneck=True)),
    ("preact_resnet", dict(depth=8, unit="no_first_relu", shortcut="B")),
    ("preact_resnet", dict(depth=8, unit="bn_end")),
    ("preact_resnet", dict(depth=8, unit="no_first_relu_bn_end")),
    ("fast_resnet", dict(depth=8, unit_type=1)),
    ("pyramidnet", dict(depth=8, alpha=12)),
    ("pyramidnet", dict(depth=8, alpha=12, sepdrop=0.5)),
    ("ror", dict(base="preact", depth=8, levels=2, dropout=0.3, attention="se")),
    ("ror", dict(base="resnet", depth=8, levels=3)),
]


@pytest.mark.parametrize(
    "name, kwargs", VARIANTS, ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in VARIANTS]
)
def test_variant_passes_every_shared_check(name, kwargs, tmp_path):
    checks.check_model(reszoo.build(name, **kwargs), tmp_path)
