"""Where to look for what lies within some metres of a point: lon/lat boxes the geometry GiST
indexes answer (`envelope`, `in_envelope`), then the exact geodesic test on geography (`within`).
"""
from __future__ import annotations

import math

from sqlalchemy import ColumnElement, and_, cast, func, or_
from sqlalchemy.types import UserDefinedType

# The mean Earth radius; an angle of metres / EARTH_M, widened by ENVELOPE_MARGIN, is more than
# the angle any geodesic of that length on WGS84 spans (a degree of arc is at least 110.57 km).
EARTH_M = 6_371_008.8
ENVELOPE_MARGIN = 1.01


class Geography(UserDefinedType):
    """Plain `geography`, so that a cast compiles to `CAST(geom AS geography)` and matches the
    `(geom::geography)` expression indexes (GeoAlchemy2's type adds a typmod that would not)."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "geography"


def point(lon: float, lat: float) -> ColumnElement:
    """A WGS84 lon/lat point as a geography, for geodesic distances in metres."""
    return cast(func.ST_SetSRID(func.ST_MakePoint(float(lon), float(lat)), 4326), Geography)


def located(lon: ColumnElement, lat: ColumnElement) -> ColumnElement:
    """The geography of a row's lon/lat columns (the stored `incidents.lon`, `lat`, which are
    the point's own coordinates: the same geography as its `geom`'s, without reading `geom`)."""
    return cast(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326), Geography)


def within(geom_column, lon: float, lat: float, metres: float) -> ColumnElement:
    """Rows within `metres` (geodesic) of the point: boxes the geometry GiST index answers
    (`in_envelope`), then the exact test."""
    return and_(in_envelope(geom_column, lon, lat, metres),
                func.ST_DWithin(cast(geom_column, Geography), point(lon, lat), float(metres)))


def envelope(lon: float, lat: float, metres: float) -> list[tuple[float, float, float, float]]:
    """Lon/lat boxes (west, south, east, north) that hold every point within `metres` of
    (lon, lat), a little generously: the spherical cap of that radius (widened 1 %) spans its
    angle in latitude and asin(sin(angle) / cos(lat)) in longitude; two boxes when it crosses
    the antimeridian, one box of every longitude when it holds a pole."""
    angle = min(metres / EARTH_M * ENVELOPE_MARGIN, math.pi)
    south, north = lat - math.degrees(angle), lat + math.degrees(angle)
    if south <= -90.0 or north >= 90.0:
        return [(-180.0, max(-90.0, south), 180.0, min(90.0, north))]
    dx = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(lat)))))  # < 1: no pole inside
    west, east = lon - dx, lon + dx
    if west < -180.0:
        return [(-180.0, south, east, north), (west + 360.0, south, 180.0, north)]
    if east > 180.0:
        return [(west, south, 180.0, north), (-180.0, south, east - 360.0, north)]
    return [(west, south, east, north)]


def one_box(lon: float, lat: float, metres: float) -> tuple[float, float, float, float]:
    """The one box of `envelope` (a search of 100 km wraps only near the antimeridian or a pole:
    there, the box of every longitude is taken, which still holds it)."""
    boxes = envelope(lon, lat, metres)
    if len(boxes) == 1:
        return boxes[0]
    return (-180.0, min(b[1] for b in boxes), 180.0, max(b[3] for b in boxes))


def in_envelope(geom_column, lon: float, lat: float, metres: float) -> ColumnElement:
    """`geom && box` for the boxes of `envelope`: answered by the geometry GiST indexes."""
    return or_(*(geom_column.op("&&")(func.ST_MakeEnvelope(*box, 4326)) for box in envelope(lon, lat, metres)))
