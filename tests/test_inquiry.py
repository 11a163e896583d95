"""Questions asked of the database: nearby, zones at a date, overlaps, distances between
features. Expected values come from GeographicLib and PostGIS geography, not from geomap."""
from __future__ import annotations

import json
import time
from datetime import date

import pytest
from builders import group, incident, load_features, offset, site, zone
from geographiclib.geodesic import Geodesic
from sqlalchemy import text

from geomap import inquiry
from geomap.analysis.geodesy import Location
from geomap.db import near
from geomap.db.engine import read
from geomap.errors import InvalidInput, NotFound

ORIGIN = (44.21, 35.48)


def at(bearing: float, metres: float) -> tuple[float, float]:
    return offset(*ORIGIN, bearing, metres)


@pytest.fixture
def world(engine, tmp_path):
    """Incidents at known geodesic distances from ORIGIN, with dates, groups and types."""
    incidents = [
        incident("i-4km", *at(10, 4000), "2019-12-20", claims=(("alpha", "claimed"),)),
        incident("i-9km", *at(100, 9000), "2019-12-01", claims=(("beta", "accused"),), event_type="Riots"),
        incident("i-24km", *at(200, 24000), "2019-12-26", claims=(("alpha", "denied"),)),
        incident("i-26km-precise", *at(300, 26000), "2019-12-26", claims=(("alpha", "assessed"),)),
        incident("i-26km-vague", *at(300, 26000), "2019-12-26", precision=2000, claims=(("alpha", "assessed"),)),
        incident("i-40km", *at(45, 40000), "2019-12-26"),
        incident("i-4km-old", *at(10, 4000), "2018-12-20", "2019-01-05"),
    ]
    square = [(43.9, 35.3), (44.1, 35.3), (44.1, 35.6), (43.9, 35.6)]
    zones = [
        zone("z-alpha", "alpha", square, "2019-01-01", "2019-12-31"),
        zone("z-alpha-open", "alpha", [(44.5, 35.0), (44.7, 35.0), (44.7, 35.2), (44.5, 35.2)], "2019-06-01", None),
        zone("z-beta", "beta", [(44.0, 35.4), (44.3, 35.4), (44.3, 35.7), (44.0, 35.7)], "2019-01-01", "2020-12-31"),
        zone("z-beta-later", "beta", square, "2020-01-01", None),
    ]
    load_features(engine, tmp_path, groups=[group("alpha"), group("beta", "#e69f00")],
                  sites=[site("s-base", *at(62, 7600), precision=500)], zones=zones, incidents=incidents)
    return engine


def ids(results) -> list[str]:
    return [n.incident.id for n in results]


def reference_metres(lon1, lat1, lon2, lat2) -> float:
    return Geodesic.WGS84.Inverse(lat1, lon1, lat2, lon2)["s12"]


def test_nearby_finds_ranks_and_measures(world):
    found = inquiry.nearby(world, Location(*ORIGIN), 25000, date_from=date(2019, 11, 27), date_to=date(2019, 12, 27))
    assert ids(found) == ["i-4km", "i-9km", "i-24km", "i-26km-vague"]
    for n in found:
        expected = reference_metres(*ORIGIN, n.incident.location.lon, n.incident.location.lat)
        assert n.distance.best == pytest.approx(expected, abs=1e-3)
    vague = found[-1]
    assert (vague.within, vague.distance.min) == ("possibly", pytest.approx(24000, abs=1e-3))
    assert found[0].within == "yes" and found[0].bearing == pytest.approx(10, abs=1e-6)


def test_nearby_date_window_matches_intervals(world):
    found = inquiry.nearby(world, Location(*ORIGIN), 5000, date_from=date(2019, 1, 1), date_to=date(2019, 1, 1))
    assert ids(found) == ["i-4km-old"]  # 2018-12-20..2019-01-05 overlaps the day


def test_nearby_filters_by_event_type_and_attributed_group(world):
    riots = inquiry.nearby(world, Location(*ORIGIN), 30000, event_types=["Riots"])
    alpha = inquiry.nearby(world, Location(*ORIGIN), 30000, group_ids=["alpha"])
    assert ids(riots) == ["i-9km"]
    assert ids(alpha) == ["i-4km", "i-26km-precise", "i-26km-vague"]  # a denial is no attribution


