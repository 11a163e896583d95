"""Bearer-token authentication for writes. The token itself is never logged or stored."""
from __future__ import annotations

from flask import request

from geomap.api import engine
from geomap.db import tokens
from geomap.errors import Forbidden, Unauthorized


def require(role: str) -> tokens.Holder:
    """The holder of the request's bearer token, who must have at least `role`."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("this request needs a bearer token: Authorization: Bearer <token> "
                           "(an admin creates one with `geomap token create --role editor --name NAME`)")
    with engine().begin() as conn:
        holder = tokens.holder(conn, token.strip())
    if holder is None:
        raise Unauthorized("the bearer token is unknown or revoked")
    if not holder.may(role):
        raise Forbidden(f"this request needs the {role} role; the token {holder.name!r} has {holder.role}")
    return holder
