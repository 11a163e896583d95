"""`crs` and `bbox-crs` (OGC API - Features Part 2): coordinates reprojected by PostGIS, checked
against pyproj (PROJ through another door), axis order of EPSG:4326, UTM zones, Content-Crs,
the collections' CRS lists, and every bad value a 400 naming its parameter."""
from __future__ import annotations

import json
import math

import pytest
from conftest import ROOT
from pyproj import Transformer

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
SEED = {f["id"]: f for f in json.loads((ROOT / "data" / "incidents.geojson").read_text())["features"]}
ZONES = {f["id"]: f for f in json.loads((ROOT / "data" / "control_zones.geojson").read_text())["features"]}


@pytest.fixture(scope="module")
def api(seeded_app):
    return seeded_app.test_client()


def project(srid: int, lon: float, lat: float) -> tuple[float, float]:
    return Transformer.from_crs("EPSG:4326", f"EPSG:{srid}", always_xy=True).transform(lon, lat)


def features(api, query: str, collection: str = "incidents") -> dict[str, dict]:
    response = api.get(f"/collections/{collection}/items?limit=1000&{query}")
    assert response.status_code == 200, response.get_json()
    return {f["id"]: f for f in response.get_json()["features"]}


@pytest.mark.parametrize("srid", [3857, 32638, 32637, 32738])
def test_points_in_a_projected_crs_agree_with_pyproj(api, srid):
    response = api.get(f"/collections/incidents/items?limit=1000&crs={EPSG}{srid}")
    assert response.headers["Content-Crs"] == f"<{EPSG}{srid}>"
    got = {f["id"]: f for f in response.get_json()["features"]}
    assert set(got) == set(SEED)
    for fid, feature in SEED.items():
        assert got[fid]["geometry"]["coordinates"] == pytest.approx(project(srid, *feature["geometry"]["coordinates"]),
                                                                    abs=1e-3)


def test_epsg_4326_puts_latitude_first(api):
    got = features(api, f"crs={EPSG}4326")
    for fid, feature in SEED.items():
        lon, lat = feature["geometry"]["coordinates"]
        assert got[fid]["geometry"]["coordinates"] == pytest.approx([lat, lon], abs=1e-9)


def test_short_codes_and_curies_name_the_same_crs(api):
    for name in ("EPSG:3857", "[EPSG:3857]", f"{EPSG}3857".replace("http:", "https:")):
        response = api.get(f"/collections/incidents/items?limit=1&crs={name}")
        assert response.status_code == 200 and response.headers["Content-Crs"] == f"<{EPSG}3857>"
    default = api.get("/collections/incidents/items?limit=1")
    assert default.headers["Content-Crs"] == f"<{CRS84}>"


def test_zone_polygons_in_web_mercator_agree_with_pyproj(api):
    got = features(api, "crs=EPSG:3857", "control_zones")
    for zid, zone in ZONES.items():
        rings = zone["geometry"]["coordinates"] if zone["geometry"]["type"] == "Polygon" else \
            [r for p in zone["geometry"]["coordinates"] for r in p]
        got_vertices = [c for p in got[zid]["geometry"]["coordinates"] for r in p for c in r]
        expected = [project(3857, *c) for r in rings for c in r]
        assert len(got_vertices) == len(expected)
        for x, y in expected:  # every vertex where pyproj puts it, to the millimetre
            assert min(math.hypot(x - gx, y - gy) for gx, gy in got_vertices) < 1e-3


def test_a_utm_zone_far_from_the_data_gives_null_geometries_not_errors(api):
    got = features(api, "crs=EPSG:32601")  # zone 1 (180-174 W): Iraq is 139 degrees away
    assert set(got) == set(SEED) and all(f["geometry"] is None for f in got.values())


def test_one_feature_in_a_crs(api):
    response = api.get(f"/collections/incidents/items/k1-rocket-attack-2019-12-27?crs={EPSG}32638")
    assert response.headers["Content-Crs"] == f"<{EPSG}32638>"
    lon, lat = SEED["k1-rocket-attack-2019-12-27"]["geometry"]["coordinates"]
    assert response.get_json()["geometry"]["coordinates"] == pytest.approx(project(32638, lon, lat), abs=1e-3)


