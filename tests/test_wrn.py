"""Wide ResNet builder (Zagoruyko & Komodakis 2016) and its presets."""

import inspect

import keras
import numpy as np
import pytest

import reszoo
from reszoo.models import wrn as wrn_module
from reszoo.registry import families, presets
from tests.family_checks import fixed_batch

PLAIN_WRN_PRESETS = [n for n, p in presets().items() if p.family == "wrn" and p.kwargs.get("attention") is None]


def wrn_count_from_paper(depth, width, num_classes=10):
    """Trainable parameters of WRN-d-k written out from the paper's description, independently of the builder."""
    n = (depth - 4) // 6
    widths = [16 * width, 32 * width, 64 * width]
    total = 3 * 3 * 3 * 16  # stem conv, no bias
    c_in = 16
    for c_out in widths:
        for unit in range(n):
            unit_in = c_in if unit == 0 else c_out
            total += 2 * unit_in  # BN on the unit input
            total += 9 * unit_in * c_out + 2 * c_out + 9 * c_out * c_out  # conv3x3, BN, conv3x3
            if unit == 0 and unit_in != c_out:
                total += unit_in * c_out  # 1x1 projection, no BN
        c_in = c_out
    return total + 2 * c_in + (c_in + 1) * num_classes  # head BN, FC


@pytest.mark.parametrize("name", PLAIN_WRN_PRESETS)
def test_official_counts_follow_the_papers_description(name):
    """The official code's count (tests/test_presets.py checks our builds against it) is the paper's WRN."""
    preset = presets()[name]
    assert preset.exact == wrn_count_from_paper(preset.kwargs["depth"], preset.kwargs["width"])


def test_every_table4_network_has_an_exact_count():
    table4 = {(p.kwargs["depth"], p.kwargs["width"]) for p in presets().values() if p.family == "wrn"}
    assert {(40, 1), (40, 2), (40, 4), (40, 8), (28, 10), (28, 12), (22, 8), (22, 10), (16, 8), (16, 10)} <= table4
    plain = [p for p in presets().values() if p.family == "wrn" and p.kwargs.get("attention") is None]
    assert all(p.exact is not None for p in plain)


@pytest.mark.parametrize("depth, width", [(10, 1), (10, 3), (16, 2), (22, 1), (34, 2)])
def test_any_valid_config_builds_with_the_papers_count(depth, width):
    model = reszoo.build("wrn", depth=depth, width=width)
    assert model.name == f"wrn{depth}_{width}"
    assert reszoo.trainable_params(model) == wrn_count_from_paper(depth, width)