def test_nearby_from_a_feature_reference_excludes_itself_and_counts_days(world):
    found = inquiry.nearby(world, "incidents/i-24km", 30000, date_from=date(2019, 12, 1))
    assert "i-24km" not in ids(found)
    by_id = {n.incident.id: n for n in found}
    assert (by_id["i-4km"].days_before.min, by_id["i-4km"].days_before.max) == (6, 6)


@pytest.mark.parametrize("on, expected", [
    (date(2018, 12, 31), set()),
    (date(2019, 1, 1), {"z-alpha", "z-beta"}),                    # valid_from is in force
    (date(2019, 12, 31), {"z-alpha", "z-alpha-open", "z-beta"}),  # valid_to is in force
    (date(2020, 1, 1), {"z-alpha-open", "z-beta", "z-beta-later"}),
    (date(2031, 1, 1), {"z-alpha-open", "z-beta-later"}),         # open ends stay in force
])
def test_zones_are_chosen_by_date(world, on, expected):
    relations, _ = inquiry.zones_at(world, Location(*ORIGIN), on)
    assert {r.zone.id for r in relations} == expected


def test_zones_at_contains_and_distance_agree_with_postgis(world):
    lon, lat = 43.95, 35.45  # inside z-alpha, about 4.5 km west of z-beta
    relations, nearest = inquiry.zones_at(world, Location(lon, lat, 100), date(2019, 12, 27))
    by_id = {r.zone.id: r for r in relations}
    assert by_id["z-alpha"].contains == "yes" and by_id["z-beta"].contains == "no"
    with world.connect() as conn:
        for zid, relation in by_id.items():
            expected = conn.execute(text(
                "SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) "
                "FROM control_zones WHERE id = :id"), dict(lon=lon, lat=lat, id=zid)).scalar_one()
            assert relation.distance.best == pytest.approx(expected, rel=1e-3, abs=0.01)
    assert nearest["alpha"].zone.id == "z-alpha" and nearest["beta"].zone.id == "z-beta"


def test_overlaps_pair_different_groups_with_geodesic_area(world):
    found = inquiry.zone_overlaps(world, date(2019, 12, 27))
    assert [(o.a.id, o.b.id) for o in found] == [("z-alpha", "z-beta")]
    with world.connect() as conn:
        expected = conn.execute(text(
            "SELECT ST_Area(ST_Intersection(a.geom::geography, b.geom::geography)) / 1e6 "
            "FROM control_zones a, control_zones b WHERE a.id = 'z-alpha' AND b.id = 'z-beta'")).scalar_one()
    assert found[0].area_km2 == pytest.approx(expected, rel=1e-3)


def test_overlaps_on_a_date_with_no_zone_in_force_are_none(world, client, database_url):
    """Issue 14 item 8: a 500 over HTTP and a traceback from `geomap overlaps` before."""
    from click.testing import CliRunner

    from geomap.cli import main

    assert inquiry.zone_overlaps(world, date(2005, 1, 1)) == []
    response = client.get("/analysis/overlaps?date=2005-01-01&f=json")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["overlaps"] == []
    result = CliRunner().invoke(main, ["overlaps", "--date", "2005-01-01"], env={"DATABASE_URL": database_url})
    assert result.exit_code == 0 and result.exception is None, result.output
    assert json.loads(result.output) == []


def test_distance_between_references(world):
    point_to_site = inquiry.distance(world, f"{ORIGIN[0]},{ORIGIN[1]},8000", "sites/s-base")
    assert point_to_site.distance.best == pytest.approx(7600, abs=1e-3)  # placed 7.6 km away by GeographicLib
    assert point_to_site.distance.min == 0.0  # 7.6 km - 8 km - 0.5 km, clamped
    assert point_to_site.distance.max == pytest.approx(7600 + 8500, abs=1e-3)
    assert point_to_site.bearing == pytest.approx(62, abs=1e-6)
    zone_to_zone = inquiry.distance(world, "zones/z-alpha", "zones/z-alpha-open")
    with world.connect() as conn:
        expected = conn.execute(text("SELECT ST_Distance(a.geom::geography, b.geom::geography) FROM control_zones a, "
                                     "control_zones b WHERE a.id = 'z-alpha' AND b.id = 'z-alpha-open'")).scalar_one()
    assert zone_to_zone.distance.best == pytest.approx(expected, rel=1e-3)
    assert inquiry.distance(world, "incidents/i-4km", "zones/z-beta").distance.best == 0.0


