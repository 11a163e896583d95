"""The OpenAPI 3.0 definition (`/api`) and its HTML rendering (`/api.html`)."""
from __future__ import annotations

from flask import Blueprint, Response, request

import geomap
from geomap import inquiry
from geomap.api import analysis_formats, catalogue, downloads, map_openapi, params, schemas, stories
from geomap.api.documents import DESCRIPTION, TITLE
from geomap.api.formats import html, json_response, negotiate
from geomap.model.query import COLLECTIONS, Collection
from geomap.vocabulary import MAX_DISTANCE_M, MAX_PRECISION_M

blueprint = Blueprint("openapi", __name__)
PROBLEM = {"description": "An RFC 9457 problem", "content": {"application/problem+json": {"schema": {
    "$ref": "#/components/schemas/Problem"}}}}
F_VALUES = ["json", "html"]
# What is at fault, one entry each: `where` is "query" for a query parameter.
ERRORS = {"type": "array", "items": {"type": "object", "required": ["where", "field", "reason"], "properties": {
    k: {"type": "string"} for k in ("where", "field", "reason")}}}


def _param(name: str, description: str, schema: dict | None = None, where: str = "query",
           required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required or where == "path", "description": description,
            "schema": schema or {"type": "string"}}


def _list(parameter: dict) -> dict:
    """A parameter of comma-separated values, each of the parameter's schema."""
    return {**parameter, "schema": {"type": "array", "items": parameter["schema"]}, "style": "form", "explode": False}


def _equals(name: str, schema: dict) -> dict:
    """An equality filter (OGC API Features Part 1, /rec/core/fc-filters): the schema of one value,
    form style without explode, which is how QGIS's OAPIF provider finds the properties it may
    filter on at the server (`"event_type" = 'Battles'` becomes `event_type=Battles`); several
    values separated by commas are read as any of them."""
    return {**_param(name, "Equals this value, or one of several separated by commas", schema),
            "style": "form", "explode": False}


def _f(values=F_VALUES) -> dict:
    return _param("f", "Response format (overrides Accept)", {"type": "string", "enum": list(values)})


def _get(summary: str, parameters: list[dict], media: str = "application/json", schema: dict | None = None) -> dict:
    body = {"schema": schema} if schema else {}
    return {"get": {"summary": summary, "parameters": parameters, "responses": {
        "200": {"description": summary, "content": {media: body, "text/html": {}}}, "400": PROBLEM, "404": PROBLEM}}}


def _ref(kind: str, name: str) -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


PROBLEM_SCHEMA = {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
    **{k: {"type": "integer" if k == "status" else "string"} for k in ("type", "title", "status", "detail", "instance")},
    "errors": ERRORS}}
RADIUS = {"type": "number", "minimum": 0, "maximum": params.MAX_NEAR_RADIUS_M}
ITEMS_DOCS = {
    "bbox": ("minlon,minlat,maxlon,maxlat in WGS84 (or in bbox-crs); minlon > maxlon crosses the antimeridian",
             {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 6}),
    "bbox-crs": ("CRS of bbox (Part 2): CRS84 (default), EPSG 4326 (lat, lon), 3857 or a WGS 84 UTM zone "
                 "(32601-32660, 32701-32760), as a URI or EPSG:code", None),
    "crs": ("CRS of the response's coordinates (Part 2; GeoJSON forms only), as bbox-crs; the Content-Crs "
            "header names it", None),
    "datetime": ("RFC 3339 instant or interval (a/b, ../b, a/..), matched against each feature's dates", None),
    "limit": ("Features per page; a larger limit is the maximum", {
        "type": "integer", "minimum": 1, "maximum": params.MAX_LIMIT, "default": params.DEFAULT_LIMIT}),
    "offset": ("Features to skip", {"type": "integer", "minimum": 0, "default": 0}),
    "cursor": ("Where the next page starts (the next link sets it; opaque; not with offset)", None),
    "sortby": ("Sortables (/collections/{id}/sortables), - before one for descending",
               {"type": "array", "items": {"type": "string"}}),
    "filter": ("CQL2 text filter over the queryables", None), "filter-lang": ("Only cql2-text", None),
    "filter-crs": ("CRS of filter geometries (only CRS84)", None),
    "near": ("lon,lat: only features within radius, with distance_m", None),
    "radius": ("Metres, with near", RADIUS),
    "properties": ("Only these properties of each feature (none when empty)",
                   {"type": "array", "items": {"type": "string"}}),
    "skipGeometry": ("true: features without their geometry", {"type": "boolean", "default": False}),
    "resultType": ("hits: numberMatched alone, no features", {"type": "string", "enum": ["results", "hits"],
                                                                "default": "results"}),
}
SHARED = ("bbox", "datetime", "limit", "offset", "cursor", "sortby", "properties", "skipGeometry")  # in components


def _item_parameter(name: str) -> dict:
    parameter = _param(name, *ITEMS_DOCS[name])
    if parameter["schema"].get("type") == "array":
        parameter = {**parameter, "style": "form", "explode": False}
    return parameter


