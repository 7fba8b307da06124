"""RoR, multilevel residual networks (Zhang et al. 2017), on WRN, pre-act and original ResNet bases."""

import json
import pathlib

import pytest

import reszoo
from reszoo.layers import StochasticDepth
from reszoo.registry import families, presets

# Our trainable counts (CIFAR-10 head; tests/test_presets.py checks the builds against golden_params.json).
# Each equals its base network's count plus the level-1/2 shortcut weights, which the tests below check
# against the other families.
OUR_COUNTS = {
    "ror3_wrn58_4_sd": 13_645_530,
    "ror3_wrn40_4_sd": 8_995_290,
    "ror3_wrn40_2": 2_256_346,
    "ror3_wrn40_2_sd": 2_256_346,
    "pre_ror3_164": 2_609_306,
    "pre_ror3_164_sd": 2_609_306,
    "ror3_164_sd": 2_609_850,
}


def level_weights(width=1, levels=3):
    """Weights of the level-1 (16 -> 64k, stride 4) and level-2 (input -> output width per group) 1x1 convs."""
    widths = [16, 16 * width, 32 * width, 64 * width]
    level1 = 16 * widths[-1]
    level2 = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    return level1 + (level2 if levels == 3 else 0)


def count(name, **kwargs):
    return reszoo.trainable_params(reszoo.build(name, **kwargs))


def test_only_ror3_wrn58_4_has_a_printed_count_and_it_is_the_base_plus_the_level_shortcuts():
    # The paper prints 13.3M; the WRN-58-4 base alone has 13,599,450 (see the preset's notes), so the
    # printed figure is not reproducible (published_basis "not_reproduced"): we pin the gap instead.
    preset = presets()["ror3_wrn58_4_sd"]
    golden = json.loads(pathlib.Path(__file__).with_name("golden_params.json").read_text())
    assert OUR_COUNTS == {name: golden[name] for name in OUR_COUNTS}
    assert OUR_COUNTS["ror3_wrn58_4_sd"] - level_weights(width=4) == count("wrn", depth=58, width=4) == 13_599_450
    assert abs(OUR_COUNTS["ror3_wrn58_4_sd"] / 1e6 - preset.published) < 0.35
    printed = [name for name in OUR_COUNTS if presets()[name].published is not None]
    assert printed == ["ror3_wrn58_4_sd"]  # the others: not found in the sources we could read (notes)


def test_presets_cover_the_papers_cifar_results():
    expected = {
        "ror3_wrn58_4_sd": (3.77, 19.73),
        "ror3_wrn40_4_sd": (4.09, 20.11),
        "ror3_wrn40_2": (5.01, 25.19),
        "ror3_wrn40_2_sd": (4.59, 22.48),
        "pre_ror3_164": (5.02, 25.33),
        "pre_ror3_164_sd": (4.51, 21.94),
        "ror3_164_sd": (4.86, 22.47),
    }
    got = {name: (presets()[name].c10_error, presets()[name].c100_error) for name in expected}
    assert got == expected
    for name in expected:
        assert presets()[name].kwargs.get("drop_path", 0.0) == (0.5 if name.endswith("_sd") else 0.0)
        assert presets()[name].recipe == "stochastic_depth"


@pytest.mark.parametrize("depth, width, levels", [(10, 1, 3), (10, 2, 3), (16, 4, 2), (22, 2, 3)])
def test_wrn_base_adds_only_the_level_shortcuts_to_a_wrn(depth, width, levels):
    wrn = count("wrn", depth=depth, width=width)
    assert count("ror", base="wrn", depth=depth, width=width, levels=levels) == wrn + level_weights(width, levels)


@pytest.mark.parametrize("depth, levels", [(8, 3), (14, 3), (20, 2)])
def test_preact_base_is_a_projection_preact_resnet_plus_level_shortcuts(depth, levels):
    base = count("preact_resnet", depth=depth, shortcut="B")
    assert count("ror", base="preact", depth=depth, levels=levels) == base + level_weights(1, levels)


@pytest.mark.parametrize("depth, levels", [(14, 3), (20, 2)])
def test_resnet_base_adds_level_projections_with_bn(depth, levels):
    base = count("resnet", depth=depth, shortcut="B")
    bn = 2 * (64 + (16 + 32 + 64 if levels == 3 else 0))
    assert count("ror", base="resnet", depth=depth, levels=levels) == base + level_weights(1, levels) + bn


def test_resnet_base_with_one_unit_per_group_has_no_bn_on_its_unit_projections():
    """Documented limit: a group's only unit is built without its closing ReLU, hence as a pre-activation-style
    unit whose projection has no BN (reszoo.units offers no post-activation unit without the final ReLU)."""
    base = count("resnet", depth=8, shortcut="B")
    unit_projection_bn = 2 * (32 + 64)
    level_bn = 2 * (64 + 16 + 32 + 64)
    assert count("ror", base="resnet", depth=8) == base + level_weights() + level_bn - unit_projection_bn


