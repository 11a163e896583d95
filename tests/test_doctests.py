"""The examples in docstrings run, and show what they say."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import geomap

FINDER = doctest.DocTestFinder()


def modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(geomap.__path__, "geomap."):
        if info.name.endswith("__main__") or ".migrations" in info.name:
            continue
        if any(test.examples for test in FINDER.find(importlib.import_module(info.name))):
            names.append(info.name)
    return sorted(names)


MODULES = modules_with_examples()


def test_there_are_examples_to_run():
    assert {"geomap.analysis.geodesy", "geomap.analysis.polygons"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
