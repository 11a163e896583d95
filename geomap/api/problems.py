"""The one error body: RFC 9457 problem details (application/problem+json)."""
from __future__ import annotations

import logging
import re

import msgspec
from flask import Flask, Response, current_app, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from geomap.api import params
from geomap.errors import BadRequest, DatabaseUnavailable, GeomapError, Problem, Unauthorized

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://geomap.invalid/problems/"  # a stable identifier, not a page to fetch
RETRY_AFTER_S = 5  # an outage's answer: the pool reconnects on the first request after the database returns
# "limit: must be ...": every parser's BadRequest starts with the parameter(s) at fault
# (geomap.io.params states the rule), so the errors[] of a 400 name them without each raise
# site building a Problem.
NAMED = re.compile(r"(?P<names>[a-z][\w-]*(?:, [a-z][\w-]*)*): (?P<reason>.+)", re.DOTALL)


def problem(status: int, title: str, detail: str, slug: str, **extra: object) -> Response:
    """Build the problem+json response; every error the app returns goes through here."""
    body = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail,
            "instance": request.path, **extra}
    return Response(msgspec.json.encode(body), status=status, mimetype=MEDIA_TYPE)


def _from_geomap_error(error: GeomapError) -> Response:
    found = error.problems or _named(error)
    extra = {"errors": [vars(p) for p in found]} if found else {}
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


def _pool_exhausted(error: PoolTimeout) -> Response:
    """Every pooled connection of this worker stayed in use for the pool's timeout (a gevent
    worker holds many requests at once): 503, so the client retries, not a 500."""
    log.warning("no database connection free on %s %s: %s", request.method, request.path, str(error).splitlines()[0])
    return _from_geomap_error(DatabaseUnavailable("every database connection is in use; try again shortly"))


def _named(error: GeomapError) -> list[Problem]:
    """The query parameters a 400 names at the start of its detail, as problems."""
    match = NAMED.fullmatch(error.detail) if isinstance(error, BadRequest) else None
    if match is None:
        return []
    return [Problem("query", name, match["reason"]) for name in match["names"].split(", ")]


def _from_http_exception(error: HTTPException) -> Response:
    slug = (error.name or "error").lower().replace(" ", "-")
    return problem(error.code or 500, error.name, error.description or error.name, slug)


def _too_large(error: RequestEntityTooLarge) -> Response:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    return problem(413, "Content too large", f"the request body is over the limit of {limit} bytes "
                   "(GEOMAP_MAX_CONTENT_LENGTH); send a smaller body", "content-too-large")


def _from_unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "Internal error", "the server failed to answer this request; it has been logged",
                   "internal-error")


def _check_url() -> None:
    """Before any view: the one query-string policy of every route (params.single), and no NUL in
    the path (PostgreSQL text cannot hold one)."""
    if "\x00" in request.path:
        raise BadRequest("the path contains a NUL character", [Problem("path", "path", "contains a NUL character")])
    params.single(request.args.items(multi=True))


def init_app(app: Flask) -> None:
    """Answer every error of `app` with a problem details body: ours, HTTP ones, outages and the unexpected."""
    app.before_request(_check_url)
    app.register_error_handler(GeomapError, _from_geomap_error)
    app.register_error_handler(OperationalError, _from_outage)
    app.register_error_handler(InterfaceError, _from_outage)
    app.register_error_handler(PoolTimeout, _pool_exhausted)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _from_http_exception)
    app.register_error_handler(Exception, _from_unexpected)
