"""Relations over the API: the `relations` collection (Part 4 writes with ETags and history, like
the other collections), every bad relation refused naming its field with nothing written, and
/analysis/distance between constrained features."""
from __future__ import annotations

import copy
import json

import pytest
from builders import SOURCE
from conftest import data_snapshot as snapshot

GEOJSON = "application/geo+json"
K1 = "incidents/k1-rocket-attack-2019-12-27"
HERDERS = "incidents/nabtaz-herders-execution-2019"
EMBASSY = "incidents/us-embassy-storming-2019-12-31"
AIRPORT = "incidents/baghdad-airport-drone-strike-2020-01-03"
STRIKES = "incidents/us-strike-al-qaim-1-2019-12-29"


def relation(rid: str, kind: str, subject: str, obj: str | None, geometry=None, **properties) -> dict:
    return {"type": "Feature", "id": rid, "geometry": geometry,
            "properties": {"kind": kind, "subject": subject, "object": obj, **properties, "sources": [SOURCE]}}


def post(client, token, body):
    return client.post("/collections/relations/items", data=json.dumps(body), content_type=GEOJSON,
                       headers={"Authorization": f"Bearer {token}"})


LINK = relation("strikes-precede-storming", "precedes", STRIKES, EMBASSY, notes="the funeral march")


def test_a_relation_is_created_read_replaced_and_deleted_with_etags_and_history(seeded_client, editor_token):
    created = post(seeded_client, editor_token, LINK)
    assert created.status_code == 201 and created.headers["ETag"].startswith('"strikes-precede-storming-v1.')
    got = seeded_client.get("/collections/relations/items/strikes-precede-storming")
    assert got.get_json()["geometry"] is None and got.get_json()["properties"]["subject"] == STRIKES
    changed = copy.deepcopy(LINK)
    changed["properties"]["kind"] = "response_to"
    changed["properties"]["subject"], changed["properties"]["object"] = EMBASSY, STRIKES
    replaced = seeded_client.put("/collections/relations/items/strikes-precede-storming", data=json.dumps(changed),
                                 content_type=GEOJSON, headers={"Authorization": f"Bearer {editor_token}",
                                                                "If-Match": got.headers["ETag"]})
    assert replaced.status_code == 200 and replaced.headers["ETag"].startswith('"strikes-precede-storming-v2.')
    history = seeded_client.get("/collections/relations/items/strikes-precede-storming/history").get_json()["history"]
    assert [h["action"] for h in history] == ["create", "update"]
    assert history[1]["previous"]["properties"]["kind"] == "precedes"
    assert set(history[1]["changes"]) == {"kind", "subject", "object"}
    listed = seeded_client.get("/collections/relations/items?kind=response_to&limit=100").get_json()["features"]
    assert "strikes-precede-storming" in [f["id"] for f in listed]
    assert {f["properties"]["kind"] for f in listed} == {"response_to"}
    deleted = seeded_client.delete("/collections/relations/items/strikes-precede-storming",
                                   headers={"Authorization": f"Bearer {editor_token}",
                                            "If-Match": replaced.headers["ETag"]})
    assert deleted.status_code == 204


def test_the_seed_relations_are_served_as_geojson_and_html(seeded_client):
    features = seeded_client.get("/collections/relations/items?limit=100").get_json()["features"]
    within = {f["id"]: f for f in features}["k1-launch-site-within-305m-of-herders-execution"]
    assert within["properties"]["distance_max_m"] == 304.8 and within["properties"]["sources"]
    page = seeded_client.get("/collections/relations/items/k1-launch-site-within-305m-of-herders-execution?f=html")
    assert page.status_code == 200 and b"304.8" in page.data
    assert b'href="/collections/incidents/items/nabtaz-herders-execution-2019?f=html"' in page.data
    assert seeded_client.get("/collections/relations/items?f=html").status_code == 200


def _self(body):
    body["properties"]["object"] = body["properties"]["subject"]


