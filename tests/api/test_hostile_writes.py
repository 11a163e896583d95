"""Hostile write bodies: each is refused with a problem document naming what is wrong, never a
500, and the database is left exactly as it was."""
from __future__ import annotations

import json

from test_no_server_errors import assert_no_server_error


def hostile_bodies() -> list[tuple[str, bytes]]:
    from builders import incident, site

    def with_properties(feature: dict, **changes) -> bytes:
        return json.dumps({**feature, "properties": {**feature["properties"], **changes}}).encode()

    good_site, good_incident = site("hostile", 44.0, 35.0), incident("hostile", 44.0, 35.0, "2019-12-27")
    return [
        ("sites", b"{"), ("sites", b"\xff\xfe"), ("sites", b"[]"), ("sites", b"null"), ("sites", b"1e999"),
        ("sites", b"[" * 5000 + b"]" * 5000),
        ("sites", with_properties(good_site, name="nul\u0000inside")),
        ("sites", with_properties(good_site, precision_m=1e308)),
        ("sites", with_properties(good_site, precision_m="12")),
        ("sites", json.dumps({**good_site, "geometry": {"type": "Point", "coordinates": [1e308, 1]}}).encode()),
        ("sites", json.dumps({**good_site, "geometry": {"type": "Point", "coordinates": [[44, 35]]}}).encode()),
        ("sites", json.dumps({**good_site, "id": "x" * 10_000}).encode()),
        ("incidents", with_properties(good_incident, fatalities_best=2**63)),
        ("incidents", with_properties(good_incident, date_start="2019-02-30")),
        ("incidents", with_properties(good_incident, attributions=[{"group": "nope", "stance": "claimed"}])),
        ("incidents", with_properties(good_incident, tags=["ok", "nul\u0000"])),
        ("incidents", with_properties(good_incident, sources=[{"url": "javascript:alert(1)", "title": "x"}])),
    ]


def test_hostile_write_bodies_are_problems_and_change_nothing(app, client, editor_token):
    from conftest import snapshot

    from geomap.ingest import load

    engine = app.extensions["geomap.engine"]
    load(engine)
    before = {k: v for k, v in snapshot(engine).items() if k != "api_tokens"}
    headers = {"Authorization": f"Bearer {editor_token}", "Content-Type": "application/geo+json"}
    for collection, body in hostile_bodies():
        response = client.post(f"/collections/{collection}/items", data=body, headers=headers)
        assert_no_server_error(response, f"POST {collection} {body[:80]!r}")
        assert response.status_code >= 400, (collection, body[-300:])
        response = client.put(f"/collections/{collection}/items/hostile", data=body,
                              headers={**headers, "If-Match": '"hostile-v1"'})
        assert_no_server_error(response, f"PUT {collection} {body[:80]!r}")
    assert {k: v for k, v in snapshot(engine).items() if k != "api_tokens"} == before
