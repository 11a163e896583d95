"""Part 4 from generic editors (QGIS 3.32+, OWSLib, curl): POST without an id, If-Match: *,
a deployment setting that lets a role write without If-Match, and ETags that name one
incarnation of a feature (a re-created id never matches the deleted feature's ETags)."""
from __future__ import annotations

import json
import re

import pytest
from builders import site
from conftest import bearer
from conftest import data_snapshot as snapshot
from sqlalchemy import text

from geomap import create_app
from geomap.db import tokens
from geomap.errors import ConfigError
from geomap.ingest import load
from geomap.vocabulary import ID_PATTERN

GEOJSON = "application/geo+json"
URL = "/collections/sites/items"


def body_without_id(**properties) -> dict:
    feature = site("x", 44.0, 35.0, precision=100)
    feature.pop("id")
    feature["properties"].update(properties)
    return feature


def history(engine, fid: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT action, version, actor FROM history WHERE feature_id = :id ORDER BY id"), {"id": fid})]


@pytest.mark.parametrize("extra", [{}, {"id": None}])
def test_post_without_an_id_gets_one_from_the_server(app, seeded_client, editor_token, extra):
    response = seeded_client.post(URL, data=json.dumps({**body_without_id(name="Ain al-Asad (north gate)"), **extra}),
                                  content_type=GEOJSON, headers=bearer(editor_token))
    assert response.status_code == 201, response.get_json()
    fid = response.get_json()["id"]
    assert fid.startswith("ain-al-asad-north-gate-") and re.fullmatch(ID_PATTERN, fid)
    assert response.headers["Location"] == f"http://localhost{URL}/{fid}"
    got = seeded_client.get(response.headers["Location"])
    assert got.status_code == 200 and got.headers["ETag"] == response.headers["ETag"]
    assert history(app.extensions["geomap.engine"], fid) == [("create", 1, "test-editor")]


def test_two_posts_of_one_body_make_two_features(seeded_client, editor_token):
    ids = {seeded_client.post(URL, data=json.dumps(body_without_id()), content_type=GEOJSON,
                              headers=bearer(editor_token)).get_json()["id"] for _ in range(2)}
    assert len(ids) == 2


def put(client, token, fid: str, notes: str, **headers):
    feature = site(fid, 44.0, 35.0, precision=100)
    feature["properties"]["notes"] = notes
    return client.put(f"{URL}/{fid}", data=json.dumps(feature), content_type=GEOJSON,
                      headers=bearer(token, **headers))


def test_if_match_star_matches_any_current_version(app, seeded_client, editor_token):
    seeded_client.post(URL, data=json.dumps(site("s1", 44.0, 35.0)), content_type=GEOJSON,
                       headers=bearer(editor_token))
    assert put(seeded_client, editor_token, "s1", "one", **{"If-Match": "*"}).status_code == 200
    assert put(seeded_client, editor_token, "s1", "two", **{"If-Match": "*"}).status_code == 200
    assert seeded_client.get(f"{URL}/s1").get_json()["properties"]["notes"] == "two"
    before = snapshot(app.extensions["geomap.engine"])
    missing = put(seeded_client, editor_token, "nobody", "x", **{"If-Match": "*"})
    assert missing.status_code == 412 and "POST" in missing.get_json()["detail"]  # RFC 9110: no current version
    assert snapshot(app.extensions["geomap.engine"]) == before
    deleted = seeded_client.delete(f"{URL}/s1", headers=bearer(editor_token, **{"If-Match": "*"}))
    assert deleted.status_code == 204
    assert [h[:2] for h in history(app.extensions["geomap.engine"], "s1")] == [
        ("create", 1), ("update", 2), ("update", 3), ("delete", 4)]


def test_if_match_takes_a_list_of_etags(seeded_client, editor_token):
    tag = seeded_client.get(f"{URL}/k1-air-base").headers["ETag"]
    stale = tag.replace("-v1.", "-v9.")
    assert put(seeded_client, editor_token, "k1-air-base", "a", **{"If-Match": f"{stale}, {tag}"}).status_code == 200
    assert put(seeded_client, editor_token, "k1-air-base", "b", **{"If-Match": f"{stale}, {tag}"}).status_code == 412


@pytest.mark.parametrize("header", ['k1-air-base-v1', '"k1-air-base-v1"', '"other-v1.abc"', '"a", b', ""])
def test_malformed_or_foreign_if_match_is_412_or_428(seeded_client, editor_token, header):
    response = put(seeded_client, editor_token, "k1-air-base", "x", **{"If-Match": header})
    assert response.status_code == (428 if not header else 412)
    assert response.mimetype == "application/problem+json" and "If-Match" in response.get_json()["detail"]


def test_a_recreated_id_never_matches_an_old_etag(app, seeded_client, editor_token):
    created = seeded_client.post(URL, data=json.dumps(site("again", 44.0, 35.0)), content_type=GEOJSON,
                                 headers=bearer(editor_token))
    old = created.headers["ETag"]
    assert seeded_client.delete(f"{URL}/again", headers=bearer(editor_token, **{"If-Match": old})).status_code == 204
    recreated = seeded_client.post(URL, data=json.dumps(site("again", 44.0, 35.0)), content_type=GEOJSON,
                                   headers=bearer(editor_token))
    assert recreated.status_code == 201 and recreated.headers["ETag"] != old
    assert seeded_client.get(f"{URL}/again").headers["ETag"] == recreated.headers["ETag"]
    before = snapshot(app.extensions["geomap.engine"])
    assert put(seeded_client, editor_token, "again", "stale", **{"If-Match": old}).status_code == 412
    assert seeded_client.delete(f"{URL}/again", headers=bearer(editor_token, **{"If-Match": old})).status_code == 412
    assert snapshot(app.extensions["geomap.engine"]) == before
    assert put(seeded_client, editor_token, "again", "ok", **{"If-Match": recreated.headers["ETag"]}).status_code == 200


def test_without_the_setting_every_write_needs_if_match(seeded_client, editor_token):
    assert put(seeded_client, editor_token, "k1-air-base", "x").status_code == 428
    assert seeded_client.delete(f"{URL}/k1-air-base", headers=bearer(editor_token)).status_code == 428


def test_the_setting_lets_the_chosen_role_write_without_if_match_and_keeps_history(database_url):
    app = create_app({"DATABASE_URL": database_url, "GEOMAP_WRITE_WITHOUT_IF_MATCH": "admin"})
    engine = app.extensions["geomap.engine"]
    try:
        load(engine)
        with engine.begin() as conn:
            admin, editor = tokens.create(conn, "qgis-admin", "admin"), tokens.create(conn, "someone", "editor")
        client = app.test_client()
        assert put(client, editor, "k1-air-base", "editor").status_code == 428  # below the chosen role
        assert put(client, admin, "k1-air-base", "admin").status_code == 200
        patch = client.patch(f"{URL}/k1-air-base", data=json.dumps({"properties": {"notes": "patched"}}),
                             content_type="application/merge-patch+json", headers=bearer(admin))
        assert patch.status_code == 200
        assert put(client, admin, "nobody", "x").status_code == 404  # PUT never creates
        new = client.post(URL, data=json.dumps(body_without_id()), content_type=GEOJSON, headers=bearer(admin))
        assert client.delete(new.headers["Location"], headers=bearer(admin)).status_code == 204
        assert history(engine, "k1-air-base")[-2:] == [("update", 2, "qgis-admin"), ("update", 3, "qgis-admin")]
        assert [h[0] for h in history(engine, new.get_json()["id"])] == ["create", "delete"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("value", ["viewer", "root", "Editor"])
def test_the_setting_refuses_a_role_that_cannot_write(database_url, value):
    with pytest.raises(ConfigError, match="GEOMAP_WRITE_WITHOUT_IF_MATCH"):
        create_app({"DATABASE_URL": database_url, "GEOMAP_WRITE_WITHOUT_IF_MATCH": value})
