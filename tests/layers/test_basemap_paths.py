"""The web basemap's outlines projected ahead (geomap.layers.basemap_paths): the projection
against PROJ's EPSG:3857, and the encoded rings back to every vertex of the web geometries."""
from __future__ import annotations

import json
import math

import numpy as np
import pyproj
import pytest
from shapely.geometry import shape

from geomap.layers import basemap, basemap_paths

R = 6378137.0  # EPSG:3857's sphere


def test_mercator_is_epsg3857_in_zoom0_pixels():
    lon = np.linspace(-180, 180, 37)
    lat = np.linspace(-85, 85, 37)
    x, y = pyproj.Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)
    expected = np.column_stack(((x + math.pi * R) / (2 * math.pi * R) * 256, (math.pi * R - y) / (2 * math.pi * R) * 256))
    assert np.abs(basemap_paths.mercator(np.column_stack((lon, lat))) - expected).max() < 1e-9


@pytest.mark.parametrize("part", ["fill", "lines"])
def test_the_rings_decode_to_the_web_geometries_vertices(part):
    """Summing each ring's steps gives every vertex of the generalised geometries, in order,
    within half a UNIT; the groups keep the drawing order and style of the GeoJSON they replace."""
    fill, lines, _ = basemap._folium_payloads()
    groups = json.loads(fill if part == "fill" else lines)
    countries = [shape(g) for g in basemap.web_geometries("countries")]
    kinds = [p["kind"] for p, _ in basemap.shapes("rivers")]
    rivers = [shape(g) for g in basemap.web_geometries("rivers")]
    if part == "fill":
        expected = [countries, [g for k, g in zip(kinds, rivers, strict=True) if k == "lake"]]
    else:
        expected = [countries, [shape(g) for g in basemap.web_geometries("iraq_admin1")],
                    [g for k, g in zip(kinds, rivers, strict=True) if k == "river"]]
    assert [len(g["rings"]) for g in groups] == [sum(len(_coords(s)) for s in geoms) for geoms in expected]
    for group, geoms in zip(groups, expected, strict=True):
        assert group["closed"] == (geoms[0].geom_type in ("Polygon", "MultiPolygon"))
        want = [np.asarray(c)[:, :2] for s in geoms for c in _coords(s)]
        for ring, coords in zip(group["rings"], want, strict=True):
            decoded = np.cumsum(np.asarray(ring).reshape(-1, 2), axis=0) * basemap_paths.UNIT
            lon = (coords[:, 0] / 360 + 0.5) * 256
            lat = np.radians(coords[:, 1])
            y = (1 - np.arcsinh(np.tan(lat)) / math.pi) / 2 * 256  # Mercator's other form
            assert np.abs(decoded - np.column_stack((lon, y))).max() <= basemap_paths.UNIT
    assert groups[0]["style"]["fill"] is (part == "fill")


def _coords(geometry) -> list:
    parts = getattr(geometry, "geoms", [geometry])
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return [ring.coords for p in parts for ring in (p.exterior, *p.interiors)]
    return [p.coords for p in parts]
