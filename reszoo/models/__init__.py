"""Importing this package registers every family and its presets.

Each family lives in its own module here; every module is imported (resnet
first, then alphabetically), so adding a family is adding a file.
"""

import importlib
import pkgutil

_FIRST = ("resnet",)


def _family_modules():
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "common")
    return [*_FIRST, *(n for n in names if n not in _FIRST)]


for _name in _family_modules():
    importlib.import_module(f"{__name__}.{_name}")
