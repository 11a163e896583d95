"""The OpenAPI document: valid, and listing every route and every parameter the app accepts."""
from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from geomap.api import params
from geomap.model.query import COLLECTIONS


@pytest.fixture(scope="module")
def document(seeded_app):
    return seeded_app.test_client().get("/api").get_json()


def test_openapi_document_validates(document):
    validate(document)


NAMES = {"cid": "{collectionId}", "fid": "{featureId}", "incident_id": "{incidentId}", "name": "{name}",
         "story_id": "{storyId}"}


def _templated(rule: str) -> list[str]:
    """The documented paths of a Flask rule: variables named as in OpenAPI, any(...) expanded."""
    choice = re.search(r"<any\(([^)]*)\):\w+>", rule)
    if choice:
        return [p for option in choice.group(1).split(",")
                for p in _templated(rule.replace(choice.group(0), option.strip()))]
    return [re.sub(r"<(?:\w+:)?(\w+)>", lambda m: NAMES[m.group(1)], rule)]


def test_every_route_and_method_is_documented(seeded_app, document):
    paths = document["paths"]
    for rule in seeded_app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        concrete = [path.replace("{collectionId}", c) if "{collectionId}" in path else path
                    for path in _templated(rule.rule) for c in COLLECTIONS]
        for p in set(concrete):
            assert p in paths, p
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert method.lower() in paths[p], (p, method)


@pytest.mark.parametrize("collection", list(COLLECTIONS))
def test_every_items_parameter_is_documented(document, collection):
    documented = {resolved(document, p)["name"]
                  for p in document["paths"][f"/collections/{collection}/items"]["get"]["parameters"]}
    assert documented == set(params.ITEMS_PARAMETERS) | set(COLLECTIONS[collection].queryables)


def resolved(document: dict, item: dict) -> dict:
    """A parameter or schema, its $ref (#/components/...) followed."""
    while "$ref" in item:
        node = document
        for part in item["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        item = node
    return item


def test_limit_is_a_shared_parameter_with_its_maximum(document):
    """GDAL and QGIS read components.parameters.limit to choose their page size."""
    limit = document["components"]["parameters"]["limit"]
    assert limit["name"] == "limit" and limit["schema"]["maximum"] == params.MAX_LIMIT
    items = document["paths"]["/collections/incidents/items"]["get"]["parameters"]
    assert {"$ref": "#/components/parameters/limit"} in items


def test_every_array_parameter_says_how_it_is_written(document):
    for path, item in document["paths"].items():
        for method in item.values():
            for parameter in (resolved(document, p) for p in method.get("parameters", [])):
                if parameter["schema"].get("type") == "array":
                    assert parameter["style"] == "form" and parameter["explode"] is False, (path, parameter["name"])


@pytest.mark.parametrize("collection", list(COLLECTIONS))
def test_responses_have_typed_schemas(document, collection):
    get = document["paths"][f"/collections/{collection}/items"]["get"]
    page = resolved(document, get["responses"]["200"]["content"]["application/geo+json"]["schema"])
    feature = resolved(document, page["properties"]["features"]["items"])
    typed = feature["properties"]["properties"]["properties"]
    number = "distance_max_m" if collection == "relations" else "precision_m"  # a relation has no precision
    assert typed[number]["type"] == "number"
    one = document["paths"][f"/collections/{collection}/items/{{featureId}}"]["get"]
    assert resolved(document, one["responses"]["200"]["content"]["application/geo+json"]["schema"]) == feature
