"""The analysis endpoints as GeoJSON and CSV: the same answers as their JSON, read back with
json, csv and Shapely; CSV keeps the spreadsheet-formula guard."""
from __future__ import annotations

import csv
import io

import pytest
from builders import group, load_features, zone
from shapely.geometry import shape

from geomap.api.analysis_formats import Row, csv_text

NEARBY = "/analysis/nearby?near=incidents/k1-rocket-attack-2019-12-27&radius=60000"
ZONES_AT = "/analysis/zones-at?lon=44.2&lat=35.4&date=2019-12-27"
DISTANCE = "/analysis/distance?from=incidents/k1-rocket-attack-2019-12-27&to=sites/k1-air-base"


@pytest.fixture(scope="module")
def api(seeded_app):
    return seeded_app.test_client()


def rows(response) -> list[dict]:
    assert response.status_code == 200 and response.mimetype == "text/csv", response.get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))


def test_nearby_as_geojson_is_the_json_answer_as_points(api):
    plain = api.get(NEARBY).get_json()
    response = api.get(f"{NEARBY}&f=geojson")
    assert response.mimetype == "application/geo+json"
    doc = response.get_json()
    assert doc["type"] == "FeatureCollection" and doc["query"]["near"] == plain["near"]
    assert [f["properties"]["id"] for f in doc["features"]] == [n["incident"]["id"] for n in plain["incidents"]]
    for feature, n in zip(doc["features"], plain["incidents"], strict=True):
        location = n["incident"]["location"]
        assert feature["geometry"] == {"type": "Point", "coordinates": [location["lon"], location["lat"]]}
        assert feature["properties"]["distance_best"] == n["distance"]["best"]
        assert feature["properties"]["within"] == n["within"] and feature["properties"]["groups"] == n["incident"]["groups"]


def test_nearby_as_csv(api):
    plain = api.get(NEARBY).get_json()
    table = rows(api.get(f"{NEARBY}&f=csv"))
    assert [r["id"] for r in table] == [n["incident"]["id"] for n in plain["incidents"]]
    first, n = table[0], plain["incidents"][0]
    assert (float(first["longitude"]), float(first["latitude"])) == (n["incident"]["location"]["lon"],
                                                                     n["incident"]["location"]["lat"])
    assert float(first["distance_max"]) == pytest.approx(n["distance"]["max"])
    assert list(table[0])[:2] == ["longitude", "latitude"]


def test_csv_by_accept_header(api):
    assert api.get(NEARBY, headers={"Accept": "text/csv"}).mimetype == "text/csv"


def test_zones_at_as_geojson_gives_each_zone_its_geometry(api):
    plain = api.get(ZONES_AT).get_json()
    doc = api.get(f"{ZONES_AT}&f=geojson").get_json()
    assert [f["properties"]["id"] for f in doc["features"]] == [z["zone"]["id"] for z in plain["zones"]]
    for feature in doc["features"]:
        stored = api.get(f"/collections/control_zones/items/{feature['properties']['id']}").get_json()
        assert shape(feature["geometry"]).equals_exact(shape(stored["geometry"]), 1e-9)
    nearest = {z["zone"]["id"] for z in plain["nearest_by_group"].values()}
    assert {f["properties"]["id"] for f in doc["features"] if f["properties"]["nearest_of_group"]} == nearest
    table = rows(api.get(f"{ZONES_AT}&f=csv"))
    assert [r["contains"] for r in table] == [z["contains"] for z in plain["zones"]]


def test_distance_as_geojson_and_csv(api):
    plain = api.get(DISTANCE).get_json()
    doc = api.get(f"{DISTANCE}&f=geojson").get_json()
    (feature,) = doc["features"]
    assert feature["geometry"] is None and feature["properties"]["distance_best"] == plain["distance"]["best"]
    (row,) = rows(api.get(f"{DISTANCE}&f=csv"))
    assert float(row["bearing"]) == pytest.approx(plain["bearing"]) and row["to"] == "sites/k1-air-base"


def test_overlaps_give_the_shared_area(app, tmp_path):
    square = [(44.0, 35.0), (44.2, 35.0), (44.2, 35.2), (44.0, 35.2)]
    shifted = [(x + 0.1, y + 0.1) for x, y in square]
    load_features(app.extensions["geomap.engine"], tmp_path, groups=[group("g1"), group("g2", "#d55e00")],
                  zones=[zone("z1", "g1", square, "2019-01-01", None), zone("z2", "g2", shifted, "2019-01-01", None)])
    client = app.test_client()
    plain = client.get("/analysis/overlaps?date=2019-12-27").get_json()
    doc = client.get("/analysis/overlaps?date=2019-12-27&f=geojson").get_json()
    (feature,) = doc["features"]
    shared = shape({"type": "Polygon", "coordinates": [[[44.1, 35.1], [44.2, 35.1], [44.2, 35.2], [44.1, 35.2],
                                                         [44.1, 35.1]]]})
    assert shape(feature["geometry"]).normalize().equals_exact(shared.normalize(), 1e-9)
    assert feature["properties"]["area_km2"] == plain["overlaps"][0]["area_km2"]
    assert {feature["properties"]["a_id"], feature["properties"]["b_id"]} == {"z1", "z2"}
    (row,) = rows(client.get("/analysis/overlaps?date=2019-12-27&f=csv"))
    assert float(row["area_km2"]) == pytest.approx(plain["overlaps"][0]["area_km2"])


def test_csv_escapes_text_a_spreadsheet_would_run():
    text = csv_text([Row({"type": "Point", "coordinates": [44.0, 35.0]},
                         {"longitude": -44.0, "latitude": 35.0, "title": '=HYPERLINK("x")', "note": "+1"})])
    (row,) = csv.DictReader(io.StringIO(text, newline=""))
    assert (row["title"], row["note"], row["longitude"]) == ('\'=HYPERLINK("x")', "'+1", "-44.0")


@pytest.mark.parametrize("url", [f"{NEARBY}&f=kml", f"{ZONES_AT}&f=xml",
                                 "/collections/incidents/items/k1-rocket-attack-2019-12-27/context?f=geojson"])
def test_formats_not_offered_are_a_problem_naming_f(api, url):
    response = api.get(url)
    assert response.status_code == 400 and response.get_json()["detail"].startswith("f:")
