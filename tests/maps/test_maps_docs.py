"""docs/maps.md covers every layer, route, parameter and `geomap map` option."""
from __future__ import annotations

from pathlib import Path

import pytest

from geomap.api import maps as api
from geomap.cli import main
from geomap.layers import names

DOC = (Path(__file__).resolve().parents[2] / "docs" / "maps.md").read_text()


@pytest.mark.parametrize("layer", names())
def test_every_layer_is_documented(layer):
    assert f"| `{layer}` |" in DOC


@pytest.mark.parametrize("parameter", sorted(set(api.SELECTION_PARAMETERS + api.LOOK_PARAMETERS
                                                 + api.FOCUS_PARAMETERS + api.IMAGE_PARAMETERS)))
def test_every_parameter_is_documented(parameter):
    assert f"`{parameter}`" in DOC


@pytest.mark.parametrize("path", sorted(api.openapi_paths()))
def test_every_route_is_documented(path):
    assert path.replace("{incidentId}", "{id}").split(".")[0] in DOC


@pytest.mark.parametrize("option", [o for p in main.commands["map"].params for o in p.opts if o.startswith("--")])
def test_every_cli_option_is_documented(option):
    assert f"`{option}" in DOC
