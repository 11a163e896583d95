"""Feasible regions: where a feature can be, given its precision disc and every location
constraint that relates it to other features (DESIGN.md decision 10).

A feature's region starts as its precision disc (a geodesic circle) and is intersected with
what each constraint allows: `within` D of B (B's region widened by D), `beyond` D of B (the
points at least D from some point of B's region), `bearing` (the sector of bearings seen from
some point of B's region, between the optional distances), `inside` a zone (widened by the
zone's `precision_m`) or the relation's own polygon. Both ends of a constraint are uncertain, so
the constraints are propagated both ways until the regions stop shrinking (arc consistency:
exact for one constraint between two features, an outer bound of the true regions otherwise).

Geometry is built in one local azimuthal equidistant projection centred on the features (true
distances and bearings from its centre, errors of a few parts per million within 100 km of it);
the circles, sectors and reaches are geodesic (pyproj.Geod, Karney's algorithm) before they are
projected, so the regions agree with GeographicLib sampling (tests/analysis/test_feasible.py).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyproj
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from geomap.analysis.geodesy import GEOD, Location
from geomap.errors import InvalidInput

CIRCLE_POINTS = 128  # vertices of a geodesic circle (chord error: 0.03 % of the radius)
ARC_STEP_DEG = 2.0  # spacing of the vertices along a sector's arc
MIN_RADIUS_M = 1.0  # an exact location (precision 0) is a 1 m disc, so that it has an area
ROUNDS = 6  # propagation rounds at most (each shrinks every region or stops)
HULL_POINTS = 32  # vertices of a region's hull kept when it is swept along a sector or cored
LOCATION_KINDS = ("within", "beyond", "bearing", "inside")


@dataclass(frozen=True)
class Constraint:
    """A location relation as the analysis reads it: `subject` (A) lies relative to `object` (B),
    both `collection/id`; `zone` is the lon/lat polygon of an `inside` relation (the object
    zone's, already widened by nothing: `zone_precision_m` says by how much to widen it)."""

    id: str
    kind: str
    subject: str
    object: str | None
    distance_min_m: float | None = None
    distance_max_m: float | None = None
    bearing_from: float | None = None
    bearing_to: float | None = None
    zone: BaseGeometry | None = None
    zone_precision_m: float = 0.0

    def ends(self) -> tuple[str, ...]:
        return (self.subject,) if self.object is None or self.kind == "inside" else (self.subject, self.object)


class Frame:
    """A local azimuthal equidistant projection (metres) centred on (lon, lat)."""

    def __init__(self, lon: float, lat: float):
        self.lon, self.lat = lon, lat
        # (a Proj, not a Transformer: made in 0.3 ms instead of 30, the same PROJ operation)
        self._proj = pyproj.Proj(f"+proj=aeqd +lat_0={lat!r} +lon_0={lon!r} +ellps=WGS84 +units=m +no_defs")

    @classmethod
    def around(cls, locations: Iterable[Location]) -> Frame:
        """The frame centred on the mean of the locations (on the unit sphere, so that it works
        across the antimeridian)."""
        lon, lat = np.radians(np.array([(loc.lon, loc.lat) for loc in locations], dtype=float)).T
        x, y, z = (np.cos(lat) * np.cos(lon)).mean(), (np.cos(lat) * np.sin(lon)).mean(), np.sin(lat).mean()
        return cls(math.degrees(math.atan2(y, x)), math.degrees(math.atan2(z, math.hypot(x, y))))

    def xy(self, lon, lat):
        return self._proj(lon, lat)

    def lonlat(self, x, y):
        return self._proj(x, y, inverse=True)

    def project(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda c: np.column_stack(self.xy(c[:, 0], c[:, 1])))

    def circle(self, lon: float, lat: float, radius_m: float) -> Polygon:
        """The geodesic circle of `radius_m` about (lon, lat), projected."""
        return self.circles([lon], [lat], radius_m)[0]

    def circles(self, lons, lats, radius_m: float) -> list[Polygon]:
        """The geodesic circles of `radius_m` about each point, computed together."""
        azimuths = np.tile(np.linspace(0.0, 360.0, CIRCLE_POINTS, endpoint=False), len(lons))
        lon0, lat0 = (np.repeat(np.asarray(v, dtype=float), CIRCLE_POINTS) for v in (lons, lats))
        ends_lon, ends_lat, _ = GEOD.fwd(lon0, lat0, azimuths, np.full_like(azimuths, max(radius_m, MIN_RADIUS_M)))
        xy = np.column_stack(self.xy(ends_lon, ends_lat)).reshape(len(lons), CIRCLE_POINTS, 2)
        return [Polygon(ring) for ring in xy]

    def sector(self, lon: float, lat: float, start: float, end: float, near: float, far: float,
               towards: bool = False) -> Polygon:
        """The points p whose bearing from (lon, lat) lies clockwise from `start` to `end` and
        whose distance is between `near` and `far`; with `towards`, those from which (lon, lat)
        lies at such a bearing (the bearing measured at p)."""
        return self.sectors([lon], [lat], start, end, near, far, towards)[0]

    def sectors(self, lons, lats, start: float, end: float, near: float, far: float,
                towards: bool = False) -> list[Polygon]:
        """`sector` about each of the points, computed together (one geodesic call for all)."""
        span = (end - start) % 360.0 or 360.0
        arc = start + np.linspace(0.0, span, max(2, int(math.ceil(span / ARC_STEP_DEG)) + 1))
        edge = np.linspace(near, far, 9)
        inner = [(a, near) for a in arc[::-1]] if near > 0 else [(start, 0.0)]
        ring = [(start, d) for d in edge[:-1]] + [(a, far) for a in arc] + [(end, d) for d in edge[::-1][1:-1]] + inner
        az, dist = (np.tile(column, len(lons)) for column in np.array(ring).T)
        origins = np.repeat(np.column_stack((lons, lats)), len(ring), axis=0)
        points = self._reach(origins[:, 0], origins[:, 1], az, dist, towards).reshape(len(lons), len(ring), 2)
        polygons = [Polygon(p) for p in points]
        return [p if p.is_valid else shapely.make_valid(p).buffer(0) for p in polygons]

    def _reach(self, lon: np.ndarray, lat: np.ndarray, az: np.ndarray, dist: np.ndarray, towards: bool) -> np.ndarray:
        """Points at `dist` along azimuth `az` from (lon, lat); with `towards`, the azimuth is the
        one at the far point looking back (solved by fixed-point steps on the back azimuth)."""
        safe = np.maximum(dist, 1e-3)
        heading = az + 180.0
        if towards:
            for _ in range(3):
                _, _, back = GEOD.fwd(lon, lat, heading, safe)
                heading = heading + ((az - back + 180.0) % 360.0 - 180.0)
        lons, lats, _ = GEOD.fwd(lon, lat, heading if towards else az, safe)
        lons = np.where(dist > 0, lons, lon)
        lats = np.where(dist > 0, lats, lat)
        return np.column_stack(self.xy(lons, lats))


@dataclass
class Region:
    """A feature's feasible region in the frame, and while it is still its precision disc, the
    disc's centre and radius (a disc widens exactly as a geodesic circle)."""

    geometry: BaseGeometry
    disc: tuple[float, float, float] | None  # lon, lat, radius_m

    def hull_points(self, frame: Frame, limit: int = HULL_POINTS) -> list[tuple[float, float]]:
        """Up to `limit` vertices of the region's convex hull, as lon/lat."""
        hull = self.geometry.convex_hull
        coords = np.asarray(hull.exterior.coords)[:-1] if isinstance(hull, Polygon) else np.asarray(hull.coords)
        if len(coords) > limit:
            coords = coords[np.linspace(0, len(coords) - 1, limit).astype(int)]
        lons, lats = frame.lonlat(coords[:, 0], coords[:, 1])
        return list(zip(np.atleast_1d(lons).tolist(), np.atleast_1d(lats).tolist(), strict=True))


class Infeasible(InvalidInput):
    """The constraints cannot all hold: a feature's feasible region is empty."""


def infeasible(feature: str, constraints: Sequence[Constraint]) -> Infeasible:
    """The error that names the constraints which leave no place for `feature`."""
    ids = ", ".join(sorted({c.id for c in constraints}))
    return Infeasible(f"the location constraints {ids} cannot all hold: no place for {feature} satisfies them with "
                      "its precision disc; check their distances and the features' points and precision_m")


# -- what one constraint allows ---------------------------------------------------------------------

def _widened(frame: Frame, region: Region, by_m: float) -> BaseGeometry:
    if region.disc is not None:
        lon, lat, radius = region.disc
        return frame.circle(lon, lat, radius + by_m)
    return region.geometry.buffer(by_m, quad_segs=CIRCLE_POINTS // 4)


def _core(frame: Frame, region: Region, distance_m: float) -> BaseGeometry:
    """The points within `distance_m` of every point of the region (of every hull vertex: the
    farthest point of a convex set is one of its vertices)."""
    if region.disc is not None:
        lon, lat, radius = region.disc
        return frame.circle(lon, lat, distance_m - radius) if distance_m > radius else Polygon()
    lons, lats = zip(*region.hull_points(frame), strict=True)
    return shapely.intersection_all(frame.circles(lons, lats, distance_m))


def _swept(frame: Frame, region: Region, c: Constraint, towards: bool, reach_m: float) -> BaseGeometry:
    """The sector of `c` swept over the region's points (the Minkowski sum, from its hull's
    vertices and, for a sector that is not convex, points inside it too)."""
    near, far = c.distance_min_m or 0.0, c.distance_max_m or reach_m
    start, end = c.bearing_from, c.bearing_to
    if region.disc is not None and region.disc[2] <= MIN_RADIUS_M:
        return frame.sector(region.disc[0], region.disc[1], start, end, near, far, towards)
    points = region.hull_points(frame)
    convex = near == 0 and (end - start) % 360.0 <= 180.0
    if not convex:
        inner = region.geometry.representative_point()
        ring = [region.geometry.centroid, inner]
        points += [frame.lonlat(p.x, p.y) for p in ring]
    lons, lats = zip(*points, strict=True)
    sectors = frame.sectors(lons, lats, start, end, near, far, towards)
    if convex:  # the sum of two convex sets is the hull of their vertices' sums
        return shapely.multipoints(np.concatenate([shapely.get_coordinates(s) for s in sectors])).convex_hull
    return shapely.union_all(sectors)


def allowed(frame: Frame, c: Constraint, regions: Mapping[str, Region], end: str,
            reach_m: float) -> tuple[bool, BaseGeometry] | None:
    """Where `end` (the subject or the object of `c`) may lie given the other end's region, as
    (inside, geometry): inside the geometry, or (False) outside it; None when `c` puts no bound
    on it (`beyond` a region that has no core)."""
    if c.kind == "inside":
        return True, frame.project(c.zone).buffer(c.zone_precision_m, quad_segs=CIRCLE_POINTS // 4)
    other = regions[c.object if end == c.subject else c.subject]
    if c.kind == "within":
        return True, _widened(frame, other, c.distance_max_m)
    if c.kind == "beyond":
        core = _core(frame, other, c.distance_min_m)
        return None if core.is_empty else (False, core)
    return True, _swept(frame, other, c, towards=end != c.subject, reach_m=reach_m)


# -- the regions -------------------------------------------------------------------------------------

def feasible_regions(locations: Mapping[str, Location], constraints: Sequence[Constraint],
                     frame: Frame | None = None) -> tuple[Frame, dict[str, Region]]:
    """The feasible region of every feature of `locations` (keyed `collection/id`) under the
    constraints (each of whose ends must be among them); Infeasible names the constraints when a
    region comes out empty.

    >>> a, b = Location(44.21, 35.48, 8000), Location(44.21, 35.48, 8300)
    >>> c = Constraint("c", "within", "incidents/a", "incidents/b", distance_max_m=304.8)
    >>> frame, regions = feasible_regions({"incidents/a": a, "incidents/b": b}, [c])
    >>> round(regions["incidents/a"].geometry.area / (math.pi * 8000 ** 2), 3)
    1.0
    """
    frame = frame or Frame.around(locations.values())
    regions = {ref: Region(frame.circle(loc.lon, loc.lat, loc.precision_m), (loc.lon, loc.lat, loc.precision_m))
               for ref, loc in locations.items()}
    reach_m = _reach(frame, locations)
    for _ in range(ROUNDS):
        if not _round(frame, regions, constraints, reach_m):
            break
    return frame, regions


def _reach(frame: Frame, locations: Mapping[str, Location]) -> float:
    """A distance beyond which no feature can lie from another (bounds open sectors)."""
    far = max(math.dist((0.0, 0.0), frame.xy(loc.lon, loc.lat)) + max(loc.precision_m, MIN_RADIUS_M)
              for loc in locations.values())
    return 2.0 * far + 1000.0


def _round(frame: Frame, regions: dict[str, Region], constraints: Sequence[Constraint], reach_m: float) -> bool:
    """Apply every constraint to both its ends once; whether any region shrank."""
    shrank = False
    for c in constraints:
        for end in c.ends():
            bound = allowed(frame, c, regions, end, reach_m)
            if bound is None:
                continue
            region = regions[end]
            before = region.geometry.area
            inside, geometry = bound
            cut = _polygons(region.geometry.intersection(geometry) if inside else region.geometry.difference(geometry))
            if cut.is_empty or cut.area <= 0.0:
                raise infeasible(end, [k for k in constraints if end in k.ends()])
            if cut.area < before * (1 - 1e-9):
                regions[end] = Region(cut, None)
                shrank = True
    return shrank


def _polygons(geom: BaseGeometry) -> BaseGeometry:
    """The areal part of an overlay's result (slivers of lower dimension dropped)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else Polygon()


def constraints_between(a: str, b: str, constraints: Iterable[Constraint]) -> list[Constraint]:
    """The constraints relating `a` and `b` directly (either way round)."""
    return [c for c in constraints if c.kind != "inside" and {c.subject, c.object} == {a, b}]


def component(refs: Iterable[str], constraints: Sequence[Constraint]) -> list[Constraint]:
    """The constraints that bear on the features `refs`: those touching them, and those touching
    the features these relate them to, and so on."""
    reached, found = set(refs), []
    remaining = [c for c in constraints if c.kind in LOCATION_KINDS]
    grew = True
    while grew:
        grew = False
        for c in list(remaining):
            if reached & set(c.ends()):
                found.append(c)
                remaining.remove(c)
                reached |= set(c.ends())
                grew = True
    return sorted(found, key=lambda c: c.id)

