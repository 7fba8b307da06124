"""The registry: every family and preset listed, strict names and arguments, presets as data."""

import pytest

import reszoo
from reszoo import registry

SEED_FAMILIES = {
    "resnet",
    "preact_resnet",
    "fast_resnet",
    "wrn",
    "pyramidnet",
    "densenet",
    "attention",
    "resnext",
    "shake_shake",
    "ror",
    "efficientnet",
}


def test_list_models_lists_every_family_the_seeds_name():
    listing = reszoo.list_models()
    assert SEED_FAMILIES <= set(listing)
    every_preset = [p for presets in listing.values() for p in presets]
    assert len(every_preset) == len(set(every_preset)) == len(reszoo.presets())
    for preset in (
        "stochastic_depth_resnet110",
        "se_resnet110",
        "cbam_preact_resnet164",
        "pyramidnet110_a270_shakedrop",
        "densenet_bc190_k40",
        "ror3_wrn58_4_sd",
        "efficientnet_b0",
    ):
        assert preset in every_preset


def test_every_preset_cites_its_paper_and_names_a_known_recipe():
    from reszoo.recipes import RECIPES

    for preset in reszoo.presets().values():
        assert preset.paper, preset.name
        assert preset.recipe is None or preset.recipe in RECIPES, (preset.name, preset.recipe)


def test_every_family_documents_its_paper():
    for family in registry.families().values():
        doc = family.builder.__doc__ or ""
        assert any(str(year) in doc for year in range(2015, 2021)) or "seed" in doc, family.name


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="registered twice"):
        registry.register_family("resnet")(lambda **kw: None)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register_presets("resnet", {"resnet20": dict(kwargs={}, paper="x")})


def test_presets_must_use_known_arguments():
    with pytest.raises(ValueError, match="Unknown argument"):
        registry.register_presets("resnet", {"resnet_bogus": dict(kwargs={"widht": 2}, paper="x")})
    assert "resnet_bogus" not in reszoo.presets()


def test_names_are_case_and_dash_insensitive_and_unknown_names_suggest():
    assert reszoo.trainable_params(reszoo.build("ResNet-20")) == 269_722
    with pytest.raises(ValueError, match="Did you mean.*pyramidnet"):
        reszoo.build("pyramidnett")
    with pytest.raises(ValueError, match="Model name must be a string"):
        reszoo.build(20)


def test_build_pyramidnet_alpha_48_as_in_the_design_card():
    model = reszoo.build("pyramidnet", alpha=48)
    assert reszoo.trainable_params(model) == 1_772_706
