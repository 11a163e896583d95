"""Part 4 writes: tokens, ETag / If-Match, history, and failed writes that change nothing."""
from __future__ import annotations

import copy
import json
import re
import threading
import urllib.error
import urllib.request

import pytest
from builders import SOURCE, incident, site
from conftest import bearer
from conftest import data_snapshot as snapshot

from geomap import create_app
from geomap.db import tokens
from geomap.ingest import load

GEOJSON = "application/geo+json"


def post(client, token, body, collection="sites", content_type=GEOJSON):
    return client.post(f"/collections/{collection}/items", data=json.dumps(body), content_type=content_type,
                       headers=bearer(token))


NEW_SITE = site("new-site", 44.0, 35.0, precision=100)


def test_writes_need_a_token_of_role_editor(app, seeded_client):
    with app.extensions["geomap.engine"].begin() as conn:
        viewer = tokens.create(conn, "viewer", "viewer")
    anonymous = seeded_client.post("/collections/sites/items", data=json.dumps(NEW_SITE), content_type=GEOJSON)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert post(seeded_client, "not-a-token", NEW_SITE).status_code == 401
    assert post(seeded_client, viewer, NEW_SITE).status_code == 403
    assert seeded_client.get("/collections/sites/items/new-site").status_code == 404


def test_create_then_read_with_etag_and_history(seeded_client, editor_token):
    created = post(seeded_client, editor_token, NEW_SITE)
    assert created.status_code == 201 and created.headers["Location"].endswith("/collections/sites/items/new-site")
    got = seeded_client.get("/collections/sites/items/new-site")
    assert got.headers["ETag"] == created.headers["ETag"]
    assert re.fullmatch(r'"new-site-v1\.[0-9a-z]+"', got.headers["ETag"])
    assert got.get_json()["properties"]["precision_m"] == 100
    history = seeded_client.get("/collections/sites/items/new-site/history").get_json()["history"]
    assert [(h["action"], h["actor"], h["version"]) for h in history] == [("create", "test-editor", 1)]
    assert post(seeded_client, editor_token, NEW_SITE).status_code == 409


def test_put_patch_delete_with_if_match_and_full_history(seeded_client, editor_token):
    url = "/collections/sites/items/k1-air-base"
    got = seeded_client.get(url)
    feature, tag = got.get_json(), got.headers["ETag"]
    feature.pop("links")
    feature["properties"]["notes"] = "replaced"
    assert seeded_client.put(url, data=json.dumps(feature), content_type=GEOJSON,
                             headers=bearer(editor_token)).status_code == 428
    put = seeded_client.put(url, data=json.dumps(feature), content_type=GEOJSON,
                            headers=bearer(editor_token, **{"If-Match": tag}))
    assert put.status_code == 200 and put.headers["ETag"] == tag.replace("-v1.", "-v2.")
    patch = seeded_client.patch(url, data=json.dumps({"properties": {"precision_m": 2500, "admin1": None}}),
                                content_type="application/merge-patch+json",
                                headers=bearer(editor_token, **{"If-Match": put.headers["ETag"]}))
    assert patch.status_code == 200
    props = seeded_client.get(url).get_json()["properties"]
    assert (props["precision_m"], props["admin1"], props["notes"]) == (2500, None, "replaced")
    new = post(seeded_client, editor_token, NEW_SITE)
    deleted = seeded_client.delete("/collections/sites/items/new-site",
                                   headers=bearer(editor_token, **{"If-Match": new.headers["ETag"]}))
    assert deleted.status_code == 204 and seeded_client.get("/collections/sites/items/new-site").status_code == 404
    history = seeded_client.get(f"{url}/history").get_json()["history"]
    assert [(h["action"], h["version"]) for h in history] == [("create", 1), ("update", 2), ("update", 3)]
    assert history[1]["changes"] == ["notes"] and history[1]["previous"]["properties"]["notes"] != "replaced"
    assert history[2]["previous"]["properties"]["precision_m"] == 3000
    gone = seeded_client.get("/collections/sites/items/new-site/history").get_json()["history"]
    assert [h["action"] for h in gone] == ["create", "delete"] and gone[1]["previous"]["id"] == "new-site"


def test_stale_etag_is_refused_and_changes_nothing(app, seeded_client, editor_token):
    url = "/collections/sites/items/k1-air-base"
    patch = json.dumps({"properties": {"notes": "first"}})
    headers = bearer(editor_token, **{"If-Match": seeded_client.get(url).headers["ETag"]})
    assert seeded_client.patch(url, data=patch, content_type="application/merge-patch+json",
                               headers=headers).status_code == 200
    before = snapshot(app.extensions["geomap.engine"])
    stale = seeded_client.patch(url, data=json.dumps({"properties": {"notes": "second"}}),
                                content_type="application/merge-patch+json", headers=headers)
    assert stale.status_code == 412 and stale.mimetype == "application/problem+json"
    assert snapshot(app.extensions["geomap.engine"]) == before


def test_deleting_a_site_that_incidents_target_is_a_conflict(seeded_client, editor_token):
    tag = seeded_client.get("/collections/sites/items/k1-air-base").headers["ETag"]
    response = seeded_client.delete("/collections/sites/items/k1-air-base",
                                    headers=bearer(editor_token, **{"If-Match": tag}))
    assert response.status_code == 409 and "referenced" in response.get_json()["detail"]


