"""Typed errors: each carries an HTTP status and a message that is safe to show users.

No Flask here; the HTTP layer turns these into RFC 9457 problem details.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and why it is wrong."""

    where: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.reason}"


class GeomapError(Exception):
    """Base error. `status` is the HTTP status, `title` a short summary per class."""

    status = 500
    title = "Internal error"
    type_slug = "internal-error"

    def __init__(self, detail: str, problems: list[Problem] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.problems = list(problems or [])

    def __str__(self) -> str:
        if not self.problems:
            return self.detail
        return "\n".join([self.detail, *(f"  - {p}" for p in self.problems)])


class ConfigError(GeomapError):
    title = "Invalid configuration"
    type_slug = "invalid-configuration"


class InvalidInput(GeomapError):
    status = 422
    title = "Invalid input"
    type_slug = "invalid-input"


class NotFound(GeomapError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class DatabaseUnavailable(GeomapError):
    status = 503
    title = "Database unavailable"
    type_slug = "database-unavailable"


class MissingDependency(GeomapError):
    """A system package geomap needs is not installed; the detail says how to install it."""

    title = "Missing dependency"
    type_slug = "missing-dependency"


class BadRequest(GeomapError):
    """A query parameter or header is malformed or not allowed; `detail` names it."""

    status = 400
    title = "Bad request"
    type_slug = "bad-request"


class Unauthorized(GeomapError):
    status = 401
    title = "Unauthorized"
    type_slug = "unauthorized"


class Forbidden(GeomapError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class Conflict(GeomapError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class PreconditionFailed(GeomapError):
    status = 412
    title = "Precondition failed"
    type_slug = "precondition-failed"


class UnsupportedMediaType(GeomapError):
    status = 415
    title = "Unsupported media type"
    type_slug = "unsupported-media-type"


class PreconditionRequired(GeomapError):
    status = 428
    title = "Precondition required"
    type_slug = "precondition-required"
