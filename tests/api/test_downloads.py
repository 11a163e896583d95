"""Whole-collection downloads over HTTP (`/collections/{id}/download`) in every export format,
past the items endpoint's 10,000 limit, read back by independent readers (json, csv, sqlite3,
GDAL); and the page formats GeoJSON text sequence and FlatGeobuf on `/items`."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess

import pytest
from conftest import app_with_seed
from sqlalchemy import text

COPIES = 10_050  # more than the items endpoint's largest page (10,000)
FORMULA = '=HYPERLINK("http://x","click")'


@pytest.fixture(scope="module")
def big(cluster):
    """An app whose incidents are the seed's and COPIES copies of the K-1 attack (one titled as a formula)."""
    with app_with_seed(cluster) as app:
        with app.extensions["geomap.engine"].begin() as conn:
            columns = [c for c in conn.execute(text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'incidents' "
                "AND column_name NOT IN ('id', 'created_at', 'updated_at') AND is_generated = 'NEVER' "
                "ORDER BY ordinal_position")).scalars()]
            listed = ", ".join(columns)
            conn.execute(text(f"INSERT INTO incidents (id, {listed}) SELECT 'copy-' || lpad(g::text, 5, '0'), "
                              f"{listed} FROM incidents, generate_series(1, :n) g WHERE id = 'k1-rocket-attack-2019-12-27'"),
                         {"n": COPIES})
            conn.execute(text("UPDATE incidents SET title = :t WHERE id = 'copy-00001'"), {"t": FORMULA})
            ids = sorted(conn.execute(text("SELECT id FROM incidents")).scalars())
        yield app.test_client(), ids