BAD = {
    "to itself": (lambda b: _self(b), "properties.object", "cannot be related to itself"),
    "unknown feature": (lambda b: b["properties"].update(object="incidents/nowhere"), "properties.object",
                        "unknown incident 'nowhere'"),
    "negative distance": (lambda b: b["properties"].update(distance_max_m=-5), "properties.distance_max_m",
                          "greater than or equal to 0"),
    "absurd distance": (lambda b: b["properties"].update(distance_max_m=4e7), "properties.distance_max_m",
                        "less than or equal to 20004000"),
    "zero within": (lambda b: b["properties"].update(distance_max_m=0), "properties.distance_max_m",
                    "greater than 0"),
    "missing distance": (lambda b: b["properties"].pop("distance_max_m"), "properties.distance_max_m", "missing"),
    "a field of another kind": (lambda b: b["properties"].update(bearing_from=10), "properties.bearing_from",
                                "not used by a 'within' relation"),
    "unknown kind": (lambda b: b["properties"].update(kind="near"), "properties.kind", "within"),
    "a zone as subject": (lambda b: b["properties"].update(subject="control_zones/x"), "properties.subject",
                          "takes incidents or sites"),
    "a malformed reference": (lambda b: b["properties"].update(object="k1"), "properties.object", "pattern"),
    "a polygon on a within": (lambda b: b.update(geometry={"type": "Polygon", "coordinates": [
        [[44, 35], [44.1, 35], [44.1, 35.1], [44, 35]]]}), "geometry", "must be null"),
    "bearing out of range": (lambda b: b["properties"].update(kind="bearing", bearing_from=0, bearing_to=360),
                             "properties.bearing_to", "less than 360"),
    "a link between sites": (lambda b: b["properties"].update(kind="precedes", subject="sites/k1-air-base",
                                                             distance_max_m=None), "properties.subject",
                             "takes incidents"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_a_bad_relation_is_refused_naming_the_field_and_changes_nothing(app, seeded_client, editor_token, name):
    change, field, words = BAD[name]
    body = relation("bad", "within", K1, HERDERS, distance_max_m=300.0)
    change(body)
    before = snapshot(app.extensions["geomap.engine"])
    response = post(seeded_client, editor_token, body)
    assert response.status_code in (400, 422) and response.mimetype == "application/problem+json", response.data
    problems = response.get_json()["errors"]
    assert any(p["field"] == field and words in p["reason"] for p in problems), problems
    assert snapshot(app.extensions["geomap.engine"]) == before


def test_a_cycle_of_precedes_is_refused_naming_its_links(app, seeded_client, editor_token):
    hawija, daquq, dibis = (f"incidents/{i}-2019-12-07" for i in ("hawija-ied-al-saduniyah", "daquq-ied-suhel",
                                                                      "dibis-clash-al-twilah"))
    assert post(seeded_client, editor_token, relation("hawija-precedes-daquq", "precedes", hawija, daquq)).status_code == 201
    assert post(seeded_client, editor_token, relation("daquq-precedes-dibis", "precedes", daquq, dibis)).status_code == 201
    before = snapshot(app.extensions["geomap.engine"])
    response = post(seeded_client, editor_token, relation("dibis-precedes-hawija", "precedes", dibis, hawija))
    assert response.status_code == 422
    reason = response.get_json()["errors"][0]["reason"]
    assert "hawija-precedes-daquq" in reason and "daquq-precedes-dibis" in reason and "cycle" in reason
    assert snapshot(app.extensions["geomap.engine"]) == before


@pytest.mark.parametrize("kind, subject, obj", [
    ("response_to", K1, "incidents/ps752-shootdown-2020-01-08"),  # K-1 answering what came 12 days later
    ("precedes", "incidents/ps752-shootdown-2020-01-08", K1),
])
def test_a_link_against_the_seed_chain_s_order_is_refused_naming_the_links(app, seeded_client, editor_token,
                                                                         kind, subject, obj):
    before = snapshot(app.extensions["geomap.engine"])
    response = post(seeded_client, editor_token, relation("backwards", kind, subject, obj))
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    problem = response.get_json()["errors"][0]
    assert problem["field"] == "properties.kind"
    assert "backwards" in problem["reason"] and "ain-al-asad-missile-strike-precedes-ps752" in problem["reason"]
    assert "cannot come before itself" in problem["reason"]
    assert snapshot(app.extensions["geomap.engine"]) == before


def test_a_part_of_cycle_is_refused(app, seeded_client, editor_token):
    erbil = "incidents/iran-missile-strike-erbil-2020-01-08"
    before = snapshot(app.extensions["geomap.engine"])
    response = post(seeded_client, editor_token, relation("erbil-part-of-bardarash", "part_of", erbil,
                                                          "incidents/iran-missile-impact-bardarash-2020-01-08"))
    assert response.status_code == 422
    reason = response.get_json()["errors"][0]["reason"]
    assert "erbil-part-of-bardarash" in reason and "bardarash-impact-part-of-erbil-missile-strike" in reason
    assert "cannot be part of itself" in reason
    assert snapshot(app.extensions["geomap.engine"]) == before


def test_a_feature_a_relation_names_cannot_be_deleted(app, seeded_client, editor_token):
    url = "/collections/incidents/items/nabtaz-herders-execution-2019"
    etag = seeded_client.get(url).headers["ETag"]
    before = snapshot(app.extensions["geomap.engine"])
    response = seeded_client.delete(url,
                                    headers={"Authorization": f"Bearer {editor_token}", "If-Match": etag})
    assert response.status_code == 409 and "relation" in response.get_json()["detail"]
    assert snapshot(app.extensions["geomap.engine"]) == before


def test_distance_between_the_launch_and_execution_sites_is_at_most_305_m(seeded_client):
    body = seeded_client.get(f"/analysis/distance?from={K1}&to={HERDERS}&within=200").get_json()
    assert body["distance"]["max"] == pytest.approx(304.8) and body["distance"]["min"] == 0.0
    assert body["basis"] == "feasible regions"
    assert body["constraints"] == ["k1-launch-site-within-305m-of-herders-execution"]
    assert body["within"]["answer"] == "possibly"
    # Uniform over the allowed pairs, B about A in a 304.8 m disc: P = (200 / 304.8)^2.
    assert body["within"]["probability"] == pytest.approx((200 / 304.8) ** 2, abs=0.015)
    assert any("derived from incidents/k1-rocket-attack-2019-12-27" in d for d in body["derived"])


@pytest.mark.parametrize("value", ["-1", "abc", "3e7"])
def test_a_bad_within_is_a_400_naming_it(seeded_client, value):
    response = seeded_client.get(f"/analysis/distance?from={K1}&to={HERDERS}&within={value}")
    assert response.status_code == 400 and "within" in json.dumps(response.get_json())


def test_markup_in_a_relation_renders_as_text(seeded_client, editor_token):
    body = relation("marked-up", "part_of", EMBASSY, AIRPORT, notes="<script>alert(1)</script>")
    assert post(seeded_client, editor_token, body).status_code == 201
    page = seeded_client.get("/collections/relations/items/marked-up?f=html").data
    assert b"<script>alert(1)" not in page and b"&lt;script&gt;alert(1)" in page


@pytest.mark.parametrize("fmt", ["csv", "kml", "gpkg", "geojson"])
def test_relations_export_in_every_format(seeded_client, fmt):
    response = seeded_client.get(f"/collections/relations/items?f={fmt}")
    assert response.status_code == 200 and len(response.data) > 100


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_replace_or_patch_that_breaks_a_relation_is_refused_and_changes_nothing(app, seeded_client, editor_token,
                                                                               method):
    rid = "k1-launch-site-within-305m-of-herders-execution"
    url = f"/collections/relations/items/{rid}"
    got = seeded_client.get(url)
    body = got.get_json()
    if method == "put":
        body["properties"]["object"] = body["properties"]["subject"]
        body.pop("links")
    else:
        body = {"properties": {"distance_max_m": -304.8}}
    before = snapshot(app.extensions["geomap.engine"])
    response = getattr(seeded_client, method)(
        url, data=json.dumps(body), content_type="application/merge-patch+json" if method == "patch" else GEOJSON,
        headers={"Authorization": f"Bearer {editor_token}", "If-Match": got.headers["ETag"]})
    field = "properties.object" if method == "put" else "properties.distance_max_m"
    assert response.status_code == 422 and any(p["field"] == field for p in response.get_json()["errors"])
    assert snapshot(app.extensions["geomap.engine"]) == before
