"""Plain feature queries (`geomap.model.query`) translated by `geomap.db.features` into rows,
on a synthetic data set of 2,000 incidents, each checked against a brute-force filter in Python
over the files that were loaded (never against the code's own output)."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import fresh_database
from pygeofilter.parsers.cql2_text import parse as cql2
from pyproj import Geod
from shapely.geometry import box, shape

from geomap.cli import main
from geomap.db import features, prepared
from geomap.db.engine import make_engine
from geomap.errors import BadRequest
from geomap.model.query import COLLECTIONS, FeatureQuery, Near, Page, SortKey

INCIDENTS, ZONES = COLLECTIONS["incidents"], COLLECTIONS["control_zones"]
AFFIRMATIVE = ("claimed", "accused", "assessed")  # docs/data-model.md: the stances that attribute
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def synthetic(cluster, tmp_path_factory):
    """(engine, the loaded features by collection) for a synthetic data set of 2,000 incidents."""
    folder = tmp_path_factory.mktemp("synth")
    with fresh_database(cluster) as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        result = CliRunner().invoke(main, ["synth", "--incidents", "2000", "--seed", "11", "-o", str(folder), "--load"])
        assert result.exit_code == 0, result.output
        engine = make_engine(url)
        yield engine, _read(folder)
        engine.dispose()


def _read(folder: Path) -> dict[str, list[dict]]:
    lines = (folder / "incidents.geojsonseq").read_text().split("\x1e")  # RFC 8142: RS before each text
    return {"incidents": [json.loads(line) for line in lines if line.strip()],
            "control_zones": json.loads((folder / "control_zones.geojson").read_text())["features"]}


def run(engine, query: FeatureQuery) -> list[dict]:
    """Every feature the query selects (whatever page it asks for), in its order."""
    with engine.connect() as conn:
        return [json.loads(text) for text in features.stream(conn, replace(query, page=Page(limit=None)))]


def ids_of(found: list[dict]) -> list[str]:
    return [f["id"] for f in found]


def reference(data, collection: str, keep) -> list[str]:
    """The ids of the loaded features that `keep(properties, geometry)` accepts, in the order a
    query without `sortby` lists them: incidents by date_start, then id (docs: README, items);
    zones by id."""
    kept = [f for f in data[collection] if keep(f["properties"], f["geometry"])]
    start = "date_start" if collection == "incidents" else None
    return [f["id"] for f in sorted(kept, key=lambda f: (f["properties"][start] if start else "", f["id"]))]


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _overlaps(p: dict, first: str, last: str, start: date, end: date) -> bool:
    own_start, own_end = _day(p[first]), _day(p[last])
    return (own_start is None or own_start <= end) and (own_end is None or own_end >= start)


def _attributed(p: dict, groups: tuple[str, ...]) -> bool:
    return any(c["group"] in groups and c["stance"] in AFFIRMATIVE for c in p["attributions"])


def test_the_synthetic_set_is_what_the_files_hold(synthetic):
    engine, data = synthetic
    everything = run(engine, FeatureQuery(INCIDENTS))
    assert ids_of(everything) == reference(data, "incidents", lambda p, g: True) and len(everything) == 2000


BBOX = (43.0, 34.5, 44.5, 36.0)
INTERVAL = (date(2016, 1, 1), date(2017, 6, 30))


QUERIES = [
    ("bbox", FeatureQuery(INCIDENTS, bbox=BBOX),
     lambda p, g: BBOX[0] <= g["coordinates"][0] <= BBOX[2] and BBOX[1] <= g["coordinates"][1] <= BBOX[3]),
    ("interval", FeatureQuery(INCIDENTS, interval=INTERVAL),
     lambda p, g: _overlaps(p, "date_start", "date_end", *INTERVAL)),
    ("open interval", FeatureQuery(INCIDENTS, interval=(None, date(2013, 3, 1))),
     lambda p, g: _day(p["date_start"]) <= date(2013, 3, 1)),
    ("equals", FeatureQuery(INCIDENTS, equals={"event_type": ("Battles", "Riots"), "country": ("Iraq",)}),
     lambda p, g: p["event_type"] in ("Battles", "Riots") and p["country"] == "Iraq"),
    ("group", FeatureQuery(INCIDENTS, equals={"group": ("islamic-state",)}),
     lambda p, g: _attributed(p, ("islamic-state",))),
    ("all together", FeatureQuery(INCIDENTS, bbox=BBOX, interval=INTERVAL, equals={"group": ("islamic-state",)}),
     lambda p, g: _attributed(p, ("islamic-state",)) and _overlaps(p, "date_start", "date_end", *INTERVAL)
     and BBOX[0] <= g["coordinates"][0] <= BBOX[2] and BBOX[1] <= g["coordinates"][1] <= BBOX[3]),
    ("cql2 and", FeatureQuery(INCIDENTS, filter=cql2("event_type = 'Battles' AND fatalities_best >= 3")),
     lambda p, g: p["event_type"] == "Battles" and p["fatalities_best"] is not None and p["fatalities_best"] >= 3),
    ("cql2 or, in", FeatureQuery(INCIDENTS, filter=cql2("admin1 IN ('Kirkuk', 'Ninewa') OR precision_m < 5000")),
     lambda p, g: p["admin1"] in ("Kirkuk", "Ninewa") or p["precision_m"] < 5000),
    ("cql2 not, like", FeatureQuery(INCIDENTS, filter=cql2("NOT (title LIKE 'Attack%') AND status <> 'reported'")),
     lambda p, g: not p["title"].startswith("Attack") and p["status"] != "reported"),
    ("cql2 dates", FeatureQuery(INCIDENTS, filter=cql2("date_start BETWEEN DATE('2018-01-01') AND DATE('2018-06-30')")),
     lambda p, g: "2018-01-01" <= p["date_start"] <= "2018-06-30"),
    ("cql2 null", FeatureQuery(INCIDENTS, filter=cql2("target_site IS NOT NULL AND group IN ('kataib-hezbollah', 'islamic-state')")),
     lambda p, g: p["target_site"] is not None and _attributed(p, ("kataib-hezbollah", "islamic-state"))),
    ("cql2 spatial", FeatureQuery(INCIDENTS, filter=cql2("S_INTERSECTS(geometry, BBOX(38, 35, 41, 37))")),
     lambda p, g: box(38, 35, 41, 37).intersects(shape(g))),
    ("cql2 casei", FeatureQuery(INCIDENTS, filter=cql2("CASEI(location_name) LIKE '%mosul%'")),
     lambda p, g: "mosul" in (p["location_name"] or "").lower()),
    ("bbox, interval, equals", FeatureQuery(INCIDENTS, bbox=BBOX, interval=INTERVAL, equals={"country": ("Iraq",)}),
     lambda p, g: p["country"] == "Iraq" and _overlaps(p, "date_start", "date_end", *INTERVAL)
     and BBOX[0] <= g["coordinates"][0] <= BBOX[2] and BBOX[1] <= g["coordinates"][1] <= BBOX[3]),
]
# The queries whose pages run from a statement compiled once for their shape (geomap.db.prepared);
# the others (incidents' group, CQL2) are built for their own values.
COMPILED_ONCE = {"bbox", "interval", "open interval", "equals", "bbox, interval, equals"}


@pytest.mark.parametrize("name, query, keep", QUERIES)
def test_a_query_selects_what_a_brute_force_filter_selects(synthetic, name, query, keep):
    engine, data = synthetic
    expected = reference(data, "incidents", keep)
    assert 0 < len(expected) < 2000, f"{name}: the reference should split the set"
    assert ids_of(run(engine, query)) == expected


def pages(engine, query: FeatureQuery, limit: int) -> list[str]:
    """The ids of every feature the query selects, walked page by page by the keyset cursor."""
    seen, q = [], replace(query, page=Page(limit))
    with engine.connect() as conn:
        while True:
            page = features.page(conn, q)
            seen += [json.loads(text)["id"] for text in page.features]
            if not page.more:
                return seen
            q = replace(q, page=Page(limit, len(seen), page.last))


@pytest.mark.parametrize("name, query, keep", QUERIES)
def test_pages_select_what_a_brute_force_filter_selects(synthetic, name, query, keep):
    """Pages (by statements compiled once where the query's shape allows) against the same reference."""
    engine, data = synthetic
    assert (features._bound(replace(query, page=Page(150))) is not None) == (name in COMPILED_ONCE)
    assert pages(engine, query, 150) == reference(data, "incidents", keep)


def test_one_compiled_statement_serves_every_query_of_its_shape(synthetic):
    """Boxes and windows of one shape: one statement compiled, each query its own features."""
    engine, data = synthetic
    prepared.STATEMENTS.clear()
    boxes = [(38.0 + i, 33.0, 41.0 + i, 36.0 + i / 2) for i in range(4)]
    windows = [(date(2013 + i, 1, 1), date(2014 + i, 6, 30)) for i in range(4)]
    for area, window in zip(boxes, windows, strict=True):
        expected = reference(data, "incidents", lambda p, g, a=area, w=window: _overlaps(p, "date_start", "date_end", *w)
                             and a[0] <= g["coordinates"][0] <= a[2] and a[1] <= g["coordinates"][1] <= a[3])
        assert expected and pages(engine, FeatureQuery(INCIDENTS, bbox=area, interval=window), 40) == expected
    assert len(prepared.STATEMENTS) == 2  # the first page's statement, and the pages after a cursor


def test_zones_by_group_interval_and_bbox(synthetic):
    engine, data = synthetic
    window, area = (date(2017, 1, 1), date(2017, 12, 31)), (42.0, 33.0, 45.0, 37.0)
    group = data["control_zones"][0]["properties"]["group"]
    query = FeatureQuery(ZONES, bbox=area, interval=window, equals={"group": (group,)})
    expected = reference(data, "control_zones", lambda p, g: p["group"] == group and box(*area).intersects(shape(g))
                         and _overlaps(p, "valid_from", "valid_to", *window))
    assert expected and ids_of(run(engine, query)) == expected


def test_near_selects_by_geodesic_distance_nearest_first(synthetic):
    engine, data = synthetic
    lon, lat, radius = 43.13, 36.34, 40_000.0
    distance = {f["id"]: GEOD.inv(lon, lat, *f["geometry"]["coordinates"])[2] for f in data["incidents"]}
    assert all(abs(d - radius) > 1.0 for d in distance.values()), "no incident so close to the edge that it is moot"
    expected = sorted((d, i) for i, d in distance.items() if d <= radius)
    found = run(engine, FeatureQuery(INCIDENTS, near=Near(lon, lat, radius)))
    assert len(expected) > 10 and ids_of(found) == [i for _, i in expected]
    assert all(abs(f["properties"]["distance_m"] - distance[f["id"]]) < 0.01 for f in found)


def test_pages_in_sort_order_cover_the_result_once(synthetic):
    engine, data = synthetic
    keys = (SortKey("date_start", ascending=False), SortKey("event_type"))
    expected = [f["id"] for f in sorted(sorted(data["incidents"], key=lambda f: (f["properties"]["event_type"], f["id"])),
                                        key=lambda f: f["properties"]["date_start"], reverse=True)]
    seen, offset = [], 0
    with engine.connect() as conn:
        while True:
            page = features.page(conn, FeatureQuery(INCIDENTS, sortby=keys, page=Page(limit=300, offset=offset)))
            seen += [json.loads(text)["id"] for text in page.features]
            offset += 300
            if not page.more:
                break
    assert seen == expected


@pytest.mark.parametrize("text, names", [
    ("secret = 1", "'secret' is not a queryable of incidents"),
    ("notes LIKE '%x%'", "'notes' is not a queryable of incidents"),
    ("group LIKE 'islamic%'", "group can only be compared with =, <> or IN"),
    ("S_INTERSECTS(title, BBOX(1, 2, 3, 4))", "spatial predicates apply to 'geometry'"),
])
def test_a_filter_that_the_collection_cannot_answer_is_a_bad_request_naming_filter(synthetic, text, names):
    engine, _ = synthetic
    with pytest.raises(BadRequest, match="^filter: ") as raised:
        run(engine, FeatureQuery(INCIDENTS, filter=cql2(text)))
    assert names in str(raised.value) and raised.value.status == 400


def test_every_collection_is_stored_and_described_once():
    """One definition each: the model's collections, where db/ stores them, what api/ calls them."""
    from geomap.api.catalogue import DESCRIBED
    from geomap.db.stored import STORED

    assert set(COLLECTIONS) == set(STORED) == set(DESCRIBED)
    for cid, collection in COLLECTIONS.items():
        stored = STORED[cid]
        assert stored.collection is collection
        for name in (*collection.queryables, *(collection.temporal or ())):
            if not (cid == "incidents" and name == "group"):  # attributed groups: a rule, not a column
                assert stored.column(name) is not None
