"""GeoJSON geometry in, Shapely geometry out, under one explicit policy.

Policy (RFC 7946): WGS84 lon/lat; a third coordinate (altitude) is dropped; coordinates must be
finite and in range; polygons must be valid (no repair: the error says where it is invalid and
how to fix it); polygon rings are re-oriented to the right-hand rule; a Polygon stored in a
MultiPolygon column is wrapped.
"""
from __future__ import annotations

import math
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.validation import explain_validity

DEPTH = {"Point": 0, "LineString": 1, "Polygon": 2, "MultiPolygon": 3}


class GeometryError(ValueError):
    """A geometry problem; `field` says where inside the geometry it is."""

    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


def parse_geometry(obj: Any, allowed: tuple[str, ...]) -> BaseGeometry:
    """Validate a GeoJSON geometry object and return it as Shapely geometry."""
    if not isinstance(obj, dict):
        raise GeometryError("geometry", f"must be a GeoJSON geometry object ({' or '.join(allowed)})")
    kind = obj.get("type")
    if kind not in allowed:
        raise GeometryError("geometry.type", f"must be {' or '.join(allowed)}; got {kind!r}")
    _check_positions(obj.get("coordinates"), DEPTH[kind], "geometry.coordinates")
    if kind == "Point":
        # A finite, in-range position is always a valid, non-empty point: skip GEOS's checks,
        # which cost more than the rest of a feature's validation on a bulk import.
        return Point(obj["coordinates"][0], obj["coordinates"][1])
    try:
        geom = shapely.force_2d(shape(obj))
    except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
        raise GeometryError("geometry.coordinates", f"malformed {kind}: {exc}") from None
    if geom.is_empty:
        raise GeometryError("geometry.coordinates", f"empty {kind}")
    if not geom.is_valid:
        raise GeometryError("geometry", f"invalid {kind}: {explain_validity(geom)}; "
                            "fix the rings (for example with shapely.make_valid) and load again")
    return _normalise(geom)


def as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """A polygon as a multipolygon of one part; a multipolygon as it is (zones are stored as multipolygons)."""
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])


def _normalise(geom: BaseGeometry) -> BaseGeometry:
    if isinstance(geom, Polygon):
        return orient(geom, sign=1.0)
    if isinstance(geom, MultiPolygon):
        return MultiPolygon([orient(part, sign=1.0) for part in geom.geoms])
    return geom


def _check_positions(coords: Any, depth: int, where: str) -> None:
    """Walk nested coordinate arrays; every position is [lon, lat] or [lon, lat, alt]."""
    if depth == 0:
        _check_position(coords, where)
        return
    if not isinstance(coords, list) or not coords:
        raise GeometryError(where, "must be a non-empty array")
    for index, item in enumerate(coords):
        _check_positions(item, depth - 1, f"{where}[{index}]")


def _check_position(position: Any, where: str) -> None:
    if not isinstance(position, list) or len(position) not in (2, 3):
        raise GeometryError(where, "a position must be [longitude, latitude] (RFC 7946 order)")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in position):
        raise GeometryError(where, f"coordinates must be finite numbers; got {position!r}")
    lon, lat = position[0], position[1]
    if not -180 <= lon <= 180:
        raise GeometryError(where, f"longitude {lon} is outside -180..180")
    if not -90 <= lat <= 90:
        raise GeometryError(where, f"latitude {lat} is outside -90..90 (is the order [lon, lat]?)")
