"""Real OGC clients against a real server on loopback: OWSLib and GDAL's OAPIF driver."""
from __future__ import annotations

import json
import shutil
import subprocess
from urllib.request import urlopen

import pytest
from conftest import ROOT
from owslib.ogcapi.features import Features

from geomap.ingest import load

SEED = json.loads((ROOT / "data" / "incidents.geojson").read_text())["features"]


@pytest.fixture
def requests_seen(live_app):
    from flask import request

    seen: list[str] = []
    live_app.before_request(lambda: seen.append(request.full_path))
    return seen


@pytest.fixture
def server(live_app, requests_seen, live_server):
    load(live_app.extensions["geomap.engine"])
    return live_server


def test_owslib_reads_collections_and_filtered_items(server):
    api = Features(server)
    assert {c["id"] for c in api.collections()["collections"]} == {"incidents", "sites", "control_zones", "relations"}
    assert "properties" in api.collection_queryables("incidents")
    items = api.collection_items("incidents", bbox=[44.0, 35.0, 44.5, 35.6], limit=1000)
    expected = {f["id"] for f in SEED if 44.0 <= f["geometry"]["coordinates"][0] <= 44.5
                and 35.0 <= f["geometry"]["coordinates"][1] <= 35.6}
    assert {f["id"] for f in items["features"]} == expected
    battles = api.collection_items("incidents", event_type="Battles", limit=1000)
    assert {f["id"] for f in battles["features"]} == {f["id"] for f in SEED if f["properties"]["event_type"] == "Battles"}


