"""Point-to-point geodesy against independent references: GeographicLib (the reference
implementation of Karney's algorithm, pure Python, no PROJ) and PostGIS geography."""
from __future__ import annotations

import ast
import doctest
from pathlib import Path

import pytest
from geographiclib.geodesic import Geodesic
from sqlalchemy import text

from geomap.analysis import geodesy
from geomap.analysis.geodesy import Distance, Location, distance, normalise_bearing, point_distance, within
from geomap.errors import InvalidInput

WGS84 = Geodesic.WGS84

# (name, lon1, lat1, lon2, lat2)
PAIRS = [
    ("K-1 launch site to K-1 Air Base", 44.21, 35.48, 44.28417, 35.5125),
    ("very short, about 280 m", 44.21, 35.48, 44.2125, 35.4817),
    ("very short, about 1.1 m", 44.28417, 35.5125, 44.28418, 35.51251),
    ("due north along a meridian", 44.28417, 35.5125, 44.28417, 35.6125),
    ("regional: Kirkuk to Tehran", 44.396, 35.47, 51.389, 35.6892),
    ("long: Baghdad embassy to Washington", 44.396, 33.299, -77.0365, 38.8977),
    ("long: Kirkuk to Sydney", 44.396, 35.47, 151.2093, -33.8688),
    ("long: along the equator", 0.0, 0.0, 60.0, 0.0),
    ("near-polar: across the North Pole", 0.0, 89.9, 180.0, 89.9),
    ("near-polar: 89.9 N to 89.95 N", 10.0, 89.9, 100.0, 89.95),
    ("near-polar: south", -45.0, -89.9, 135.0, -89.8),
    ("antimeridian, east to west", 179.9, -16.5, -179.9, -16.6),
    ("antimeridian, west to east", -179.95, 52.0, 179.95, 52.1),
    ("nearly antipodal", 0.0, 30.0, 179.5, -29.8),
]


def geographiclib(lon1, lat1, lon2, lat2) -> tuple[float, float]:
    result = WGS84.Inverse(lat1, lon1, lat2, lon2)
    return result["s12"], result["azi1"] % 360.0


def bearing_gap(a: float, b: float) -> float:
    """Smallest angle between two bearings in degrees (359.9999999 and 0 are close)."""
    gap = abs(a - b) % 360.0
    return min(gap, 360.0 - gap)


@pytest.mark.parametrize("name, lon1, lat1, lon2, lat2", PAIRS, ids=[p[0] for p in PAIRS])
def test_point_distance_matches_geographiclib(name, lon1, lat1, lon2, lat2):
    metres, bearing = point_distance(lon1, lat1, lon2, lat2)
    expected_metres, expected_bearing = geographiclib(lon1, lat1, lon2, lat2)
    assert metres == pytest.approx(expected_metres, abs=1e-3)
    assert 0.0 <= bearing < 360.0
    assert bearing_gap(bearing, expected_bearing) < 1e-6


def test_pairs_cover_the_required_ranges():
    lengths = {name: geographiclib(*pair)[0] for name, *pair in PAIRS}
    assert lengths["very short, about 280 m"] < 300
    assert lengths["regional: Kirkuk to Tehran"] == pytest.approx(630_000, rel=0.02)
    assert max(lengths.values()) > 5_000_000
    assert lengths["K-1 launch site to K-1 Air Base"] == pytest.approx(7_635, abs=1)


def test_point_distance_matches_postgis_geography(engine):
    query = text("SELECT ST_Distance(ST_SetSRID(ST_MakePoint(:lon1, :lat1), 4326)::geography, "
                 "ST_SetSRID(ST_MakePoint(:lon2, :lat2), 4326)::geography)")
    with engine.connect() as conn:
        for name, lon1, lat1, lon2, lat2 in PAIRS:
            expected = conn.execute(query, dict(lon1=lon1, lat1=lat1, lon2=lon2, lat2=lat2)).scalar_one()
            metres, _ = point_distance(lon1, lat1, lon2, lat2)
            assert metres == pytest.approx(expected, abs=0.01), name


def test_distance_is_symmetric_and_zero_for_one_point():
    there, _ = point_distance(44.21, 35.48, 51.389, 35.6892)
    back, _ = point_distance(51.389, 35.6892, 44.21, 35.48)
    assert there == pytest.approx(back, abs=1e-9)
    assert point_distance(44.21, 35.48, 44.21, 35.48)[0] == 0.0


