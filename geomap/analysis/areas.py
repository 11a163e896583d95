"""Geodesic areas of polygonal geometries on the WGS84 ellipsoid (Karney's polygon area,
`Geod.polygon_area_perimeter`): edges between consecutive vertices are geodesics, as PostGIS
`geography` treats them. `geomap.analysis.polygons.overlap_area_km2` densifies two zones'
edges, intersects them and measures the result here."""
from __future__ import annotations

import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from geomap.analysis.geodesy import GEOD


def geodesic_area_km2(polygon: BaseGeometry) -> float:
    """Area of a polygonal geometry on the WGS84 ellipsoid in km² (holes subtracted).

    Edges between consecutive vertices are geodesics; non-polygonal parts count 0.

    Examples
    --------
    >>> round(geodesic_area_km2(Polygon([(44, 35), (45, 35), (45, 36), (44, 36)])), 1)
    10066.3
    """
    square_metres = 0.0
    for part in polygon_parts(polygon):
        square_metres += _ring_area(part.exterior) - sum(_ring_area(h) for h in part.interiors)
    return square_metres / 1e6


def _ring_area(ring) -> float:
    # Karney's polygon area is signed by ring orientation; zones may come either way round.
    lons, lats = ring.xy
    return abs(GEOD.polygon_area_perimeter(lons, lats)[0])


def polygon_parts(geometry: BaseGeometry) -> list[Polygon]:
    """The polygons in any geometry (an intersection can hold lines and points too)."""
    return [part for part in shapely.get_parts(geometry) if isinstance(part, Polygon) and not part.is_empty]
