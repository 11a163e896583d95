"""Paging, counts and the Part 1 parameters over a few hundred generated incidents: every page
walk, count and filter checked against the same selection made here in Python from the features
loaded (a brute force, not geomap's queries)."""
from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from builders import incident, load_features

from geomap import create_app
from geomap.db import counts

N = 240


def generated() -> list[dict]:
    rng = random.Random(7)
    features = []
    for i in range(N):
        day = date(2019, 1, 1) + timedelta(days=rng.randrange(730))
        lon = rng.uniform(-179.9, 179.9) if i % 10 == 0 else rng.uniform(40, 48)
        f = incident(f"gen-{i:03d}", lon, rng.uniform(30, 37), day.isoformat(),
                     (day + timedelta(days=rng.choice([0, 0, 3]))).isoformat(),
                     precision=rng.choice([2000.0, 10000.0, 1234.5]),
                     event_type=rng.choice(["Battles", "Riots", "Protests"]))
        f["properties"]["fatalities_best"] = rng.choice([None, 0, 1, 5, 12])
        f["properties"]["admin2"] = rng.choice([None, "Kirkuk", "Hawija", "Daquq"])
        features.append(f)
    return features


FEATURES = generated()
BY_ID = {f["id"]: f for f in FEATURES}


@pytest.fixture(scope="module")
def api(cluster, tmp_path_factory):
    from conftest import fresh_database

    with fresh_database(cluster) as url:
        app = create_app({"DATABASE_URL": url})
        load_features(app.extensions["geomap.engine"], tmp_path_factory.mktemp("paging"), incidents=FEATURES)
        yield app.test_client()
        app.extensions["geomap.engine"].dispose()


def walk(api, url: str) -> tuple[list[str], list[dict]]:
    """Every feature id, following next links from `url`, and every page's envelope."""
    seen, pages = [], []
    while url:
        body = api.get(url.replace("http://localhost", "")).get_json()
        assert "features" in body, body
        seen += [f["id"] for f in body["features"]]
        pages.append(body)
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    return seen, pages


def python_order(keys: list[tuple[str, bool]]):
    """PostgreSQL's order in Python: nulls last ascending, first descending, then the id."""
    def key(fid):
        p = BY_ID[fid]["properties"]
        parts = []
        for name, ascending in keys:
            value = p[name]
            if ascending:
                parts.append((value is None, value if value is not None else 0))
            else:
                parts.append((value is not None, _negated(value)))
        return (*parts, fid)
    return key


def _negated(value):
    if value is None:
        return 0
    if isinstance(value, str):
        return tuple(-ord(c) for c in value) + (1,)  # descending strings; a prefix after its extensions
    return -value


@pytest.mark.parametrize("sortby", ["", "-date_start", "fatalities_best", "-fatalities_best,admin2",
                                    "admin2,-precision_m", "-admin2,date_end"])
