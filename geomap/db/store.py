"""Writes of whole features, with their history. Every value is bound; nothing is formatted
into SQL. Rows are plain dicts of column values; `geom` is WKB bytes (ISO, little-endian)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from geoalchemy2.elements import WKBElement
from sqlalchemy import Connection, Table, delete, func, insert, select, update

from geomap.db.schema import DERIVED_COLUMNS, attributions, history, metadata

# Columns the database keeps (versions, timestamps, derived columns): not content to write or diff.
BOOKKEEPING = ("version", "created_at", "updated_at", *DERIVED_COLUMNS)
ATTRIBUTION_FIELDS = ("group_id", "claimant", "stance", "sources", "notes")


def table(collection: str) -> Table:
    """The table that stores the collection's features."""
    return metadata.tables[collection]


def _content_columns(tbl: Table) -> list:
    return [func.ST_AsBinary(c).label("geom") if c.name == "geom" else c
            for c in tbl.columns if c.name not in BOOKKEEPING]


def current_rows(conn: Connection, collection: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The stored content (no bookkeeping) and version of the given ids, by id."""
    tbl = table(collection)
    query = select(*_content_columns(tbl), tbl.c.version).where(tbl.c.id.in_(list(ids)))
    rows = {row["id"]: dict(row) for row in conn.execute(query).mappings()}
    for row in rows.values():
        if row.get("geom") is not None:
            row["geom"] = bytes(row["geom"])
    if collection == "incidents":
        for incident_id, claims in current_attributions(conn, rows).items():
            rows[incident_id]["attributions"] = claims
    return rows


def current_attributions(conn: Connection, incident_ids: Iterable[str]) -> dict[str, list[dict]]:
    """Each incident's attribution claims in their stored order (an empty list for one without)."""
    ids = list(incident_ids)
    claims: dict[str, list[dict]] = {i: [] for i in ids}
    query = (select(attributions.c.incident_id, *(attributions.c[f] for f in ATTRIBUTION_FIELDS))
             .where(attributions.c.incident_id.in_(ids)).order_by(attributions.c.incident_id, attributions.c.position))
    for row in conn.execute(query).mappings():
        claims[row["incident_id"]].append({f: row[f] for f in ATTRIBUTION_FIELDS})
    return claims


def existing_ids(conn: Connection, collection: str) -> set[str]:
    """The ids of every feature stored in the collection."""
    tbl = table(collection)
    return set(conn.execute(select(tbl.c.id)).scalars())


def insert_feature(conn: Connection, collection: str, row: dict[str, Any]) -> None:
    """Insert one feature row, and an incident's attribution claims with it."""
    conn.execute(insert(table(collection)).values(**_bindable(row)))
    _write_attributions(conn, collection, row)


def update_feature(conn: Connection, collection: str, row: dict[str, Any], version: int) -> bool:
    """Write `row` as `version` if the stored version is `version - 1`; False when it is not
    (another writer got there first: the row lock makes the second wait, then miss)."""
    tbl = table(collection)
    values = _bindable(row) | {"version": version, "updated_at": func.now()}
    result = conn.execute(update(tbl).where(tbl.c.id == row["id"], tbl.c.version == version - 1).values(**values))
    if result.rowcount == 0:
        return False
    _write_attributions(conn, collection, row)
    return True


def delete_feature(conn: Connection, collection: str, feature_id: str, version: int) -> bool:
    """Delete the feature if its stored version is `version`; False otherwise."""
    tbl = table(collection)
    return conn.execute(delete(tbl).where(tbl.c.id == feature_id, tbl.c.version == version)).rowcount == 1


def feature_history(conn: Connection, collection: str, feature_id: str) -> list[dict[str, Any]]:
    """The audited writes of one feature, oldest first: action, version, actor, time, changes and previous values."""
    h = history.c
    query = (select(h.action, h.version, h.actor, h.at, h.changes, h.previous)
             .where(h.collection == collection, h.feature_id == feature_id).order_by(h.id))
    return [dict(row) for row in conn.execute(query).mappings()]


def append_history(conn: Connection, collection: str, feature_id: str, action: str, version: int,
                   actor: str, changes: list[str], previous: dict | None) -> None:
    """Record one write of a feature in the history: who did what, which fields changed and what they were."""
    conn.execute(insert(history).values(collection=collection, feature_id=feature_id, action=action,
                                        version=version, actor=actor, changes=changes, previous=previous))


def _bindable(row: dict[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in row.items() if k != "attributions"}
    if "geom" in values:
        values["geom"] = WKBElement(values["geom"], srid=4326)
    return values


def _write_attributions(conn: Connection, collection: str, row: dict[str, Any]) -> None:
    if collection != "incidents":
        return
    conn.execute(attributions.delete().where(attributions.c.incident_id == row["id"]))
    claims = [dict(claim, incident_id=row["id"], position=i) for i, claim in enumerate(row["attributions"])]
    if claims:
        conn.execute(insert(attributions), claims)