def _items_path(c: Collection) -> dict:
    parameters = [_f(params.FORMATS)] + [_ref("parameters", n) if n in SHARED else _item_parameter(n)
                                         for n in params.ITEMS_PARAMETERS if n != "f"]
    parameters += [_equals(n, schemas.queryable_schema(c, n, openapi=True)) for n in c.queryables]
    path = _get(f"Features of {catalogue.title(c)}", parameters, "application/geo+json",
                {"$ref": f"#/components/schemas/{c.id}-collection"})
    path["post"] = _write("Add a feature", [], "201")
    return path


def _components() -> dict:
    """Parameters, schemas and security shared by the paths."""
    link = {"type": "object", "required": ["href"], "properties": {
        k: {"type": "string"} for k in ("href", "rel", "type", "title")}}
    collections = {f"{c.id}-feature": schemas.openapi_feature(c) for c in COLLECTIONS.values()}
    collections |= {f"{c.id}-collection": _feature_collection(c) for c in COLLECTIONS.values()}
    return {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {n: _item_parameter(n) for n in SHARED},
            "schemas": {"Problem": PROBLEM_SCHEMA, "Link": link, "JSONSchema": {"type": "object"},
                        "Links": {"type": "object", "properties": {"links": {
                            "type": "array", "items": _ref("schemas", "Link")}}},
                        "Conformance": {"type": "object", "required": ["conformsTo"], "properties": {
                            "conformsTo": {"type": "array", "items": {"type": "string"}}}},
                        "Collection": {"type": "object", "required": ["id", "links"], "properties": {
                            "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
                            "extent": {"type": "object"}, "crs": {"type": "array", "items": {"type": "string"}},
                            "links": {"type": "array", "items": _ref("schemas", "Link")}}},
                        "Collections": {"type": "object", "required": ["collections", "links"], "properties": {
                            "collections": {"type": "array", "items": _ref("schemas", "Collection")},
                            "links": {"type": "array", "items": _ref("schemas", "Link")}}},
                        **collections}}


def _feature_collection(c: Collection) -> dict:
    return {"type": "object", "required": ["type", "features"], "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": _ref("schemas", f"{c.id}-feature")},
        "links": {"type": "array", "items": _ref("schemas", "Link")},
        "numberMatched": {"type": "integer", "minimum": 0, "description": "Exact, or the planner's estimate "
                          "when numberMatchedExact is false (see the API docs: how counts are bounded)"},
        "numberMatchedExact": {"type": "boolean"},
        "numberReturned": {"type": "integer", "minimum": 0}, "timeStamp": {"type": "string", "format": "date-time"}}}


def _download_path(c: Collection) -> dict:
    """Every matching feature as one file (geomap.api.downloads): the items' filters, no paging."""
    filters = [p for p in _items_path(c)["get"]["parameters"]
               if p.get("name", p.get("$ref", "").rsplit("/", 1)[-1]) not in ("f", "limit", "offset", "cursor", "resultType")]
    path = _get(f"Every feature of {catalogue.title(c)} that matches, as one file", [
        _f(downloads.FORMATS), *filters], "application/geo+json")
    path["get"]["responses"]["200"]["content"] = {media: {} for media in
                                                  {downloads.writers.MEDIA_TYPES[f] for f in downloads.FORMATS
                                                   if f != "json"}}
    return path


def _write(summary: str, parameters: list[dict], status: str = "200") -> dict:
    return {"summary": summary, "security": [{"bearer": []}], "parameters": parameters,
            "requestBody": {"required": True, "content": {"application/geo+json": {}}},
            "responses": {status: {"description": summary}, "400": PROBLEM, "401": PROBLEM, "403": PROBLEM,
                          "404": PROBLEM, "409": PROBLEM, "412": PROBLEM, "413": PROBLEM, "415": PROBLEM,
                          "422": PROBLEM, "428": PROBLEM}}


def _item_path(c: Collection) -> dict:
    fid = _param("featureId", "Feature id", where="path")
    if_match = _param("If-Match", "The ETag of the version you read, several separated by commas, or * for any "
                      "current version; needed unless GEOMAP_WRITE_WITHOUT_IF_MATCH lets your token's role write "
                      "without it", where="header")
    path = _get(f"One feature of {catalogue.title(c)} (ETag header)", [fid, _f(), _param("crs", *ITEMS_DOCS["crs"])],
                "application/geo+json", _ref("schemas", f"{c.id}-feature"))
    path["put"] = _write("Replace the feature", [fid, if_match])
    path["patch"] = {**_write("Update the feature (JSON Merge Patch)", [fid, if_match]),
                     "requestBody": {"required": True, "content": {"application/merge-patch+json": {}}}}
    delete = _write("Delete the feature (kept in history)", [fid, if_match], "204")
    delete.pop("requestBody")
    path["delete"] = delete
    return path


