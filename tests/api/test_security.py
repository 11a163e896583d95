"""Issue 14 item 10: links name the configured public URL, never the Host header; security
headers on every answer, embeds still framable; a URL over 4 KB is a 414 problem document;
precision beyond the data model's bound is refused; secrets in query strings are not logged."""
from __future__ import annotations

import json

import pytest
from builders import site

from geomap import create_app
from geomap.config import Settings
from geomap.errors import ConfigError
from geomap.server import public_url_for, redact

K1 = "k1-rocket-attack-2019-12-27"
EVIL = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}


@pytest.fixture(scope="module")
def api(seeded_app):
    return seeded_app.test_client()


def test_the_host_header_is_never_echoed(api):
    landing = api.get("/?f=json", headers=EVIL).get_data(as_text=True)
    assert "evil.example" not in landing and "http://localhost/" in landing
    page = api.get(f"/maps/incidents/{K1}", headers=EVIL).get_data(as_text=True)
    assert "evil.example" not in page


def test_links_location_and_embed_code_name_the_public_url(database_url, editor_token):
    app = create_app({"DATABASE_URL": database_url, "GEOMAP_PUBLIC_URL": "https://maps.example.org/geomap/"})
    client = app.test_client()
    from geomap.ingest import load

    load(app.extensions["geomap.engine"])
    links = client.get("/?f=json", headers=EVIL).get_json()["links"]
    assert {link["href"].split("/geomap/")[0] for link in links} == {"https://maps.example.org"}
    page = client.get(f"/maps/incidents/{K1}", headers=EVIL).get_data(as_text=True)
    assert f'&lt;iframe src="https://maps.example.org/geomap/maps/incidents/{K1}?embed=1' in page
    created = client.post("/collections/sites/items", data=json.dumps(site("a-site", 44.0, 35.0, 100)),
                          content_type="application/geo+json", headers={**EVIL, "Authorization": f"Bearer {editor_token}"})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.headers["Location"] == "https://maps.example.org/geomap/collections/sites/items/a-site"
    app.extensions["geomap.engine"].dispose()


@pytest.mark.parametrize("value", ["ftp://x.org", "maps.example.org", "https://", "https://x.org/?a=1",
                                   "https://u:p@x.org", "https://x.org:99999", "https://x .org"])
def test_a_bad_public_url_is_refused_at_start_up(value):
    with pytest.raises(ConfigError, match="GEOMAP_PUBLIC_URL"):
        Settings.load({"GEOMAP_PUBLIC_URL": value})


def test_the_public_url_setting():
    assert Settings.load({}).public_url is None
    assert Settings.load({"GEOMAP_PUBLIC_URL": "http://10.0.0.5:8080/"}).public_url == "http://10.0.0.5:8080"
    assert public_url_for("127.0.0.1", 5000) == "http://127.0.0.1:5000"
    assert public_url_for("::1", 5000) == "http://[::1]:5000"
    assert "0.0.0.0" not in public_url_for("0.0.0.0", 5000)


@pytest.mark.parametrize("path", ["/", "/collections/incidents/items?f=json", "/nowhere", f"/maps/incidents/{K1}"])
def test_security_headers_on_every_answer(api, path):
    response = api.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "object-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy and response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_embeds_stay_framable(api):
    response = api.get(f"/maps/incidents/{K1}?embed=1")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response.headers
    assert "frame-ancestors" not in response.headers["Content-Security-Policy"]  # any host, a file's too


def test_a_url_over_4_kb_is_a_414_problem_document(api):
    response = api.get("/collections/incidents/items?f=json&filter=" + "x" * 4100)
    assert response.status_code == 414
    assert response.mimetype == "application/problem+json"
    assert "4096" in response.get_json()["detail"]


@pytest.mark.parametrize("to", ["44.0,35.0,1e20", "44.0,35.0,-1", "44.0,95.0", "44.0,35.0,inf"])
def test_distance_refuses_values_beyond_the_data_model(api, to):
    response = api.get(f"/analysis/distance?from=sites/k1-air-base&to={to}")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["errors"][0]["field"] == "to"


def test_tokens_in_query_strings_are_redacted():
    assert redact("f=json&token=abc&x=1") == "f=json&token=REDACTED&x=1"
    assert redact("access_token=s3cret") == "access_token=REDACTED"
    assert redact("api_key=1&password=2&f=html") == "api_key=REDACTED&password=REDACTED&f=html"
    assert redact("monkey=1&f=json") == "monkey=1&f=json"


def test_each_bound_address_gets_its_own_links(api):
    # The root URL is made once per scheme, host and port (geomap.api.ogc.base_url): a second
    # address must not be answered with the first one's.
    for base in ("http://localhost", "http://127.0.0.1:5000", "https://localhost:8443", "http://localhost"):
        links = api.get("/collections/incidents/items?limit=1", base_url=base).get_json()["links"]
        assert {link["href"].split("/collections/")[0] for link in links} == {base}


def test_a_header_the_view_set_is_kept_once(database_url):
    # The security headers are added only when missing, whatever the case of the view's own.
    from flask import Response

    app = create_app({"DATABASE_URL": database_url})
    app.add_url_rule("/own-policy", "own_policy", lambda: Response("x", headers={
        "content-security-policy": "default-src 'none'", "X-FRAME-OPTIONS": "DENY"}))
    headers = app.test_client().get("/own-policy").headers
    app.extensions["geomap.engine"].dispose()
    assert headers.getlist("Content-Security-Policy") == ["default-src 'none'"]
    assert headers.getlist("X-Frame-Options") == ["DENY"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("accept, media", [("text/html", "text/html"), ("application/json", "application/geo+json"),
                                           ("text/csv", "text/csv"), (None, "application/geo+json"),
                                           ("text/html", "text/html"), ("*/*", "application/geo+json"),
                                           ("text/csv;q=0.5, text/html", "text/html")])
def test_each_accept_header_gets_its_own_format(api, accept, media):
    # Each Accept header's choice is kept per process (geomap.api.formats.negotiate): one after
    # another, each still gets its own.
    response = api.get("/collections/incidents/items?limit=1", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200 and response.mimetype == media
