"""No request from a client ever causes a 500: every GET route of the OpenAPI document, each of
its parameters in turn given hostile or malformed values, and hostile path segments. Each answer
is a success or a problem document (4xx) naming what is wrong, never a server error."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest

HOSTILE = [
    "", " ", "x", "-1", "0", "1e309", "NaN", "-inf", "99999999999999999999", "1,2", "1,2,3,4,5",
    "200,100,-200,-100", "2019-13-45", "2019-12-27/2019-12-01", "../..", "..", "'; DROP TABLE incidents; --",
    "<img src=x onerror=alert(1)>", "%00", "\u0000", "é" * 300, "x" * 5000, "{}", "[]",
    "S_INTERSECTS(geometry, POINT(", "event_type = 1 AND", "a,,b", "44.2,35.4,-5",
]
RAW = ["%FF%FE", "%ED%A0%80", "%", "%zz"]  # sent as they are: bytes that are not UTF-8, broken escapes
PATH_VALUES = {
    "collectionId": ["incidents", "nope", "<b>x</b>", "..", "x" * 500],
    "featureId": ["k1-rocket-attack-2019-12-27", "nope", "'; DROP TABLE incidents; --", "%00", "x" * 500],
}
PATH_VALUES["incidentId"] = PATH_VALUES["featureId"]
OTHER_PATH_VALUES = ["leaflet.js", "nope", "../../etc/passwd", "%00", "x" * 500]
SLOW = {"/maps.png", "/maps.svg", "/maps/incidents/{incidentId}.png", "/maps/incidents/{incidentId}.svg"}


@pytest.fixture(scope="module")
def api(seeded_app):
    return seeded_app.test_client()


def get_routes(seeded_app) -> list[tuple[str, list[str]]]:
    document = seeded_app.test_client().get("/api?f=json").get_json()
    routes = []
    shared = document["components"]["parameters"]
    for path, item in document["paths"].items():
        if "get" in item:
            parameters = [shared[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
                          for p in item["get"].get("parameters", []) + item.get("parameters", [])]
            names = [p["name"] for p in parameters if p.get("in", "query") == "query"]
            routes.append((path, names))
    return routes


def concrete(path: str, value_index: int = 0) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m.group(1), OTHER_PATH_VALUES)[value_index], path)


def assert_no_server_error(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.get_data(as_text=True)[:300]}"
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json", what
        assert response.get_json()["detail"], what


def test_the_document_lists_the_routes(seeded_app):
    paths = {p for p, _ in get_routes(seeded_app)}
    assert {"/collections/incidents/items", "/collections/sites/items/{featureId}", "/analysis/nearby", "/maps"} <= paths


def test_hostile_query_values_never_cause_a_server_error(seeded_app, api):
    checked = 0
    for path, names in get_routes(seeded_app):
        values = [quote(v, safe="") for v in (HOSTILE[:8] if path in SLOW else HOSTILE)] + RAW
        for name in names:
            for value in values:
                url = f"{concrete(path)}?{name}={value}" + ("&f=json" if name != "f" else "")
                assert_no_server_error(api.get(url), f"GET {url[:120]}")
                checked += 1
    assert checked > 500


def test_hostile_path_segments_never_cause_a_server_error(seeded_app, api):
    for path, _ in get_routes(seeded_app):
        if "{" not in path:
            continue
        for i in range(1, 5):
            url = concrete(path, i)
            assert_no_server_error(api.get(url), f"GET {url}")


@pytest.mark.parametrize("query, name", [
    ("limit=1&limit=2", "limit"), ("limit=5&limit=5", "limit"), ("f=json&f=html", "f"),
    ("bbox=43,34,46,37&datetime=2019-12-27&bbox=43,34,46,37", "bbox"), ("unknown=1", "unknown"),
    ("unknown=1&unknown=2", "unknown"),
])
def test_repeated_and_unknown_parameters_are_problems(api, query, name):
    """A 400 problem naming the parameter, whether its values agree or not (tests/api/
    test_error_policy.py checks every route and parameter)."""
    response = api.get(f"/collections/incidents/items?{query}")
    body = response.get_json()
    assert response.status_code == 400 and response.mimetype == "application/problem+json", body
    assert body["detail"].startswith(f"{name}: ") and [e["field"] for e in body["errors"]] == [name]

