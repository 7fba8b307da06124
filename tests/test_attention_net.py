"""Residual Attention Network (Wang et al. 2017): counts, structure, soft mask, errors."""

import json
import pathlib

import keras
import numpy as np
import pytest

import reszoo
from reszoo.registry import families, presets
from tests.family_checks import check_forward, fixed_batch

# Our trainable counts (CIFAR-10 head; tests/test_presets.py checks the builds against golden_params.json).
# The paper publishes 1.9M / 5.1M / 8.6M for 92 / 236 / 452 and nothing for 56 on CIFAR; 452 is our
# documented deviation (published_basis "not_reproduced").
OURS = {
    "attention56": 1_135_194,
    "attention92": 1_932_442,
    "attention236": 5_121_434,
    "attention452": 10_108_826,
}


def test_presets_are_the_papers_models():
    assert sorted(OURS) == sorted(reszoo.list_models()["attention"])
    assert presets()["attention452"].kwargs == dict(depth=452, p=2, t=4, r=3)
    assert (presets()["attention92"].c10_error, presets()["attention92"].c100_error) == (4.99, 21.71)
    assert (presets()["attention452"].c10_error, presets()["attention452"].c100_error) == (3.90, 20.45)
    assert presets()["attention56"].published is None
    assert all(presets()[n].recipe == "attention" for n in OURS)
    assert all(f"{count:,}" in presets()[n].notes for n, count in OURS.items())
    golden = json.loads(pathlib.Path(__file__).with_name("golden_params.json").read_text())
    assert OURS == {name: golden[name] for name in OURS}


def test_counts_are_affine_in_modules_per_stage():
    # Every module of a stage is identical, so count(m) = fixed + m * per_module:
    # Attention-236 (m=6) follows from 56 (m=1) and 92 (m=2), and
    # rounds to the paper's 5.1M.
    per_module = OURS["attention92"] - OURS["attention56"]
    assert OURS["attention92"] + 4 * per_module == OURS["attention236"]
    assert round(OURS["attention236"] / 1e6, 1) == 5.1
    # Attention-452's p=2, t=4, r=3 modules cost 2.04x a p=1, t=2, r=1 module (8.6M needs ~1.7x).
    fixed = OURS["attention56"] - per_module
    assert (OURS["attention452"] - fixed) / 6 / per_module == pytest.approx(2.04, abs=0.005)
    for name, (m, p, t, r) in {
        "attention56": (1, 1, 2, 1),
        "attention92": (2, 1, 2, 1),
        "attention236": (6, 1, 2, 1),
        "attention452": (6, 2, 4, 3),
    }.items():
        assert expected_params(m, p, t, r, 16, (2, 2, 1)) == OURS[name]


def bottleneck_params(c_in, c_out):
    """Pre-activation bottleneck [BN, 1x1 c/4, BN, 3x3 c/4, BN, 1x1 c] + 1x1 projection if c changes."""
    b = c_out // 4
    params = 2 * c_in + c_in * b + 2 * b + 9 * b * b + 2 * b + b * c_out
    return params + (c_in * c_out if c_in != c_out else 0)


def mask_units(depth, r):
    # r units per resolution, 2r at the lowest, r on the way up, one unit per skip.
    return 2 * r * depth + depth - 1 if depth else 2 * r


def expected_params(m, p, t, r, width, mask_depths, num_classes=10, channels=3):
    total, c_in = 9 * channels * width, width  # bare 3x3 stem conv
    for stage, depth in enumerate(mask_depths):
        c = 4 * width * 2**stage
        total += bottleneck_params(c_in, c)  # transition
        module_units = 2 * p + t + mask_units(depth, r)
        total += m * (module_units * bottleneck_params(c, c) + 2 * (2 * c + c * c))  # + 2x BN-conv1x1
        c_in = c
    total += 3 * bottleneck_params(c_in, c_in) + 2 * c_in  # final units, head BN
    return total + c_in * num_classes + num_classes


@pytest.mark.parametrize(
    "kwargs, m",
    [
        (dict(depth=56, width=4), 1),
        (dict(depth=65, p=2, t=1, r=2, width=2), 1),
        (dict(depth=65, p=1, t=3, r=3, width=3, mask_depths=(3, 0, 1), num_classes=100), 1),
    ],
)
def test_parameters_and_depth_match_the_architecture_formulas(kwargs, m):
    model = reszoo.build("attention", **kwargs)
    spec = dict(p=1, t=2, r=1, width=16, mask_depths=(2, 2, 1), num_classes=10) | kwargs
    depth = spec.pop("depth")
    assert reszoo.trainable_params(model) == expected_params(m, **spec)
    # depth = 9(2p+t)m+20 counts the trunk path: the stem conv, three convs per
    # unit outside the soft masks (projection shortcuts are not on it), the classifier.
    trunk_convs = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D) and "_mask_" not in layer.name and not layer.name.endswith("_proj")
    ]
    assert len(trunk_convs) + 1 == depth == 9 * (2 * spec["p"] + spec["t"]) * m + 20