def test_se_adds_exactly_the_squeeze_excitation_weights():
    # Per unit: FC(C -> C/16) and FC(C/16 -> C) with biases; WRN-16-8 has 2 units of 128, 256, 512 channels.
    se = sum(2 * (2 * c * (c // 16) + c // 16 + c) for c in (128, 256, 512))
    assert se == 87_920
    assert reszoo.trainable_params(reszoo.build("se_wrn16_8")) == 10_961_370 + se


def test_dropout_presets_differ_only_in_dropout():
    plain, dropped = presets()["wrn28_10"], presets()["wrn28_10_dropout"]
    assert dropped.kwargs == {**plain.kwargs, "dropout": 0.3}
    assert (plain.c10_error, dropped.c10_error) == (4.17, 3.89)
    assert (plain.c100_error, dropped.c100_error) == (20.50, 18.85)
    # The family itself defaults to WRN-28-10 without dropout.
    defaults = {k: p.default for k, p in inspect.signature(wrn_module.wrn).parameters.items()}
    assert (defaults["depth"], defaults["width"], defaults["dropout"]) == (28, 10, 0.0)


def test_unit_structure_follows_the_official_code():
    model = reszoo.build("wrn", depth=16, width=2, dropout=0.3)
    names = {layer.name for layer in model.layers}
    # Stage 1 changes 16 -> 32 channels, so its first unit projects; later units do not.
    assert model.get_layer("stage1_unit1_proj").kernel.shape == (1, 1, 16, 32)
    assert model.get_layer("stage2_unit1_proj").kernel.shape == (1, 1, 32, 64)
    assert model.get_layer("stage2_unit1_proj").strides == (2, 2)
    assert "stage1_unit2_proj" not in names
    # Projections are bare convs (no BN), every conv is bias-free.
    assert not any(name.endswith("_proj_bn") for name in names)
    assert all(not layer.use_bias for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    # The projection reads the unit's shared BN-ReLU.
    assert model.get_layer("stage2_unit1_proj").input is model.get_layer("stage2_unit1_relu1").output
    # Dropout (0.3) sits between the two 3x3 convs.
    assert model.get_layer("stage3_unit2_dropout").rate == 0.3
    assert model.get_layer("stage3_unit2_conv2").input is model.get_layer("stage3_unit2_dropout").output
    # Head: BN-ReLU-GAP-FC.
    assert model.get_layer("head_pool").input is model.get_layer("head_relu").output


def test_width_one_has_no_stage1_projection():
    names = {layer.name for layer in reszoo.build("wrn", depth=10, width=1).layers}
    assert "stage1_unit1_proj" not in names
    assert {"stage2_unit1_proj", "stage3_unit1_proj"} <= names


def test_identity_shortcuts_carry_the_raw_unit_input():
    """Units without a projection add their raw input, not its BN-ReLU (official WRN / pre-act code)."""
    model = reszoo.build("wrn", depth=16, width=2)
    skip, _ = model.get_layer("stage1_unit2_add").input
    assert skip is model.get_layer("stage1_unit1_add").output
    skip, _ = model.get_layer("stage3_unit2_add").input
    assert skip is model.get_layer("stage3_unit1_add").output


def test_dropout_is_active_only_while_training():
    model = reszoo.build("wrn", depth=10, width=1, dropout=0.3)
    images, _ = fixed_batch(batch=4)
    a, b = (np.asarray(model(images, training=True)) for _ in range(2))
    assert not np.allclose(a, b)
    np.testing.assert_allclose(np.asarray(model(images, training=False)), np.asarray(model(images, training=False)))


def test_weight_decay_defaults_to_the_papers_5e_4():
    assert families()["wrn"].weight_decay == 5e-4
    model = reszoo.build("wrn", depth=10, width=1)
    expected = sum(5e-4 / 2 * float(np.sum(np.square(w.numpy()))) for w in model.trainable_weights)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-4)


def test_cifar100_head():
    c10 = reszoo.trainable_params(reszoo.build("wrn", depth=10, width=2))
    c100 = reszoo.trainable_params(reszoo.build("wrn", depth=10, width=2, num_classes=100))
    assert c100 - c10 == 90 * (128 + 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(depth=30), "depth must be 6n+4 for a positive integer n (e.g. 10, 16, 22, 58, 112). Received: depth=30"),
        (dict(depth=4), "Received: depth=4"),
        (dict(depth=28.0), "Received: depth=28.0"),
        (dict(width=0), "width must be a positive integer. Received: width=0"),
        (dict(width=2.5), "width must be a positive integer. Received: width=2.5"),
        (dict(dropout=1.0), "dropout must be in [0, 1). Received: dropout=1.0"),
        (dict(drop_path=-0.1), "drop_path must be in [0, 1). Received: drop_path=-0.1"),
        (dict(attention="eca"), "attention must be one of None, 'se', 'cbam'. Received: attention='eca'"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError) as err:
        reszoo.build("wrn", **kwargs)
    assert message in str(err.value)


def test_presets_refuse_contradicting_overrides():
    with pytest.raises(ValueError, match="Preset 'wrn28_10' fixes width=10"):
        reszoo.build("wrn28_10", width=12)
    with pytest.raises(ValueError, match="Preset 'wrn28_10_dropout' fixes dropout=0.3"):
        reszoo.build("wrn28_10_dropout", dropout=0.0)


def test_list_models_shows_the_family():
    listing = reszoo.list_models()
    assert {"wrn28_10", "wrn28_10_dropout", "wrn40_4", "wrn16_8", "se_wrn16_8"} <= set(listing["wrn"])
