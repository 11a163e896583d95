"""Distances between features that have feasible regions, and the chance that a distance is
within a radius.

The model: each feature lies anywhere in its feasible region with uniform probability, the two
independent but for the constraints between them (the pair is uniform over the pairs that
satisfy them). `P(distance <= X)` is estimated by a seeded Monte Carlo over that model, or, for
two plain precision discs with nothing between them, computed from the closed form (the area of
a lens integrated over one disc; `two_discs`).

`{best, min, max}`: `min` and `max` are the nearest and farthest two points of the regions can
be (geodesic, clipped by the constraints between them); `best` is the median distance under the
model (not the distance between the points the features carry, which a copied or reasoned point
makes meaningless).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from shapely import contains_xy, prepare
from shapely.ops import nearest_points

from geomap.analysis.feasible import Constraint, Frame, Region, infeasible
from geomap.analysis.geodesy import GEOD, Answer, Distance, check_radius, within

SAMPLES = 20_000  # pairs drawn (standard error of a probability at most 0.0035)
SEED = 20191227
QUADRATURE = 4001  # points of the closed form's radial integral


@dataclass(frozen=True)
class Chance:
    """`P(distance <= radius_m)` beside the yes / possibly / no answer, and how it was found
    (`closed form` or `monte carlo` with its sample size and seed)."""

    radius_m: float
    answer: Answer
    probability: float | None  # None where it is not computed (distances to zones)
    method: str


def uniform_points(region: Region, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` points uniform over the region (rejection from its bounding box), as an (n, 2) array."""
    prepare(region.geometry)  # (once; contains_xy over thousands of points is then several times faster)
    minx, miny, maxx, maxy = region.geometry.bounds
    fill = region.geometry.area / max((maxx - minx) * (maxy - miny), 1e-12)
    found, have = [], 0
    while have < n:
        draw = int((n - have) / max(fill, 0.01) * 1.2) + 16
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(draw, 2))
        kept = xy[contains_xy(region.geometry, xy[:, 0], xy[:, 1])]
        found.append(kept)
        have += len(kept)
    return np.concatenate(found)[:n]


