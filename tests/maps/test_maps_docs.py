"""docs/maps.md covers every layer, route, parameter and `geomap map` option."""
from __future__ import annotations

from pathlib import Path

import pytest

from geomap.api.map_openapi import openapi_paths
from geomap.cli import main
from geomap.layers import names
from geomap.maps import request

DOC = (Path(__file__).resolve().parents[2] / "docs" / "maps.md").read_text()


@pytest.mark.parametrize("layer", names())
def test_every_layer_is_documented(layer):
    assert f"| `{layer}` |" in DOC


@pytest.mark.parametrize("parameter", sorted(set(request.SELECTION_PARAMETERS + request.LOOK_PARAMETERS
                                                 + request.FOCUS_PARAMETERS + request.IMAGE_PARAMETERS)))
def test_every_parameter_is_documented(parameter):
    assert f"`{parameter}`" in DOC


@pytest.mark.parametrize("path", sorted(openapi_paths()))
def test_every_route_is_documented(path):
    assert path.replace("{incidentId}", "{id}").split(".")[0] in DOC


@pytest.mark.parametrize("option", [o for p in main.commands["map"].params for o in p.opts if o.startswith("--")])
def test_every_cli_option_is_documented(option):
    assert f"`{option}" in DOC
