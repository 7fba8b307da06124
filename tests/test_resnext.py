"""ResNeXt for CIFAR (Xie et al. 2017, Table 7)."""

import pytest

import reszoo
from reszoo.registry import presets

PRESETS = [n for n, p in presets().items() if p.family == "resnext"]
TINY = dict(depth=11, cardinality=2, bottleneck_width=4)


def expected_params(depth, cardinality, bottleneck_width, num_classes=10):
    """Trainable parameters of fb.resnext's CIFAR model, counted from the paper's description."""
    n = (depth - 2) // 9
    total = 3 * 3 * 3 * 64 + 2 * 64  # stem conv + BN
    channels = 64
    for stage, out in enumerate((256, 512, 1024)):
        width = cardinality * bottleneck_width * 2**stage
        for block in range(n):
            total += channels * width + 2 * width  # 1x1 reduce + BN
            total += 3 * 3 * (width // cardinality) * width + 2 * width  # grouped 3x3 + BN
            total += width * out + 2 * out  # 1x1 expand + BN
            if block == 0:  # every stage's first block changes the shape: projection + BN
                total += channels * out + 2 * out
            channels = out
    return total + channels * num_classes + num_classes


@pytest.mark.parametrize("name", PRESETS)
def test_official_counts_follow_the_papers_description(name):
    """The official code's count (tests/test_presets.py checks our builds against it) is Table 7's network."""
    preset = presets()[name]
    assert preset.exact == expected_params(**preset.kwargs)


def test_presets_are_table7():
    assert {n: presets()[n].kwargs for n in PRESETS} == {
        "resnext29_8x64d": dict(depth=29, cardinality=8, bottleneck_width=64),
        "resnext29_16x64d": dict(depth=29, cardinality=16, bottleneck_width=64),
    }
    assert (presets()["resnext29_8x64d"].c10_error, presets()["resnext29_8x64d"].c100_error) == (3.65, 17.77)


@pytest.mark.parametrize("depth, cardinality, width", [(11, 2, 4), (11, 1, 3), (20, 4, 8), (11, 3, 5)])
def test_parameter_count_formula(depth, cardinality, width):
    model = reszoo.build("resnext", depth=depth, cardinality=cardinality, bottleneck_width=width)
    assert reszoo.trainable_params(model) == expected_params(depth, cardinality, width)


def test_block_structure_grouped_width_doubles_and_stride_on_grouped_conv():
    model = reszoo.build("resnext", depth=20, cardinality=2, bottleneck_width=4)
    for stage, (width, out, size) in enumerate([(8, 256, 32), (16, 512, 16), (32, 1024, 8)], start=1):
        grouped = model.get_layer(f"stage{stage}_unit1_conv2")
        assert (grouped.filters, grouped.groups, grouped.kernel_size) == (width, 2, (3, 3))
        assert grouped.strides == ((2, 2) if stage > 1 else (1, 1))
        assert model.get_layer(f"stage{stage}_unit1_conv1").strides == (1, 1)
        assert model.get_layer(f"stage{stage}_unit1_add").output.shape == (None, size, size, out)
        # Projection (1x1 conv + BN) only on the first block of a stage.
        assert model.get_layer(f"stage{stage}_unit1_proj").strides == ((2, 2) if stage > 1 else (1, 1))
        names = {layer.name for layer in model.layers}
        assert f"stage{stage}_unit1_proj_bn" in names
        assert f"stage{stage}_unit2_proj" not in names
    assert model.get_layer("stem_conv").filters == 64
    assert "stem_relu" in {layer.name for layer in model.layers}


def test_weight_decay_defaults_to_paper_value():
    model = reszoo.build("resnext", **TINY)
    assert all(w.regularizer.l2 == pytest.approx(5e-4 / 2) for w in model.trainable_weights)


def test_cifar100_head():
    c10 = reszoo.trainable_params(reszoo.build("resnext", **TINY))
    c100 = reszoo.trainable_params(reszoo.build("resnext", **TINY, num_classes=100))
    assert c100 - c10 == 90 * (1024 + 1)


def test_default_name():
    assert reszoo.build("resnext", **TINY).name == "resnext11_2x4d"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(depth=26), "depth must be 9n+2 for a positive integer n (e.g. 11, 20, 29"),
        (dict(depth=2), "Received: depth=2"),
        (dict(cardinality=0), "cardinality must be a positive integer. Received: cardinality=0"),
        (dict(cardinality=2.5), "Received: cardinality=2.5"),
        (dict(bottleneck_width=0), "bottleneck_width must be a positive integer. Received: bottleneck_width=0"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError) as err:
        reszoo.build("resnext", **kwargs)
    assert message in str(err.value)


def test_preset_refuses_contradicting_override():
    with pytest.raises(ValueError, match="fixes cardinality=8"):
        reszoo.build("resnext29_8x64d", cardinality=16)
