"""EfficientNet-B0 ... B7: keras.applications' backbone + reszoo's GAP-dropout-FC head."""

import os

import keras
import numpy as np
import pytest

import reszoo
from reszoo.models import efficientnet as efficientnet_module
from reszoo.registry import presets
from tests.family_checks import check_forward, fixed_batch

CI_VARIANTS = ("b0", "b1")
SLOW_VARIANTS = ("b2", "b3", "b4", "b5", "b6", "b7")
# The paper's Table 2 counts, ImageNet-1000 head, millions as printed.
TABLE2 = {"b0": 5.3, "b1": 7.8, "b2": 9.2, "b3": 12, "b4": 19, "b5": 30, "b6": 43, "b7": 66}


def keras_backbone(variant, input_shape=(32, 32, 3)):
    constructor = getattr(keras.applications, f"EfficientNet{variant.upper()}")
    return constructor(include_top=False, weights=None, input_shape=input_shape)


@pytest.fixture(scope="module")
def b0():
    """One B0 for the tests that only read it (building one takes seconds)."""
    return reszoo.build("efficientnet_b0")


def assert_count_is_keras_backbone_plus_head(variant):
    """Ours == keras.applications' trainable backbone + a dense head, for 10 and 1000 classes.

    How Table 2's figure follows from it (published_basis) is checked in tests/test_presets.py."""
    preset = presets()[f"efficientnet_{variant}"]
    backbone = keras_backbone(variant)
    features = backbone.output.shape[-1]
    backbone_params = reszoo.trainable_params(backbone)
    ours = reszoo.trainable_params(reszoo.build(preset.name))
    assert ours == backbone_params + features * 10 + 10 == preset.exact
    assert backbone_params + features * 1000 + 1000 == preset.extra["imagenet_params"]
    assert (preset.published, preset.extra["features"]) == (TABLE2[variant], features)
    assert preset.extra["published_basis"] == ("imagenet_head_all_weights" if variant == "b2" else "imagenet_head")


@pytest.mark.parametrize("variant", CI_VARIANTS)
def test_parameter_counts_equal_keras_backbone_plus_head(variant):
    assert_count_is_keras_backbone_plus_head(variant)


@pytest.mark.slow
@pytest.mark.parametrize("variant", SLOW_VARIANTS)
def test_large_parameter_counts_equal_keras_backbone_plus_head(variant):
    assert_count_is_keras_backbone_plus_head(variant)


@pytest.mark.slow
def test_b2_published_count_includes_bn_statistics():
    full = keras.applications.EfficientNetB2(weights=None)
    assert round(full.count_params() / 1e6, 1) == 9.2
    assert round(reszoo.trainable_params(full) / 1e6, 1) == 9.1


def test_b7_preset_records_the_survey_transfer_results():
    preset = presets()["efficientnet_b7"]
    assert (preset.c10_error, preset.c100_error) == (1.1, 8.3)
    assert round(preset.exact / 1e6) == 64  # survey table 8's 64M: the CIFAR-head count
    assert preset.extra["resolution"] == 600 and preset.extra["dropout"] == 0.5
    assert "fine-tuned from ImageNet" in preset.notes
    assert [presets()[f"efficientnet_{v}"].slow for v in TABLE2] == [False] * 7 + [True]


def test_model_takes_0_255_pixels_through_keras_preprocessing(b0):
    backbone = b0.get_layer("backbone")
    rescaling, normalization = backbone.layers[1:3]
    assert isinstance(rescaling, keras.layers.Rescaling) and rescaling.scale == pytest.approx(1 / 255)
    assert isinstance(normalization, keras.layers.Normalization)
    # Without ImageNet weights the Normalization layer is the identity.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(normalization.adapt_mean), [0, 0, 0])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(normalization.adapt_variance), [1, 1, 1])


