"""The one error body: RFC 9457 problem details (application/problem+json)."""
from __future__ import annotations

import logging

import msgspec
from flask import Flask, Response, request
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from geomap.errors import BadRequest, DatabaseUnavailable, GeomapError, Unauthorized

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://geomap.invalid/problems/"  # a stable identifier, not a page to fetch
RETRY_AFTER_S = 5  # an outage's answer: the pool reconnects on the first request after the database returns


def problem(status: int, title: str, detail: str, slug: str, **extra: object) -> Response:
    """Build the problem+json response; every error the app returns goes through here."""
    body = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail,
            "instance": request.path, **extra}
    return Response(msgspec.json.encode(body), status=status, mimetype=MEDIA_TYPE)


def _from_geomap_error(error: GeomapError) -> Response:
    extra = {"errors": [vars(p) for p in error.problems]} if error.problems else {}
    response = problem(error.status, error.title, error.detail, error.type_slug, **extra)
    if isinstance(error, Unauthorized):
        response.headers["WWW-Authenticate"] = 'Bearer realm="geomap"'
    if isinstance(error, DatabaseUnavailable):
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def _from_outage(error: Exception) -> Response:
    """The database cannot be reached (down, restarting, refusing connections): 503, not 500."""
    log.warning("database unavailable on %s %s: %s", request.method, request.path, str(error).splitlines()[0])
    return _from_geomap_error(DatabaseUnavailable("the database is not reachable; try again shortly"))


def _from_http_exception(error: HTTPException) -> Response:
    slug = (error.name or "error").lower().replace(" ", "-")
    return problem(error.code or 500, error.name, error.description or error.name, slug)


def _from_unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "Internal error", "the server failed to answer this request; it has been logged",
                   "internal-error")


def _refuse_nul() -> None:
    """PostgreSQL text cannot hold a NUL character: refuse one in the URL before any query."""
    if "\x00" in request.path:
        raise BadRequest("path: contains a NUL character")
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise BadRequest(f"{name.replace(chr(0), '')}: contains a NUL character")


def init_app(app: Flask) -> None:
    app.before_request(_refuse_nul)
    app.register_error_handler(GeomapError, _from_geomap_error)
    app.register_error_handler(OperationalError, _from_outage)
    app.register_error_handler(InterfaceError, _from_outage)
    app.register_error_handler(HTTPException, _from_http_exception)
    app.register_error_handler(Exception, _from_unexpected)
