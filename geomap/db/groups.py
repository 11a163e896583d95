"""Groups as an ACLED import needs them: every name and alias to match actors against, and the
groups it creates (each with its history row, like any other write)."""
from __future__ import annotations

from sqlalchemy import Connection, select

from geomap.db import store
from geomap.db.schema import groups


def names(conn: Connection) -> list[dict]:
    """Every group's id, name and aliases, by id."""
    query = select(groups.c.id, groups.c.name, groups.c.aliases).order_by(groups.c.id)
    return [dict(row) for row in conn.execute(query).mappings()]


def create(conn: Connection, rows: list[dict], actor: str) -> list[str]:
    """Insert new groups (rows of the groups table) with their history; returns their ids."""
    for row in rows:
        store.insert_feature(conn, "groups", row)
        store.append_history(conn, "groups", row["id"], "create", 1, actor, sorted(row), None)
    return [row["id"] for row in rows]