def test_next_links_walk_every_feature_once_in_order(api, sortby):
    """Without `sortby`, incidents come in date order (date_start, then id)."""
    keys = [(k.lstrip("-"), not k.startswith("-")) for k in sortby.split(",") if k] or [("date_start", True)]
    seen, pages = walk(api, f"/collections/incidents/items?limit=17&sortby={sortby}" if sortby
                       else "/collections/incidents/items?limit=17")
    assert seen == sorted(BY_ID, key=python_order(keys))
    assert len(pages) == -(-N // 17)
    assert all(p["numberMatched"] == N and p["numberMatchedExact"] for p in pages)
    assert all("cursor=" in link["href"] for p in pages for link in p["links"] if link["rel"] == "next")


def test_offset_pages_are_the_cursor_pages(api):
    seen, _ = walk(api, "/collections/incidents/items?limit=25&sortby=-fatalities_best")
    for offset in (0, 25, 100, 225):
        body = api.get(f"/collections/incidents/items?limit=25&sortby=-fatalities_best&offset={offset}").get_json()
        assert [f["id"] for f in body["features"]] == seen[offset:offset + 25]
        prev = [link["href"] for link in body["links"] if link["rel"] == "prev"]
        assert bool(prev) == (offset > 0)


def test_a_cursor_with_an_offset_or_another_order_is_refused(api):
    body = api.get("/collections/incidents/items?limit=5&sortby=admin2").get_json()
    cursor = next(link["href"] for link in body["links"] if link["rel"] == "next").split("cursor=")[1]
    both = api.get(f"/collections/incidents/items?limit=5&sortby=admin2&cursor={cursor}&offset=5")
    assert both.status_code == 400 and {e["field"] for e in both.get_json()["errors"]} == {"cursor", "offset"}
    other = api.get(f"/collections/incidents/items?limit=5&sortby=date_start&cursor={cursor}")
    assert other.status_code == 400 and other.get_json()["detail"].startswith("cursor:")


def in_box(f, west, south, east, north) -> bool:
    lon, lat = f["geometry"]["coordinates"]
    lon_ok = (west <= lon <= east) if west <= east else (lon >= west or lon <= east)
    return lon_ok and south <= lat <= north


def overlaps(f, start: str, end: str) -> bool:
    return f["properties"]["date_start"] <= end and f["properties"]["date_end"] >= start


@pytest.mark.parametrize("query, keep", [
    ("bbox=43,32,46,35&datetime=2019-03-01/2019-10-31", lambda f: in_box(f, 43, 32, 46, 35)
     and overlaps(f, "2019-03-01", "2019-10-31")),
    ("datetime=2019-12-01T/2019-12-31T", lambda f: overlaps(f, "2019-12-01", "2019-12-31")),  # GDAL's form
    ("bbox=170,-90,45,90", lambda f: in_box(f, 170, -90, 45, 90)),  # across the antimeridian
    ("bbox=100,30,-100,37", lambda f: in_box(f, 100, 30, -100, 37)),
    ("filter=date_start >= '2020-06-01' AND fatalities_best > 1", lambda f: f["properties"]["date_start"] >= "2020-06-01"
     and (f["properties"]["fatalities_best"] or 0) > 1),
    ("event_type=Riots,Protests", lambda f: f["properties"]["event_type"] in ("Riots", "Protests")),
])
def test_filters_and_counts_match_a_brute_force(api, query, keep):
    expected = [f["id"] for f in FEATURES if keep(f)]
    assert 0 < len(expected) < N
    seen, pages = walk(api, f"/collections/incidents/items?limit=10&{query}")
    assert sorted(seen) == sorted(expected)
    assert {p["numberMatched"] for p in pages} == {len(expected)}


@pytest.mark.parametrize("query, keep", [
    ("bbox=43,32,46,35&datetime=2019-03-01/2019-10-31", lambda f: in_box(f, 43, 32, 46, 35)
     and overlaps(f, "2019-03-01", "2019-10-31")),
    ("datetime=2019-06-01/..", lambda f: f["properties"]["date_end"] >= "2019-06-01"),
    ("datetime=../2019-06-01", lambda f: f["properties"]["date_start"] <= "2019-06-01"),
])
def test_dated_pages_come_in_date_order(api, query, keep):
    """A dated window's pages (the start-date walk, issue 16) by next links, against the brute
    force in date order; then again after a write made one incident span months into the window
    from before it, longer than any span the connections kept (`features.longest_span`)."""
    from sqlalchemy import text

    def expected():
        return sorted((f["id"] for f in FEATURES if keep(f)), key=python_order([("date_start", True)]))

    assert walk(api, f"/collections/incidents/items?limit=7&{query}")[0] == expected()
    early = next(f for f in FEATURES if in_box(f, 43, 32, 46, 35) and f["properties"]["date_end"] < "2019-02-01")
    engine = api.application.extensions["geomap.engine"]
    with engine.begin() as conn:
        conn.execute(text("UPDATE incidents SET date_end = '2019-07-01' WHERE id = :id"), {"id": early["id"]})
    before = early["properties"]["date_end"]
    early["properties"]["date_end"] = "2019-07-01"
    try:
        seen, pages = walk(api, f"/collections/incidents/items?limit=7&{query}")
        assert seen == expected() and {p["numberMatched"] for p in pages} == {len(seen)}
        assert early["id"] in seen or not keep(early)
    finally:
        early["properties"]["date_end"] = before
        with engine.begin() as conn:
            conn.execute(text("UPDATE incidents SET date_end = :end WHERE id = :id"), {"id": early["id"], "end": before})


def test_a_limit_above_the_maximum_is_the_maximum(api):
    body = api.get("/collections/incidents/items?limit=99999999999999999999").get_json()
    assert body["numberReturned"] == N
    assert api.get("/collections/incidents/items?limit=10001&offset=10").get_json()["numberReturned"] == N - 10


def test_properties_and_skip_geometry(api):
    body = api.get("/collections/incidents/items?limit=3&properties=title,precision_m&skipGeometry=true").get_json()
    assert all(f["geometry"] is None and set(f["properties"]) == {"title", "precision_m"} for f in body["features"])
    none = api.get("/collections/incidents/items?limit=3&properties=").get_json()
    assert all(f["properties"] == {} and f["geometry"]["type"] == "Point" for f in none["features"])
    near = api.get("/collections/incidents/items?limit=3&near=44,34&radius=500000&properties=distance_m").get_json()
    assert all(set(f["properties"]) == {"distance_m"} for f in near["features"])


def test_a_fractional_precision_is_a_number_in_every_schema(api):
    schema = api.get("/collections/incidents/schema")
    assert schema.mimetype == "application/schema+json"
    properties = schema.get_json()["properties"]
    assert properties["precision_m"]["type"] == "number" and properties["fatalities_best"]["type"] == ["integer", "null"]
    assert properties["geometry"]["x-ogc-role"] == "primary-geometry" and properties["id"]["x-ogc-role"] == "id"
    assert properties["date_start"]["x-ogc-role"] == "primary-interval-start"
    assert api.get("/collections/incidents/queryables").get_json()["properties"]["precision_m"]["type"] == "number"
    sortables = api.get("/collections/incidents/sortables").get_json()["properties"]
    assert "group" not in sortables and sortables["date_start"] == {"title": "date_start", "type": "string",
                                                                      "format": "date"}
    links = {link["rel"]: link["href"] for link in api.get("/collections/incidents").get_json()["links"]}
    assert links["describedBy"].endswith("/collections/incidents/feature-schema")
    feature = api.get(links["describedBy"].replace("http://localhost", "")).get_json()
    typed = feature["properties"]["properties"]["properties"]
    assert typed["precision_m"]["type"] == "number" and typed["fatalities_best"] == {
        "type": "integer", "minimum": 0, "nullable": True}


def test_an_expensive_count_is_an_estimate_flagged_as_one(api, monkeypatch):
    counts.forget()
    monkeypatch.setattr(counts, "_shape", lambda conn, q: counts.Shape(N, sorts_all=False))  # count apart
    monkeypatch.setattr(counts, "COUNT_CAP", 30)
    body = api.get("/collections/incidents/items?limit=10").get_json()
    assert body["numberMatchedExact"] is False and body["numberMatched"] >= 30
    last = api.get(f"/collections/incidents/items?limit=10&offset={N - 5}").get_json()
    assert last["numberMatchedExact"] is True and last["numberMatched"] == N  # the last page counts for free


def test_a_count_past_its_time_gives_the_estimate_and_the_page(api, monkeypatch):
    from sqlalchemy import func, select

    counts.forget()
    monkeypatch.setattr(counts, "_shape", lambda conn, q: counts.Shape(N, sorts_all=False))
    monkeypatch.setattr(counts, "COUNT_TIMEOUT_MS", 20)
    monkeypatch.setattr(counts, "_matching", lambda q: select(func.pg_sleep(1)))
    response = api.get("/collections/incidents/items?limit=10")
    body = response.get_json()
    assert response.status_code == 200 and body["numberMatchedExact"] is False and body["numberReturned"] == 10


def test_a_large_estimate_is_the_answer_without_counting(api, monkeypatch):
    counts.forget()
    monkeypatch.setattr(counts, "_shape", lambda conn, q: counts.Shape(N, sorts_all=False))
    monkeypatch.setattr(counts, "EXACT_UP_TO", 10)
    monkeypatch.setattr(counts, "_counted", lambda conn, matching: pytest.fail("counted"))
    body = api.get("/collections/incidents/items?limit=10").get_json()
    assert body["numberMatchedExact"] is False and body["numberMatched"] > 10


def test_a_remembered_count_is_forgotten_when_the_collection_changes(api):
    from sqlalchemy import text

    counts.forget()
    url = "/collections/incidents/items?limit=2&event_type=Riots"
    riots = sum(f["properties"]["event_type"] == "Riots" for f in FEATURES)
    assert api.get(url).get_json()["numberMatched"] == riots
    victim = next(f["id"] for f in FEATURES if f["properties"]["event_type"] == "Battles")
    engine = api.application.extensions["geomap.engine"]
    with engine.begin() as conn:
        conn.execute(text("UPDATE incidents SET event_type = 'Riots' WHERE id = :id"), {"id": victim})
    try:
        assert api.get(url).get_json()["numberMatched"] == riots + 1
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE incidents SET event_type = 'Battles' WHERE id = :id"), {"id": victim})


def test_a_remembered_count_costs_no_statement_of_its_own(api):
    """The second request of one filter is one statement (the page, which reads the change stamp
    itself), with the count of the first; the page after a write counts anew (above)."""
    from sqlalchemy import event

    counts.forget()
    url = "/collections/incidents/items?limit=3&bbox=43,32,46,35&datetime=2019-03-01/2019-10-31"
    first = api.get(url).get_json()
    statements = []
    engine = api.application.extensions["geomap.engine"]
    listen = lambda conn, cursor, sql, *rest: statements.append(sql)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        again = api.get(url).get_json()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert len(statements) == 1 and "change_stamps" in statements[0]
    assert again["numberMatched"] == first["numberMatched"] and again["numberMatchedExact"] is True
    assert [f["id"] for f in again["features"]] == [f["id"] for f in first["features"]]


class Forgetful(dict):
    def __setitem__(self, key, value):
        pass


@pytest.mark.parametrize("sorts_all", [True, False])
@pytest.mark.parametrize("query", ["bbox=43,32,46,35&datetime=2019-03-01/2019-10-31", "sortby=-admin2",
                                   "filter=fatalities_best >= 1"])
def test_counted_with_the_page_or_apart_the_count_is_the_same(api, monkeypatch, query, sorts_all):
    """The count from the page's own scan (count(*) OVER ()) and the count apart agree with a walk, on
    the first page and on a page reached by its cursor."""
    monkeypatch.setattr(counts, "_REMEMBERED", Forgetful())  # every page counts
    monkeypatch.setattr(counts, "_shape", lambda conn, q: counts.Shape(10, sorts_all))
    seen, pages = walk(api, f"/collections/incidents/items?limit=5&{query}")
    assert {(p["numberMatched"], p["numberMatchedExact"]) for p in pages} == {(len(seen), True)}
    assert len(pages) > 1


@pytest.mark.parametrize("fmt", ["csv", "kml", "gpkg", "html"])
@pytest.mark.parametrize("extra, names", [("properties=title", {"properties"}), ("skipGeometry=true", {"skipGeometry"}),
                                          ("properties=&skipGeometry=true", {"properties", "skipGeometry"})])
def test_partial_features_only_as_geojson(api, fmt, extra, names):
    response = api.get(f"/collections/incidents/items?f={fmt}&{extra}")
    assert response.status_code == 400 and {e["field"] for e in response.get_json()["errors"]} == names
    assert api.get(f"/collections/incidents/items?f={fmt}&skipGeometry=false").status_code == 200


def test_a_walk_nearest_first_by_cursor_equals_the_offset_pages(api):
    """With near and no sortby the order is the distance: its cursor holds the distance."""
    url = "/collections/incidents/items?near=44,34&radius=400000&limit=7"
    seen, pages = walk(api, url)
    every = api.get(url.replace("limit=7", "limit=1000")).get_json()["features"]
    assert seen == [f["id"] for f in every] and len(pages) > 2
    distances = [f["properties"]["distance_m"] for f in every]
    assert distances == sorted(distances)
    assert {p["numberMatched"] for p in pages} == {len(every)}


def _loops_over(plan: dict, table: str) -> list[int]:
    """The actual loops of every plan node that reads `table` (EXPLAIN ANALYZE, FORMAT JSON)."""
    own = [plan["Actual Loops"]] if plan.get("Relation Name") == table else []
    return own + [n for child in plan.get("Plans", []) for n in _loops_over(child, table)]


@pytest.mark.parametrize("args", [{"limit": "5", "offset": "200"}, {"limit": "5", "sortby": "-date_start",
                                                                    "offset": "200"}])
def test_a_deep_page_builds_its_json_for_its_own_rows_alone(api, args):
    """Issue 13's flat paging, in the plan PostgreSQL runs: a page at offset 200 of 240 reads the
    claims (part of each feature's JSON) for its own keys (the limit + 1 read to know whether a
    page follows), never for the 200 rows it skips."""
    from geomap.api import params
    from geomap.db import features
    from geomap.model.query import COLLECTIONS

    engine = api.application.extensions["geomap.engine"]
    q = params.feature_query(COLLECTIONS["incidents"], args)
    with engine.connect() as conn:
        compiled = features.statement(q).compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled.string}", compiled.params).scalar_one()
        page = features.page(conn, q)
    loops = _loops_over(plan[0]["Plan"], "attributions")
    assert loops and max(loops) <= 6, loops
    assert len(page.features) == 5 and page.more
