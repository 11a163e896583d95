"""OGC API - Features Part 4 writes (POST, PUT, PATCH, DELETE) with ETag / If-Match, and the
change history of a feature. Every write needs a bearer token of role editor."""
from __future__ import annotations

import msgspec
from flask import Blueprint, Response, current_app, request

from geomap.api import auth, engine, etags, params
from geomap.api.formats import html, json_response, negotiate
from geomap.api.ogc import base_url, collection_or_404
from geomap.db import store, write
from geomap.db.tokens import Holder
from geomap.errors import BadRequest, NotFound, PreconditionRequired, UnsupportedMediaType
from geomap.io.geojson import to_feature, validate_feature
from geomap.model.ids import new_id
from geomap.model.query import Collection

blueprint = Blueprint("writes", __name__)
JSON_TYPES = ("application/geo+json", "application/json")
MERGE_PATCH_TYPES = ("application/merge-patch+json", *JSON_TYPES)


@blueprint.post("/collections/<cid>/items")
def create(cid: str) -> Response:
    """POST /collections/{id}/items: add a feature (editors only); 201 with its Location and ETag.
    A feature without an id (or with a null one) gets one from the server (geomap.model.ids)."""
    c, holder = _editor_write(cid)
    feature = _body(JSON_TYPES)
    if feature.get("id") is None:
        feature = {**feature, "id": new_id(c.id, feature.get("properties"))}
    record = validate_feature(feature, c.id, "request body")
    with engine().begin() as conn:
        version = write.create(conn, record, holder.name)
    return _written(cid, record.id, version, 201)


@blueprint.put("/collections/<cid>/items/<fid>")
def replace(cid: str, fid: str) -> Response:
    """PUT /collections/{id}/items/{fid}: replace a feature whose ETag matches If-Match (editors only)."""
    c, holder = _editor_write(cid)
    expected = _if_match(fid, holder)
    feature = _body(JSON_TYPES)
    _same_id(feature, fid)
    record = validate_feature({**feature, "id": fid}, c.id, "request body")
    with engine().begin() as conn:
        version = write.replace(conn, record, expected, holder.name)
    return _written(cid, fid, version, 200)


@blueprint.patch("/collections/<cid>/items/<fid>")
def update(cid: str, fid: str) -> Response:
    """JSON Merge Patch (RFC 7396) of the stored feature, validated whole before it is written."""
    c, holder = _editor_write(cid)
    expected = _if_match(fid, holder)
    patch = _body(MERGE_PATCH_TYPES)
    _same_id(patch, fid)
    with engine().begin() as conn:
        current = to_feature(c.id, write.current_row(conn, c.id, fid))
        record = validate_feature({**merge_patch(current, patch), "id": fid}, c.id, "patched feature")
        version = write.replace(conn, record, expected, holder.name)
    return _written(cid, fid, version, 200)


@blueprint.delete("/collections/<cid>/items/<fid>")
def remove(cid: str, fid: str) -> Response:
    """DELETE /collections/{id}/items/{fid}: delete a feature whose ETag matches If-Match (editors only)."""
    c, holder = _editor_write(cid)
    expected = _if_match(fid, holder)
    with engine().begin() as conn:
        write.delete(conn, c.id, fid, expected, holder.name)
    return Response(status=204)


def _editor_write(cid: str) -> tuple[Collection, Holder]:
    """What every write checks first, in this order: no query parameters, a known collection,
    a token of role editor."""
    params.check_known(request.args, ())
    c = collection_or_404(cid)
    return c, auth.require("editor")


@blueprint.get("/collections/<cid>/items/<fid>/history")
def history(cid: str, fid: str) -> Response:
    """GET /collections/{id}/items/{fid}/history: the feature's audited versions, as JSON or HTML."""
    params.check_known(request.args, ("f",))
    c = collection_or_404(cid)
    fmt = negotiate()
    with engine().connect() as conn:
        entries = store.feature_history(conn, c.id, fid)
    if not entries:
        raise NotFound(f"no history for {fid!r} in {cid}: it was never written")
    body = {"collection": cid, "id": fid, "history": [{**e, "at": e["at"].isoformat()} for e in entries]}
    if fmt == "html":
        return html("history.html", data=body)
    return json_response(body)


def merge_patch(target, patch):
    """RFC 7396: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _body(media_types: tuple[str, ...]) -> dict:
    if request.mimetype not in media_types:
        raise UnsupportedMediaType(f"Content-Type must be one of {', '.join(media_types)}; got "
                                   f"{request.mimetype or 'none'}")
    try:
        body = msgspec.json.decode(request.get_data(cache=False) or b"null")
    except ValueError as exc:  # msgspec.DecodeError is one (bad UTF-8 too)
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("the request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object (a GeoJSON Feature)")
    return body


def _same_id(body: dict, fid: str) -> None:
    if "id" in body and body["id"] != fid:
        raise BadRequest(f"the body's id {body['id']!r} differs from the URL's {fid!r}; ids cannot be changed")


def _if_match(fid: str, holder: Holder) -> write.Expected:
    """What If-Match expects of the stored feature (geomap.api.etags). Without If-Match, a 428,
    unless GEOMAP_WRITE_WITHOUT_IF_MATCH lets the token's role write over any current version."""
    header = request.headers.get("If-Match")
    if header:
        return etags.expected(header, fid)
    trusted = current_app.extensions["geomap.settings"].write_without_if_match
    if trusted is not None and holder.may(trusted):
        return write.ANY
    raise PreconditionRequired("send If-Match with the ETag from your last GET of this feature (or *), so that "
                               "a concurrent change is never overwritten")


def _written(cid: str, fid: str, version: write.Version, status: int) -> Response:
    url = f"{base_url()}/collections/{cid}/items/{fid}"
    response = json_response({"id": fid, "version": version.version, "links": [{"href": url, "rel": "self"}]},
                             status=status)
    response.headers["ETag"] = etags.etag(fid, version)
    if status == 201:
        response.headers["Location"] = url
    return response
