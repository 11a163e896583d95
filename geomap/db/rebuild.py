"""Large imports: drop a collection's secondary indexes and foreign keys before writing and rebuild
them once after, instead of maintaining them row by row (several times faster; readers wait
meanwhile). Names of indexes, keys and triggers come from the catalogue and are quoted.
"""
from __future__ import annotations

from sqlalchemy import Connection, text

# An import that writes at least this many rows, and at least as many as the collection
# holds, rebuilds the collection's secondary indexes and foreign keys once after writing.
BULK_MIN = 20_000
# The function of the triggers on attributions that keep incidents.attributed_groups (migration 0005).
GROUP_TRIGGER = "attributions_sync_attributed_groups"
# Kept up while a large import writes, not dropped and rebuilt: the space-time GiST (migration
# 0004). PostgreSQL 15 builds a GiST on (geom, daterange) by inserting row after row, on one core
# (range_ops has no sort support, and GiST builds are never parallel): rebuilt after the rows, it
# took 8.1 of the rebuild's 17-19 s at 1,000,000 incidents while the other core idled. Kept, the
# same insertions run in the backend while the reader processes parse on the other core: writing
# +6 s, rebuilding -8.5 s (wrote + rebuilt 56.4, 56.1 s against 52.9, 54.4 s, alternating). The
# 2-D GiST on geom is dropped still: its sorted build (2.6 s) is cheaper than its insertions
# (kept too: +8.8 and +12.0 s of writing for -3.0 and -3.1 s of rebuilding, alternating).
KEPT_INDEXES = ("incidents_geom_dates_gist",)


def _fewer_than(conn: Connection, table_name: str, rows: int) -> bool:
    """Whether the table holds at most `rows` rows (counting no further than that)."""
    return conn.execute(text(f"SELECT count(*) FROM (SELECT 1 FROM {table_name} LIMIT :n) x"),
                        {"n": rows + 1}).scalar_one() <= rows


def is_empty(conn: Connection, collection: str) -> bool:
    """True when the collection's table holds no row (an import into it may COPY directly)."""
    return _fewer_than(conn, collection, 0)


def tables_to_rebuild(conn: Connection, collection: str, expected: int) -> list[str]:
    """The tables whose secondary indexes and foreign keys an import of about `expected` rows
    should drop and rebuild once: none for a small import, the collection (and attributions)
    for a large one. (Not history: rebuilding its index costs more than keeping it up.)"""
    if expected < BULK_MIN or not _fewer_than(conn, collection, expected):
        return []
    return [collection] + (["attributions"] if collection == "incidents" else [])


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def drop_indexes_and_keys(conn: Connection, tables: list[str]) -> list[tuple[str, str, str]]:
    """Drop the tables' secondary indexes (but `KEPT_INDEXES`) and foreign keys, and pause the
    triggers that keep `incidents.attributed_groups` (the upsert writes it); returns (kind,
    table, definition/name)."""
    dropped = _pause_group_triggers(conn) if "attributions" in tables else []
    indexes = conn.execute(text(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid IN (SELECT to_regclass(x) FROM unnest(CAST(:tables AS text[])) x) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
        "AND c.relname <> ALL(CAST(:kept AS text[]))"), {"tables": tables, "kept": list(KEPT_INDEXES)}).all()
    for name, definition in indexes:
        conn.execute(text(f"DROP INDEX {_quoted(name)}"))
        dropped.append(("index", "", definition))
    keys = conn.execute(text(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid IN (SELECT to_regclass(x) FROM unnest(CAST(:tables AS text[])) x)"),
        {"tables": tables}).all()
    for owner, name, definition in keys:
        conn.execute(text(f"ALTER TABLE {_quoted(owner)} DROP CONSTRAINT {_quoted(name)}"))
        dropped.append(("key", owner, f"ADD CONSTRAINT {_quoted(name)} {definition}"))
    return dropped


def _pause_group_triggers(conn: Connection) -> list[tuple[str, str, str]]:
    """Disable, until `recreate`, the enabled triggers on attributions that run GROUP_TRIGGER.
    They would recompute, per statement, the groups of every incident whose claims the import
    writes, and find them already right: about a tenth of a large import's time."""
    names = conn.execute(text(
        "SELECT t.tgname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE t.tgrelid = 'attributions'::regclass AND p.proname = :function AND t.tgenabled <> 'D'"),
        {"function": GROUP_TRIGGER}).scalars().all()
    for name in names:
        conn.execute(text(f"ALTER TABLE attributions DISABLE TRIGGER {_quoted(name)}"))
    return [("trigger", "attributions", f"ENABLE TRIGGER {_quoted(name)}") for name in names]


def recreate(conn: Connection, dropped: list[tuple[str, str, str]], tables: list[str]) -> None:
    """Rebuild what `drop_indexes_and_keys` dropped and enable the triggers it paused."""
    conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    for kind, owner, definition in dropped:
        conn.execute(text(definition if kind == "index" else f"ALTER TABLE {_quoted(owner)} {definition}"))
    conn.execute(text(f"ANALYZE {tables[0]}"))  # the collection's plans matter at once; autovacuum does the rest
