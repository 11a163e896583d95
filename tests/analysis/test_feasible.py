"""Feasible regions and the distances and chances between them, against independent references:
GeographicLib (its own implementation of Karney's geodesics, not pyproj's) deciding membership
point by point, brute-force sampling in lon/lat, and the closed form for two discs."""
from __future__ import annotations

import math

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic
from shapely import contains_xy
from shapely.geometry import Polygon

from geomap.analysis.chance import extreme_distances, region_distance, two_discs
from geomap.analysis.feasible import Constraint, Infeasible, feasible_regions
from geomap.analysis.geodesy import Location

WGS84 = Geodesic.WGS84
A, B = "incidents/a", "incidents/b"


def inverse(lon1, lat1, lon2, lat2) -> tuple[float, float]:
    """GeographicLib: distance (m) and initial azimuth [0, 360) from 1 to 2."""
    g = WGS84.Inverse(lat1, lon1, lat2, lon2)
    return g["s12"], g["azi1"] % 360.0


def grid(centre: Location, half_m: float, n: int = 41) -> list[tuple[float, float]]:
    """Lon/lat points on a square grid about `centre` (GeographicLib's direct problem)."""
    points = []
    for dy in np.linspace(-half_m, half_m, n):
        north = WGS84.Direct(centre.lat, centre.lon, 0.0, dy)
        for dx in np.linspace(-half_m, half_m, n):
            east = WGS84.Direct(north["lat2"], north["lon2"], 90.0, dx)
            points.append((east["lon2"], east["lat2"]))
    return points


def agree(frame, region, points, truth, band_m) -> int:
    """Every point farther than `band_m` from the region's boundary is inside it exactly when
    `truth` says so; returns how many points were decided (not in the band)."""
    decided = 0
    boundary = region.geometry.boundary
    for lon, lat in points:
        x, y = frame.xy(lon, lat)
        margin = truth(lon, lat)
        if abs(margin) < band_m or boundary.distance(Polygon([(x, y), (x + 1e-9, y), (x, y + 1e-9)])) < band_m:
            continue
        inside = bool(contains_xy(region.geometry, x, y))
        assert inside == (margin > 0), (lon, lat, margin)
        decided += 1
    return decided


def test_within_cuts_the_disc_to_the_widened_other_disc():
    a, b = Location(44.20, 35.48, 6000), Location(44.26, 35.50, 3000)
    c = Constraint("w", "within", A, B, distance_max_m=2500)
    frame, regions = feasible_regions({A: a, B: b}, [c])

    def truth(lon, lat):  # in A's disc and within 2500 m of some point of B's disc
        return min(a.precision_m - inverse(a.lon, a.lat, lon, lat)[0],
                   b.precision_m + 2500 - inverse(b.lon, b.lat, lon, lat)[0])

    assert agree(frame, regions[A], grid(a, 7000), truth, band_m=15) > 1000


def test_beyond_removes_the_points_too_close_to_every_point_of_the_other():
    a, b = Location(44.20, 35.48, 6000), Location(44.22, 35.49, 1000)
    c = Constraint("f", "beyond", A, B, distance_min_m=4000)
    frame, regions = feasible_regions({A: a, B: b}, [c])

    def truth(lon, lat):  # farthest point of B's disc at least 4000 m away
        return min(a.precision_m - inverse(a.lon, a.lat, lon, lat)[0],
                   inverse(b.lon, b.lat, lon, lat)[0] + b.precision_m - 4000)

    assert agree(frame, regions[A], grid(a, 7000), truth, band_m=15) > 1000


def test_a_bearing_sector_with_distance_bounds_from_a_precise_point():
    base, impact = Location(43.96306, 36.2375, 0), Location(43.607785, 36.523726, 20000)
    c = Constraint("s", "bearing", A, B, 35000, 55000, 292.5, 337.5)
    frame, regions = feasible_regions({A: impact, B: base}, [c])

    def truth(lon, lat):
        metres, azimuth = inverse(base.lon, base.lat, lon, lat)
        angular = min(azimuth - 292.5, 337.5 - azimuth) * math.radians(1) * metres  # metres across
        return min(impact.precision_m - inverse(impact.lon, impact.lat, lon, lat)[0], metres - 35000,
                   55000 - metres, angular)

    assert agree(frame, regions[A], grid(impact, 21000), truth, band_m=60) > 800


