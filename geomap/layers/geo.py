"""Geometry for drawing: geodesic circles and lines, extents, and the static map's projection.

Static graphics are drawn in a local azimuthal equidistant projection centred on the view, in
metres, so that a scale bar in km is true and precision circles are round.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from geomap.analysis.geodesy import GEOD
from geomap.layers.scene import Bbox


def circle(lon: float, lat: float, radius_m: float, points: int = 72) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes of the geodesic circle of `radius_m` around a point (closed)."""
    azimuths = np.linspace(0.0, 360.0, points + 1)
    lons, lats, _ = GEOD.fwd(np.full_like(azimuths, lon), np.full_like(azimuths, lat), azimuths,
                             np.full_like(azimuths, float(radius_m)))
    return lons, lats


def line(lon1: float, lat1: float, lon2: float, lat2: float, points: int = 32) -> list[tuple[float, float]]:
    """The geodesic from 1 to 2 as a list of (lon, lat), ends included."""
    middle = GEOD.npts(lon1, lat1, lon2, lat2, points) if (lon1, lat1) != (lon2, lat2) else []
    return [(lon1, lat1), *middle, (lon2, lat2)]


def padded(bbox: Bbox, fraction: float = 0.08, minimum_deg: float = 0.05) -> Bbox:
    """The bbox grown on each side by `fraction` of its size (at least `minimum_deg` degrees), kept within the world."""
    w, s, e, n = bbox
    dx = max((e - w) * fraction, minimum_deg)
    dy = max((n - s) * fraction, minimum_deg)
    return max(-180.0, w - dx), max(-90.0, s - dy), min(180.0, e + dx), min(90.0, n + dy)


def union(boxes) -> Bbox | None:
    """The smallest bbox that holds all the boxes given (None ones skipped); None if there are none."""
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def point_box(lon: float, lat: float, radius_m: float = 0.0) -> Bbox:
    """The lon/lat box around a point's circle of `radius_m`."""
    if radius_m <= 0:
        return lon, lat, lon, lat
    lons, lats = circle(lon, lat, radius_m, 16)
    return float(lons.min()), float(lats.min()), float(lons.max()), float(lats.max())


@dataclass(frozen=True)
class Projection:
    """Local azimuthal equidistant projection (metres) centred on a view."""

    lon0: float
    lat0: float

    @property
    def transformer(self) -> pyproj.Transformer:
        return _transformer(round(self.lon0, 6), round(self.lat0, 6))

    def xy(self, lons, lats) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.transformer.transform(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        return np.asarray(x), np.asarray(y)

    def geometry(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda c: np.column_stack(self.xy(c[:, 0], c[:, 1])))


_TRANSFORMERS: dict[tuple[float, float], pyproj.Transformer] = {}


def _transformer(lon0: float, lat0: float) -> pyproj.Transformer:
    key = (lon0, lat0)
    if key not in _TRANSFORMERS:
        crs = pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m +no_defs")
        _TRANSFORMERS[key] = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return _TRANSFORMERS[key]


def projected_view(bbox: Bbox, aspect: float) -> tuple[Projection, tuple[float, float, float, float]]:
    """The projection centred on `bbox` and the view (xmin, xmax, ymin, ymax) in metres, widened
    to `aspect` (width / height) so that the map fills its axes without distortion."""
    w, s, e, n = bbox
    projection = Projection((w + e) / 2, (s + n) / 2)
    lons = np.array([w, e, e, w, (w + e) / 2, (w + e) / 2, w, e])
    lats = np.array([s, s, n, n, s, n, (s + n) / 2, (s + n) / 2])
    x, y = projection.xy(lons, lats)
    xmin, xmax, ymin, ymax = x.min(), x.max(), y.min(), y.max()
    width, height = max(xmax - xmin, 2000.0), max(ymax - ymin, 2000.0)
    if width / height < aspect:
        width = height * aspect
    else:
        height = width / aspect
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    return projection, (cx - width / 2, cx + width / 2, cy - height / 2, cy + height / 2)


def nice_length(metres: float) -> float:
    """The largest 1, 2 or 5 x 10^k metres not above `metres` (for scale bars)."""
    exponent = math.floor(math.log10(max(metres, 1.0)))
    for step in (5, 2, 1):
        if step * 10 ** exponent <= metres:
            return step * 10 ** exponent
    return 10 ** exponent
