"""Every claim of the README's paragraph on errors, tried: each request it lists gets the status it
gives, as a problem document that names what is at fault, and a failed write changes nothing.
The paragraph and this table are checked against each other, so neither grows alone."""
from __future__ import annotations

import json
import re

import pytest
from builders import site
from conftest import ROOT
from conftest import snapshot as full_snapshot

from geomap import create_app
from geomap.db import tokens
from geomap.db.cluster import free_port

PARAGRAPH = " ".join(next(p for p in re.split(r"\n\s*\n", (ROOT / "README.md").read_text())
                          if p.startswith("Every error is an RFC 9457 problem document")).split())
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}
SITE = site("new-site", 44.0, 35.0, precision=100)
BIG = {**SITE, "properties": {**SITE["properties"], "notes": "x" * 5000}}
LIMIT = 1000  # GEOMAP_MAX_CONTENT_LENGTH of the app that answers the 413
GEOJSON = "application/geo+json"
K1 = "/collections/sites/items/k1-air-base"

# (the README's words, method, URL, token, headers, body, status, what the detail or errors[] names)
CLAIMS = [
    ("unknown\nparameters", "GET", "/collections/incidents/items?colour=red", None, {}, None, 400, "colour"),
    ("a repeated parameter (`limit=1&limit=2`", "GET", "/collections/incidents/items?limit=1&limit=2", None, {}, None,
     400, "limit"),
    ("a repeated parameter (`limit=1&limit=2`", "GET", "/analysis/overlaps?date=2019-12-27&date=2019-12-28", None,
     {}, None, 400, "date"),
    ("a malformed value of any query parameter", "GET", "/analysis/zones-at?lon=44&lat=95&date=2019-12-27", None,
     {}, None, 400, "lat"),
    ("analysis and maps included", "GET", "/maps?color_by=mood", None, {}, None, 400, "color_by"),
    ("such as a bbox", "GET", "/collections/incidents/items?bbox=44,35,45", None, {}, None, 400, "bbox"),
    ("datetime", "GET", "/collections/incidents/items?datetime=yesterday", None, {}, None, 400, "datetime"),
    ("CQL2 filter", "GET", "/collections/incidents/items?filter=event_type%20%3D", None, {}, None, 400, "filter"),
    ("an unknown collection", "GET", "/collections/nope/items", None, {}, None, 404, "nope"),
    ("or feature", "GET", "/collections/sites/items/nope", None, {}, None, 404, "nope"),
    ("a missing or invalid token (401", "POST", "/collections/sites/items", None, {}, SITE, 401, "Authorization"),
    ("a missing or invalid token (401", "POST", "/collections/sites/items", "not-a-token", {}, SITE, 401, "token"),
    ("/403)", "POST", "/collections/sites/items", "viewer", {}, SITE, 403, "editor"),
    ("a duplicate id (409)", "POST", "/collections/sites/items", "editor", {},
     {**SITE, "id": "k1-air-base"}, 409, "k1-air-base"),
    ("a stale `If-Match` (412", "PUT", K1, "editor", {"If-Match": '"k1-air-base-v7"'}, {**SITE, "id": "k1-air-base"},
     412, "If-Match"),
    ("a body over the size limit (413)", "POST", "/collections/sites/items", "editor", {}, BIG, 413, str(LIMIT)),
    ("the wrong content\ntype (415)", "POST", "/collections/sites/items", "editor", {"Content-Type": "text/plain"},
     SITE, 415, "Content-Type"),
    ("an invalid feature (422", "POST", "/collections/sites/items", "editor", {},
     {**SITE, "properties": {**SITE["properties"], "kind": "castle"}}, 422, "kind"),
    ("a write without `If-Match` (428, unless", "DELETE", K1, "editor", {}, None, 428, "If-Match"),
    ("a URL over 4 KB (414)", "GET", "/collections/incidents/items?filter=" + "x" * 4100, None, {}, None, 414, "4096"),
    ("a database that cannot be reached (503, with `Retry-After`", "GET", "/collections/incidents/items", None, {},
     None, 503, "database"),
]


def test_the_table_tries_every_claim_of_the_paragraph():
    said = [" ".join(words.split()) for words, *_ in CLAIMS]  # the README's words, however its lines wrap
    assert all(words in PARAGRAPH for words in said), [w for w in said if w not in PARAGRAPH]
    claimed = {int(code) for code in re.findall(r"\b([45]\d\d)\b", PARAGRAPH)} - {500}  # "never a 500"
    assert claimed == {status for *_, status, _ in CLAIMS}


@pytest.fixture(scope="module")
def apps(seeded_app):
    """The seeded app, one on the same database with a small body limit, one whose database
    cannot be reached (nothing listens on its port), and their tokens."""
    engine = seeded_app.extensions["geomap.engine"]
    with engine.begin() as conn:
        issued = {role: tokens.create(conn, f"readme-{role}", role) for role in ("viewer", "editor")}
    small = create_app({"DATABASE_URL": engine.url.render_as_string(hide_password=False),
                        "GEOMAP_MAX_CONTENT_LENGTH": str(LIMIT)})
    unreachable = create_app({"DATABASE_URL": engine.url.set(port=free_port()).render_as_string(hide_password=False)})
    yield {413: small, 503: unreachable}, seeded_app, issued
    small.extensions["geomap.engine"].dispose()
    unreachable.extensions["geomap.engine"].dispose()


def data(engine) -> dict:
    """Every table but the tokens' (a token's last use is recorded even when the write fails)."""
    return {name: rows for name, rows in full_snapshot(engine).items() if name != "api_tokens"}


@pytest.mark.parametrize("words, method, url, token, headers, body, status, named", CLAIMS,
                         ids=[f"{c[6]}-{c[7]}" for c in CLAIMS])
def test_each_claim_holds(apps, words, method, url, token, headers, body, status, named):
    special, seeded, issued = apps
    app = special.get(status, seeded)
    before = data(seeded.extensions["geomap.engine"])
    headers = {"Content-Type": GEOJSON, **headers}
    if token:
        headers["Authorization"] = f"Bearer {issued.get(token, token)}"
    response = app.test_client().open(url, method=method, headers=headers,
                                      data=json.dumps(body) if body is not None else None)
    problem = response.get_json()
    assert response.status_code == status and response.mimetype == "application/problem+json", problem
    assert PROBLEM_KEYS <= set(problem) and problem["status"] == status
    fields = {e["field"] for e in problem.get("errors", [])}
    assert named in problem["detail"] or any(named in field for field in fields), problem
    if status == 400:
        assert named in problem["detail"] and named in fields and {e["where"] for e in problem["errors"]} == {"query"}
    if status == 503:
        assert response.headers["Retry-After"].isdigit()
    assert data(seeded.extensions["geomap.engine"]) == before
