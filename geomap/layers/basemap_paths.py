"""The web basemap's outlines projected ahead: Web Mercator pixels at zoom 0, as Leaflet's
`L.CRS.EPSG3857` places them, so that the browser draws them with one scale and shift per view
instead of projecting, clipping and simplifying every vertex with Leaflet when the map opens.

A part (fill, lines) is a list of groups drawn in order, one style each: `{"style": <Leaflet
path options>, "closed": <polygon rings, else open lines>, "rings": [[x0, y0, dx1, dy1, ...]]}`,
coordinates in integer `UNIT`s of a zoom-0 pixel (about 1.5 m at the equator), each ring's
first point absolute and the others as steps from the one before (short integers). The
runtime (`geomap.js`, `BasemapCanvas`) decodes them once into `Path2D`s.
"""
from __future__ import annotations

import math

import numpy as np
import shapely

UNIT = 1e-5  # of a zoom-0 pixel (256 across the world)
WORLD = 256.0  # Leaflet's tile size: the world's width in pixels at zoom 0
MAX_LAT = 85.0511287798  # Leaflet's SphericalMercator.MAX_LATITUDE


def mercator(lonlat: np.ndarray) -> np.ndarray:
    """(lon, lat) rows in degrees -> zoom-0 pixels (x right, y down) as Leaflet's EPSG:3857."""
    lon = lonlat[:, 0]
    lat = np.radians(np.clip(lonlat[:, 1], -MAX_LAT, MAX_LAT))
    x = (lon / 360.0 + 0.5) * WORLD
    y = (0.5 - np.log(np.tan(math.pi / 4 + lat / 2)) / (2 * math.pi)) * WORLD
    return np.column_stack((x, y))


def encoded_ring(coords) -> list[int]:
    """One ring or line as [x0, y0, dx1, dy1, ...] in UNITs (see the module's docstring)."""
    units = np.rint(mercator(np.asarray(coords, dtype=float)[:, :2]) / UNIT).astype(np.int64)
    steps = np.vstack((units[:1], np.diff(units, axis=0)))
    return steps.ravel().tolist()


def _rings(geometry) -> tuple[bool, list]:
    """(closed, rings) of a polygonal or linear Shapely geometry."""
    parts = list(getattr(geometry, "geoms", [geometry]))
    if all(isinstance(p, shapely.Polygon) for p in parts):
        return True, [ring.coords for p in parts for ring in (p.exterior, *p.interiors)]
    if all(isinstance(p, shapely.LineString) for p in parts):
        return False, [p.coords for p in parts]
    raise ValueError(f"not polygonal or linear: {geometry.geom_type}")


def groups(styled: list[tuple[dict, object]]) -> list[dict]:
    """(Leaflet style, Shapely geometry) pairs -> the part's groups: consecutive pairs of the
    same style and kind share a group, so the drawing order is the pairs' order."""
    out: list[dict] = []
    for style, geometry in styled:
        closed, rings = _rings(geometry)
        if not out or out[-1]["style"] != style or out[-1]["closed"] != closed:
            out.append({"style": style, "closed": closed, "rings": []})
        out[-1]["rings"].extend(encoded_ring(r) for r in rings)
    return out