@pytest.mark.parametrize("azimuth, bearing", [(0.0, 0.0), (-0.0, 0.0), (90.0, 90.0), (-90.0, 270.0),
                                              (180.0, 180.0), (-180.0, 180.0), (-1e-17, 0.0)])
def test_bearings_are_normalised_to_0_360(azimuth, bearing):
    assert normalise_bearing(azimuth) == bearing


def test_due_bearings():
    assert point_distance(44.0, 35.0, 44.0, 36.0)[1] == pytest.approx(0.0, abs=1e-9)
    assert point_distance(44.0, 36.0, 44.0, 35.0)[1] == pytest.approx(180.0, abs=1e-9)
    assert point_distance(0.0, 0.0, 1.0, 0.0)[1] == pytest.approx(90.0, abs=1e-9)
    assert point_distance(1.0, 0.0, 0.0, 0.0)[1] == pytest.approx(270.0, abs=1e-9)


@pytest.mark.parametrize("best, radii, expected", [
    (1000.0, (), (1000.0, 1000.0, 1000.0)),
    (1000.0, (300.0, 200.0), (1000.0, 500.0, 1500.0)),
    (1000.0, (600.0, 400.0), (1000.0, 0.0, 2000.0)),   # min reaches exactly 0
    (1000.0, (8000.0, 500.0), (1000.0, 0.0, 9500.0)),  # min clamped at 0
    (0.0, (50.0,), (0.0, 0.0, 50.0)),
])
def test_distance_triple(best, radii, expected):
    d = Distance.from_best(best, *radii)
    assert (d.best, d.min, d.max) == expected
    assert d.to_dict() == dict(zip(("best", "min", "max"), expected, strict=True))


def test_distance_between_locations_uses_both_precisions():
    launch = Location(44.21, 35.48, precision_m=8000)
    base = Location(44.28417, 35.5125, precision_m=500)
    expected, _ = geographiclib(44.21, 35.48, 44.28417, 35.5125)
    d = distance(launch, base)
    assert d.best == pytest.approx(expected, abs=1e-3)
    assert d.min == 0.0
    assert d.max == pytest.approx(expected + 8500, abs=1e-3)


@pytest.mark.parametrize("radius, answer", [
    (20_000.0, "yes"),       # beyond max
    (15_000.0, "yes"),       # max == radius: the far end is still within
    (12_000.0, "possibly"),
    (5_000.0, "possibly"),   # min == radius: the near end is within
    (4_999.0, "no"),         # min > radius
    (0.0, "no"),
])
def test_within_boundaries(radius, answer):
    assert within(Distance(best=10_000.0, min=5_000.0, max=15_000.0), radius) == answer


def test_within_with_min_clamped_at_zero():
    d = Distance.from_best(100.0, 5000.0)
    assert within(d, 0.0) == "possibly"
    assert within(d, 5100.0) == "yes"


def test_exact_distance_within():
    d = Distance.from_best(7635.0)
    assert within(d, 7635.0) == "yes"
    assert within(d, 7634.999) == "no"


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_radii_are_rejected_with_a_fix(bad):
    with pytest.raises(InvalidInput, match=">= 0"):
        within(Distance(1.0, 1.0, 1.0), bad)
    with pytest.raises(InvalidInput, match=">= 0"):
        Distance.from_best(1.0, bad)
    with pytest.raises(InvalidInput, match=">= 0"):
        Location(44.0, 35.0, precision_m=bad)


@pytest.mark.parametrize("lon, lat, word", [(181.0, 0.0, "longitude"), (0.0, -90.5, "latitude"),
                                            (float("nan"), 0.0, "longitude")])
def test_locations_out_of_range_are_rejected(lon, lat, word):
    with pytest.raises(InvalidInput, match=word):
        Location(lon, lat)


def test_docstring_examples_run():
    assert doctest.testmod(geodesy).failed == 0



def imported_modules(source: str):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or ""


def test_analysis_imports_no_flask_and_no_sql():
    # DESIGN.md: analysis/ is pure Shapely + pyproj; the database and HTTP layers call it.
    banned = ("flask", "sqlalchemy", "psycopg", "geoalchemy2", "geomap.db", "geomap.api")
    for path in Path(geodesy.__file__).parent.glob("*.py"):
        found = [name for name in imported_modules(path.read_text()) if name.startswith(banned)]
        assert found == [], path.name
