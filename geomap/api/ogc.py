"""OGC API - Features (Part 1 core, Part 3 queryables and CQL2 filters): thin views over
geomap.api.params (requests into plain queries), geomap.db.features and geomap.db.extents (the
queries run) and geomap.api.documents (the wire documents)."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import msgspec
from flask import Blueprint, Response, request

from geomap.api import catalogue, crs, cursors, documents, engine, etags, exports, params, schemas
from geomap.api.formats import html, json_response, negotiate, raw_json, respond
from geomap.db import counts, features
from geomap.db.engine import read
from geomap.db.extents import extent
from geomap.errors import NotFound
from geomap.model.query import COLLECTIONS, Collection

blueprint = Blueprint("ogc", __name__)
ITEM_FORMATS = ("json", "geojson", "html")
_ROOTS: dict[tuple, str] = {}  # the root URL by what it is made of (geomap.api.security fixes those)
_ROOTS_MAX = 64


def base_url() -> str:
    """The root URL the client asked under, without its trailing slash. Made once per process
    for each scheme, host and path prefix (one, when `geomap.api.security.PublicURL` has set
    them): Werkzeug builds it anew for each request (issue 16: a twentieth of an items request's
    Python beyond its read)."""
    environ = request.environ
    key = (environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"), environ.get("SERVER_NAME"),
           environ.get("SERVER_PORT"), environ.get("SCRIPT_NAME"))
    root = _ROOTS.get(key)
    if root is None:
        root = request.url_root.rstrip("/")
        if len(_ROOTS) >= _ROOTS_MAX:
            _ROOTS.clear()
        _ROOTS[key] = root
    return root


def collection_or_404(cid: str) -> Collection:
    """The collection `cid`; a 404 naming the collections if there is none."""
    if cid not in COLLECTIONS:
        raise NotFound(f"no collection {cid!r}; the collections are {', '.join(COLLECTIONS)}")
    return COLLECTIONS[cid]


@blueprint.get("/")
def landing() -> Response:
    """GET /: the landing page, as JSON or HTML."""
    params.check_known(request.args, ("f",))
    return respond(documents.landing(base_url()), negotiate(), "landing.html",
                   collections=[documents.collection(c, base_url()) for c in COLLECTIONS.values()])


@blueprint.get("/conformance")
def conformance() -> Response:
    """GET /conformance: the conformance classes, as JSON or HTML."""
    params.check_known(request.args, ("f",))
    return respond(documents.conformance(), negotiate(), "conformance.html")


@blueprint.get("/collections")
def collections() -> Response:
    """GET /collections: every collection with its extent, as JSON or HTML."""
    params.check_known(request.args, ("f",))
    with engine().connect() as conn:
        items = [documents.collection(c, base_url(), extent(conn, c)) for c in COLLECTIONS.values()]
    return respond(documents.collections(items, base_url()), negotiate(), "collections.html")


@blueprint.get("/collections/<cid>")
def collection(cid: str) -> Response:
    """GET /collections/{id}: one collection with its extent, as JSON or HTML."""
    params.check_known(request.args, ("f",))
    c = collection_or_404(cid)
    with engine().connect() as conn:
        doc = documents.collection(c, base_url(), extent(conn, c))
    return respond(doc, negotiate(), "collection.html", collection=c)


@blueprint.get("/collections/<cid>/queryables")
def queryables(cid: str) -> Response:
    """GET /collections/{id}/queryables: the queryables as JSON Schema or HTML."""
    params.check_known(request.args, ("f",))
    c = collection_or_404(cid)
    return respond(documents.queryables(c, base_url()), negotiate(), "queryables.html",
                   "application/schema+json", collection=c)


@blueprint.get("/collections/<cid>/sortables")
def sortables(cid: str) -> Response:
    """GET /collections/{id}/sortables: the properties `sortby` accepts, as JSON Schema or HTML."""
    return _schema_document(cid, schemas.sortables_schema, "Sortables")


@blueprint.get("/collections/<cid>/schema")
def schema(cid: str) -> Response:
    """GET /collections/{id}/schema: the features' schema, every property typed (Part 5)."""
    return _schema_document(cid, schemas.feature_schema, "Schema of the features")


