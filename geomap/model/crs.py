"""Coordinate reference systems a client may ask for (OGC API - Features Part 2): `crs` for the
coordinates of the response, `bbox-crs` for those of `bbox`.

Stored coordinates are WGS 84 longitude, latitude (CRS84, PostGIS SRID 4326); PostGIS reprojects
them (`geomap.db.crs`). Offered: CRS84; EPSG:4326, the same datum with the axes in EPSG's order,
latitude first; EPSG:3857 (Web Mercator, metres); and the 120 UTM zones on WGS 84, EPSG:32601 to
32660 (north) and 32701 to 32760 (south), easting and northing in metres. A CRS is named by its
OGC URI (`http://www.opengis.net/def/crs/EPSG/0/3857`), its safe CURIE (`[EPSG:3857]`) or its
short code (`EPSG:3857`).

Each CRS has the box its bbox values must lie in (`bounds`): where the reverse projection is
defined and means what it says. A UTM zone is a projection of its 6-degree strip; its box is
the zone's eastings (0 to 1,000,000 m) and the northings of its hemisphere.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from geomap.errors import BadRequest

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
WEB_MERCATOR_HALF = 20037508.342789244  # metres from the origin to the edge of EPSG:3857's square


@dataclass(frozen=True)
class Crs:
    """A CRS offered: its URI, its PostGIS SRID, whether its first axis is latitude (EPSG:4326),
    the box (minx, miny, maxx, maxy, in its own axis order) a bbox in it must lie in, and for a
    UTM zone the longitude of its central meridian."""

    uri: str
    srid: int
    lat_first: bool
    bounds: tuple[float, float, float, float]
    central_meridian: float | None = None

    @property
    def is_crs84(self) -> bool:
        """Whether coordinates in it are stored ones as they are (longitude, latitude)."""
        return self.uri == CRS84


def _utm(srid: int) -> Crs:
    zone, south = srid % 100, srid >= 32700
    northing = (1_000_000.0, 10_000_000.0) if south else (0.0, 9_400_000.0)
    return Crs(f"{EPSG}{srid}", srid, False, (0.0, northing[0], 1_000_000.0, northing[1]), zone * 6 - 183.0)


OFFERED: dict[str, Crs] = {c.uri: c for c in (
    Crs(CRS84, 4326, False, (-180.0, -90.0, 180.0, 90.0)),
    Crs(f"{EPSG}4326", 4326, True, (-90.0, -180.0, 90.0, 180.0)),
    Crs(f"{EPSG}3857", 3857, False, (-WEB_MERCATOR_HALF,) * 2 + (WEB_MERCATOR_HALF,) * 2),
    *(_utm(srid) for srid in (*range(32601, 32661), *range(32701, 32761))),
)}
URIS = tuple(OFFERED)
_SHORT = re.compile(r"\[?EPSG:(\d{1,6})\]?", re.IGNORECASE)


def parse(name: str, text: str) -> Crs:
    """The CRS a parameter names; a 400 naming the parameter when it is not offered."""
    uri = text.strip().replace("https://", "http://", 1)
    short = _SHORT.fullmatch(uri)
    if short:
        uri = f"{EPSG}{int(short.group(1))}"
    if uri in ("[OGC:CRS84]", "OGC:CRS84"):
        uri = CRS84
    if uri not in OFFERED:
        raise BadRequest(f"{name}: {text!r} is not offered; give {CRS84} (the default), {EPSG}4326 "
                         f"(latitude first), {EPSG}3857, or a WGS 84 UTM zone {EPSG}32601..32660 or 32701..32760")
    return OFFERED[uri]


def check_bbox(name: str, bbox: tuple[float, ...], crs: Crs) -> tuple[float, float, float, float]:
    """A bbox of 4 numbers in `crs` (its axis order), inside the CRS's box, lower corner first."""
    if len(bbox) != 4:
        raise BadRequest(f"{name}: give 4 numbers (minx,miny,maxx,maxy in the axis order of {crs.uri})")
    low_x, low_y, high_x, high_y = crs.bounds
    minx, miny, maxx, maxy = bbox
    if not (low_x <= minx <= maxx <= high_x and low_y <= miny <= maxy <= high_y):
        raise BadRequest(f"{name}: in {crs.uri} give minx,miny,maxx,maxy with x from {low_x:.15g} to {high_x:.15g} "
                         f"and y from {low_y:.15g} to {high_y:.15g}, lower corner first; got "
                         f"{','.join(f'{v:.15g}' for v in bbox)}")
    return minx, miny, maxx, maxy
