"""OGC API - Features reads: documents, items and their filters, paging, formats, errors.
Expected results are computed from the seed files, not from geomap's queries."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import ROOT
from geographiclib.geodesic import Geodesic
from shapely.geometry import box, shape

SEED = {c: json.loads((ROOT / "data" / f"{c}.geojson").read_text())["features"]
        for c in ("incidents", "sites", "control_zones")}
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


@pytest.fixture
def api(seeded_app):
    return seeded_app.test_client()


def ids(response) -> set[str]:
    assert response.status_code == 200, response.get_json()
    return {f["id"] for f in response.get_json()["features"]}


def seed_ids(collection: str, keep) -> set[str]:
    return {f["id"] for f in SEED[collection] if keep(f)}


def test_landing_page_links(api):
    body = api.get("/").get_json()
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert api.get(rels["service-desc"].replace("http://localhost", "")).status_code == 200


def test_conformance_declares_what_qgis_needs(api):
    classes = set(api.get("/conformance").get_json()["conformsTo"])
    assert {"http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
            "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
            "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
            "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2"} <= classes


def test_collections_with_extents(api):
    collections = {c["id"]: c for c in api.get("/collections").get_json()["collections"]}
    assert set(collections) == {"incidents", "sites", "control_zones", "relations"}
    lons = [f["geometry"]["coordinates"][0] for f in SEED["incidents"]]
    bbox = collections["incidents"]["extent"]["spatial"]["bbox"][0]
    # The planner's estimate (when the table has statistics) may be a little larger, never smaller.
    assert min(lons) - 0.5 <= bbox[0] <= min(lons) and max(lons) <= bbox[2] <= max(lons) + 0.5
    starts = [f["properties"]["date_start"] for f in SEED["incidents"]]
    assert collections["incidents"]["extent"]["temporal"]["interval"][0][0].startswith(min(starts))


def test_queryables_are_a_json_schema(api):
    response = api.get("/collections/incidents/queryables")
    assert response.mimetype == "application/schema+json"
    properties = response.get_json()["properties"]
    assert properties["date_start"] == {"title": "date_start", "type": "string", "format": "date"}
    assert "geometry" in properties and "group" in properties


def test_bbox_filter(api):
    west, south, east, north = 44.0, 35.0, 44.5, 35.6
    area = box(west, south, east, north)
    expected = seed_ids("incidents", lambda f: area.intersects(shape(f["geometry"])))
    assert ids(api.get(f"/collections/incidents/items?bbox={west},{south},{east},{north}&limit=1000")) == expected


@pytest.mark.parametrize("value, start, end", [
    ("2019-12-27", "2019-12-27", "2019-12-27"),
    ("2019-12-01/2019-12-31", "2019-12-01", "2019-12-31"),
    ("../2019-10-31", "0001-01-01", "2019-10-31"),
    ("2020-01-03T00:10:00Z/..", "2020-01-03", "9999-12-31"),
])
def test_datetime_matches_date_intervals(api, value, start, end):
    expected = seed_ids("incidents", lambda f: f["properties"]["date_start"] <= end
                        and f["properties"]["date_end"] >= start)
    assert ids(api.get(f"/collections/incidents/items?datetime={value}&limit=1000")) == expected


def test_datetime_on_zones_uses_validity_with_open_ends(api):
    day = "2020-06-01"
    expected = seed_ids("control_zones", lambda f: f["properties"]["valid_from"] <= day
                        and (f["properties"]["valid_to"] or "9999") >= day)
    assert ids(api.get(f"/collections/control_zones/items?datetime={day}")) == expected


def test_property_filters(api):
    affirmative = ("claimed", "accused", "assessed")
    expected = seed_ids("incidents", lambda f: any(c["group"] == "islamic-state" and c["stance"] in affirmative
                                                   for c in f["properties"]["attributions"]))
    assert ids(api.get("/collections/incidents/items?group=islamic-state&limit=1000")) == expected
    both = seed_ids("incidents", lambda f: f["properties"]["status"] in ("estimate", "confirmed"))
    assert ids(api.get("/collections/incidents/items?status=estimate,confirmed&limit=1000")) == both


@pytest.mark.parametrize("cql, keep", [
    ("event_type = 'Battles'", lambda p, g: p["event_type"] == "Battles"),
    ("precision_m > 5000 AND status <> 'confirmed'", lambda p, g: p["precision_m"] > 5000 and p["status"] != "confirmed"),
    ("date_start >= DATE('2020-01-01')", lambda p, g: p["date_start"] >= "2020-01-01"),
    ("title LIKE 'IS %'", lambda p, g: p["title"].startswith("IS ")),
    ("CASEI(title) LIKE '%strike%'", lambda p, g: "strike" in p["title"].lower()),
    ("sub_event_type IN ('Air/drone strike', 'Attack')", lambda p, g: p["sub_event_type"] in ("Air/drone strike", "Attack")),
    ("fatalities_best BETWEEN 1 AND 10", lambda p, g: p["fatalities_best"] is not None and 1 <= p["fatalities_best"] <= 10),
    ("admin2 IS NULL", lambda p, g: p["admin2"] is None),
    ("NOT (group = 'islamic-state')", lambda p, g: not any(c["group"] == "islamic-state" and c["stance"] in
                                                           ("claimed", "accused", "assessed") for c in p["attributions"])),
    ("S_INTERSECTS(geometry, BBOX(40, 33, 42, 35))", lambda p, g: box(40, 33, 42, 35).intersects(shape(g))),
    ("S_WITHIN(geometry, POLYGON((43 34, 46 34, 46 37, 43 37, 43 34)))",
     lambda p, g: box(43, 34, 46, 37).contains(shape(g))),
])
def test_cql2_filters(api, cql, keep):
    expected = seed_ids("incidents", lambda f: keep(f["properties"], f["geometry"]))
    response = api.get("/collections/incidents/items", query_string={"filter": cql, "limit": "1000",
                                                                     "filter-lang": "cql2-text"})
    assert ids(response) == expected


@pytest.mark.parametrize("collection, radius", [("incidents", 30000), ("incidents", 250000), ("sites", 30000)])
def test_near_returns_distances_sorted(api, collection, radius):
    """The features within the radius, nearest first, each with its distance: against every seed
    feature measured by GeographicLib, filtered and sorted here."""
    origin = (44.21, 35.48)
    measured = {f["id"]: Geodesic.WGS84.Inverse(origin[1], origin[0], *f["geometry"]["coordinates"][::-1])["s12"]
                for f in SEED[collection]}
    expected = sorted((d, i) for i, d in measured.items() if d <= radius)
    response = api.get(f"/collections/{collection}/items?near={origin[0]},{origin[1]}&radius={radius}&limit=1000")
    got = [(f["properties"]["distance_m"], f["id"]) for f in response.get_json()["features"]]
    assert [i for _, i in got] == [i for _, i in expected] and 0 < len(expected) < len(SEED[collection])
    assert all(abs(d - measured[i]) < 1e-3 for d, i in got)


def test_paging_walks_to_the_end_without_gaps_or_duplicates(api):
    url, seen, pages = "/collections/incidents/items?limit=4&f=json&sortby=-date_start", [], 0
    while url:
        body = api.get(url.replace("http://localhost", "")).get_json()
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        assert all("limit=4" in h and "f=json" in h and "sortby=-date_start" in h for h in nxt)
        url, pages = (nxt[0] if nxt else None), pages + 1
    assert len(seen) == len(set(seen)) == len(SEED["incidents"]) and pages == -(-len(seen) // 4)
    dates = [next(f["properties"]["date_start"] for f in SEED["incidents"] if f["id"] == i) for i in seen]
    assert dates == sorted(dates, reverse=True)


def test_number_matched_on_every_page(api):
    small = api.get("/collections/sites/items?limit=100").get_json()
    paged = api.get("/collections/incidents/items?limit=2").get_json()
    assert small["numberMatched"] == len(SEED["sites"]) and paged["numberMatched"] == len(SEED["incidents"])
    assert small["numberMatchedExact"] is paged["numberMatchedExact"] is True


def test_a_feature_round_trips_with_an_etag(api):
    response = api.get("/collections/incidents/items/k1-rocket-attack-2019-12-27")
    feature = response.get_json()
    original = next(f for f in SEED["incidents"] if f["id"] == "k1-rocket-attack-2019-12-27")
    assert re.fullmatch(r'"k1-rocket-attack-2019-12-27-v1\.[0-9a-z]+"', response.headers["ETag"])
    assert feature["properties"] == original["properties"] and feature["geometry"] == original["geometry"]


@pytest.mark.parametrize("url, accept, media", [
    ("/collections/incidents/items?f=html", None, "text/html"),
    ("/collections/incidents/items", "text/html,application/xhtml+xml,*/*;q=0.8", "text/html"),
    ("/collections/incidents/items", "*/*", "application/geo+json"),
    ("/collections/incidents/items/k1-rocket-attack-2019-12-27?f=html", None, "text/html"),
    ("/?f=html", None, "text/html"), ("/collections?f=html", None, "text/html"),
    ("/collections/incidents?f=html", None, "text/html"), ("/conformance?f=html", None, "text/html"),
    ("/collections/incidents/queryables?f=html", None, "text/html"), ("/api.html", None, "text/html"),
    ("/collections/incidents/sortables?f=html", None, "text/html"),
    ("/collections/incidents/schema?f=html", None, "text/html"),
    ("/collections/incidents/items/k1-rocket-attack-2019-12-27/context?f=html", None, "text/html"),
    ("/collections/incidents/items/k1-rocket-attack-2019-12-27/history?f=html", None, "text/html"),
])
def test_formats_by_f_and_accept(api, url, accept, media):
    response = api.get(url, headers={"Accept": accept} if accept else {})
    assert response.status_code == 200 and response.mimetype == media


def test_html_item_page_shows_claims_and_sources(api):
    page = api.get("/collections/incidents/items/k1-rocket-attack-2019-12-27?f=html").get_data(as_text=True)
    assert "Attribution claims" in page and "accused" in page and "bostonglobe.com" in page


@pytest.mark.parametrize("url, status, names", [
    ("/collections/incidents/items?bbox=44,35,45", 400, "bbox"),
    ("/collections/incidents/items?bbox=44,35,45,north", 400, "bbox"),
    ("/collections/incidents/items?bbox=44,36,45,35", 400, "bbox"),
    ("/collections/incidents/items?datetime=yesterday", 400, "datetime"),
    ("/collections/incidents/items?datetime=2020-01-01/2019-01-01", 400, "datetime"),
    ("/collections/incidents/items?limit=0", 400, "limit"),
    ("/collections/incidents/items?cursor=abc", 400, "cursor"),
    ("/collections/incidents/items?properties=secret", 400, "properties"),
    ("/collections/incidents/items?skipGeometry=maybe", 400, "skipGeometry"),
    ("/collections/incidents/items?limit=-1", 400, "limit"),
    ("/collections/incidents/items?offset=x", 400, "offset"),
    ("/collections/incidents/items?colour=red", 400, "colour"),
    ("/collections/incidents/items?filter=event_type%20%3D", 400, "filter"),
    ("/collections/incidents/items?filter=secret%20%3D%201", 400, "secret"),
    ("/collections/incidents/items?filter-lang=cql2-json&filter=x", 400, "filter-lang"),
    ("/collections/incidents/items?sortby=notes", 400, "sortby"),
    ("/collections/incidents/items?near=44,35", 400, "radius"),
    ("/collections/incidents/items?near=44,35&radius=-5", 400, "radius"),
    ("/collections/incidents/items?bbox-crs=EPSG:9999&bbox=1,2,3,4", 400, "bbox-crs"),
    ("/collections/incidents/items?f=xml", 400, "f"),
    ("/collections/nope/items", 404, "nope"),
    ("/collections/incidents/items/nope", 404, "nope"),
    ("/collections/incidents/items/nope/context", 404, "nope"),
    ("/collections/incidents/items/k1-rocket-attack-2019-12-27/context?radius=100001", 400, "radius"),
    ("/collections/incidents/items/k1-rocket-attack-2019-12-27/context?radius=0", 400, "radius"),
    ("/collections/incidents/items/k1-rocket-attack-2019-12-27/context?window=3651", 400, "window"),
    ("/analysis/distance?from=sites/k1-air-base", 400, "to"),
    ("/analysis/distance?from=moon/1&to=sites/k1-air-base", 400, "from"),
    ("/analysis/nearby?near=44.2,35.4&radius=lots", 400, "radius"),
    ("/analysis/zones-at?lon=44&lat=35&date=27-12-2019", 400, "date"),
    ("/analysis/zones-at?lon=44&lat=95&date=2019-12-27", 400, "lat"),
    ("/analysis/overlaps", 400, "date"),
])
def test_every_bad_request_is_a_problem_naming_the_parameter(api, url, status, names):
    response = api.get(url)
    body = response.get_json()
    assert response.status_code == status and response.mimetype == "application/problem+json", body
    assert PROBLEM_KEYS <= set(body) and names in body["detail"]
    if status == 400:  # errors[] names the parameter at fault
        fields = {e["field"] for e in body["errors"]}
        assert names in fields or (fields and fields <= set(parse_qs(urlsplit(url).query))), body


def test_nearby_gives_the_limit_nearest_and_counts_them_all(api):
    url = "/analysis/nearby?near=incidents/k1-rocket-attack-2019-12-27&radius=300000"
    every = api.get(url).get_json()
    two = api.get(url + "&limit=2").get_json()
    assert every["number_matched"] == two["number_matched"] == len(every["incidents"]) > 2
    assert [n["incident"]["id"] for n in two["incidents"]] == [n["incident"]["id"] for n in every["incidents"][:2]]
    assert api.get(url + "&limit=0").status_code == 400


def test_items_as_csv_kml_and_geopackage(api, tmp_path):
    import csv
    import io
    import sqlite3
    import xml.etree.ElementTree as ET

    expected = seed_ids("incidents", lambda f: f["properties"]["event_type"] == "Battles")
    table = api.get("/collections/incidents/items?f=csv&event_type=Battles")
    assert table.mimetype == "text/csv"
    assert {row["id"] for row in csv.DictReader(io.StringIO(table.get_data(as_text=True)))} == expected
    kml = api.get("/collections/incidents/items?event_type=Battles",
                  headers={"Accept": "application/vnd.google-earth.kml+xml"})
    assert kml.mimetype == "application/vnd.google-earth.kml+xml"
    placemarks = ET.fromstring(kml.get_data()).iter("{http://www.opengis.net/kml/2.2}Placemark")
    assert len(list(placemarks)) == len(expected)
    gpkg = api.get("/collections/incidents/items?f=gpkg&event_type=Battles")
    assert gpkg.mimetype == "application/geopackage+sqlite3"
    path = tmp_path / "incidents.gpkg"
    path.write_bytes(gpkg.get_data())
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM incidents").fetchone()[0] == len(expected)
