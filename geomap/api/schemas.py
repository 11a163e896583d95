"""The JSON Schema of each collection's features, derived from the one model of each record
(`geomap.model.records`): what `/collections/{id}/schema` (OGC API - Features Part 5),
`/collections/{id}/queryables`, `/collections/{id}/sortables` and the OpenAPI document's
component schemas say, so that no client has to guess a type from the first features
(a `precision_m` of 1234.5 is a number even when the first page holds only whole metres).

Each property's type comes from its kind (`geomap.model.records.kinds`), its enumeration from
its `Literal` vocabulary, its bounds from its `ge`/`le` constraints. JSON Schema 2020-12 writes a
nullable property's type as `[type, "null"]`; OpenAPI 3.0 as `nullable: true`.
"""
from __future__ import annotations

from types import UnionType
from typing import Annotated, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from geomap.api import catalogue
from geomap.model.query import Collection, sortables
from geomap.model.records import PROPERTIES, kinds

SCALARS = {"text": {"type": "string"}, "date": {"type": "string", "format": "date"},
           "integer": {"type": "integer"}, "number": {"type": "number"}, "boolean": {"type": "boolean"}}
SOURCE = {"type": "object", "required": ["title", "url"], "properties": {
    "title": {"type": "string"}, "publisher": {"type": "string"}, "url": {"type": "string", "format": "uri"},
    "date": {"type": "string", "format": "date"}, "primary": {"type": "boolean"}, "copy_of": {"type": "string"}}}
CLAIM = {"type": "object", "required": ["group", "claimant", "stance", "sources"], "properties": {
    "group": {"type": "string"}, "claimant": {"type": "string"}, "stance": {"type": "string"},
    "sources": {"type": "array", "items": SOURCE}, "notes": {"type": "string"}}}
REPORT = {"type": "object", "required": ["count", "description", "sources"], "properties": {
    "count": {"type": "integer", "minimum": 1}, "group": {"type": "string"}, "days_before": {"type": "integer"},
    "description": {"type": "string"}, "identified": {"type": "array", "items": {"type": "string"}},
    "sources": {"type": "array", "items": SOURCE}, "notes": {"type": "string"}}}
LISTS = {"texts": {"type": "array", "items": {"type": "string"}}, "sources": {"type": "array", "items": SOURCE},
         "claims": {"type": "array", "items": CLAIM}, "reports": {"type": "array", "items": REPORT}}
QUERYABLE_KINDS = {"string": "text", "number": "number", "integer": "integer", "date": "date"}
# Part 5's roles: what a client shows as the feature's id, geometry and time.
ROLES = {"date_start": "primary-interval-start", "date_end": "primary-interval-end",
         "valid_from": "primary-interval-start", "valid_to": "primary-interval-end"}
JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"


def _unwrapped(annotation) -> list:
    """The annotation without Optional and Annotated: the types and Literal it allows, and its constraints."""
    if get_origin(annotation) is Annotated:
        inner, *extra = get_args(annotation)
        return _unwrapped(inner) + [m for e in extra for m in getattr(e, "metadata", [e])]
    if get_origin(annotation) in (Union, UnionType):
        return [part for a in get_args(annotation) if a is not type(None) for part in _unwrapped(a)]
    return [annotation]


def property_schema(model: type[BaseModel], name: str, openapi: bool = False) -> dict:
    """The schema of one field of a record model (see the module's docstring)."""
    info = model.model_fields[name]
    kind = kinds(model)[name]
    schema = dict(SCALARS.get(kind) or LISTS[kind])
    for part in _unwrapped(info.annotation) + list(info.metadata):
        if get_origin(part) is Literal:
            schema["enum"] = list(get_args(part))
        for bound, word in (("ge", "minimum"), ("le", "maximum")):
            if getattr(part, bound, None) is not None:
                schema[word] = getattr(part, bound)
    if not info.is_required() and info.default is None:
        schema = {**schema, "nullable": True} if openapi else {**schema, "type": [schema["type"], "null"]}
    return schema


def _geometry(c: Collection) -> dict:
    return {"title": "geometry", "format": "geometry-point" if c.geometry_type == "Point" else "geometry-multipolygon",
            "x-ogc-role": "primary-geometry"}


def feature_schema(c: Collection, base: str) -> dict:
    """The schema of the collection's features (Part 5): the id, every property, the geometry."""
    model = PROPERTIES[c.id]
    properties = {"id": {"title": "id", "type": "string", "x-ogc-role": "id"}}
    for name in model.model_fields:
        properties[name] = {"title": name, **property_schema(model, name), **_role(c, name)}
    properties["geometry"] = _geometry(c)
    return {"$schema": JSON_SCHEMA, "$id": f"{base}/collections/{c.id}/schema", "type": "object",
            "title": catalogue.title(c), "properties": properties}


def _role(c: Collection, name: str) -> dict:
    return {"x-ogc-role": ROLES[name]} if c.temporal and name in c.temporal else {}


def queryable_schema(c: Collection, name: str, openapi: bool = False) -> dict:
    """The schema of a queryable: its field's (an incident's `group`, not a field, is a group id)."""
    model = PROPERTIES[c.id]
    if name in model.model_fields:
        schema = property_schema(model, name, openapi)
        return {k: v for k, v in schema.items() if k not in ("nullable",)} | (
            {"type": schema["type"][0]} if isinstance(schema["type"], list) else {})
    return dict(SCALARS[QUERYABLE_KINDS[c.queryables[name]]])


def queryables(c: Collection, base: str, names=None, path: str = "queryables") -> dict:
    """The queryables (or, with `names` and `path`, the sortables) as a JSON Schema (Part 3)."""
    names = c.queryables if names is None else names
    properties = {name: {"title": name, **queryable_schema(c, name)} for name in names}
    if path == "queryables":
        properties["geometry"] = _geometry(c)
    return {"$schema": JSON_SCHEMA, "$id": f"{base}/collections/{c.id}/{path}", "type": "object",
            "title": catalogue.title(c), "properties": properties, "additionalProperties": False}


def sortables_schema(c: Collection, base: str) -> dict:
    """The properties `sortby` accepts, as a JSON Schema."""
    return queryables(c, base, sortables(c), "sortables")


def geojson_feature_schema(c: Collection, base: str) -> dict:
    """The schema of one GeoJSON Feature of the collection, standalone (what the collection's
    `describedBy` link names): GDAL's OAPIF driver reads its `properties.properties` for the
    layer's field types. Each property has one `type` (GDAL reads no other form); the ones that may be
    null say `nullable`, as in OpenAPI 3.0."""
    feature = openapi_feature(c)
    link = {"type": "object", "properties": {k: {"type": "string"} for k in ("href", "rel", "type", "title")}}
    feature["properties"]["links"] = {"type": "array", "items": link}
    return {"$schema": JSON_SCHEMA, "$id": f"{base}/collections/{c.id}/feature-schema",
            "title": f"A feature of {catalogue.title(c)} (GeoJSON)", **feature}


def openapi_feature(c: Collection) -> dict:
    """The GeoJSON Feature of a collection as an OpenAPI 3.0 schema (typed properties)."""
    model = PROPERTIES[c.id]
    props = {name: property_schema(model, name, openapi=True) for name in model.model_fields}
    required = [name for name, info in model.model_fields.items() if info.is_required()]
    return {"type": "object", "required": ["type", "id", "geometry", "properties"], "properties": {
        "type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "string"},
        "geometry": {"type": "object", "nullable": True, "description": f"GeoJSON {c.geometry_type}"},
        "properties": {"type": "object", "required": required, "properties": props},
        "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}}}
