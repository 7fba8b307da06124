"""Every ``>>>`` example in reszoo's docstrings runs and prints what it says (examples nobody runs drift).

The examples may use ``reszoo`` and ``build`` (``reszoo.build``) without importing them, besides their
own module's names; they must stay cheap (small models), since they run in CI.
"""

import doctest
import importlib
import pathlib

import pytest

import reszoo

PACKAGE = pathlib.Path(reszoo.__file__).parent
EXAMPLE_MODULES = sorted(
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    for path in PACKAGE.rglob("*.py")
    if ">>>" in path.read_text()
)


def test_the_examples_are_found():
    assert {"reszoo.registry", "reszoo.models.resnet", "reszoo.models.wrn", "reszoo.schedules"} <= set(EXAMPLE_MODULES)


@pytest.mark.parametrize("module_name", EXAMPLE_MODULES)
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(
        module,
        extraglobs={"reszoo": reszoo, "build": reszoo.build},
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        report=True,
    )
    assert result.attempted > 0, f"{module_name}: no example ran"
    assert result.failed == 0, f"{module_name}: {result.failed} of {result.attempted} examples failed (see stdout)"