def test_the_object_of_a_bearing_is_cut_to_where_the_subject_is_seen_at_that_bearing():
    """Seen from B, A lies at 0-90 degrees: B lies where A's bearing from it is in the sector."""
    a, b = Location(44.30, 35.60, 0), Location(44.30, 35.60, 10000)
    c = Constraint("s", "bearing", A, B, bearing_from=0.0, bearing_to=90.0)
    frame, regions = feasible_regions({A: a, B: b}, [c])

    def truth(lon, lat):
        metres, azimuth = inverse(lon, lat, a.lon, a.lat)  # bearing measured at B's candidate point
        angular = min(azimuth - 0.0, 90.0 - azimuth) if azimuth <= 180 else -1.0
        return min(b.precision_m - inverse(b.lon, b.lat, lon, lat)[0], angular * math.radians(1) * metres)

    assert agree(frame, regions[B], grid(b, 11000), truth, band_m=40) > 800
    assert regions[B].geometry.area == pytest.approx(math.pi * 1e8 / 4, rel=0.01)  # a quarter of the disc


def test_inside_a_zone_widened_by_its_precision():
    a = Location(44.0, 35.0, 10000)
    zone = Polygon([(43.9, 34.9), (44.0, 34.9), (44.0, 35.1), (43.9, 35.1)])
    c = Constraint("z", "inside", A, "control_zones/z", zone=zone, zone_precision_m=500)
    frame, regions = feasible_regions({A: a}, [c])
    area = regions[A].geometry.area
    assert 0.5 * math.pi * 1e8 < area < 0.56 * math.pi * 1e8  # half the disc, and a 500 m strip east


def test_k1_launch_site_to_the_execution_site_is_at_most_305_m_whatever_points_they_carry():
    for shift in (0.0, 0.01, 0.05):  # the same point, then 1 km and 4.5 km apart
        a, b = Location(44.21, 35.48, 8000), Location(44.21 + shift, 35.48, 8300)
        c = Constraint("k1", "within", A, B, distance_max_m=304.8)
        frame, regions = feasible_regions({A: a, B: b}, [c])
        distance, chance = region_distance(frame, regions[A], regions[B], A, B, [c], radius_m=305)
        assert distance.max == 304.8 and distance.min == 0.0 and 0 < distance.best < 304.8
        assert chance.answer == "yes" and chance.probability == 1.0


def test_extreme_distances_against_brute_force_sampling():
    a, b = Location(44.20, 35.48, 6000), Location(44.40, 35.52, 3000)
    c = Constraint("f", "beyond", A, B, distance_min_m=20000)
    frame, regions = feasible_regions({A: a, B: b}, [c])
    low, high = extreme_distances(frame, regions[A], regions[B])
    rng = np.random.default_rng(7)
    pa = _sample_lonlat(a, 3000, rng, keep=lambda lon, lat: inverse(b.lon, b.lat, lon, lat)[0] + 3000 >= 20000)
    pb = _sample_lonlat(b, 600, rng)
    sampled = [inverse(x, y, u, v)[0] for (x, y) in pa[:300] for (u, v) in pb[:300]]
    assert low <= min(sampled) <= low + 600 and high - 600 <= max(sampled) <= high * 1.0005


def _sample_lonlat(loc: Location, n: int, rng, keep=lambda lon, lat: True) -> list[tuple[float, float]]:
    """Uniform points in a geodesic disc, by rejection in a lon/lat box checked with GeographicLib."""
    dlat = loc.precision_m / 110_000 * 1.01
    dlon = dlat / math.cos(math.radians(loc.lat))
    found = []
    while len(found) < n:
        lon, lat = loc.lon + rng.uniform(-dlon, dlon), loc.lat + rng.uniform(-dlat, dlat)
        if inverse(loc.lon, loc.lat, lon, lat)[0] <= loc.precision_m and keep(lon, lat):
            found.append((lon, lat))
    return found


def test_infeasible_constraints_are_an_error_naming_them():
    a, b = Location(44.0, 35.0, 100), Location(44.2, 35.0, 100)  # about 18 km apart
    with pytest.raises(Infeasible, match="constraints too-close cannot all hold"):
        feasible_regions({A: a, B: b}, [Constraint("too-close", "within", A, B, distance_max_m=1000)])
    near = Location(44.0, 35.0, 5000), Location(44.0, 35.01, 5000)
    both = [Constraint("near", "within", A, B, distance_max_m=1000), Constraint("far", "beyond", A, B,
                                                                              distance_min_m=30000)]
    with pytest.raises(Infeasible, match="far, near cannot all hold"):
        feasible_regions(dict(zip((A, B), near, strict=True)), both)


# -- the chance, against other seeds and the closed form ---------------------------------------------

def test_the_monte_carlo_agrees_with_the_closed_form_for_two_discs():
    a, b = Location(44.0, 35.0, 5000), Location(44.05, 35.02, 3000)
    frame, regions = feasible_regions({A: a, B: b}, [])
    d0 = inverse(a.lon, a.lat, b.lon, b.lat)[0]
    for radius in (3000, 6000, 9000):
        _, chance = region_distance(frame, regions[A], regions[B], A, B, [], radius_m=radius)
        assert chance.probability == pytest.approx(two_discs(d0, 5000, 3000, radius), abs=0.012)