def geodesic(frame: Frame, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geodesic distances (m) and bearings (degrees, raw azimuth) from points `a` to points `b`
    (both (n, 2) arrays in the frame)."""
    lon1, lat1 = frame.lonlat(a[:, 0], a[:, 1])
    lon2, lat2 = frame.lonlat(b[:, 0], b[:, 1])
    azimuth, _, metres = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(metres), np.asarray(azimuth)


def _holds(c: Constraint, a_ref: str, metres: np.ndarray, frame: Frame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Which pairs satisfy the direct constraint `c` between the features at `a` and `b`."""
    ok = np.ones(len(metres), dtype=bool)
    if c.distance_max_m is not None:
        ok &= metres <= c.distance_max_m
    if c.distance_min_m is not None:
        ok &= metres >= c.distance_min_m
    if c.kind == "bearing":
        subject, obj = (a, b) if c.subject == a_ref else (b, a)
        _, azimuth = geodesic(frame, obj, subject)
        span = (c.bearing_to - c.bearing_from) % 360.0 or 360.0
        ok &= (azimuth - c.bearing_from) % 360.0 <= span
    return ok


def sample_pairs(frame: Frame, ra: Region, rb: Region, a_ref: str, between: Sequence[Constraint],
                 n: int = SAMPLES, seed: int = SEED) -> np.ndarray:
    """`n` geodesic distances of pairs drawn from the model (module docstring): pairs uniform over
    the regions, kept when they satisfy the constraints `between` them. With a `within` of D,
    drawing both ends independently may keep few pairs, so one end may instead be drawn
    uniformly in the disc of radius D about the other (kept when it falls in its region): the
    kept pairs are uniform over the allowed ones all the same. A pilot draw picks the way that
    keeps most."""
    rng = np.random.default_rng(seed)
    reach = min((c.distance_max_m for c in between if c.kind == "within"), default=None)
    prepare(ra.geometry)
    prepare(rb.geometry)
    ways = ("independent",) if reach is None else ("independent", "about a", "about b")
    pilot = {way: _draw(way, frame, ra, rb, a_ref, between, reach, PILOT, rng) for way in ways}
    way = max(ways, key=lambda w: len(pilot[w]))
    kept, have, drawn = [pilot[way]], len(pilot[way]), PILOT
    while have < n:
        if drawn > MAX_DRAWN:
            raise infeasible(a_ref, between)
        # as many as the share kept so far says are needed (at most 2,000,000 at a time)
        size = int(min(2e6, (n - have) * drawn / max(have, 1) * 1.1 + 64))
        drawn += size
        kept.append(_draw(way, frame, ra, rb, a_ref, between, reach, size, rng))
        have += len(kept[-1])
    return np.concatenate(kept)[:n]


PILOT = 2000
MAX_DRAWN = 50_000_000  # pairs drawn before the constraints are judged (almost) never to hold


def _draw(way: str, frame: Frame, ra: Region, rb: Region, a_ref: str, between: Sequence[Constraint],
          reach: float | None, size: int, rng: np.random.Generator) -> np.ndarray:
    """The distances of the pairs of one draw of `size` that satisfy the constraints."""
    if way == "independent":
        a, b = uniform_points(ra, size, rng), uniform_points(rb, size, rng)
    elif way == "about a":
        a = uniform_points(ra, size, rng)
        b = _about(a, reach, rng)
        inside = contains_xy(rb.geometry, b[:, 0], b[:, 1])
        a, b = a[inside], b[inside]
    else:
        b = uniform_points(rb, size, rng)
        a = _about(b, reach, rng)
        inside = contains_xy(ra.geometry, a[:, 0], a[:, 1])
        a, b = a[inside], b[inside]
    metres, _ = geodesic(frame, a, b)
    ok = np.ones(len(metres), dtype=bool)
    for c in between:
        ok &= _holds(c, a_ref, metres, frame, a, b)
    return metres[ok]


def _about(points: np.ndarray, reach: float, rng: np.random.Generator) -> np.ndarray:
    """A point uniform in the (planar) disc of radius `reach` about each point, with a margin
    for the projection's scale (the constraint is then checked geodesically)."""
    r = reach * 1.001 * np.sqrt(rng.uniform(size=len(points)))
    t = rng.uniform(0.0, 2 * math.pi, size=len(points))
    return points + np.column_stack((r * np.cos(t), r * np.sin(t)))


def extreme_distances(frame: Frame, ra: Region, rb: Region) -> tuple[float, float]:
    """The geodesic distance between the nearest points of the regions (0 when they meet) and
    between their farthest (the farthest points of convex hulls are vertices)."""
    if ra.geometry.intersects(rb.geometry):
        low = 0.0
    else:
        pa, pb = nearest_points(ra.geometry, rb.geometry)
        low = float(geodesic(frame, np.array([[pa.x, pa.y]]), np.array([[pb.x, pb.y]]))[0][0])
    ha = np.array(ra.hull_points(frame, limit=256))
    hb = np.array(rb.hull_points(frame, limit=256))
    lon1, lon2 = np.meshgrid(ha[:, 0], hb[:, 0])
    lat1, lat2 = np.meshgrid(ha[:, 1], hb[:, 1])
    _, _, metres = GEOD.inv(lon1.ravel(), lat1.ravel(), lon2.ravel(), lat2.ravel())
    return low, float(np.max(metres))


def region_distance(frame: Frame, ra: Region, rb: Region, a_ref: str, b_ref: str, between: Sequence[Constraint],
                    radius_m: float | None = None, n: int = SAMPLES, seed: int = SEED) -> tuple[Distance, Chance | None]:
    """The distance triple between two features with feasible regions (clipped by the direct
    constraints `between` them), and with `radius_m` the chance it is within that radius."""
    low, high = extreme_distances(frame, ra, rb)
    for c in between:
        low = max(low, c.distance_min_m or 0.0)
        high = min(high, c.distance_max_m if c.distance_max_m is not None else high)
    if low > high:
        raise infeasible(f"{a_ref} and {b_ref}", between)
    metres = sample_pairs(frame, ra, rb, a_ref, between, n, seed)
    distance = Distance(float(np.clip(np.median(metres), low, high)), low, high)
    if radius_m is None:
        return distance, None
    radius_m = check_radius(radius_m, "radius_m")
    answer = within(distance, radius_m)
    probability = {"yes": 1.0, "no": 0.0}.get(answer, float(np.mean(metres <= radius_m)))
    return distance, Chance(radius_m, answer, probability, f"monte carlo ({len(metres)} pairs, seed {seed})")


# -- two discs: the closed form ---------------------------------------------------------------------

def lens_area(d: np.ndarray, r1: float, r2: float) -> np.ndarray:
    """Area shared by two discs of radii r1, r2 whose centres are `d` apart (vectorised)."""
    d = np.asarray(d, dtype=float)
    small, big = min(r1, r2), max(r1, r2)
    area = np.where(d <= big - small, math.pi * small ** 2, 0.0)
    part = (d > big - small) & (d < r1 + r2)
    dp = np.where(part, d, 1.0)
    a1 = r1 ** 2 * np.arccos(np.clip((dp ** 2 + r1 ** 2 - r2 ** 2) / (2 * dp * r1), -1, 1))
    a2 = r2 ** 2 * np.arccos(np.clip((dp ** 2 + r2 ** 2 - r1 ** 2) / (2 * dp * r2), -1, 1))
    k = 0.5 * np.sqrt(np.clip((-dp + r1 + r2) * (dp + r1 - r2) * (dp - r1 + r2) * (dp + r1 + r2), 0, None))
    return np.where(part, a1 + a2 - k, area)


def _arc_angle(rho: np.ndarray, d0: float, r: float) -> np.ndarray:
    """The angle of the circle of radius `rho` about one centre that lies inside a disc of radius
    `r` whose centre is `d0` away."""
    rho = np.asarray(rho, dtype=float)
    if d0 == 0:
        return np.where(rho <= r, 2 * math.pi, 0.0)
    cos = (rho ** 2 + d0 ** 2 - r ** 2) / (2 * np.maximum(rho, 1e-12) * d0)
    return np.where(rho + d0 <= r, 2 * math.pi, 2 * np.arccos(np.clip(cos, -1, 1)))


def two_discs(d0: float, r1: float, r2: float, x: float) -> float:
    """P(|A - B| <= x) for A uniform in a disc of radius r1 and B in one of radius r2, centres d0
    apart (planar): the mean over A of the share of B's disc within x of A. The share depends only
    on A's distance rho from B's centre (a lens area), so the mean is one radial integral.

    >>> round(two_discs(0.0, 1.0, 1.0, 2.0), 6)
    1.0
    >>> round(two_discs(10.0, 1.0, 1.0, 7.9), 6)
    0.0
    """
    if x <= 0:
        return 0.0
    rho = np.linspace(max(0.0, d0 - r1), d0 + r1, QUADRATURE)
    density = _arc_angle(rho, d0, r1) * rho  # measure of A's disc at distance rho from B's centre
    integrand = density * lens_area(rho, r2, x)
    total = np.trapezoid(integrand, rho) if hasattr(np, "trapezoid") else np.trapz(integrand, rho)
    return float(min(1.0, max(0.0, total / (math.pi * r1 ** 2 * math.pi * r2 ** 2))))


def disc_chance(distance: Distance, best_m: float, r1: float, r2: float, radius_m: float) -> Chance:
    """The chance for two plain precision discs (radii r1, r2, centres `best_m` apart)."""
    radius_m = check_radius(radius_m, "radius_m")
    answer = within(distance, radius_m)
    probability = {"yes": 1.0, "no": 0.0}.get(answer)
    if probability is None:
        probability = two_discs(best_m, max(r1, 1.0), max(r2, 1.0), radius_m)
    return Chance(radius_m, answer, probability, "closed form (two uniform discs)")