@pytest.mark.parametrize("srid, lat_first", [(3857, False), (32638, False), (4326, True)])
def test_bbox_in_another_crs_selects_what_lies_inside_it_there(api, srid, lat_first):
    x0, y0 = project(srid, 43.5, 34.8) if srid != 4326 else (34.8, 43.5)
    x1, y1 = project(srid, 44.6, 35.7) if srid != 4326 else (35.7, 44.6)
    got = features(api, f"bbox-crs=EPSG:{srid}&bbox={x0},{y0},{x1},{y1}")

    def inside(lon, lat):
        x, y = (lat, lon) if lat_first else project(srid, lon, lat)
        return x0 <= x <= x1 and y0 <= y <= y1

    expected = {fid for fid, f in SEED.items() if inside(*f["geometry"]["coordinates"])}
    assert set(got) == expected and expected


def test_a_download_in_a_crs(api):
    response = api.get("/collections/incidents/download?f=geojsonseq&crs=EPSG:3857")
    assert response.headers["Content-Crs"] == f"<{EPSG}3857>"
    first = json.loads(response.get_data(as_text=True).split("\x1e")[1])
    assert first["geometry"]["coordinates"] == pytest.approx(project(3857, *SEED[first["id"]]["geometry"]["coordinates"]),
                                                             abs=1e-3)


def test_collections_list_their_crs(api):
    doc = api.get("/collections/incidents").get_json()
    assert doc["storageCrs"] == CRS84 and doc["crs"][0] == CRS84
    assert {f"{EPSG}4326", f"{EPSG}3857", f"{EPSG}32601", f"{EPSG}32660", f"{EPSG}32701", f"{EPSG}32760"} <= set(doc["crs"])
    assert len(doc["crs"]) == 123
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in api.get("/conformance").get_json()["conformsTo"]


@pytest.mark.parametrize("query, name", [
    ("crs=EPSG:27700", "crs"), ("crs=EPSG:32661", "crs"), ("crs=nonsense", "crs"), ("crs=EPSG:", "crs"),
    ("bbox-crs=EPSG:2100&bbox=1,2,3,4", "bbox-crs"), ("bbox-crs=EPSG:3857", "bbox-crs"),
    ("bbox-crs=EPSG:3857&bbox=0,0,3e7,1", "bbox"), ("bbox-crs=EPSG:32638&bbox=1,2,3", "bbox"),
    ("bbox-crs=EPSG:32638&bbox=500000,9000000,400000,9100000", "bbox"),  # lower corner second
    ("bbox-crs=EPSG:32738&bbox=400000,100,500000,200", "bbox"),  # a southern zone's northings start at 1e6
    ("bbox-crs=EPSG:4326&bbox=44,35,45,36", "bbox"),  # latitude first: 44..45 is fine, 35..36 too, but ...
    ("bbox-crs=EPSG:4326&bbox=100,35,101,36", "bbox"),  # ... a latitude of 100 is not
    ("bbox-crs=EPSG:3857&bbox=a,b,c,d", "bbox"), ("crs=EPSG:3857&f=csv", "crs"), ("crs=EPSG:3857&f=html", "crs"),
    ("crs=EPSG:3857&f=fgb", "crs"),
])
def test_bad_crs_values_are_a_problem_naming_the_parameter(api, query, name):
    response = api.get(f"/collections/incidents/items?{query}")
    if query == "bbox-crs=EPSG:4326&bbox=44,35,45,36":
        assert response.status_code == 200  # the control case: a valid lat,lon box
        return
    body = response.get_json()
    assert response.status_code == 400 and response.mimetype == "application/problem+json", body
    assert body["detail"].startswith(f"{name}:") or name in body["detail"], body


def test_bad_crs_on_one_feature_and_on_a_download(api):
    one = api.get("/collections/incidents/items/k1-rocket-attack-2019-12-27?crs=EPSG:1")
    assert one.status_code == 400 and "crs" in one.get_json()["detail"]
    download = api.get("/collections/incidents/download?f=gpkg&crs=EPSG:3857")
    assert download.status_code == 400 and "crs" in download.get_json()["detail"]