@pytest.mark.parametrize("ref, error", [
    ("planets/mars", InvalidInput), ("incidents/nope", NotFound), ("44.2", InvalidInput),
    ("44.2,95", InvalidInput), ("nan,35", InvalidInput), ("44.2,35.4,-1", InvalidInput),
])
def test_bad_references_are_refused_clearly(world, ref, error):
    with pytest.raises(error):
        inquiry.distance(world, ref, "sites/s-base")


@pytest.mark.parametrize("dated", [True, False], ids=["dated", "undated"])
@pytest.mark.parametrize("origin, bearing", [((179.98, 10.0), 90), ((-179.98, -20.0), 270), ((30.0, 89.9), 0),
                                             ((-60.0, -89.95), 180)])
def test_nearby_reaches_across_the_antimeridian_and_the_poles(engine, tmp_path, origin, bearing, dated):
    """The geometry indexes are searched with lon/lat boxes: they must wrap and cover the pole."""
    across = offset(*origin, bearing, 20000)  # 20 km east or west over ±180°, or over the pole
    load_features(engine, tmp_path, incidents=[incident("across", *across, "2019-12-20", precision=100),
                                               incident("too-far", *offset(*origin, bearing, 40000), "2019-12-20")])
    window = {"date_from": date(2019, 12, 1), "date_to": date(2019, 12, 31)} if dated else {}
    found = inquiry.nearby(engine, Location(*origin), 25000, **window)
    assert ids(found) == ["across"]
    assert found[0].distance.best == pytest.approx(reference_metres(*origin, *across), abs=1e-3)
    assert abs(across[0] - origin[0]) > 90  # the point is on the other side of the seam or the pole


def test_the_search_boxes_hold_every_point_within_the_radius():
    """`reach.envelope` against GeographicLib: for centres from the equator to the poles and
    on the antimeridian, and radii from 1 m to 15,000 km, the point at the radius in every
    direction lies in one of the boxes (without the 1 % margin, points due north and south of
    centres near the equator fall out: a degree of latitude is 110.6 km there, not 111.2)."""
    import random

    from geomap.db.reach import envelope

    rng = random.Random(7)
    centres = [(0.0, 0.0), (179.999, 0.0), (-179.999, 45.0), (10.0, 60.0), (10.0, -75.0), (0.0, 89.0)] + \
        [(rng.uniform(-180, 180), rng.uniform(-89.5, 89.5)) for _ in range(200)]
    for lon, lat in centres:
        for metres in (1.0, 1_000.0, 25_000.0, 100_000.0, 1_000_000.0, 5_000_000.0, 15_000_000.0):
            boxes = envelope(lon, lat, metres)
            for azimuth in range(0, 360, 10):
                end = Geodesic.WGS84.Direct(lat, lon, azimuth, metres)
                x, y = (end["lon2"] + 180.0) % 360.0 - 180.0, end["lat2"]
                assert any(w <= x <= e and s <= y <= n for w, s, e, n in boxes), (lon, lat, metres, azimuth, boxes)


def test_nearby_sees_a_wider_precision_written_after_it_kept_the_widest(world, tmp_path):
    """The largest precision is kept per connection (no query per call); a write of a wider one,
    from another connection, is still seen: the statement checks the kept value, and an empty
    answer is asked again with the one read afresh."""
    window = {"date_from": date(2019, 11, 27), "date_to": date(2019, 12, 27)}
    far = Location(*at(135, 60000))  # nothing within 10 km, while the widest precision is 2 km
    for _ in range(3):  # every pooled connection the calls use has kept the widest by now
        assert inquiry.nearby(world, far, 10000, **window) == []
    vague = incident("i-vague", *at(135, 60000 + 30000), "2019-12-26", precision=25000)
    (tmp_path / "more").mkdir()
    load_features(world, tmp_path / "more", incidents=[vague])  # 30 km away, precision 25 km: may be within 10
    assert ids(inquiry.nearby(world, far, 10000, **window)) == ["i-vague"]
    assert ids(inquiry.nearby(world, Location(*ORIGIN), 25000, **window)) == [
        "i-4km", "i-9km", "i-24km", "i-26km-vague"]  # a non-empty answer with the widest kept before the write


