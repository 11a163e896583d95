"""The OpenAPI document: valid, and listing every route and every parameter the app accepts."""
from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from geomap.api import params
from geomap.db.features import COLLECTIONS


@pytest.fixture(scope="module")
def document(seeded_app):
    return seeded_app.test_client().get("/api").get_json()


def test_openapi_document_validates(document):
    validate(document)


def _templated(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: {"cid": "{collectionId}", "fid": "{featureId}"}[m.group(1)], rule)


def test_every_route_and_method_is_documented(seeded_app, document):
    paths = document["paths"]
    for rule in seeded_app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = _templated(rule.rule)
        concrete = [path.replace("{collectionId}", c) for c in COLLECTIONS] if "{collectionId}" in path else [path]
        for p in concrete:
            assert p in paths, p
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert method.lower() in paths[p], (p, method)


@pytest.mark.parametrize("collection", list(COLLECTIONS))
def test_every_items_parameter_is_documented(document, collection):
    documented = {p["name"] for p in document["paths"][f"/collections/{collection}/items"]["get"]["parameters"]}
    assert documented == set(params.ITEMS_PARAMETERS) | set(COLLECTIONS[collection].queryables)