def document(base: str) -> dict:
    """The OpenAPI 3.0 definition of the whole service, its server at `base`."""
    paths = {
        "/": _get("Landing page", [_f()], schema=_ref("schemas", "Links")),
        "/conformance": _get("Conformance classes", [_f()], schema=_ref("schemas", "Conformance")),
        "/collections": _get("The collections", [_f()], schema=_ref("schemas", "Collections")), "/api": _get("This OpenAPI definition", [_f(["json"])]),
        "/api.html": _get("The API documentation", []), "/health": _get("Database and versions", []),
        "/analysis/distance": _get("Distance {best, min, max} between two features or points", [
            _param("from", "incidents/ID, sites/ID, zones/ID or lon,lat[,precision_m]", required=True),
            _param("to", "Same forms as from", required=True),
            _param("within", "Metres: also answer 'within this distance?' (yes / possibly / no) with "
                   "P(distance <= within)", {"type": "number", "minimum": 0, "maximum": MAX_DISTANCE_M}),
            _f(analysis_formats.FORMATS)]),
        "/analysis/nearby": _get("Incidents near a feature or point, nearest first", [
            _param("near", "incidents/ID, sites/ID or lon,lat[,precision_m]", required=True),
            _param("radius", "Metres", RADIUS, required=True), _param("datetime", "Date window"),
            _param("event_type", "ACLED event types, comma-separated"), _param("group", "Group ids"),
            _param("limit", "At most this many, the nearest (number_matched counts them all)",
                   {"type": "integer", "minimum": 1, "maximum": params.MAX_LIMIT, "default": params.MAX_LIMIT}),
            _f(analysis_formats.FORMATS)]),
        "/analysis/zones-at": _get("Zones in force on a date related to a point", [
            _param("lon", "Longitude", {"type": "number", "minimum": -180, "maximum": 180}, required=True),
            _param("lat", "Latitude", {"type": "number", "minimum": -90, "maximum": 90}, required=True),
            _param("precision_m", "Point precision in metres",
                   {"type": "number", "minimum": 0, "maximum": MAX_PRECISION_M, "default": 0}),
            _param("date", "YYYY-MM-DD", required=True), _f(analysis_formats.FORMATS)]),
        "/analysis/overlaps": _get("Overlapping zones of different groups on a date", [
            _param("date", "YYYY-MM-DD", required=True), _f(analysis_formats.FORMATS)]),
        "/collections/incidents/items/{featureId}/context": _get("The context report of an incident", [
            _param("featureId", "Incident id", where="path"),
            _list(_param("radius", "Radii in metres, comma-separated", {
                "type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": inquiry.MAX_REPORT_RADIUS_M})),
            _list(_param("window", "Windows in days before the incident, comma-separated", {
                "type": "integer", "minimum": 0, "maximum": inquiry.MAX_REPORT_WINDOW_DAYS})),
            _f(("json", "html", "md", "pdf"))]),
    }
    context = paths["/collections/incidents/items/{featureId}/context"]["get"]["responses"]
    context["200"]["content"] |= {"text/markdown": {}, "application/pdf": {}}
    context["503"] = PROBLEM  # f=pdf without headless Chromium
    paths |= map_openapi.openapi_paths() | stories.openapi_paths()
    for c in COLLECTIONS.values():
        prefix = f"/collections/{c.id}"
        paths[prefix] = _get(catalogue.title(c), [_f()], schema=_ref("schemas", "Collection"))
        for name, what in (("queryables", "Queryables"), ("sortables", "Sortables"), ("schema", "Feature schema")):
            paths[f"{prefix}/{name}"] = _get(f"{what} of {catalogue.title(c)} (JSON Schema)", [_f()],
                                             "application/schema+json", _ref("schemas", "JSONSchema"))
        paths[f"{prefix}/feature-schema"] = _get(f"A feature of {catalogue.title(c)} as GeoJSON (JSON Schema)", [],
                                                 "application/schema+json", _ref("schemas", "JSONSchema"))
        paths[f"{prefix}/items"] = _items_path(c)
        paths[f"{prefix}/download"] = _download_path(c)
        paths[f"{prefix}/items/{{featureId}}"] = _item_path(c)
        paths[f"{prefix}/items/{{featureId}}/history"] = _get("Change history", [
            _param("featureId", "Feature id", where="path"), _f()])
    return {"openapi": "3.0.3", "info": {"title": TITLE, "description": DESCRIPTION, "version": geomap.__version__},
            "servers": [{"url": base}], "paths": paths, "components": _components()}


@blueprint.get("/api")
def service_desc() -> Response:
    """GET /api: the OpenAPI definition as JSON."""
    params.check_known(request.args, ("f",))
    negotiate(("json",))
    return json_response(document(request.url_root.rstrip("/")), "application/vnd.oai.openapi+json;version=3.0")


@blueprint.get("/api.html")
def service_doc() -> Response:
    """GET /api.html: the OpenAPI definition rendered as an HTML page."""
    params.check_known(request.args, ())
    return html("api.html", doc=document(request.url_root.rstrip("/")))