def test_level_shortcuts_wire_as_in_figure_3():
    model = reszoo.build("ror", base="wrn", depth=10, width=1, levels=3)
    get = model.get_layer
    # Level 1: stem output -> 1x1 conv 64k, stride 4 -> added after the last group's level-2 add.
    assert get("level1_proj").input is get("stem_conv").output
    assert get("level1_proj").strides == (4, 4)
    assert get("level1_add").input[0] is get("stage3_level2_add").output
    # Level 2: each group's input -> 1x1 conv (even 16 -> 16, as Fig. 2-3 draw it) -> added to the group output.
    assert tuple(get("stage1_level2_proj").kernel.shape) == (1, 1, 16, 16)
    assert [get(f"stage{s}_level2_proj").strides for s in (1, 2, 3)] == [(1, 1), (2, 2), (2, 2)]
    assert get("stage2_level2_proj").input is get("stage1_level2_add").output
    assert get("stage2_level2_add").input[0] is get("stage2_unit1_add").output
    # Pre-activation: no BN on the level shortcuts, nothing after the adds, BN-ReLU head.
    names = {layer.name for layer in model.layers}
    assert not any("level" in name and name.endswith("_bn") for name in names)
    assert get("head_bn").input is get("level1_add").output


def test_levels_2_keeps_only_the_root_shortcut():
    names = {layer.name for layer in reszoo.build("ror", base="wrn", depth=10, width=2, levels=2).layers}
    assert {"level1_proj", "level1_add"} <= names
    assert not any("level2" in name for name in names)


def test_resnet_base_moves_the_groups_last_relu_after_the_level_adds():
    model = reszoo.build("ror", base="resnet", depth=14, levels=3)
    get = model.get_layer
    names = {layer.name for layer in model.layers}
    # Fig. 2: the group's last unit ends at its add; ReLU follows the level-2 (and level-1) addition.
    for stage in (1, 2, 3):
        assert f"stage{stage}_unit1_out_relu" in names
        assert f"stage{stage}_unit2_out_relu" not in names
    assert get("stage1_level2_add").input[0] is get("stage1_unit2_add").output
    assert get("stage1_out_relu").input is get("stage1_level2_add").output
    assert get("stage3_out_relu").input is get("level1_add").output
    assert "stage2_out_relu" in names and "head_bn" not in names
    # Conv-BN-ReLU stem feeds the root shortcut; level projections carry BN.
    assert get("level1_proj").input is get("stem_relu").output
    assert get("level1_add").input[1] is get("level1_proj_bn").output


def test_resnet_base_with_two_levels_defers_only_the_last_groups_relu():
    names = {layer.name for layer in reszoo.build("ror", base="resnet", depth=14, levels=2).layers}
    assert {"stage1_unit2_out_relu", "stage2_unit2_out_relu", "stage3_out_relu"} <= names
    assert "stage3_unit2_out_relu" not in names and "stage1_out_relu" not in names


def test_stochastic_depth_decays_linearly_over_all_units():
    model = reszoo.build("ror", base="wrn", depth=16, width=1, drop_path=0.5)
    gates = [layer for layer in model.layers if isinstance(layer, StochasticDepth)]
    assert len(gates) == 6
    assert [g.survival_prob for g in gates] == pytest.approx([1 - 0.5 * i / 6 for i in range(1, 7)])
    assert not any("level" in g.name for g in gates)


def test_defaults_and_names():
    assert families()["ror"].weight_decay == 1e-4
    assert reszoo.build("ror", base="wrn", depth=10, width=2).name == "ror3_wrn10_2"
    assert reszoo.build("ror", base="preact", depth=8, levels=2).name == "pre_ror2_8"
    assert reszoo.build("ror", base="resnet", depth=8).name == "ror3_8"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(base="densenet"), "base must be one of 'wrn', 'preact', 'resnet'. Received: base='densenet'"),
        (dict(levels=1), "levels must be one of 2, 3. Received: levels=1"),
        (dict(base="wrn", depth=57), "depth must be 6n+4 for a positive integer n (e.g. 10, 16, 22, 58, 112)"),
        (dict(base="preact", depth=58), "depth must be 6n+2 for a positive integer n (e.g. 8, 14, 20, 56, 110)"),
        (dict(base="resnet", depth=3), "Received: depth=3"),
        (dict(base="preact", depth=8, width=2), "width applies to base='wrn' only"),
        (dict(base="wrn", depth=10, width=0), "width must be a positive integer. Received: width=0"),
        (dict(depth=10, drop_path=1.0), "drop_path must be in [0, 1). Received: drop_path=1.0"),
        (dict(depth=10, dropout=-0.5), "dropout must be in [0, 1). Received: dropout=-0.5"),
        (dict(depth=10, attention="eca"), "attention must be one of None, 'se', 'cbam'"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError) as err:
        reszoo.build("ror", **kwargs)
    assert message in str(err.value)


def test_presets_refuse_contradicting_overrides():
    with pytest.raises(ValueError, match="Preset 'ror3_wrn58_4_sd' fixes levels=3"):
        reszoo.build("ror3_wrn58_4_sd", levels=2)


def test_list_models_shows_the_family():
    assert set(OUR_COUNTS) <= set(reszoo.list_models()["ror"])