def _schema_document(cid: str, build, heading: str) -> Response:
    """A collection's JSON Schema document (`build(collection, base_url)`), as JSON Schema or HTML."""
    params.check_known(request.args, ("f",))
    c = collection_or_404(cid)
    return respond(build(c, base_url()), negotiate(), "queryables.html", "application/schema+json",
                   collection=c, heading=heading)


@blueprint.get("/collections/<cid>/feature-schema")
def feature_schema(cid: str) -> Response:
    """GET /collections/{id}/feature-schema: a GeoJSON feature's JSON Schema (the describedBy link)."""
    params.check_known(request.args, ())
    c = collection_or_404(cid)
    return json_response(schemas.geojson_feature_schema(c, base_url()), "application/schema+json")


@blueprint.get("/collections/<cid>/items")
def items(cid: str) -> Response:
    """GET /collections/{id}/items: one page of the features that match, as GeoJSON or `f=`'s format."""
    c = collection_or_404(cid)
    fmt = negotiate(params.FORMATS)
    args = request.args.to_dict()
    query = params.feature_query(c, args)
    crs.check_format(query.crs, fmt)
    if fmt != "json":
        params.whole_features_only(request.args, fmt)
    hits = params.hits(request.args)
    if hits:  # the count alone: one key is read, to know whether the count is free
        query = replace(query, page=replace(query.page, limit=1))
    page, count = read(engine(), lambda conn: counts.counted_page(conn, query) if fmt == "json" or hits
                       else (features.page(conn, query), None))
    if hits:
        page = features.FeaturePage([], False)
        fmt = "json"
    links = documents.page_links(f"{base_url()}/collections/{cid}/items", args,
                                 query.page.limit, query.page.offset, _next_cursor(query, page))
    if fmt == "json":
        return crs.header(raw_json(_feature_collection(page, count, links)), query.crs)
    return crs.header(_render_items(fmt, c, page, query, links), query.crs)


def _next_cursor(query, page: features.FeaturePage) -> str | None:
    """The keyset cursor of the next page, None when there is none."""
    if not page.more:
        return None
    return cursors.encode(query.page.offset + len(page.features), page.last)


def _feature_collection(page: features.FeaturePage, count: counts.Count, links: list[dict]) -> str:
    """The FeatureCollection as text: the features pass through as PostgreSQL wrote them.
    `numberMatchedExact` is false when `numberMatched` is the planner's estimate (geomap.db.counts)."""
    envelope = {"type": "FeatureCollection", "numberMatched": count.value, "numberMatchedExact": count.exact,
                "numberReturned": len(page.features),
                "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "links": links}
    head = msgspec.json.encode(envelope).decode()[:-1]
    return f'{head}, "features": [{",".join(page.features)}]}}'


def _render_items(fmt: str, c: Collection, page: features.FeaturePage, query, links: list[dict]) -> Response:
    parsed = [msgspec.json.decode(f) for f in page.features]
    if fmt != "html":
        return exports.response(fmt, c, parsed)
    return html("items.html", collection=c, title=catalogue.title(c), features=parsed, links=links,
                args=request.args, query=query, more=page.more)


@blueprint.get("/collections/<cid>/items/<fid>")
def item(cid: str, fid: str) -> Response:
    """GET /collections/{id}/items/{fid}: one feature with its ETag, as GeoJSON or HTML."""
    params.check_known(request.args, ("f", "crs"))
    c = collection_or_404(cid)
    fmt = negotiate(ITEM_FORMATS)
    chosen = crs.response_crs(request.args)
    crs.check_format(chosen, fmt)
    with engine().connect() as conn:
        found = features.one(conn, c, fid, chosen)
    if found is None:
        raise NotFound(f"no feature {fid!r} in {cid}")
    text, version = found
    feature = msgspec.json.decode(text)
    url = f"{base_url()}/collections/{cid}/items/{fid}"
    feature["links"] = [documents.link(url, "self", "application/geo+json", "This feature"),
                        documents.link(f"{url}?f=html", "alternate", "text/html", "This feature as HTML"),
                        documents.link(f"{base_url()}/collections/{cid}", "collection", "application/json",
                                      catalogue.title(c)),
                        documents.link(f"{url}/history", "version-history", "application/json", "Change history")]
    response = html("item.html", collection=c, feature=feature) if fmt == "html" else \
        json_response(feature, "application/geo+json")
    response.headers["ETag"] = etags.etag(fid, version)
    return crs.header(response, chosen)