def test_a_pooled_connection_whose_server_process_ended_is_not_used(world):
    """No pre-ping round trip: a pooled connection the server closed is found by its socket and
    replaced, so the call after a backend's end succeeds."""
    pooled = world.connect()
    pid = pooled.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with world.connect() as other:
        pooled.close()  # back in the pool, first in line (the pool is first in, first out)
        other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    time.sleep(0.2)
    with world.connect() as conn:  # no retry here: the pool handed out a live connection
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != pid
    found = inquiry.nearby(world, Location(*ORIGIN), 25000, date_from=date(2019, 11, 27), date_to=date(2019, 12, 27))
    assert ids(found) == ["i-4km", "i-9km", "i-24km", "i-26km-vague"]


def test_nearby_whose_connection_is_lost_after_checkout_is_read_again_on_a_new_one(world):
    """The server process ends after the pool handed the connection out (its socket check passed):
    nearby's statement, run on the driver cursor, meets the closed connection and `read` runs it
    again on a new one. The rows: those PostGIS finds within the radius plus their precision."""
    window = {"date_from": date(2019, 11, 27), "date_to": date(2019, 12, 27)}
    inquiry.nearby(world, Location(*ORIGIN), 25000, **window)  # the pooled connection keeps the widest precision
    pids = []

    def work(conn):
        pids.append(conn.connection.dbapi_connection.info.backend_pid)
        if len(pids) == 1:
            with world.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({pids[0]})")
            time.sleep(0.2)
        return near.incidents_near(conn, *ORIGIN, 25000, **window)

    found = read(world, work)
    assert len(pids) == 2 and pids[0] != pids[1]
    with world.connect() as conn:
        expected = conn.execute(text(
            "SELECT id FROM incidents WHERE date_end >= :date_from AND date_start <= :date_to AND ST_DWithin("
            "geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, 25000 + precision_m)"),
            {"lon": ORIGIN[0], "lat": ORIGIN[1], **window}).scalars().all()
    assert sorted(r["id"] for r in found) == sorted(expected) == ["i-24km", "i-26km-vague", "i-4km", "i-9km"]
    assert all(set(r) == set(near.INCIDENT_COLUMNS) for r in found)


@pytest.mark.parametrize("centre", [(44.21, 35.48), (179.9, -20.0), (20.0, 69.5), (20.0, 78.0)])
def test_nearest_prior_is_each_groups_geodesic_nearest(engine, tmp_path, centre):
    """`prior.nearest_prior` ranks by a flat distance first and measures only the few near
    each group's k-th: its answer equals the k nearest by GeographicLib, at mid and high
    latitudes (past 70 degrees every candidate is measured) and across the antimeridian."""
    import numpy as np

    from geomap.db import prior

    rng = np.random.default_rng(int(abs(centre[1])))
    rows, made = [], []
    for k in range(240):
        lon, lat = offset(*centre, float(rng.uniform(0, 360)), float(rng.uniform(0, 110_000)))
        lon = (lon + 540) % 360 - 180
        day = f"2019-{int(rng.integers(1, 13)):02d}-01"
        groups = [g for g in ("alpha", "beta") if rng.random() < 0.5]
        made.append(incident(f"p-{k}", lon, lat, day, claims=tuple((g, "claimed") for g in groups)))
        rows.append((f"p-{k}", lon, lat, day, groups))
    load_features(engine, tmp_path, groups=[group("alpha"), group("beta", "#e69f00")], incidents=made)
    with engine.connect() as conn:
        found = prior.nearest_prior(conn, *centre, before=date(2019, 12, 15), within_m=100_000, days=365)
    for gid in ("alpha", "beta"):
        ranked = sorted((reference_metres(*centre, lon, lat), iid) for iid, lon, lat, day, groups in rows
                        if gid in groups and day < "2019-12-15")
        assert [r["id"] for r in found[gid]] == [iid for metres, iid in ranked if metres <= 100_000][:5]


