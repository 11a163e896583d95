"""Distance to, containment in and overlap of zones (Polygon / MultiPolygon in lon/lat).

Semantics
---------
A zone's edges are **geodesics on WGS84**, as PostGIS `geography` treats them (a 100 km
east-west edge at 35 N bows about 140 m poleward of the straight lon/lat line). So:

1. Every ring is first **densified along its geodesic edges** (a vertex at least every
   `DENSIFY_M` = 1 km, via `Geod.npts`). A straight segment between consecutive vertices then
   departs from the true geodesic by about a centimetre (L² tan(lat) / 8R: 1.4 cm at 35 N).
2. Distances and containment are computed in an **azimuthal equidistant (AEQD) projection
   centred on the query point**. There, distance from the centre *is* the geodesic distance
   (PROJ's ellipsoidal aeqd runs Karney's geodesic), and every geodesic through the centre is
   a straight line, so a point lying on a geodesic edge lands on the projected boundary. Only
   the runs of the boundary that may hold the nearest point are projected (`_Outline`), and
   containment is read from the lon/lat polygon where it cannot differ (a metre or more from
   the boundary, below 85 degrees); the answers are those of the whole projection.
3. The nearest boundary point found in the projection is mapped back to lon/lat and its
   distance **re-measured with `Geod.inv`**: the number returned is an ellipsoidal geodesic
   distance to a real point of the zone's boundary.
4. The **boundary belongs to the zone** (a closed set, like `ST_Covers`): a point within
   `BOUNDARY_TOLERANCE_M` (1 mm) of the boundary is on it. That is far below any location
   precision, above projection round-off, and above the 1e-10 earth radii (0.64 mm) within
   which PROJ's aeqd inverse snaps a point onto the centre. Holes are outside the zone; their
   rings are boundary.
5. Overlap areas intersect the densified zones and measure the result's **geodesic area**
   (`geomap.analysis.areas`), in km².

Zones must be valid (see `geomap.io.geometry`), must not cross the antimeridian (RFC 7946
asks for such rings to be split there) and must not enclose a pole.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyproj
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from geomap.analysis.areas import geodesic_area_km2, polygon_parts
from geomap.analysis.geodesy import GEOD, Answer, Distance, check_radius

Zone = Polygon | MultiPolygon

DENSIFY_M = 1000.0
BOUNDARY_TOLERANCE_M = 1e-3
ORIGIN = Point(0.0, 0.0)


def densify(zone: Zone, max_segment_m: float = DENSIFY_M) -> Zone:
    """Add vertices along each geodesic edge so that no segment is longer than `max_segment_m`.

    Examples
    --------
    >>> square = Polygon([(44, 35), (45, 35), (45, 36), (44, 36)])
    >>> len(square.exterior.coords), len(densify(square).exterior.coords) > 400
    (5, True)
    """
    _check_zone(zone)
    if not max_segment_m > 0:
        raise ValueError(f"max_segment_m must be a positive number of metres; got {max_segment_m!r}")
    polygons = [_densify_polygon(part, max_segment_m) for part in polygon_parts(zone)]
    return polygons[0] if isinstance(zone, Polygon) else MultiPolygon(polygons)


def _densify_polygon(polygon: Polygon, max_segment_m: float) -> Polygon:
    def ring(r) -> np.ndarray:
        return _densify_ring(np.asarray(r.coords)[:, :2], max_segment_m)
    return Polygon(ring(polygon.exterior), [ring(hole) for hole in polygon.interiors])


def _densify_ring(coords: np.ndarray, max_segment_m: float) -> np.ndarray:
    lons, lats = coords[:, 0], coords[:, 1]
    _, _, lengths = GEOD.inv(lons[:-1], lats[:-1], lons[1:], lats[1:])
    out = []
    for i, length in enumerate(lengths):
        out.append(coords[i])
        extra = math.ceil(length / max_segment_m) - 1
        if extra > 0:
            out.extend(GEOD.npts(lons[i], lats[i], lons[i + 1], lats[i + 1], extra))
    out.append(coords[-1])
    return np.asarray(out, dtype=float)


@lru_cache(maxsize=256)
def _densified(zone: Zone) -> Zone:
    # Zones are immutable and hashable; a report asks many questions of the same zone.
    return densify(zone)


@lru_cache(maxsize=1024)
def _aeqd(lon: float, lat: float) -> pyproj.Transformer:
    """Degrees lon/lat <-> metres in an AEQD projection centred on (lon, lat)."""
    # A bare PROJ pipeline builds in ~0.1 ms; going through CRS objects costs ~10 ms.
    return pyproj.Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj=aeqd +lon_0={lon!r} +lat_0={lat!r} +ellps=WGS84")


def _project(zone: BaseGeometry, transformer: pyproj.Transformer) -> BaseGeometry:
    return shapely.transform(zone, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def _locate(lon: float, lat: float, zone: Zone) -> tuple[bool, float, tuple[float, float]]:
    """Whether (lon, lat) is in the zone, its geodesic distance to the zone's boundary in
    metres, and the nearest boundary point (lon, lat)."""
    return _locate_all(lon, lat, [zone])[0]


def _locate_all(lon: float, lat: float, zones: Sequence[Zone]) -> list[tuple[bool, float, tuple[float, float]]]:
    """`_locate` for each zone, from one point: each step one call over every zone.

    Only the runs of the boundary that may hold the nearest point are projected (`_Outline`):
    a report relates every zone in force to its focus, and projecting each whole zone was the
    largest part of the report's Python (issue 16). Containment is read in lon/lat, where that
    cannot differ from the projection's answer; otherwise the zone is projected whole."""
    outlines = [_outline(zone) for zone in zones]
    if not outlines:
        return []
    lon, lat = float(lon), float(lat)
    transformer = _aeqd(lon, lat)
    centres = np.concatenate([o.centre for o in outlines])
    _, _, d = GEOD.inv(np.full(len(centres), lon), np.full(len(centres), lat), centres[:, 0], centres[:, 1])
    runs = [o.candidates(ds) for o, ds in zip(outlines, np.split(d, np.cumsum([len(o.centre) for o in outlines])[:-1]),
                                              strict=True)]
    vertices = [o.vertices(r) for o, r in zip(outlines, runs, strict=True)]
    x, y = transformer.transform(*np.concatenate(vertices).T)
    cuts = np.cumsum([len(v) for v in vertices])[:-1]
    near = np.array([_nearest_on_runs(xs, ys, o.breaks(r)) for o, r, xs, ys in
                     zip(outlines, runs, np.split(x, cuts), np.split(y, cuts), strict=True)])
    near_lon, near_lat = transformer.transform(near[:, 0], near[:, 1], direction="INVERSE")
    _, _, metres = GEOD.inv(np.full(len(near), lon), np.full(len(near), lat), near_lon, near_lat)
    nearest = zip(near_lon.tolist(), near_lat.tolist(), strict=True)
    return [(_inside(lon, lat, o, transformer, m), 0.0 if m <= BOUNDARY_TOLERANCE_M else m, point)
            for o, m, point in zip(outlines, metres.tolist(), nearest, strict=True)]