@pytest.fixture(scope="module")
def small_attention56():
    return reszoo.build("attention", depth=56, width=4)


def intermediate(model, layer_names):
    return keras.Model(model.input, [model.get_layer(n).output for n in layer_names])


def test_soft_mask_lies_in_zero_one_and_merges_as_one_plus_mask_times_trunk(small_attention56):
    images, _ = fixed_batch(batch=4)
    for stage, size, channels in ((1, 32, 16), (2, 16, 32), (3, 8, 64)):
        prefix = f"stage{stage}_module1"
        probe = intermediate(small_attention56, [f"{prefix}_mask_sigmoid", f"{prefix}_trunk2_add", f"{prefix}_merge"])
        # Batch statistics (training mode): an untrained net's inference-mode BN
        # does not normalise, and float32 sigmoids of its large logits round to 1.
        mask, trunk, merged = (np.asarray(a) for a in probe(images, training=True))
        assert mask.shape == trunk.shape == (4, size, size, channels)
        assert np.all(mask > 0.0) and np.all(mask < 1.0)
        assert mask.std() > 1e-2  # a real spatial/channel mask, not a constant
        np.testing.assert_allclose(merged, (1.0 + mask) * trunk, rtol=1e-5, atol=1e-5)
        inference_mask = np.asarray(probe(images, training=False)[0])
        assert np.all(inference_mask >= 0.0) and np.all(inference_mask <= 1.0)


def test_soft_mask_resolutions_follow_mask_depths(small_attention56):
    model = small_attention56
    names = [layer.name for layer in model.layers]
    # 2/2/1 max-pools: the lowest mask resolution is 8, 4, 4 px in stages 1-3.
    for stage, depth, lowest in ((1, 2, 8), (2, 2, 4), (3, 1, 4)):
        prefix = f"stage{stage}_module1_mask"
        assert model.get_layer(f"{prefix}_down{depth}_unit2_add").output.shape[1:3] == (lowest, lowest)
        assert f"{prefix}_pool{depth + 1}" not in names
    for expected in ("stage1_module1_mask_skip1_unit1_add", "stage1_module1_mask_skip1_add", "stage1_module1_mask_up1"):
        assert expected in names
    assert model.get_layer("stage1_module1_mask_up1").interpolation == "bilinear"
    assert model.name == "attention56"


def test_odd_input_sizes_and_deep_masks_keep_shapes():
    # 20 -> 10 -> 5 -> 3 px in stage 1's mask; up-sampling 3 -> 6 is cropped to 5.
    model = reszoo.build(
        "attention", depth=47, t=1, width=2, mask_depths=(3, 4, 0), input_shape=(20, 20, 1), num_classes=5
    )
    images, _ = fixed_batch((20, 20, 1), 5, batch=2)
    check_forward(model, images, 5)
    assert model.get_layer("stage1_module1_mask_down3_unit2_add").output.shape[1:3] == (3, 3)
    assert model.get_layer("stage2_module1_mask_down4_unit2_add").output.shape[1:3] == (1, 1)
    assert model.get_layer("stage3_module1_mask_sigmoid").output.shape[1:3] == (5, 5)
    assert model.get_layer("stage1_module1_mask_up3_crop").output.shape[1:3] == (5, 5)  # 3 -> 6 -> 5


def test_weight_decay_is_the_papers(small_attention56):
    assert families()["attention"].weight_decay == 1e-4
    model = small_attention56
    assert all(w.regularizer is not None for w in model.trainable_weights)
    assert model.get_layer("stage1_module1_mask_out1_conv").kernel_regularizer.l2 == pytest.approx(5e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(depth=93), "depth must be 36m+20"),
        (dict(depth=20), "depth must be 36m+20"),
        (dict(depth="92"), "Received: depth='92'"),
        (dict(depth=56, p=2, t=4), "depth must be 72m+20 (9(2p+t)m+20 with p=2, t=4)"),
        (dict(p=0), "p must be a positive integer. Received: p=0"),
        (dict(t=1.5), "t must be a positive integer. Received: t=1.5"),
        (dict(r=True), "r must be a positive integer. Received: r=True"),
        (dict(width=0), "width must be a positive integer. Received: width=0"),
        (dict(mask_depths=(2, 1)), "mask_depths must be three non-negative integers"),
        (dict(mask_depths=(2, -1, 0)), "Received: mask_depths=(2, -1, 0)"),
        (dict(mask_depths=2), "mask_depths must be three non-negative integers"),
        (dict(attention="se"), "Unknown argument(s) attention"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError) as err:
        reszoo.build("attention", **kwargs)
    assert message in str(err.value)


def test_presets_refuse_contradicting_overrides():
    with pytest.raises(ValueError, match="Preset 'attention92' fixes depth=92"):
        reszoo.build("attention92", depth=56)
    with pytest.raises(ValueError, match="Preset 'attention452' fixes r=3"):
        reszoo.build("attention452", r=1)