@pytest.mark.parametrize("centre", [(44.21, 35.48), (20.0, 69.5)])
def test_nearest_prior_across_each_steps_edge(engine, tmp_path, centre):
    """`prior` sorts only a group's candidates within the first step (5, 10, 25, 50 km) that
    holds its 5 nearest, widened by the flat distance's margin. Each group here has 4 incidents
    well inside a step and two on its edge, placed (by bearing) where the flat distance and the
    geodesic one disagree on the side (they differ by at most 2 cm at 5 km, 2 m at 50 km): X,
    just inside by GeographicLib, lies outside by the flat distance, and Y, just outside, inside. The step then holds 5 by the flat distance, and X (the
    true 5th nearest) only within the margin: the 5 nearest are as GeographicLib gives them."""
    import math

    import numpy as np

    from geomap.db import prior

    (north_m, east_m), _ = prior._local_scale(centre[1])

    def flat(lon: float, lat: float) -> float:  # the flat distance of `prior.region_rows`, as written there
        east = math.radians((lon - centre[0] + 180) % 360 - 180) * east_m * math.cos(math.radians((lat + centre[1]) / 2))
        return math.hypot(east, math.radians(lat - centre[1]) * north_m)

    def placed(metres: float, outside_flat: bool) -> tuple[float, float] | None:
        for bearing in np.arange(0.0, 360.0, 0.5):
            lon, lat = offset(*centre, float(bearing), metres)
            if (flat(lon, lat) > step) == outside_flat:
                return lon, lat
        return None

    rng = np.random.default_rng(int(abs(centre[1])) + 7)
    rows, made, gids = [], [], []
    for s, step in enumerate(prior.KTH_STEPS_M):
        edge = step * step * 2e-10  # 5 mm at 5 km, 0.5 m at 50 km
        x, y = placed(step - edge, True), placed(step + edge, False)
        if x is None or y is None:
            continue
        gid = f"g{s}"
        gids.append(gid)
        inside = [offset(*centre, float(rng.uniform(0, 360)), float(rng.uniform(0.2, 0.9) * step)) for _ in range(4)]
        beyond = [offset(*centre, float(rng.uniform(0, 360)), float(rng.uniform(step * 1.05, 100_000))) for _ in range(6)]
        for k, (lon, lat) in enumerate([*inside, x, y, *beyond]):
            made.append(incident(f"{gid}-{k}", lon, lat, "2019-06-01", claims=((gid, "claimed"),)))
            rows.append((f"{gid}-{k}", lon, lat, gid))
    assert len(gids) >= 2  # edges where the two distances disagree exist at these latitudes
    load_features(engine, tmp_path, groups=[group(g) for g in gids], incidents=made)
    with engine.connect() as conn:
        found = prior.nearest_prior(conn, *centre, before=date(2019, 12, 15), within_m=100_000, days=365)
    for gid in gids:
        ranked = sorted((reference_metres(*centre, lon, lat), iid) for iid, lon, lat, g in rows if g == gid)
        assert [r["id"] for r in found[gid]] == [iid for metres, iid in ranked if metres <= 100_000][:5], gid