BAD_INCIDENT = incident("bad", 44.0, 35.0, "2019-12-27")


@pytest.mark.parametrize("body, content_type, status, mention", [
    ("{not json", GEOJSON, 400, "not valid JSON"),
    ("[1, 2]", GEOJSON, 400, "JSON object"),
    (json.dumps(NEW_SITE), "text/plain", 415, "Content-Type"),
    (json.dumps({**NEW_SITE, "geometry": {"type": "Polygon", "coordinates": [[[44, 35], [45, 36], [45, 35],
                                                                             [44, 36], [44, 35]]]}}),
     GEOJSON, 422, "geometry.type"),
    (json.dumps({**NEW_SITE, "geometry": {"type": "Point", "coordinates": [44, 135]}}), GEOJSON, 422, "latitude"),
    (json.dumps({**NEW_SITE, "properties": {**NEW_SITE["properties"], "kind": "castle"}}), GEOJSON, 422, "kind"),
    (json.dumps({**NEW_SITE, "id": "Bad Id"}), GEOJSON, 422, "slug"),
])
def test_invalid_writes_are_refused_with_a_problem_and_change_nothing(app, seeded_client, editor_token, body,
                                                                       content_type, status, mention):
    before = snapshot(app.extensions["geomap.engine"])
    response = seeded_client.post("/collections/sites/items", data=body, content_type=content_type,
                                  headers=bearer(editor_token))
    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert mention in json.dumps(response.get_json())
    assert snapshot(app.extensions["geomap.engine"]) == before


def test_unknown_group_in_a_claim_is_422_and_changes_nothing(app, seeded_client, editor_token):
    body = copy.deepcopy(BAD_INCIDENT)
    body["properties"]["attributions"] = [{"group": "nobody", "claimant": "x", "stance": "claimed",
                                           "sources": [SOURCE]}]
    before = snapshot(app.extensions["geomap.engine"])
    response = post(seeded_client, editor_token, body, "incidents")
    assert response.status_code == 422 and "unknown group 'nobody'" in json.dumps(response.get_json())
    assert snapshot(app.extensions["geomap.engine"]) == before


def test_oversized_body_is_413(database_url, editor_token):
    small = create_app({"DATABASE_URL": database_url, "GEOMAP_MAX_CONTENT_LENGTH": "1000"})
    with small.extensions["geomap.engine"].begin() as conn:
        token = tokens.create(conn, "other", "editor")
    body = {**NEW_SITE, "properties": {**NEW_SITE["properties"], "notes": "x" * 5000}}
    response = post(small.test_client(), token, body)
    small.extensions["geomap.engine"].dispose()
    assert response.status_code == 413 and response.mimetype == "application/problem+json"


def at_once(requests: list[urllib.request.Request]) -> list[int]:
    """Send the requests from one thread each, released together; their statuses, sorted."""
    barrier, statuses = threading.Barrier(len(requests)), []

    def send(request: urllib.request.Request) -> None:
        barrier.wait()
        try:
            with urllib.request.urlopen(request) as response:
                statuses.append(response.status)
        except urllib.error.HTTPError as error:
            with error:  # closes its response: an unclosed socket is a ResourceWarning, an error here
                statuses.append(error.code)

    threads = [threading.Thread(target=send, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)


def test_concurrent_puts_with_the_same_etag_exactly_one_wins(live_app, live_server, editor_token):
    load(live_app.extensions["geomap.engine"])
    url = f"{live_server}/collections/sites/items/k1-air-base"
    with urllib.request.urlopen(url) as response:
        feature, tag = json.load(response), response.headers["ETag"]
    feature.pop("links")

    def put(n: int) -> urllib.request.Request:
        body = copy.deepcopy(feature)
        body["properties"]["notes"] = f"writer {n}"
        return urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT", headers=bearer(
            editor_token, **{"If-Match": tag, "Content-Type": GEOJSON}))

    assert at_once([put(n) for n in range(8)]) == [200] + [412] * 7
    with urllib.request.urlopen(f"{url}/history") as response:
        history = json.load(response)["history"]
    assert [h["version"] for h in history] == [1, 2]


def test_twenty_concurrent_patches_with_one_etag_exactly_one_wins(live_app, live_server, editor_token):
    """Issue 14: 20 PATCHes sent at once with the same If-Match: one 200, nineteen 412."""
    load(live_app.extensions["geomap.engine"])
    url = f"{live_server}/collections/incidents/items/k1-rocket-attack-2019-12-27"
    with urllib.request.urlopen(url) as response:
        tag = response.headers["ETag"]
    patches = [urllib.request.Request(url, data=json.dumps({"properties": {"title": f"writer {n}"}}).encode(),
                                      method="PATCH", headers=bearer(editor_token, **{
                                          "If-Match": tag, "Content-Type": "application/merge-patch+json"}))
               for n in range(20)]
    assert at_once(patches) == [200] + [412] * 19
    with urllib.request.urlopen(f"{url}/history") as response:
        assert [h["version"] for h in json.load(response)["history"]] == [1, 2]