def test_32px_inputs_end_at_1x1_and_the_cifar_stem_at_2x2_loading_the_same_weights(b0, tmp_path):
    assert b0.get_layer("backbone").output.shape[1:] == (1, 1, 1280)
    path = os.path.join(tmp_path, "b0_backbone.weights.h5")
    b0.get_layer("backbone").save_weights(path)
    stem1 = reszoo.build("efficientnet", variant="b0", cifar_stem=True, weights=path)
    backbone = stem1.get_layer("backbone")
    assert backbone.output.shape[1:] == (2, 2, 1280)
    assert backbone.get_layer("stem_conv").strides == (1, 1)
    assert backbone.get_layer("stem_conv").output.shape[1:3] == (32, 32)
    assert reszoo.trainable_params(stem1) == reszoo.trainable_params(b0)
    assert stem1.name == "efficientnet_b0_cifar_stem"
    for a, b in zip(b0.get_layer("backbone").get_weights(), backbone.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    images, _ = fixed_batch(batch=2)
    check_forward(stem1, images, 10)


def test_resolution_upsamples_inside_the_model_and_dropout_0_has_no_layer():
    model = reszoo.build("efficientnet", variant="b0", resolution=64, num_classes=100, dropout=0.0)
    assert "head_dropout" not in [layer.name for layer in model.layers]
    assert model.input_shape == (None, 32, 32, 3)
    assert model.get_layer("upsample").output.shape[1:] == (64, 64, 3)
    assert model.get_layer("backbone").output.shape[1:] == (2, 2, 1280)
    images, _ = fixed_batch(batch=2)
    check_forward(model, images, 100)


def test_head_dropout_is_the_papers_and_equals_dropout_on_the_pooled_vector(b0):
    drop = b0.get_layer("head_dropout")
    assert drop.rate == 0.2 == efficientnet_module.VARIANTS["b0"].dropout
    assert [efficientnet_module.VARIANTS[v].dropout for v in TABLE2] == [0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.5]
    # Whole channels dropped: each pooled feature is 0 or mean / (1 - p), as dropout after pooling.
    features = np.random.default_rng(1).uniform(1, 2, size=(8, 2, 2, 64)).astype("float32")
    pooled = np.asarray(keras.ops.mean(drop(features, training=True), axis=(1, 2)))
    mean = features.mean(axis=(1, 2))
    kept = np.isclose(pooled, mean / 0.8, rtol=1e-5)
    assert np.all(kept | (pooled == 0)) and 0 < kept.mean() < 1


def test_weight_decay_reaches_the_nested_backbone(b0):
    model = b0
    weights = model.trainable_weights
    assert len(weights) == 213
    assert all(w.regularizer is not None for w in weights)
    expected = sum(1e-5 / 2 * float(np.sum(np.square(w.numpy()))) for w in weights)
    decayed = sum(float(loss) for loss in model.losses)
    assert decayed == pytest.approx(expected, rel=1e-4)


def test_weight_decay_reaches_the_depthwise_kernels(b0):
    model = b0
    depthwise = [w for w in model.trainable_weights if "dwconv" in w.path]
    assert len(depthwise) == 16
    assert all(w.regularizer is not None for w in depthwise)
    assert len(model.losses) == len(model.trainable_weights)


def test_imagenet_file_normalises_by_std_as_keras_imagenet_path(tmp_path):
    """keras' ImageNet files store std as the Normalization variance; loaded by path, we square it."""
    source = keras_backbone("b0")
    normalization = source.layers[2]
    mean = np.array([0.485, 0.456, 0.406], dtype="float32")
    normalization.adapt_mean.assign(mean)
    normalization.adapt_variance.assign(np.array(efficientnet_module.IMAGENET_STDDEV_RGB, dtype="float32"))
    path = os.path.join(tmp_path, "efficientnetb0_notop.h5")  # keras' legacy HDF5, like the real file
    source.save(path)
    backbone = reszoo.build("efficientnet_b0", weights=path).get_layer("backbone")
    loaded = backbone.layers[2]
    std = np.array(efficientnet_module.IMAGENET_STDDEV_RGB, dtype="float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded.adapt_variance), std**2, rtol=1e-6)
    pixels = np.full((1, 1, 1, 3), 200.0, dtype="float32")
    np.testing.assert_allclose(np.asarray(loaded(pixels / 255.0)).ravel(), (200 / 255 - mean) / std, rtol=1e-5)
    np.testing.assert_array_equal(
        backbone.get_layer("stem_conv").kernel.numpy(), source.get_layer("stem_conv").kernel.numpy()
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(variant="b8"), "variant must be one of 'b0', 'b1'"),
        (dict(variant="B0"), "Received: variant='B0'"),
        (dict(weights="imagenet"), "weights='imagenet' would download"),
        (dict(weights="imagenet"), "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5"),
        (
            dict(weights="/no/such/efficientnetb0_notop.h5"),
            "Received: weights='/no/such/efficientnetb0_notop.h5', which is not a file",
        ),
        (dict(weights=3), "weights must be None or the path of an existing weights file"),
        (dict(dropout=1.0), "dropout must be in [0, 1). Received: dropout=1.0"),
        (dict(cifar_stem="yes"), "cifar_stem must be one of False, True. Received: cifar_stem='yes'"),
        (dict(resolution=0), "resolution must be a positive integer. Received: resolution=0"),
        (dict(input_shape=(16, 16, 3)), "at least 32x32 (keras.applications' minimum); pass resolution=32 or more"),
        (dict(input_shape=(32, 32, 3), resolution=24), "Received: input_shape=(32, 32, 3), resolution=24"),
        (dict(input_shape=(32, 32)), "input_shape must be (height, width, channels)"),
        (dict(depth=3), "Unknown argument(s) depth"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError) as err:
        reszoo.build("efficientnet", **kwargs)
    assert message in str(err.value)


def test_presets_refuse_a_different_variant():
    with pytest.raises(ValueError, match="Preset 'efficientnet_b0' fixes variant='b0'"):
        reszoo.build("efficientnet_b0", variant="b3")


def test_training_feeds_efficientnet_raw_pixels_and_other_families_normalized_ones():
    from types import SimpleNamespace

    from reszoo import data, train

    bundle = data.load_dataset("synthetic:16", batch_size=8)
    for model_name, normalized in (("efficientnet", False), ("resnet", True)):
        args = SimpleNamespace(model=model_name, build_kwargs={}, weight_decay=None, fused_bn=True)
        model, _ = train.build_training_model(args, bundle)
        assert ("normalize" in [layer.name for layer in model.layers]) is normalized, model_name
