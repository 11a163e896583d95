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
    """Base error. A subclass states its HTTP status and a short title, e.g.
    `class NotFound(GeomapError, status=404, title="Not found")`; the problem type's slug comes
    from the title."""

    status = 500
    title = "Internal error"

    def __init_subclass__(cls, status: int | None = None, title: str | None = None, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.status, cls.title = status or cls.status, title or cls.title

    def __init__(self, detail: str, problems: list[Problem] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.problems = list(problems or [])

    @property
    def type_slug(self) -> str:
        return self.title.lower().replace(" ", "-")

    def __str__(self) -> str:
        if not self.problems:
            return self.detail
        return "\n".join([self.detail, *(f"  - {p}" for p in self.problems)])


class ConfigError(GeomapError, title="Invalid configuration"):
    """A setting is missing or invalid; geomap refuses to start with it."""


class MissingDependency(GeomapError, title="Missing dependency"):
    """A system package geomap needs is not installed; the detail says how to install it."""


class BadRequest(GeomapError, status=400, title="Bad request"):
    """A query parameter or header is malformed or not allowed. `detail` starts with the
    parameter's name and a colon ("limit: must be ..."), which the HTTP layer also gives as the
    problem's errors[].field."""


class Unauthorized(GeomapError, status=401, title="Unauthorized"):
    """The request needs a bearer token and brought none that is valid."""


class Forbidden(GeomapError, status=403, title="Forbidden"):
    """The token is valid but its role may not do this."""


class NotFound(GeomapError, status=404, title="Not found"):
    """No such collection, feature or resource."""


class Conflict(GeomapError, status=409, title="Conflict"):
    """The request clashes with what is stored, e.g. a name already taken."""


class PreconditionFailed(GeomapError, status=412, title="Precondition failed"):
    """If-Match names a version that is not the stored one: someone else wrote first."""


class UnsupportedMediaType(GeomapError, status=415, title="Unsupported media type"):
    """The request body's Content-Type is not one this route reads."""


class InvalidInput(GeomapError, status=422, title="Invalid input"):
    """Input that is well formed but breaks a rule of the data model; `problems` says where."""


class PreconditionRequired(GeomapError, status=428, title="Precondition required"):
    """A write that must say, with If-Match, which version it replaces and did not."""


class DatabaseUnavailable(GeomapError, status=503, title="Database unavailable"):
    """The database cannot be reached; the request may succeed later."""


class PrintingUnavailable(GeomapError, status=503, title="Printing unavailable"):
    """A PDF cannot be printed: no headless Chromium here, or it failed; the detail says which."""