def ogrinfo(*args: str, quiet: bool = True) -> str:
    result = subprocess.run(["ogrinfo", "-ro", *(["-q"] if quiet else []), *args], capture_output=True, text=True, timeout=120,
                            env={"GDAL_HTTP_TIMEOUT": "30", "CPL_DEBUG": "OFF", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_gdal_ogrinfo_reads_collections_and_pushes_filters(server, requests_seen):
    assert shutil.which("ogrinfo"), "GDAL (gdal-bin) must be installed by scripts/install-system-deps.sh"
    layers = ogrinfo(f"OAPIF:{server}")
    assert all(name in layers for name in ("incidents", "sites", "control_zones"))
    everything = ogrinfo(f"OAPIF:{server}", "incidents", "-al", "-geom=NO")
    assert everything.count("OGRFeature(incidents)") == len(SEED)
    filtered = ogrinfo(f"OAPIF:{server}", "incidents", "-al", "-geom=NO", "-where", "event_type = 'Battles'")
    expected = sum(f["properties"]["event_type"] == "Battles" for f in SEED)
    assert filtered.count("OGRFeature(incidents)") == expected > 0
    assert any("event_type=Battles" in path or "filter=" in path for path in requests_seen), requests_seen
    spatial = ogrinfo(f"OAPIF:{server}", "incidents", "-al", "-geom=NO", "-spat", "44.0", "35.0", "44.5", "35.6")
    assert spatial.count("OGRFeature(incidents)") == sum(
        44.0 <= f["geometry"]["coordinates"][0] <= 44.5 and 35.0 <= f["geometry"]["coordinates"][1] <= 35.6 for f in SEED)


def test_gdal_counts_from_number_matched_in_few_requests(server, requests_seen):
    """`ogrinfo -so` gives the count from the first page's numberMatched, and the field types from
    the describedBy schema (a fractional precision_m is Real), in a handful of requests."""
    summary = ogrinfo("-so", f"OAPIF:{server}", "incidents", quiet=False)
    assert f"Feature Count: {len(SEED)}" in summary
    assert "precision_m: Real" in summary and "fatalities_best: Integer" in summary and "date_start: Date" in summary
    assert len(requests_seen) <= 4, requests_seen
    requests_seen.clear()
    filtered = ogrinfo("-so", f"OAPIF:{server}", "incidents", "-where", "event_type = 'Battles'", quiet=False)
    assert f"Feature Count: {sum(f['properties']['event_type'] == 'Battles' for f in SEED)}" in filtered
    assert any("resultType=hits" in path for path in requests_seen), requests_seen  # counted, not read


def test_gdal_date_where_is_answered(server, requests_seen):
    """GDAL turns a date -where into datetime=2019-12-27T%2F.. ; it is answered, on the server."""
    out = ogrinfo(f"OAPIF:{server}", "incidents", "-al", "-geom=NO", "-where", "date_start >= '2019-12-27'")
    expected = sum(f["properties"]["date_end"] >= "2019-12-27" for f in SEED)
    assert out.count("OGRFeature(incidents)") == expected > 0
    assert any("datetime=2019-12-27T" in path for path in requests_seen), requests_seen


def test_gdal_reads_every_feature_id_for_id(server, requests_seen):
    out = ogrinfo(f"OAPIF:{server}", "incidents", "-al", "-geom=NO")
    assert sorted(line.split("=", 1)[1].strip() for line in out.splitlines() if line.strip().startswith("id (String)")) \
        == sorted(f["id"] for f in SEED)
    assert any("cursor=" in path for path in requests_seen), requests_seen  # paged by the next links


def test_owslib_and_geopandas_keep_fractional_precision(app, server):
    """A fractional precision_m on the last page only: OWSLib reads the typed queryables, and a
    GeoDataFrame of every page (read by the next links) keeps it."""
    import geopandas as gpd
    from sqlalchemy import text

    last = max(f["id"] for f in SEED)
    with app.extensions["geomap.engine"].begin() as conn:
        conn.execute(text("UPDATE incidents SET precision_m = 1234.5 WHERE id = :id"), {"id": last})
    api = Features(server)
    schema = api.collection_queryables("incidents")["properties"]
    assert schema["precision_m"]["type"] == "number"
    pages, url = [], None
    items = api.collection_items("incidents", limit=7)
    pages.append(items)
    while (url := next((link["href"] for link in items["links"] if link["rel"] == "next"), None)):
        items = json.loads(urlopen(url).read())
        pages.append(items)
    frame = gpd.GeoDataFrame.from_features([f for p in pages for f in p["features"]])
    assert len(frame) == len(SEED) == pages[0]["numberMatched"]
    assert str(frame["precision_m"].dtype) == "float64"
    assert frame.loc[frame["id"] == last, "precision_m"].item() == 1234.5 if "id" in frame else \
        1234.5 in frame["precision_m"].tolist()


def test_gdal_reads_every_feature_page_by_page_as_the_database_holds_it(app, server, requests_seen, tmp_path):
    """ogr2ogr from OAPIF in pages of 7 (so that `next` links are followed) equals the database,
    id for id, with each feature's geometry and a number, text and date property."""
    from sqlalchemy import text

    out = tmp_path / "all.geojson"
    result = subprocess.run(["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{server}", "incidents",
                             "-oo", "PAGE_SIZE=7"], capture_output=True, text=True, timeout=120,
                            env={"GDAL_HTTP_TIMEOUT": "30", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    read = {f["properties"]["id"]: f for f in json.loads(out.read_text())["features"]}
    with app.extensions["geomap.engine"].connect() as conn:
        stored = {r.id: r for r in conn.execute(text(
            "SELECT id, ST_X(geom) AS x, ST_Y(geom) AS y, precision_m, title, date_start FROM incidents"))}
    assert sorted(read) == sorted(stored) and len(stored) == len(SEED)
    assert sum("/collections/incidents/items" in path for path in requests_seen) >= len(SEED) // 7 + 1, requests_seen
    for fid, row in stored.items():
        feature = read[fid]
        assert feature["geometry"]["coordinates"] == pytest.approx([row.x, row.y], abs=1e-9)
        assert (feature["properties"]["precision_m"], feature["properties"]["title"]) == (row.precision_m, row.title)
        assert feature["properties"]["date_start"].startswith(row.date_start.isoformat())
