"""API tokens: random bearer secrets, stored only as SHA-256 hashes."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from geomap.db.schema import api_tokens
from geomap.errors import Conflict, InvalidInput
from geomap.vocabulary import ROLES


@dataclass(frozen=True)
class Holder:
    """Whoever presented a valid token: the token's name and its role."""

    name: str
    role: str

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def digest(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def create(conn: Connection, name: str, role: str) -> str:
    """Store a new token's hash and return the token (shown once, never stored)."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    token = secrets.token_urlsafe(32)
    try:
        with conn.begin_nested():
            conn.execute(insert(api_tokens).values(name=name, role=role, token_hash=digest(token)))
    except IntegrityError:
        raise Conflict(f"a token named {name!r} already exists; revoke it or choose another name") from None
    return token


def holder(conn: Connection, token: str) -> Holder | None:
    """The live token's holder, recording its use; None for an unknown or revoked token. The
    time of use is committed without waiting for the disk (a crash may lose the last one, nothing
    else): every write of one token updates its row, and waited for a WAL flush holding it."""
    t = api_tokens.c
    conn.execute(text("SET LOCAL synchronous_commit = off"))
    row = conn.execute(update(api_tokens).where(t.token_hash == digest(token), t.revoked_at.is_(None))
                       .values(last_used_at=func.now()).returning(t.name, t.role)).first()
    return Holder(row.name, row.role) if row else None


def revoke(conn: Connection, name: str) -> bool:
    """Revoke the live token named `name`; False if there is none."""
    t = api_tokens.c
    result = conn.execute(update(api_tokens).where(t.name == name, t.revoked_at.is_(None)).values(revoked_at=func.now()))
    return result.rowcount == 1


def listing(conn: Connection) -> list[dict]:
    """Every token's name, role and dates (created, last used, revoked), never its secret."""
    t = api_tokens.c
    query = select(t.name, t.role, t.created_at, t.last_used_at, t.revoked_at).order_by(t.name)
    return [dict(r) for r in conn.execute(query).mappings()]
