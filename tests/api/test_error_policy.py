"""One error policy for query parameters, on every route: a malformed or repeated parameter is a
400 problem (RFC 9457) whose `detail` and `errors[].field` name it and say what it allows.

The routes come from Flask's url_map and their parameters from the OpenAPI document (the two are
checked against each other here), never from a list in this file. What the file does give is, for
each parameter name, one value that route accepts and one it refuses: the tests check both.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

import pytest

from geomap.api import cursors
from geomap.layers.webmap import common_assets

# The seed's ids that fill in path variables; `name` is any offline map asset.
PATH_IDS = {"incidents": "k1-rocket-attack-2019-12-27", "sites": "k1-air-base", "control_zones": "hawija-pocket",
            "relations": "k1-launch-site-within-305m-of-herders-execution"}
# Relations have no precision: their sort key and filter name another number.
RELATION_VALID = {"sortby": "-distance_max_m", "filter": "distance_max_m > 0", "properties": "kind,distance_max_m"}
# Incidents come in date order (date_start, then id): their cursor holds a date before the id.
INCIDENT_VALID = {"cursor": cursors.encode(1, (date(2019, 12, 1), "a"))}
ASSET = common_assets()[0][1].name
# A value each parameter accepts on every route that has it (with NEEDS); the queryables' come
# from their schemas (see `valid`).
VALID = {
    "f": "json", "bbox": "43,34,46,37", "bbox-crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84", "filter-crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "datetime": "2019-12-01/2019-12-31", "limit": "5", "offset": "1", "sortby": "-precision_m",
    "filter": "precision_m > 0", "filter-lang": "cql2-text", "near": "44.21,35.48", "radius": "25000",
    "from": "incidents/k1-rocket-attack-2019-12-27", "to": "sites/k1-air-base", "within": "8000", "event_type": "Battles",
    "group": "islamic-state", "lon": "44.21", "lat": "35.48", "precision_m": "8000", "date": "2019-12-27",
    "window": "30", "layers": "incidents,zones", "color_by": "event_type", "title": "A map", "embed": "1",
    "rings": "5,10", "width": "600", "height": "400", "dpi": "72", "preset": "social",
    "cursor": cursors.encode(1, ("a",)), "properties": "precision_m,status", "skipGeometry": "true",
    "resultType": "hits",
}
NEEDS = {"near": "radius", "radius": "near"}  # on the routes that have both, one needs the other
# A value each parameter refuses, where its schema does not tell one (see `malformed`).
MALFORMED = {"f": "xml", "filter": "event_type =", "sortby": "notes", "from": "moon/1", "to": "1,2,3,4",
             "near": "44.21", "filter-lang": "cql2-json", "bbox-crs": "EPSG:9999", "crs": "EPSG:27700",
             "filter-crs": "EPSG:3857", "color_by": "mood", "layers": "weather", "preset": "poster",
             "properties": "secret", "skipGeometry": "maybe"}
GRAPHIC = re.compile(r"\.(png|svg|pdf)$")  # a second or two each: all parameters in one request,
ALONE = {"preset"}  # but for those that exclude others (a preset sets the width and height)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # concrete, ready to request
    template: str  # as the OpenAPI document names it
    parameters: dict[str, dict]  # query parameters: name -> OpenAPI parameter object

    @property
    def required(self) -> dict[str, str]:
        return {n: VALID[n] for n, p in self.parameters.items() if p.get("required")}

    def needed(self, name: str) -> dict[str, str]:
        """The required parameters, and the one that goes with `name` on this route."""
        other = NEEDS.get(name)
        return {**self.required, **({other: VALID[other]} if other in self.parameters else {})}

    def url(self, pairs) -> str:
        return f"{self.path}?{urlencode(pairs)}" if pairs else self.path

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def concrete(template: str) -> str:
    collection = next((c for c in PATH_IDS if f"/collections/{c}/" in template), "incidents")
    values = {"featureId": PATH_IDS[collection], "incidentId": PATH_IDS["incidents"], "name": ASSET,
              "storyId": PATH_IDS["incidents"]}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


@pytest.fixture(scope="module")
def api(seeded_app):
    return seeded_app.test_client()


@pytest.fixture(scope="module")
def routes(api) -> list[Route]:
    document = api.get("/api").get_json()
    shared = document["components"]["parameters"]  # parameters given as {"$ref": "#/components/parameters/x"}
    found = []
    for template, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                parameters = [shared[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
                              for p in operation.get("parameters", [])]
                query = {p["name"]: p for p in parameters if p["in"] == "query"}
                found.append(Route(method.upper(), concrete(template), template, query))
    return found


def assert_names(response, name: str, what: str) -> dict:
    """A 400 problem whose detail and errors[].field name the parameter."""
    body = response.get_json(silent=True) or {}
    assert response.status_code == 400, f"{what}: {response.status_code} {response.get_data(as_text=True)[:300]}"
    assert response.mimetype == "application/problem+json", what
    assert {"type", "title", "status", "detail", "instance"} <= set(body), what
    assert name in body["detail"], f"{what}: {body['detail']}"
    assert name in {e["field"] for e in body.get("errors", [])}, f"{what}: {body}"
    assert all(e["where"] == "query" for e in body["errors"]), what
    return body


def send(api, route: Route, pairs):
    response = api.open(route.url(pairs), method=route.method)
    response.get_data()  # a streamed map page runs to its end
    return response


def test_the_openapi_document_and_the_url_map_list_the_same_routes(seeded_app, routes):
    adapter = seeded_app.url_map.bind("localhost")
    documented = {(adapter.match(r.path, method=r.method)[0], r.method) for r in routes}
    served = {(rule.endpoint, m) for rule in seeded_app.url_map.iter_rules() if rule.endpoint != "static"
              for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served
    assert len(routes) > 30


def test_every_documented_parameter_is_accepted(api, routes):
    """Each parameter with a good value (and the route's required ones) answers 2xx, so a 400 in the
    tests below is about the value, never about a parameter the route does not know. A graphic
    takes every parameter in one request (each alone took 1.6 s for a PDF: 53 s in all)."""
    checked = 0
    for route in (r for r in routes if r.method == "GET"):
        if GRAPHIC.search(route.path):
            together = [name for name in route.parameters if name not in ALONE]
            requests = [{**route.required, **{name: valid(route, name) for name in together}}] + \
                [{**route.required, name: valid(route, name)} for name in ALONE & set(route.parameters)]
        else:
            requests = [{**route.needed(name), name: valid(route, name)} for name in route.parameters]
        for pairs in requests:
            response = send(api, route, pairs)
            assert response.status_code < 300, f"{route} {pairs}: {response.get_data(as_text=True)[:300]}"
        checked += len(route.parameters)
    assert checked > 100


def schema(route: Route, name: str) -> dict:
    """The parameter's schema, or its items' for a list."""
    whole = route.parameters[name].get("schema", {})
    return whole.get("items", whole)


def valid(route: Route, name: str) -> str:
    """An accepted value: from VALID, else by the parameter's schema (the queryables)."""
    if "/collections/relations/" in route.path and name in RELATION_VALID:
        return RELATION_VALID[name]
    if "/collections/incidents/" in route.path and name in INCIDENT_VALID:
        return INCIDENT_VALID[name]
    if name in VALID:
        return VALID[name]
    kind = schema(route, name)
    if "enum" in kind:
        return str(kind["enum"][0])
    return {"number": "1.5", "integer": "1"}.get(kind["type"]) or \
        {"date": "2019-12-27"}.get(kind.get("format"), "x")


def malformed(route: Route, name: str) -> str:
    """The refused value: from MALFORMED, else by the parameter's schema (a text parameter
    refuses an empty value)."""
    if name in MALFORMED:
        return MALFORMED[name]
    kind = schema(route, name)
    if kind.get("type") in ("number", "integer"):
        return "lots"
    return {"date": "yesterday"}.get(kind.get("format"), "not-one-of-them" if "enum" in kind else "")


def test_every_malformed_parameter_is_a_400_naming_it(api, routes):
    checked = 0
    for route in routes:
        for name in route.parameters:
            pairs = {**route.needed(name), name: malformed(route, name)}
            assert_names(send(api, route, pairs), name, f"{route} {pairs}")
            checked += 1
    assert checked > 150


def test_every_repeated_parameter_is_a_400_naming_it(api, routes):
    """Even with two good values: which one counts would be a guess."""
    checked = 0
    for route in routes:
        for name in list(route.parameters) or ["f"]:
            value = valid(route, name) if name in route.parameters else "json"
            pairs = [*route.required.items(), (name, value), (name, value)]
            assert_names(send(api, route, pairs), name, f"{route} {pairs}")
            checked += 1
    assert checked > 150


def test_every_unknown_parameter_is_a_400_naming_it(api, routes):
    for route in routes:
        body = assert_names(send(api, route, {**route.required, "colour": "red"}), "colour", str(route))
        assert "allowed" in body["detail"]


def test_the_static_files_refuse_a_repeated_parameter(api):
    assert_names(api.get("/static/geomap.css?v=1&v=1"), "v", "static")


@pytest.mark.parametrize("name", ["radius", "window"])
def test_radius_and_window_behave_the_same_on_every_route_that_has_them(api, routes, name):
    """One parser for each: a value that is not a finite number is refused in the same words on
    every route; the range is each route's documented one, and its ends are accepted or refused
    as the OpenAPI document says."""
    having = [r for r in routes if name in r.parameters]
    assert len(having) >= (3 if name == "radius" else 1)
    details = {}
    for route in having:
        kind = schema(route, name)
        low, high = kind["minimum"], kind["maximum"]
        low, high = f"{low:.15g}", f"{high:.15g}"
        above = str(int(high) + 1) if kind["type"] == "integer" else f"{float(high) * 1.001:.15g}"
        for value in ["x", "inf", "NaN", "1e309", "", f"{float(low) - 1:.15g}", above] + \
                [low] * bool(kind.get("exclusiveMinimum")):
            body = assert_names(send(api, route, {**route.needed(name), name: value}), name, f"{route} {value}")
            details.setdefault(value, set()).add(body["detail"])
            if value == above:  # the message gives the range
                assert high in body["detail"], body["detail"]
        ends = [high] + [low] * (not kind.get("exclusiveMinimum"))
        for value in ends:
            response = send(api, route, {**route.needed(name), name: value})
            assert response.status_code == 200, f"{route} {name}={value}: {response.get_data(as_text=True)[:300]}"
    for value in ("x", "inf", "NaN", "1e309", ""):
        assert len(details[value]) == 1, details[value]