@pytest.mark.parametrize("centre", [(44.21, 35.48), (179.9, -20.0), (20.0, 69.5), (20.0, 78.0)])
def test_prior_and_counts_in_one_scan_match_geographiclib(engine, tmp_path, centre):
    """The report's one scan (`region.prior_and_counts`) gives each group's nearest prior
    incidents, its base counts and the neighbours (with their precision radii) as GeographicLib
    and the dates say: incidents placed just inside and outside the radii (where the flat
    distance cannot decide and the geodesic test must) and on the periods' edges, at mid and
    high latitudes and across the antimeridian."""
    from datetime import timedelta

    import numpy as np

    from geomap.db import near, region

    rng, on = np.random.default_rng(int(abs(centre[1])) + 1), date(2019, 12, 15)
    window, baseline = (on - timedelta(days=90), on), (on - timedelta(days=455), on - timedelta(days=91))
    rows, made = [], []
    for k, metres in enumerate([*rng.uniform(0, 110_000, 150), *(d + e for d in (25_000, 100_000)
                                                                 for e in (-300, -20, 20, 300) for _ in range(6))]):
        lon, lat = offset(*centre, float(rng.uniform(0, 360)), float(metres))
        lon = (lon + 540) % 360 - 180
        start = on - timedelta(days=int(rng.choice([-1, 0, 1, 90, 91, 300, 364, 365, 366, 455, 456])))
        end = start + timedelta(days=int(rng.choice([0, 0, 3])))
        groups = [g for g in ("alpha", "beta") if rng.random() < 0.6]
        precision = float(rng.choice([0.0, 0.0, 250.0, 5_000.0]))
        made.append(incident(f"r-{k}", lon, lat, start.isoformat(), end.isoformat(), precision=precision,
                             claims=tuple((g, "claimed") for g in groups)))
        rows.append((f"r-{k}", reference_metres(*centre, lon, lat), start, end, groups, precision))
    for k, bearing in enumerate((0.0, 90.0, 180.0, 270.0)):  # reached only through their precision, past 100 km
        lon, lat = offset(*centre, bearing, 104_000.0)
        lon = (lon + 540) % 360 - 180
        made.append(incident(f"far-{k}", lon, lat, on.isoformat(), precision=5_000.0))
        rows.append((f"far-{k}", reference_metres(*centre, lon, lat), on, on, [], 5_000.0))
    load_features(engine, tmp_path, groups=[group("alpha"), group("beta", "#e69f00")], incidents=made)
    with engine.connect() as conn:
        priors, counts, neighbours = region.prior_and_counts(
            conn, *centre, ["alpha", "beta", "gamma"], before=on, within_m=100_000, days=365, local_m=25_000,
            region_m=100_000, window=window, baseline=baseline, exclude=["r-0"],
            neighbours=(99_750.0, on - timedelta(days=90), on + timedelta(days=1)))
    near_from, near_to = on - timedelta(days=90), on + timedelta(days=1)
    expected = {iid: (precision, groups) for iid, metres, start, end, groups, precision in rows
                if iid != "r-0" and metres <= 99_750 + precision and end >= near_from and start <= near_to}
    assert sorted(neighbours["id"]) == sorted(expected) and expected
    assert {i: (p, n) for i, p, n in zip(neighbours["id"], neighbours["precision_m"], neighbours["group_count"],
                                         strict=True)} == {i: (p, len(g)) for i, (p, g) in expected.items()}
    assert sorted(neighbours["groups"]) == sorted(g for _, groups in expected.values() for g in groups)
    with engine.connect() as conn:  # a largest precision kept from before a wider one was written: read again
        conn.info[near.WIDEST.key] = 0.0
        again = region.prior_and_counts(
            conn, *centre, ["alpha"], before=on, within_m=100_000, days=365, local_m=25_000, region_m=100_000,
            window=window, baseline=baseline, exclude=["r-0"], neighbours=(99_750.0, near_from, near_to))[2]
    assert sorted(again["id"]) == sorted(expected)
    for gid in ("alpha", "beta"):
        mine = [(metres, iid, start, end) for iid, metres, start, end, groups, _ in rows if gid in groups]
        ranked = sorted((metres, iid) for metres, iid, start, end in mine
                        if on - timedelta(days=365) <= end < on and metres <= 100_000)
        assert [r["id"] for r in priors[gid]] == [iid for _, iid in ranked[:5]]
        counted = [(metres, start) for metres, iid, start, end in mine if iid != "r-0"]
        observed = sum(metres <= 25_000 and window[0] <= start <= window[1] for metres, start in counted)
        base = sum(metres <= 100_000 and baseline[0] <= start <= baseline[1] for metres, start in counted)
        assert counts[gid] == (observed, base) and observed and base
    assert counts["gamma"] == (0, 0) and "gamma" not in priors
