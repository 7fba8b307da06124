"""keras.applications' argument contract (include_top, pooling, input_tensor, classes) and feature
extraction (``model.pyramid_outputs``, ``reszoo.features``) for every family."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest

import reszoo
from reszoo.models import densenet, pyramidnet, wrn
from reszoo.registry import families

FAMILIES = list(families())
# keras.applications' EfficientNet stage outputs (block1 ... block7) and their strides at a stride-2 stem.
EFFICIENTNET_B0 = [(16, 2), (24, 4), (40, 8), (80, 16), (112, 16), (192, 32), (320, 32)]


def expected_pyramid(name: str, smoke: dict) -> list[tuple[int, int]]:
    """(channels, stride) per stage, from each family's own plan for its smoke configuration."""
    if name in ("resnet", "preact_resnet", "fast_resnet"):
        scale = 4 if smoke.get("bottleneck") else 1
        return [(16 * scale, 1), (32 * scale, 2), (64 * scale, 4)]
    if name == "wrn":
        return list(zip(wrn.wrn_widths(smoke["width"]), (1, 2, 4), strict=True))
    if name == "pyramidnet":
        n = (smoke["depth"] - 2) // (9 if smoke.get("bottleneck") else 6)
        plan = pyramidnet.pyramid_plan(n, smoke["alpha"])
        scale = 4 if smoke.get("bottleneck") else 1
        return [(plan[n * s - 1].filters * scale, 2 ** (s - 1)) for s in (1, 2, 3)]
    if name == "densenet":
        plan = densenet.block_plan(
            smoke["depth"], smoke["growth_rate"], True, smoke["compression"], 2 * smoke["growth_rate"]
        )
        return [(block.out_channels, 2**i) for i, block in enumerate(plan)]
    if name == "attention":
        width = smoke["width"]
        return [(4 * width, 1), (8 * width, 2), (16 * width, 4), (16 * width, 4)]
    if name == "resnext":
        return [(256, 1), (512, 2), (1024, 4)]
    if name == "shake_shake":
        return [(smoke["width"], 1), (2 * smoke["width"], 2), (4 * smoke["width"], 4)]
    if name == "ror":
        return [(16 * smoke["width"], 1), (32 * smoke["width"], 2), (64 * smoke["width"], 4)]
    if name == "efficientnet":
        return EFFICIENTNET_B0
    raise AssertionError(f"no expected pyramid for family {name!r}: add it here")


@pytest.mark.parametrize("name", FAMILIES)
def test_pyramid_outputs_follow_the_plan_and_features_returns_them(name):
    smoke = families()[name].smoke
    model = reszoo.build(name, **smoke, include_top=False)
    height, width, _ = model.input_shape[1:]
    expected = {
        f"stage{i}": (-(-height // stride), -(-width // stride), channels)
        for i, (channels, stride) in enumerate(expected_pyramid(name, smoke), start=1)
    }
    assert {k: tuple(t.shape[1:]) for k, t in model.pyramid_outputs.items()} == expected
    extractor = reszoo.features(model)
    maps = extractor(np.zeros((2, *model.input_shape[1:]), "float32"), training=False)
    assert {k: tuple(v.shape) for k, v in maps.items()} == {k: (2, *shape) for k, shape in expected.items()}
    # The extractor shares the backbone's weights: no new ones.
    assert {id(w) for w in extractor.weights} <= {id(w) for w in model.weights}


@pytest.mark.parametrize("pooling, shape", [(None, (8, 8, 64)), ("avg", (64,)), ("max", (64,))])
def test_include_top_false_pooling_shapes_survive_the_keras_round_trip(pooling, shape, tmp_path):
    full = reszoo.build("resnet20")
    model = reszoo.build("resnet20", include_top=False, pooling=pooling)
    assert model.output_shape == (None, *shape)
    # The backbone is the classifier minus its dense layer (64 * 10 + 10 weights), names unchanged.
    assert reszoo.trainable_params(full) - reszoo.trainable_params(model) == 650
    assert {layer.name for layer in model.layers} <= {layer.name for layer in full.layers} | {"head_pool"}
    images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    path = os.path.join(tmp_path, "backbone.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert reloaded.output_shape == (None, *shape)
    np.testing.assert_allclose(reloaded(images, training=False), model(images, training=False), atol=1e-6)


def test_a_new_head_on_a_backbone_trains():
    backbone = reszoo.build("resnet", depth=8, include_top=False, pooling="avg")
    outputs = keras.layers.Dense(3, activation="softmax", name="new_head")(backbone.output)
    model = keras.Model(backbone.input, outputs)
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(np.zeros((4, 32, 32, 3)), np.arange(4) % 3, epochs=1, verbose=0)
    assert model.output_shape == (None, 3)


def test_input_tensor_builds_on_the_given_tensor():
    images = keras.Input(shape=(48, 40, 3), name="photos")
    scaled = keras.layers.Rescaling(1 / 255.0, name="scale")(images)
    model = reszoo.build("wrn", depth=10, width=1, input_tensor=scaled, include_top=False, pooling="max")
    assert model.inputs[0] is images  # keras.applications: the model starts at the tensor's source inputs
    assert model.input_shape == (None, 48, 40, 3) and model.output_shape == (None, 64)
    assert model.get_layer("scale") is not None
    assert tuple(model.pyramid_outputs["stage3"].shape) == (None, 12, 10, 64)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(classes=100),
            r"names the number of classes `num_classes` .* pass num_classes=100. Received: classes=100",
        ),
        (
            dict(include_top=True, pooling="avg"),
            r"The `pooling` argument applies only when `include_top=False` .* Received: include_top=True, "
            r"pooling='avg'",
        ),
        (dict(include_top=False, pooling="mean"), r"The `pooling` argument should be either `None` .* pooling='mean'"),
        (dict(include_top="yes"), r"The `include_top` argument should be a boolean. Received: include_top='yes'"),
        (dict(input_tensor=np.zeros((1, 32, 32, 3))), r"The `input_tensor` argument should be a 4D Keras tensor"),
        (
            dict(input_tensor=keras.Input((16, 16, 3)), input_shape=(32, 32, 3)),
            r"must agree with `input_tensor`'s shape. Received: input_shape=\(32, 32, 3\), "
            r"input_tensor.shape=\(None, 16, 16, 3\)",
        ),
    ],
)
def test_bad_combinations_raise_in_keras_applications_wording(kwargs, message):
    with pytest.raises(ValueError, match=message):
        reszoo.build("resnet20", **kwargs)


def test_features_refuses_a_model_without_pyramid_outputs(tmp_path):
    model = reszoo.build("resnet", depth=8)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    with pytest.raises(ValueError, match=r"records no pyramid_outputs: only models built by reszoo.build"):
        reszoo.features(keras.models.load_model(path))
