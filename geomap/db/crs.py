"""Geometries in the CRS a query asks for (`geomap.model.crs`), reprojected by PostGIS.

Output: ST_Transform from the stored SRID 4326, then ST_FlipCoordinates where the CRS's first
axis is latitude (EPSG:4326). A UTM zone projects its own strip; PROJ cannot project a point 90
degrees or more from the zone's central meridian (an SQL error, which would be a 500), and
well before that the numbers mean nothing, so a feature that reaches 80 degrees or more from
it gets a null geometry. Input: a bbox in another CRS becomes its rectangle there, densified
(64 points a side) so that its edges stay straight lines of that CRS, reprojected to 4326.
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, and_, case, func, null

from geomap.model.crs import Crs

STORED_SRID = 4326
UTM_REACH = 80.0  # degrees of longitude from a UTM zone's central meridian with coordinates
GEOGRAPHIC_DIGITS = 9  # ~0.1 mm in degrees
PROJECTED_DIGITS = 4  # 0.1 mm in metres


def digits(crs: Crs) -> int:
    """Decimal places worth writing for coordinates in `crs` (as precise as the stored ones)."""
    return GEOGRAPHIC_DIGITS if crs.srid == STORED_SRID else PROJECTED_DIGITS


def geometry(geom: ColumnElement, crs: Crs) -> ColumnElement:
    """The stored geometry in `crs`, axes in its order; null where a UTM zone cannot project it."""
    out = geom if crs.srid == STORED_SRID else func.ST_Transform(geom, crs.srid)
    if crs.lat_first:
        out = func.ST_FlipCoordinates(out)
    if crs.central_meridian is None:
        return out
    return case((and_(_within(func.ST_XMin(geom), crs.central_meridian),
                      _within(func.ST_XMax(geom), crs.central_meridian)), out), else_=null())


def _within(lon: ColumnElement, meridian: float) -> ColumnElement:
    """Whether a longitude is less than UTM_REACH degrees from the meridian, across the antimeridian too."""
    offset = lon - meridian
    return func.abs(offset - 360 * func.floor((offset + 180) / 360)) < UTM_REACH


def envelope(bbox: tuple[float, float, float, float], crs: Crs) -> ColumnElement:
    """The bbox (in `crs`'s axis order) as a polygon in the stored SRID."""
    minx, miny, maxx, maxy = (bbox[1], bbox[0], bbox[3], bbox[2]) if crs.lat_first else bbox
    box = func.ST_MakeEnvelope(minx, miny, maxx, maxy, crs.srid)
    if crs.srid == STORED_SRID:
        return box
    side = max(maxx - minx, maxy - miny) / 64 or 1.0
    return func.ST_Transform(func.ST_Segmentize(box, side), STORED_SRID)