def test_the_closed_form_against_a_planar_brute_force():
    rng = np.random.default_rng(11)
    n = 400_000

    def disc(r):
        rad, t = r * np.sqrt(rng.uniform(size=n)), rng.uniform(0, 2 * math.pi, n)
        return np.column_stack((rad * np.cos(t), rad * np.sin(t)))

    for d0, r1, r2, x in ((0.0, 1.0, 1.0, 0.7), (3.0, 2.0, 1.0, 3.5), (5.0, 1.0, 4.0, 2.0)):
        gap = np.linalg.norm(disc(r1) - (disc(r2) + (d0, 0.0)), axis=1)
        assert two_discs(d0, r1, r2, x) == pytest.approx(np.mean(gap <= x), abs=0.003)


def test_the_constrained_chance_against_a_brute_force_with_another_seed():
    """Brute force: A and B sampled in lon/lat with GeographicLib, pairs kept when within 800 m."""
    a, b = Location(44.0, 35.0, 1000), Location(44.005, 35.0, 1000)
    c = Constraint("w", "within", A, B, distance_max_m=800)
    frame, regions = feasible_regions({A: a, B: b}, [c])
    _, chance = region_distance(frame, regions[A], regions[B], A, B, [c], radius_m=500, seed=1)
    rng = np.random.default_rng(99)
    pa, pb = _sample_lonlat(a, 6000, rng), _sample_lonlat(b, 6000, rng)
    gaps = np.array([inverse(x, y, u, v)[0] for (x, y), (u, v) in zip(pa, pb, strict=True)])
    kept = gaps[gaps <= 800]
    assert len(kept) > 1500
    assert chance.probability == pytest.approx(np.mean(kept <= 500), abs=0.035)


def test_the_same_seed_gives_the_same_answer():
    a, b = Location(44.0, 35.0, 1000), Location(44.005, 35.0, 1000)
    c = Constraint("w", "within", A, B, distance_max_m=800)
    frame, regions = feasible_regions({A: a, B: b}, [c])
    first = region_distance(frame, regions[A], regions[B], A, B, [c], radius_m=500)
    assert region_distance(frame, regions[A], regions[B], A, B, [c], radius_m=500) == first


def test_a_sector_swept_over_a_cut_region_against_a_brute_force_union():
    """B's region is its disc cut by a zone (no longer a disc); A lies at 0-60 degrees from B,
    within 15 km. The reference is the union itself, brute force: a point is feasible when some
    point of B's region (a 100 m lattice) sees it in the sector (pyproj's Geod, vectorised)."""
    from geomap.analysis.geodesy import GEOD

    a, b = Location(44.10, 35.10, 15000), Location(44.0, 35.0, 3000)
    zone = Polygon([(43.9, 34.9), (44.0, 34.9), (44.0, 35.1), (43.9, 35.1)])  # B's western half
    cut = Constraint("z", "inside", B, None, zone=zone)
    sector = Constraint("s", "bearing", A, B, None, 15000, 0.0, 60.0)
    frame, regions = feasible_regions({A: a, B: b}, [cut, sector])
    assert regions[B].disc is None
    minx, miny, maxx, maxy = regions[B].geometry.bounds
    xs, ys = np.meshgrid(np.arange(minx, maxx, 100.0), np.arange(miny, maxy, 100.0))
    inside = contains_xy(regions[B].geometry, xs.ravel(), ys.ravel())
    b_lon, b_lat = frame.lonlat(xs.ravel()[inside], ys.ravel()[inside])
    counts = {"seen": 0, "unseen": 0}
    for lon, lat in grid(a, 15000, n=25):
        _, _, metres = GEOD.inv(b_lon, b_lat, np.full_like(b_lon, lon), np.full_like(b_lat, lat))
        azimuth = np.asarray(GEOD.inv(b_lon, b_lat, np.full_like(b_lon, lon), np.full_like(b_lat, lat))[0]) % 360
        own = inverse(a.lon, a.lat, lon, lat)[0] <= a.precision_m
        seen = np.any((azimuth >= 1) & (azimuth <= 59) & (metres <= 14800)) and own
        unseen = not np.any(((azimuth >= 359) | (azimuth <= 61)) & (metres <= 15200)) or \
            inverse(a.lon, a.lat, lon, lat)[0] > a.precision_m + 100
        x, y = frame.xy(lon, lat)
        if seen:
            assert contains_xy(regions[A].geometry, x, y), (lon, lat)
        elif unseen:
            assert not contains_xy(regions[A].geometry, x, y), (lon, lat)
        counts["seen" if seen else "unseen"] += seen or unseen
    assert counts["seen"] > 100 and counts["unseen"] > 100, counts
