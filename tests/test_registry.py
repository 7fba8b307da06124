"""The registry: every family and preset listed, strict names and arguments, presets as data."""

import re

import pytest

import reszoo
from reszoo import registry

# "He et al. 2015", "Zagoruyko & Komodakis 2016", "Gastaldi 2017": a surname and a year, as the papers are cited.
CITATION = re.compile(r"\b[A-Z][A-Za-z-]+(?: et al\.| (?:&|and) [A-Z][A-Za-z-]+)? (?:19|20)\d\d\b")
# FastResNet's only source is the project's seed paper, which names no authors.
UNCITED_SEED_FAMILIES = {"fast_resnet": re.compile(r"\bFastResNet\b.*\bseed\b")}


def cites_its_source(text, family):
    seed = UNCITED_SEED_FAMILIES.get(family)
    return bool(CITATION.search(text) or (seed and seed.search(text)))


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
        assert cites_its_source(preset.paper, preset.family), f"{preset.name}: paper={preset.paper!r}"
        assert preset.recipe is None or preset.recipe in RECIPES, (preset.name, preset.recipe)


def test_every_family_documents_its_paper():
    """The builder's summary line cites the paper: an author-year citation, not just any year."""
    for family in registry.families().values():
        assert cites_its_source(family.summary, family.name), f"{family.name}: {family.summary!r}"


@pytest.mark.parametrize(
    "text, family, cited",
    [
        ("ResNet (He et al. 2015, Table 6).", "resnet", True),
        ("WRN (Zagoruyko & Komodakis 2016).", "wrn", True),
        ("Shake-Shake (Gastaldi 2017).", "shake_shake", True),
        ("A network from 2017.", "resnet", False),
        ("Table 2, 2016 results.", "resnet", False),
        ("FastResNet seed, Tables 1-4", "fast_resnet", True),
        ("The seed paper.", "resnet", False),
    ],
)
def test_citation_rule_wants_an_author_and_a_year(text, family, cited):
    assert cites_its_source(text, family) is cited


def test_every_family_registers_a_small_smoke_configuration():
    for family in registry.families().values():
        assert family.smoke, family.name
        registry._check_kwargs(family, family.smoke, what=family.name)


def smoke_builder(num_classes=10, input_shape=(32, 32, 3), classifier_activation="softmax", name=None, depth=8):
    """Test builder (Nobody et al. 2020)."""


def test_a_family_without_a_smoke_configuration_is_refused():
    with pytest.raises(TypeError, match="smoke"):
        registry.register_family("untested_family")(smoke_builder)
    for smoke in ({}, None, [("depth", 8)]):
        with pytest.raises(ValueError, match=r"needs a smoke configuration.*Received: smoke="):
            registry.register_family("untested_family", smoke=smoke)(smoke_builder)
    with pytest.raises(ValueError, match="Unknown argument.*widht.*smoke configuration of family 'untested_family'"):
        registry.register_family("untested_family", smoke=dict(widht=2))(smoke_builder)
    assert "untested_family" not in registry.families()


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="registered twice"):
        registry.register_family("resnet", smoke=dict(depth=8))(lambda **kw: None)
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
