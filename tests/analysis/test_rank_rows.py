"""nearby's ranking of database rows (`rank_rows`, issue 16, session 12): against brute force with
GeographicLib (distances, bearings, order by distance then id, the answer to "within?"), equal
object for object to `rank_nearby` over `Incident.from_row`'s incidents, and with the same checks:
a row whose location `Location` would refuse is refused with the same error. And the objects it
builds by `filler`: equal to and as frozen as those built by their classes' `__init__`."""
from __future__ import annotations

import dataclasses
import math
import random
from datetime import date, timedelta

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic

from geomap.analysis.frozen import filler
from geomap.analysis.geodesy import UNCHECKED_LOCATION, Distance, Location
from geomap.analysis.model import DayRange, Incident
from geomap.analysis.proximity import NearbyIncident, rank_nearby, rank_rows
from geomap.errors import InvalidInput

COLUMNS = ("id", "title", "date_start", "date_end", "event_type", "sub_event_type", "status", "precision_m",
           "target_site", "sources", "lon", "lat", "groups")  # geomap.db.near.INCIDENT_COLUMNS's order


def rows_around(seed: int, n: int = 300) -> list[tuple]:
    """Rows of COLUMNS near (44, 35.5): ties (the same points under other ids), every precision
    class, groups unsorted, sources as the driver gives them."""
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(43.6, 44.4, n), rng.uniform(35.1, 35.9, n)
    lon[:40], lat[:40] = lon[40:80], lat[40:80]
    precision = rng.choice([0.0, 250.0, 5_000.0, 30_000.0], n)
    ids = [f"i-{k:04d}" for k in rng.permutation(n)]
    day = date(2019, 1, 1)
    return [(ids[k], f"title {k}", day + timedelta(days=k % 50), day + timedelta(days=k % 50 + k % 3), "Battles",
             None if k % 2 else "Armed clash", "published", float(precision[k]), None if k % 5 else "s-1",
             [{"title": f"source {k}"}], float(lon[k]), float(lat[k]), ["g-b", "g-a"][: k % 3])
            for k in range(n)]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("radius", [None, 0.0, 12_000.0, 30_000.0])
def test_rank_rows_is_the_brute_force_ranking(seed, radius):
    rows = rows_around(seed)
    origin = Location(44.0, 35.5, 1_000.0)
    found = rank_rows(origin, rows, COLUMNS, radius)
    expected = []
    for row in rows:
        got = dict(zip(COLUMNS, row, strict=True))
        g = Geodesic.WGS84.Inverse(origin.lat, origin.lon, got["lat"], got["lon"])
        reach = origin.precision_m + got["precision_m"]
        low, high = max(0.0, g["s12"] - reach), g["s12"] + reach
        if radius is None or low <= radius:
            expected.append((g["s12"], got["id"], low, high, g["azi1"] % 360,
                             None if radius is None else ("yes" if high <= radius else "possibly")))
    expected.sort(key=lambda e: (e[0], e[1]))
    assert [n.incident.id for n in found] == [e[1] for e in expected]
    for n, (best, _, low, high, bearing, answer) in zip(found, expected, strict=True):
        assert n.distance.best == pytest.approx(best, abs=1e-6)
        assert (n.distance.min, n.distance.max) == (pytest.approx(low, abs=1e-6), pytest.approx(high, abs=1e-6))
        assert n.bearing == pytest.approx(bearing, abs=1e-9) and 0 <= n.bearing < 360
        assert n.within == answer and n.days_before is None and n.note is None
    if radius == 12_000.0:
        assert 0 < len(found) < len(rows)  # the cut matters
    ties = [n.incident.id for n in found if n.distance.best == found[0].distance.best]
    assert ties == sorted(ties)


@pytest.mark.parametrize("seed", [1, 4])
@pytest.mark.parametrize("radius", [None, 20_000.0])
@pytest.mark.parametrize("dated", [False, True])
def test_rank_rows_equals_rank_nearby_over_incidents_from_rows(seed, radius, dated):
    """The same objects as before rank_rows (dicts, `Incident.from_row`, `rank_nearby`), with the
    columns in any order."""
    rows = rows_around(seed)
    focus = (date(2019, 1, 20), date(2019, 1, 22)) if dated else None
    origin = Location(44.01, 35.49, 0.0)
    before = rank_nearby(origin, [Incident.from_row(dict(zip(COLUMNS, r, strict=True))) for r in rows], radius, focus)
    order = random.Random(seed).sample(range(len(COLUMNS)), len(COLUMNS))
    shuffled = [tuple(r[i] for i in order) for r in rows]
    found = rank_rows(origin, shuffled, [COLUMNS[i] for i in order], radius, focus)
    assert found == before and [repr(n) for n in found] == [repr(n) for n in before]
    assert all(type(n.incident.groups) is tuple and list(n.incident.groups) == sorted(n.incident.groups)
               for n in found)
    if dated:
        first = next(n for n in found)
        assert first.days_before == DayRange.between(first.incident.dates, focus)


def test_rank_rows_of_no_rows_and_a_bad_radius():
    assert rank_rows(Location(0, 0), [], COLUMNS, 10.0) == []
    with pytest.raises(InvalidInput, match="radius_m"):
        rank_rows(Location(0, 0), rows_around(1), COLUMNS, -1.0)


@pytest.mark.parametrize("column, value, message", [
    ("lon", 180.5, "longitude"), ("lon", math.nan, "longitude"), ("lat", -90.01, "latitude"),
    ("lat", math.inf, "latitude"), ("precision_m", -1.0, "precision_m"), ("precision_m", math.nan, "precision_m"),
])
def test_rank_rows_refuses_a_location_as_location_does(column, value, message):
    rows = rows_around(2)
    at = COLUMNS.index(column)
    rows[17] = rows[17][:at] + (value,) + rows[17][at + 1:]
    bad = dict(zip(COLUMNS, rows[17], strict=True))
    with pytest.raises(InvalidInput) as refused:
        Location(bad["lon"], bad["lat"], bad["precision_m"])
    with pytest.raises(InvalidInput, match=message) as also:
        rank_rows(Location(44.0, 35.5), rows, COLUMNS, None)
    assert str(also.value) == str(refused.value)


@pytest.mark.parametrize("cls, values", [
    (Distance, (1.0, 0.5, 2.0)),
    (NearbyIncident, ("an incident", Distance(1.0, 0.0, 2.0), 45.0, "yes", None, None)),
    (DayRange, (1, 3)),
])
def test_filler_builds_what_the_init_builds_still_frozen(cls, values):
    made, expected = filler(cls)(*values), cls(*values)
    assert made == expected and repr(made) == repr(expected) and hash(made) == hash(expected)
    assert dataclasses.astuple(made) == dataclasses.astuple(expected)
    name = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, name, values[0])


def test_filler_refuses_a_class_that_checks_its_values_unless_told_what_checks():
    with pytest.raises(TypeError, match="checks its values"):
        filler(Location)

    @dataclasses.dataclass
    class Loose:
        a: int

    with pytest.raises(TypeError, match="not frozen"):
        filler(Loose)
    assert UNCHECKED_LOCATION(44.0, 35.0, 10.0) == Location(44.0, 35.0, 10.0)


def test_check_all_passes_the_edges_location_passes():
    lon, lat, precision = np.array([-180.0, 180.0, 0.0]), np.array([-90.0, 90.0, 0.0]), np.array([0.0, 1e7, 5.0])
    Location.check_all(lon, lat, precision)
    for x, y, p in zip(lon, lat, precision, strict=True):
        Location(x, y, p)