def _inside(lon: float, lat: float, outline: _Outline, transformer: pyproj.Transformer, metres: float) -> bool:
    """Is (lon, lat), `metres` from the zone's boundary, in the zone (the boundary included)?"""
    if metres <= BOUNDARY_TOLERANCE_M:
        return True
    if metres > LONLAT_SAFE_M and outline.max_abs_lat <= LONLAT_MAX_LAT:
        return bool(shapely.contains_xy(outline.dense, lon, lat))
    return _project(outline.dense, transformer).covers(ORIGIN)


# Runs of RUN consecutive densified vertices are what `_locate` projects or skips (8 km of
# boundary at DENSIFY_M): short enough that one or two runs usually hold the nearest point.
RUN = 8
# Containment is read from the lon/lat polygon only a metre or more from the boundary and below
# 85 degrees of latitude: there a lon/lat line between two densified vertices (at most DENSIFY_M
# apart) departs from the geodesic by at most L^2 tan(lat) / 8R = 0.22 m, and the projection's
# straight segments by far less, so both polygons put the point on the same side.
LONLAT_SAFE_M, LONLAT_MAX_LAT = 1.0, 85.0
WGS84_B = 6_356_752.314245  # the semi-minor axis: the smallest radius, the largest angle per metre


@dataclass(frozen=True, eq=False)
class _Outline:
    """A densified zone's boundary cut into runs of consecutive vertices (a run shares its last
    vertex with the next run of its ring, so each segment is in one run), with what bounds the
    distance from any point to a run without projecting it: the geodesic circle about the run's
    middle vertex that holds the run's vertices, and the run's longest segment."""

    dense: Zone  # the densified zone, prepared (lon/lat containment)
    coords: np.ndarray  # (n, 2) lon/lat: the runs' vertices, one run after another
    starts: np.ndarray  # run i is coords[starts[i]:starts[i + 1]]
    centre: np.ndarray  # (runs, 2) lon/lat of each run's middle vertex
    radius_m: np.ndarray  # the farthest vertex of each run from its centre
    step_m: np.ndarray  # each run's longest segment
    max_abs_lat: float

    @classmethod
    def of(cls, dense: Zone) -> _Outline:
        runs = [ring[i:min(i + RUN, len(ring) - 1) + 1] for ring in _rings(dense) for i in range(0, len(ring) - 1, RUN)]
        coords = np.concatenate(runs)
        starts = np.cumsum([0] + [len(r) for r in runs])
        centre = np.array([r[len(r) // 2] for r in runs])
        owner = np.repeat(np.arange(len(runs)), [len(r) for r in runs])
        _, _, from_centre = GEOD.inv(centre[owner, 0], centre[owner, 1], coords[:, 0], coords[:, 1])
        _, _, steps = GEOD.inv(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1])
        steps[starts[1:-1] - 1] = 0.0  # the pairs across two runs are no segment
        shapely.prepare(dense)
        return cls(dense, coords, starts, centre, np.maximum.reduceat(from_centre, starts[:-1]),
                   np.maximum.reduceat(np.append(steps, 0.0), starts[:-1]), float(np.abs(coords[:, 1]).max()))

    def candidates(self, d: np.ndarray) -> np.ndarray:
        """The runs that may hold the boundary point nearest a point in its AEQD projection, from
        the point's geodesic distances `d` to the runs' centres.

        The nearest boundary point is no farther than the nearest run centre (a vertex), and a
        vertex's distance from the projection's centre is its geodesic distance (d for the
        centres, at least d - radius for the run's other vertices); a point of
        a projected segment PQ is within |PQ| / 2 of P or Q, and |PQ| is at most the segment's
        length times the projection's largest scale out to that distance (sigma / sin sigma on
        a sphere of the semi-minor axis, 1 % added for the ellipsoid; beyond 0.9 pi, unbounded:
        such runs are always projected). A run nearer by no bound than that is skipped."""
        sigma = (d + self.radius_m + self.step_m) / WGS84_B
        scale = np.where(sigma < 0.9 * math.pi, 1.01 / np.sinc(np.minimum(sigma, 0.9 * math.pi) / math.pi), np.inf)
        low = d - self.radius_m - scale * self.step_m / 2 - 1.0
        return np.flatnonzero(~(low > d.min()))

    def vertices(self, runs: np.ndarray) -> np.ndarray:
        """The vertices of the runs given, run after run."""
        return np.concatenate([self.coords[self.starts[i]:self.starts[i + 1]] for i in runs])

    def breaks(self, runs: np.ndarray) -> np.ndarray:
        """Where `vertices(runs)` passes from one run to the next: the indices of the last vertex
        of each run but the last."""
        return np.cumsum(self.starts[runs + 1] - self.starts[runs])[:-1] - 1


def _rings(zone: Zone) -> list[np.ndarray]:
    return [np.asarray(r.coords)[:, :2] for part in polygon_parts(zone) for r in (part.exterior, *part.interiors)]


@lru_cache(maxsize=256)
def _outline(zone: Zone) -> _Outline:
    # Keyed by the zone's geometry itself (its coordinates): a changed zone is another key.
    return _Outline.of(_densified(zone))


def _nearest_on_runs(x: np.ndarray, y: np.ndarray, breaks: np.ndarray) -> tuple[float, float]:
    """The point nearest the origin of the segments between consecutive (x, y), but for the
    pairs that start at `breaks` (one run's last vertex, the next run's first)."""
    px, py, dx, dy = x[:-1], y[:-1], np.diff(x), np.diff(y)
    length2 = dx * dx + dy * dy
    t = np.clip(-(px * dx + py * dy) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    nx, ny = px + t * dx, py + t * dy
    apart = nx * nx + ny * ny
    apart[breaks] = np.inf
    i = int(np.argmin(apart))
    return float(nx[i]), float(ny[i])


def nearest_boundary_point(lon: float, lat: float, polygon: Zone) -> tuple[float, float, float]:
    """The point of the zone's boundary nearest to (lon, lat): (lon, lat, metres away).

    Useful to draw the line a reported distance was measured along.
    """
    _check_zone(polygon)
    _, metres, (near_lon, near_lat) = _locate(lon, lat, polygon)
    return near_lon, near_lat, metres


def point_to_polygon_distance(lon: float, lat: float, polygon: Zone) -> float:
    """Geodesic distance in metres from a point to a zone; 0 inside or on the boundary.

    A point inside a hole is outside the zone: its distance is to the hole's ring.

    Examples
    --------
    >>> zone = Polygon([(44.0, 35.0), (44.1, 35.0), (44.1, 35.1), (44.0, 35.1)])
    >>> point_to_polygon_distance(44.05, 35.05, zone)
    0.0
    >>> round(point_to_polygon_distance(44.2, 35.05, zone))  # east of a meridian edge
    9123
    """
    _check_zone(polygon)
    inside, metres, _ = _locate(lon, lat, polygon)
    return 0.0 if inside else metres


def contains(polygon: Zone, lon: float, lat: float, precision_m: float = 0.0) -> Answer:
    """Is a point with precision radius `precision_m` in the zone?

    "yes" when the point is in the zone (its boundary included) and at least `precision_m`
    from the boundary; "no" when it is outside by more than `precision_m`; "possibly" when the
    precision circle reaches the boundary.

    Examples
    --------
    >>> zone = Polygon([(44.0, 35.0), (44.1, 35.0), (44.1, 35.1), (44.0, 35.1)])
    >>> contains(zone, 44.05, 35.05), contains(zone, 44.05, 35.05, precision_m=8000)
    ('yes', 'possibly')
    >>> contains(zone, 44.0, 35.05), contains(zone, 44.2, 35.05, precision_m=5000)
    ('yes', 'no')
    """
    return relate_point(lon, lat, precision_m, polygon)[0]


def distance_to_zone(lon: float, lat: float, precision_m: float, polygon: Zone,
                     zone_precision_m: float = 0.0) -> Distance:
    """Distance triple from an uncertain point to an uncertain zone (best is 0 inside).

    Examples
    --------
    >>> zone = Polygon([(44.0, 35.0), (44.1, 35.0), (44.1, 35.1), (44.0, 35.1)])
    >>> d = distance_to_zone(44.2, 35.05, 5000, zone, zone_precision_m=1000)
    >>> round(d.best), round(d.min), round(d.max)
    (9123, 3123, 15123)
    """
    return relate_point(lon, lat, precision_m, polygon, zone_precision_m)[1]


def relate_point(lon: float, lat: float, precision_m: float, polygon: Zone,
                 zone_precision_m: float = 0.0) -> tuple[Answer, Distance]:
    """`contains` (with both radii) and `distance_to_zone` at once, measuring the zone once."""
    return relate_points(lon, lat, precision_m, [(polygon, zone_precision_m)])[0]


def relate_points(lon: float, lat: float, precision_m: float,
                  zones: Sequence[tuple[Zone, float]]) -> list[tuple[Answer, Distance]]:
    """`relate_point` for each (zone, zone_precision_m), from one point: every zone measured at once."""
    for polygon, zone_precision_m in zones:
        _check_zone(polygon)
        check_radius(zone_precision_m)
    check_radius(precision_m)
    found = []
    for (inside, metres, _), (_, zone_precision_m) in zip(_locate_all(lon, lat, [z for z, _ in zones]), zones,
                                                          strict=True):
        reach = precision_m + zone_precision_m
        if inside:
            answer = "yes" if metres >= reach else "possibly"
        else:
            answer = "no" if metres > reach else "possibly"
        found.append((answer, Distance.from_best(0.0 if inside else metres, precision_m, zone_precision_m)))
    return found


def polygon_to_polygon_distance(a: Zone, b: Zone) -> float:
    """Geodesic distance in metres between two zones; 0 when they touch or overlap.

    Examples
    --------
    >>> a = Polygon([(44.0, 35.0), (44.1, 35.0), (44.1, 35.1), (44.0, 35.1)])
    >>> b = Polygon([(44.2, 35.0), (44.3, 35.0), (44.3, 35.1), (44.2, 35.1)])
    >>> round(polygon_to_polygon_distance(a, b))
    9118
    """
    _check_zone(a)
    _check_zone(b)
    dense_a, dense_b = _densified(a), _densified(b)
    # Densified rings follow the geodesic edges to ~1 cm even as lon/lat lines.
    if dense_a.intersects(dense_b):
        return 0.0
    # First pass between the two zones, then re-centre on the nearest point of `a` found,
    # where the projection is exact in distance from that point and nearly so around it.
    centre = _midpoint(dense_a.centroid, dense_b.centroid)
    near_a, near_b = _nearest_pair(dense_a, dense_b, centre)
    near_a, near_b = _nearest_pair(dense_a, dense_b, near_a)
    return GEOD.inv(*near_a, *near_b)[2]


def _nearest_pair(a: Zone, b: Zone, centre: tuple[float, float]) -> tuple[tuple[float, float], ...]:
    """Nearest boundary points of `a` and `b` (lon, lat each), found in AEQD at `centre`."""
    transformer = _aeqd(*centre)
    line = shapely.shortest_line(_project(a, transformer).boundary, _project(b, transformer).boundary)
    (xa, ya), (xb, yb) = line.coords
    return (transformer.transform(xa, ya, direction="INVERSE"),
            transformer.transform(xb, yb, direction="INVERSE"))


def _midpoint(p: Point, q: Point) -> tuple[float, float]:
    azimuth, _, metres = GEOD.inv(p.x, p.y, q.x, q.y)
    lon, lat, _ = GEOD.fwd(p.x, p.y, azimuth, metres / 2)
    return float(lon), float(lat)


def zone_distance(a: Zone, ra: float, b: Zone, rb: float) -> Distance:
    """Distance triple between two zones with precision radii `ra` and `rb` metres."""
    return Distance.from_best(polygon_to_polygon_distance(a, b), ra, rb)


def overlap_area_km2(a: Zone, b: Zone) -> float:
    """Geodesic area in km² of the overlap of two zones; 0.0 when they only touch or are apart.

    Examples
    --------
    >>> a = Polygon([(44.0, 35.0), (44.2, 35.0), (44.2, 35.2), (44.0, 35.2)])
    >>> b = Polygon([(44.1, 35.1), (44.3, 35.1), (44.3, 35.3), (44.1, 35.3)])
    >>> round(overlap_area_km2(a, b), 2)
    101.09
    """
    _check_zone(a)
    _check_zone(b)
    # Densified first so the planar intersection follows the geodesic edges to ~1 cm.
    overlap = _densified(a).intersection(_densified(b))
    return geodesic_area_km2(overlap)


def _check_zone(zone: object) -> None:
    if not isinstance(zone, (Polygon, MultiPolygon)) or zone.is_empty:
        raise TypeError(f"a zone must be a non-empty shapely Polygon or MultiPolygon in lon/lat; "
                        f"got {type(zone).__name__}")
