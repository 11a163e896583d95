"""Whole tables for a data package (`geomap export --all`), read in batches in one snapshot.

Records come in id order by bytes (COLLATE "C"), whatever the database's collation, because
the order is part of the data version. Features are the ones `geomap.db.features` builds for the
API and exports, with the geometry's WKB beside them: the package writes coordinates from the
WKB in their shortest exact form, where ST_AsGeoJSON would round them, so that an imported
package is the same data to the last bit.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Text, cast, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert

from geomap.db import migrate, staging
from geomap.db.features import feature_json
from geomap.db.schema import groups, history
from geomap.db.stored import STORED

BATCH = 1000
GROUP_COLUMNS = ("id", "name", "aliases", "kind", "color", "notes")
BOOKKEEPING = ("version", "created_at", "updated_at")
HISTORY_COLUMNS = ("id", "collection", "feature_id", "action", "version", "actor", "at", "changes", "previous")
TABLES = ("groups", "sites", "control_zones", "incidents", "relations")


def _stream(conn: Connection, query) -> Iterator:
    # Options on the statement: Connection.execution_options would stream every later statement too.
    return conn.execute(query.execution_options(stream_results=True, yield_per=BATCH))


def group_rows(conn: Connection) -> Iterator[dict[str, Any]]:
    """Every group, in id order by bytes, streamed."""
    query = select(*(groups.c[c] for c in GROUP_COLUMNS)).order_by(groups.c.id.collate("C"))
    return (dict(row) for row in _stream(conn, query).mappings())


def feature_rows(conn: Connection, collection: str) -> Iterator[tuple[str, bytes | None]]:
    """(Feature JSON text, geometry WKB, None for a relation without one) of every feature of
    `collection`, by id."""
    c = STORED[collection]
    query = (select(cast(feature_json(c), Text), func.ST_AsBinary(c.table.c.geom))
             .order_by(c.table.c.id.collate("C")))
    return ((row[0], None if row[1] is None else bytes(row[1])) for row in _stream(conn, query))


def bookkeeping_rows(conn: Connection) -> Iterator[dict[str, Any]]:
    """Each record's version and timestamps, by table and id."""
    for name in TABLES:
        tbl = STORED[name].table if name in STORED else groups
        query = select(tbl.c.id, *(tbl.c[c] for c in BOOKKEEPING)).order_by(tbl.c.id.collate("C"))
        for row in _stream(conn, query).mappings():
            yield {"collection": name, **row}


def history_rows(conn: Connection) -> Iterator[dict[str, Any]]:
    """Every history row, in the order they were written, streamed."""
    query = select(*(history.c[c] for c in HISTORY_COLUMNS)).order_by(history.c.id)
    return (dict(row) for row in _stream(conn, query).mappings())


def is_empty(conn: Connection) -> bool:
    """No groups, sites, zones, incidents, relations or history: a database a package can be restored into."""
    return not any(conn.execute(text(f"SELECT EXISTS (SELECT FROM {name})")).scalar()
                   for name in (*TABLES, "history"))


def end_import(conn: Connection) -> None:
    """Drop an import's staging tables, which live until commit, so that the next collection's
    import in the same transaction can create its own."""
    temp = staging.IMPORT
    conn.execute(text(f"DROP TABLE IF EXISTS {temp.rows}, {temp.plan}, {temp.claims}, {temp.seen}"))


def restore_history(conn: Connection, rows: Iterator[dict[str, Any]], bookkeeping: Iterator[dict[str, Any]]) -> int:
    """Replace the history the import wrote with the package's, id for id, and give each record
    its version and timestamps; returns the history rows written."""
    conn.execute(delete(history))
    count = 0
    for batch in _batches(rows):
        conn.execute(insert(history), [_timestamps(row, ("at",)) for row in batch])
        count += len(batch)
    conn.execute(text("SELECT setval(pg_get_serial_sequence('history', 'id'), "
                      "coalesce((SELECT max(id) FROM history), 0) + 1, false)"))
    conn.execute(text("CREATE TEMP TABLE package_bookkeeping (collection text, id text, version integer, "
                      "created_at timestamptz, updated_at timestamptz) ON COMMIT DROP"))
    for batch in _batches(bookkeeping):
        conn.execute(text("INSERT INTO package_bookkeeping VALUES (:collection, :id, :version, :created_at, "
                          ":updated_at)"), [_timestamps(row, ("created_at", "updated_at")) for row in batch])
    for name in TABLES:  # identifiers from TABLES, never from input; the collection is bound
        conn.execute(text(f"UPDATE {name} AS t SET version = b.version, created_at = b.created_at, "
                          f"updated_at = b.updated_at FROM package_bookkeeping AS b "
                          f"WHERE b.collection = :name AND t.id = b.id"), {"name": name})
    conn.execute(text("DROP TABLE package_bookkeeping"))
    return count


def _timestamps(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return row | {n: datetime.fromisoformat(row[n]) for n in names}


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def schema_revision(conn: Connection) -> str | None:
    """The Alembic revision the database's schema is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def known_revisions() -> set[str]:
    """Every schema revision this version of geomap knows, so a package from a newer one is refused."""
    from alembic.script import ScriptDirectory

    return {r.revision for r in ScriptDirectory(str(migrate.MIGRATIONS)).walk_revisions()}