def download(client, query: str):
    response = client.get(f"/collections/incidents/download?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


def test_geojson_download_has_every_feature(big):
    client, ids = big
    response = download(client, "f=geojson")
    assert response.mimetype == "application/geo+json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="incidents.geojson"'
    doc = json.loads(response.get_data())
    assert sorted(f["id"] for f in doc["features"]) == ids and len(ids) > 10_000


def test_geojson_text_sequence_download_has_every_feature(big):
    client, ids = big
    body = download(client, "f=geojsonseq").get_data(as_text=True)
    texts = body.split("\x1e")
    assert texts[0] == "" and all(t.endswith("\n") for t in texts[1:])  # RFC 8142: RS, JSON, LF
    assert sorted(json.loads(t)["id"] for t in texts[1:]) == ids


def test_csv_download_has_every_feature_and_keeps_the_formula_guard(big):
    client, ids = big
    response = download(client, "f=csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))
    assert sorted(r["id"] for r in rows) == ids
    assert next(r for r in rows if r["id"] == "copy-00001")["title"] == "'" + FORMULA


def test_geopackage_download_has_every_feature(big, tmp_path):
    client, ids = big
    path = tmp_path / "all.gpkg"
    path.write_bytes(download(client, "f=gpkg").get_data())
    with sqlite3.connect(path) as conn:
        assert sorted(r[0] for r in conn.execute("SELECT id FROM incidents")) == ids
    conn.close()
    info = subprocess.run(["ogrinfo", "-ro", "-so", str(path), "incidents"], capture_output=True, text=True, check=True)
    assert f"Feature Count: {len(ids)}" in info.stdout


def test_flatgeobuf_download_has_every_feature(big, tmp_path):
    client, ids = big
    path = tmp_path / "all.fgb"
    path.write_bytes(download(client, "f=fgb").get_data())
    out = tmp_path / "back.geojson"
    subprocess.run(["ogr2ogr", "-f", "GeoJSON", str(out), str(path)], capture_output=True, text=True, check=True)
    back = json.loads(out.read_text())["features"]
    assert sorted(f["properties"]["id"] for f in back) == ids
    k1 = next(f for f in back if f["properties"]["id"] == "k1-rocket-attack-2019-12-27")
    stored = client.get("/collections/incidents/items/k1-rocket-attack-2019-12-27").get_json()
    assert k1["geometry"]["coordinates"] == pytest.approx(stored["geometry"]["coordinates"], abs=1e-9)
    assert k1["properties"]["precision_m"] == stored["properties"]["precision_m"]
    assert k1["properties"]["attributions"] == stored["properties"]["attributions"]  # a JSON column, read as JSON


def test_a_filtered_download_matches_the_items_endpoint(big):
    client, _ = big
    query = "bbox=43,34,46,37&filter=event_type%3D'Battles'&sortby=-date_start"
    doc = json.loads(download(client, f"f=geojson&{query}").get_data())
    page = client.get(f"/collections/incidents/items?{query}&limit=10000").get_json()
    assert [f["id"] for f in doc["features"]] == [f["id"] for f in page["features"]] and page["features"]


def test_zones_download_as_flatgeobuf_keeps_multipolygons(big, tmp_path):
    client, _ = big
    path = tmp_path / "zones.fgb"
    path.write_bytes(client.get("/collections/control_zones/download?f=fgb").get_data())
    out = tmp_path / "zones.geojson"
    subprocess.run(["ogr2ogr", "-f", "GeoJSON", str(out), str(path)], check=True, capture_output=True)
    back = {f["properties"]["id"]: f["geometry"] for f in json.loads(out.read_text())["features"]}
    items = client.get("/collections/control_zones/items?limit=1000").get_json()["features"]
    from shapely.geometry import shape

    assert set(back) == {f["id"] for f in items}
    for feature in items:
        assert shape(back[feature["id"]]).equals_exact(shape(feature["geometry"]), 1e-9)


@pytest.mark.parametrize("query, name", [
    ("f=geojson&limit=10", "limit"), ("f=csv&offset=5", "offset"), ("f=xml", "f"), ("f=kml", "f"),
    ("f=csv&filter=nope%3D1", "filter"), ("f=gpkg&bbox=1,2", "bbox"), ("f=fgb&datetime=yesterday", "datetime"),
    ("f=geojson&unknown=1", "unknown"),
])
def test_bad_download_parameters_are_a_problem_naming_them(big, query, name):
    client, _ = big
    response = client.get(f"/collections/incidents/download?{query}")
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert name in response.get_json()["detail"]


def test_an_unknown_collection_is_404(big):
    client, _ = big
    assert client.get("/collections/nope/download?f=csv").status_code == 404


def test_the_collection_links_each_download(big):
    client, _ = big
    links = client.get("/collections/incidents").get_json()["links"]
    enclosures = {link["type"]: link["href"] for link in links if link["rel"] == "enclosure"}
    assert set(enclosures) == {"application/geo+json", "application/geo+json-seq", "text/csv",
                               "application/geopackage+sqlite3", "application/flatgeobuf"}
    for href in enclosures.values():
        response = client.get(href.replace("http://localhost", ""))
        assert response.status_code == 200 and response.get_data()
        response.close()


def test_an_abandoned_download_closes_its_cursor_and_connection(big):
    """A client that goes away: the WSGI server closes the body, which ends the query."""
    client, _ = big
    response = client.get("/collections/incidents/download?f=geojsonseq", buffered=False)
    first = next(iter(response.response))
    assert first.startswith(b"\x1e")
    response.close()  # (a ResourceWarning here, an error in this suite, would mean a cursor left open)


def test_items_pages_as_text_sequences_and_flatgeobuf(big, tmp_path):
    client, _ = big
    seq = client.get("/collections/incidents/items?f=geojsonseq&limit=5")
    assert seq.mimetype == "application/geo+json-seq" and seq.get_data(as_text=True).count("\x1e") == 5
    accepted = client.get("/collections/incidents/items?limit=5", headers={"Accept": "application/flatgeobuf"})
    assert accepted.mimetype == "application/flatgeobuf"
    path = tmp_path / "page.fgb"
    path.write_bytes(accepted.get_data())
    info = subprocess.run(["ogrinfo", "-ro", "-al", "-q", str(path)], capture_output=True, text=True, check=True)
    assert info.stdout.count("OGRFeature(incidents)") == 5


@pytest.mark.parametrize("fmt", ["fgb", "gpkg"])
def test_a_download_that_matches_nothing_is_a_valid_empty_file(big, tmp_path, fmt):
    client, _ = big
    path = tmp_path / f"none.{fmt}"
    path.write_bytes(download(client, f"f={fmt}&bbox=0,0,1,1").get_data())
    info = subprocess.run(["ogrinfo", "-ro", "-so", "-al", str(path)], capture_output=True, text=True, check=True)
    assert "Feature Count: 0" in info.stdout and "Point" in info.stdout
