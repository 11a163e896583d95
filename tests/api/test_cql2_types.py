"""CQL2 literals checked against the queryables' types: every operator with every kind of literal
on every queryable of every collection is an answer or a 400 naming the property, never a 500;
a date string compared with a date is compared as the date. Expected results come from the seed
files."""
from __future__ import annotations

import json

import pytest
from conftest import ROOT

from geomap.api import params
from geomap.db import features
from geomap.errors import BadRequest
from geomap.model.query import COLLECTIONS

SEED = json.loads((ROOT / "data" / "incidents.geojson").read_text())["features"]
LITERALS = [
    "'Battles'", "'2019-12-01'", "'2019-12-01T10:00:00Z'", "'2019-13-45'", "''", "'\\'", "'%'", "'_'", "'it''s'",
    "1", "-1", "0", "1.5", "-2.5e3", "9223372036854775808", "-9223372036854775809", "1e308", "1e309",
    "DATE('2019-12-01')", "TIMESTAMP('2019-12-01T00:00:00Z')", "TRUE", "FALSE", "POINT(44 35)",
    "BBOX(43,34,46,37)", "CASEI('x')", "title", "date_end", "precision_m", "group", "geometry", "nope",
]
OPERATORS = ["{q} = {v}", "{q} <> {v}", "{q} < {v}", "{q} <= {v}", "{q} > {v}", "{q} >= {v}", "{v} = {q}",
             "{q} LIKE {v}", "{q} NOT LIKE {v}", "{q} IN ({v}, {v})", "{q} NOT IN ({v})",
             "{q} BETWEEN {v} AND {v}", "{q} NOT BETWEEN {v} AND {v}", "CASEI({q}) = {v}", "CASEI({q}) LIKE {v}",
             "{q} IS NULL AND {v} = {v}", "S_INTERSECTS({q}, {v})", "NOT ({q} = {v})"]


@pytest.fixture(scope="module")
def api(seeded_app):
    return seeded_app.test_client()


def answer(api, collection: str, cql: str):
    response = api.get(f"/collections/{collection}/items", query_string={"filter": cql, "limit": "1"})
    assert response.status_code in (200, 400), f"{cql}: {response.status_code} {response.get_data(as_text=True)[:300]}"
    if response.status_code == 400:
        body = response.get_json()
        assert response.mimetype == "application/problem+json" and body["detail"].startswith("filter: "), cql
    return response


def translated(conn, collection: str, cql: str) -> int:
    """The status the items route gives a filter (200 or 400), from the same parsing and SQL
    without the HTTP round trip; anything else (a database error) fails the test."""
    try:
        query = params.feature_query(COLLECTIONS[collection], {"filter": cql, "limit": "1"})
        with conn.begin_nested():
            features.page(conn, query)
        return 200
    except BadRequest as exc:
        assert exc.detail.startswith("filter: "), (cql, exc.detail)
        return 400


@pytest.mark.parametrize("collection", list(COLLECTIONS))
def test_every_operator_and_literal_on_every_queryable_is_never_a_server_error(seeded_app, collection):
    """All operators x all literals x a queryable of each kind (and group): 200 or 400, never a
    database error."""
    answered = refused = 0
    queryables = COLLECTIONS[collection].queryables
    names = set({kind: name for name, kind in reversed(queryables.items())}.values()) | ({"group"} & set(queryables))
    with seeded_app.extensions["geomap.engine"].connect() as conn:
        for name in sorted(names):
            for operator in OPERATORS:
                for literal in LITERALS:
                    status = translated(conn, collection, operator.format(q=name, v=literal))
                    answered, refused = answered + (status == 200), refused + (status == 400)
    assert answered > 100 and refused > 100


def test_the_issue_s_variants_over_http(api):
    for cql in ("date_start >= '2019-12-01'", "event_type = 1", "fatalities_best > 9223372036854775808",
                "title LIKE '\\'", "S_INTERSECTS(geometry, BBOX(1, 2, 3))", "S_WITHIN(geometry, POLYGON((1 2, 3 4)))"):
        answer(api, "incidents", cql)


@pytest.mark.parametrize("cql, kind", [
    ("event_type = 1", "a string"), ("fatalities_best = 'many'", "an integer"), ("precision_m > '5000'", "a number"),
    ("date_start >= 'yesterday'", "a date"), ("date_start = 20191201", "a date"), ("title = DATE('2019-12-01')", "a string"),
    ("precision_m LIKE '5%'", "a number"), ("event_type IN ('Battles', 2)", "a string"),
    ("fatalities_best BETWEEN 'a' AND 'b'", "an integer"), ("title = precision_m", "a string"),
    ("event_type = TRUE", "a string"), ("precision_m = 1e309", "a number"),
])
def test_a_literal_of_the_wrong_type_is_a_400_naming_the_property_and_its_type(api, cql, kind):
    detail = answer(api, "incidents", cql).get_json()["detail"]
    name = cql.split()[0]
    assert name in detail and kind in detail, detail


def expected(keep) -> set[str]:
    return {f["id"] for f in SEED if keep(f["properties"])}


def ids(api, cql: str) -> set[str]:
    response = answer(api, "incidents", cql.replace("LIMIT", ""))
    assert response.status_code == 200, response.get_json()
    body = api.get("/collections/incidents/items", query_string={"filter": cql, "limit": "1000"}).get_json()
    return {f["id"] for f in body["features"]}


@pytest.mark.parametrize("cql, keep", [
    ("date_start >= '2019-12-01'", lambda p: p["date_start"] >= "2019-12-01"),
    ("date_start >= DATE('2019-12-01')", lambda p: p["date_start"] >= "2019-12-01"),
    ("'2019-12-31' >= date_end", lambda p: p["date_end"] <= "2019-12-31"),
    ("date_start BETWEEN '2019-12-27' AND '2020-01-03T23:00:00Z'", lambda p: "2019-12-27" <= p["date_start"] <= "2020-01-03"),
    ("date_start IN ('2019-12-27', DATE('2020-01-03'))", lambda p: p["date_start"] in ("2019-12-27", "2020-01-03")),
    ("fatalities_best > 9223372036854775808", lambda p: False),
    ("fatalities_best > -9223372036854775809", lambda p: p["fatalities_best"] is not None),
    ("fatalities_best >= 0.5", lambda p: (p["fatalities_best"] or 0) >= 1),
    ("precision_m > 5000", lambda p: p["precision_m"] > 5000),
    ("title LIKE '%\\%%'", lambda p: "%" in p["title"]),
    ("title LIKE 'IS _%'", lambda p: p["title"].startswith("IS ")),
])
def test_typed_comparisons_select_what_the_seed_says(api, cql, keep):
    assert ids(api, cql) == expected(keep)


def test_a_like_pattern_ending_in_its_escape_is_a_400(api):
    assert "escape" in answer(api, "incidents", "title LIKE '\\'").get_json()["detail"]


def test_advanced_comparison_operators_are_declared(api):
    assert "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators" in \
        api.get("/conformance").get_json()["conformsTo"]
