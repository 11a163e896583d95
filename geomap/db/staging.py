"""The staging tables of a write: temporary tables in the target's column types, filled by COPY
(the rows, and an incident's claims keyed by the row's place in the file), with the plan of what
changes beside them; and the COPY statements of a first import that writes straight into an
empty collection.

Two sets (`Staging`): an import's (`create_staging`), made for its transaction and dropped at
commit, and the session's of each collection (`session_staging`), which writes of a few records
(the API's, `geomap load`) reuse: creating and dropping four temporary tables cost such a write
about two thirds of its database time. Identifiers come from the schema metadata, never from
input.
"""
from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from geomap.db.store import BOOKKEEPING, table

log = logging.getLogger(__name__)
TEMP_BUFFERS = "256MB"  # local buffers for the staging tables (a session's, only as used)
# The column of incidents that the claims determine (migration 0005).
DERIVED = "attributed_groups"


@dataclass(frozen=True)
class Staging:
    """The temporary tables of a staged write: the rows (the target's columns, `staging_columns`),
    an incident's claims (`CLAIM_COLUMNS`), the plan of what changes (`PLAN_COLUMNS`), and for an
    import the ids seen so far. `kept`: the session's tables, emptied after each use."""

    rows: str
    claims: str
    plan: str
    seen: str = ""
    kept: bool = False


IMPORT = Staging("import_staging", "import_claims", "import_plan", "import_ids")
PLAN_COLUMNS = "id text, action text, version integer, changes jsonb, previous jsonb"


def content_columns(collection: str) -> list[str]:
    """The target table's columns that an import writes, in table order."""
    return [c.name for c in table(collection).columns if c.name not in BOOKKEEPING]


def staging_columns(collection: str) -> list[str]:
    """The staging table's columns that COPY fills: the target's content columns, for incidents
    the groups of the affirmative claims (`incidents.attributed_groups`, which the upsert writes
    itself so that the triggers on `attributions` find every written incident already right and
    rewrite none), and where each row came from (`src`) and its place in the file (`ord`)."""
    return written_columns(collection) + ["src", "ord"]


# The claims staging table's columns, filled by COPY: the incident's place in the file (`ord`
# of the staging table), then the columns of attributions.
CLAIM_COLUMNS = ("ord", "position", "group_id", "claimant", "stance", "sources", "notes")


def written_columns(collection: str) -> list[str]:
    """The columns an import writes: the content, and for incidents the claims' groups."""
    return content_columns(collection) + ([DERIVED] if collection == "incidents" else [])


def _fields(collection: str, names: list[str]) -> list[tuple[str, str]]:
    """Columns with the kind of value each holds: text, date, number, or the name of a column
    written specially (id, geom, sources, tags, attributed_groups, src, ord)."""
    kinds = {"TEXT": "text", "DATE": "date", "DOUBLE": "number", "INTEGER": "number", "ARRAY": "texts"}
    columns = {c.name: c for c in table(collection).columns}
    return [(name, kinds.get(str(columns[name].type), name) if name in columns else name) for name in names]


def staging_fields(collection: str) -> list[tuple[str, str]]:
    """The staging columns (`staging_columns`) with their kinds."""
    return _fields(collection, staging_columns(collection))


def direct_fields(collection: str) -> list[tuple[str, str]]:
    """The columns a first import COPYs into the collection itself (`direct_copies`), with their kinds."""
    return _fields(collection, written_columns(collection))


HISTORY_COLUMNS = ("collection", "feature_id", "action", "version", "actor", "changes")


def direct_copies(collection: str) -> list[str]:
    """The COPY statements of a first import into an empty collection, which writes the rows
    straight into their tables: the collection, for incidents the claims (keyed by incident id),
    and history (one `create` line per row: `geomap.io.rows.history_line`)."""
    copies = [f"COPY {collection} ({', '.join(written_columns(collection))}) FROM STDIN"]
    if collection == "incidents":
        copies.append(f"COPY attributions (incident_id, {', '.join(CLAIM_COLUMNS[1:])}) FROM STDIN")
    return copies + [f"COPY history ({', '.join(HISTORY_COLUMNS)}) FROM STDIN"]


def create_staging(conn: Connection, collection: str) -> list[str]:
    """An import's temporary tables (`IMPORT`), dropped at commit: the staging table (the
    target's column types, no constraints) and for incidents the claims staging table, refilled
    for each chunk of the file, the plan, and the ids seen so far. Returns the COPY statements
    that fill the staging tables (the claims' second)."""
    _local_buffers(conn)
    for statement in _staging_tables(collection, IMPORT, "ON COMMIT DROP"):
        conn.execute(text(statement))
    # `src` (file, line or feature, id) is unique per row: it tells a first use from a repeat.
    conn.execute(text(f"CREATE TEMP TABLE {IMPORT.seen} (id text, src text) ON COMMIT DROP"))
    conn.execute(text(f"CREATE UNIQUE INDEX ON {IMPORT.seen} (id)"))
    return staging_copies(collection, IMPORT)


def session_staging(conn: Connection, collection: str) -> Staging:
    """The session's staging tables of the collection, made on the session's first write to it
    and kept (emptied at each commit, and by `apply` after each use). Their names carry
    a digest of the staging columns, so that a session that outlives a schema change makes new
    ones rather than COPY into the old."""
    staging = _session_names(collection)
    if conn.execute(text("SELECT to_regclass(:name)"), {"name": f"pg_temp.{staging.rows}"}).scalar() is None:
        _local_buffers(conn)  # as an import in this session would (the session's first temporary table)
        for statement in _staging_tables(collection, staging, "ON COMMIT DELETE ROWS"):
            conn.execute(text(statement))
    return staging


@functools.cache
def _session_names(collection: str) -> Staging:
    columns = [(c.name, str(c.type)) for c in table(collection).columns] + [(c, "") for c in CLAIM_COLUMNS]
    digest = hashlib.sha1(repr(columns).encode()).hexdigest()[:10]
    return Staging(f"write_{collection}_{digest}", f"write_claims_{digest}", f"write_plan_{digest}", kept=True)


def _staging_tables(collection: str, staging: Staging, on_commit: str) -> list[str]:
    """CREATE statements of the staging tables (rows, claims for incidents, plan)."""
    # `attributions` (the claims as JSON) is not COPYed: `bulk.apply` fills it from the claims table.
    extra = (["NULL::jsonb AS attributions", f"NULL::text[] AS {DERIVED}"] if collection == "incidents" else []) + \
        ["NULL::text AS src", "NULL::bigint AS ord"]
    statements = [f"CREATE TEMP TABLE {staging.rows} {on_commit} AS SELECT "
                  f"{', '.join(content_columns(collection) + extra)} FROM {collection} WITH NO DATA"]
    if collection == "incidents":
        statements.append(f"CREATE TEMP TABLE {staging.claims} {on_commit} AS SELECT 0::bigint AS ord, "
                          f"{', '.join(CLAIM_COLUMNS[1:])} FROM attributions WITH NO DATA")
    statements.append(f"CREATE TEMP TABLE {staging.plan} ({PLAN_COLUMNS}) {on_commit}")
    return statements


def staging_targets(collection: str, staging: Staging) -> list[tuple[str, list[str]]]:
    """The staging tables that COPY fills, with the columns of its lines: the rows', then for
    incidents the claims'."""
    return [(staging.rows, staging_columns(collection))] + \
        ([(staging.claims, list(CLAIM_COLUMNS))] if collection == "incidents" else [])


def staging_copies(collection: str, staging: Staging) -> list[str]:
    """The COPY statements that fill the staging tables (`staging_targets`)."""
    return [f"COPY {name} ({', '.join(columns)}) FROM STDIN" for name, columns in staging_targets(collection, staging)]


def _local_buffers(conn: Connection) -> None:
    """Give the session's temporary tables room for a chunk: with the default 8 MB of
    temp_buffers a staged chunk (about 20 MB) is written out to a file and read back by each
    statement. The setting can change only before the session's first use of a temporary
    table, hence the savepoint: a session that has used one keeps what it has. (Local buffers
    are taken as used: a session that stages a few records holds a few pages.)"""
    try:
        with conn.begin_nested():
            conn.execute(text(f"SET LOCAL temp_buffers = '{TEMP_BUFFERS}'"))
    except DBAPIError:
        log.info("temp_buffers is already fixed for this session; keeping it")


def repeated_ids(conn: Connection, staged: int) -> list[tuple[str, str]]:
    """Remember the chunk's ids (the first occurrence of each), and return (where, where of the
    first use) for each staged row whose id came earlier in the file, in this chunk or an
    earlier one; those rows are dropped from the chunk. `staged` is the chunk's row count."""
    rows, seen = IMPORT.rows, IMPORT.seen
    remembered = conn.execute(text(
        f"WITH new AS (INSERT INTO {seen} (id, src) SELECT id, src FROM {rows} ORDER BY ord "
        "ON CONFLICT (id) DO NOTHING RETURNING 1) SELECT count(*) FROM new")).scalar_one()
    if remembered == staged:
        return []
    found = conn.execute(text(f"SELECT s.src, e.src FROM {rows} s JOIN {seen} e ON e.id = s.id "
                              "WHERE e.src <> s.src ORDER BY s.ord")).all()
    conn.execute(text(f"DELETE FROM {rows} s USING {seen} e WHERE e.id = s.id AND e.src <> s.src"))
    return [(row[0], row[1]) for row in found]


def clear_staging(conn: Connection, collection: str, staging: Staging = IMPORT) -> None:
    """Empty the staging tables (and the plan) for the next use in this transaction."""
    conn.execute(text(clear_sql(collection, staging)))


def clear_sql(collection: str, staging: Staging) -> str:
    """An import's TRUNCATE; the session's few rows are deleted (TRUNCATE would give each table
    new files), their dead rows gone at commit, which empties the tables in place."""
    names = [staging.rows, staging.plan] + ([staging.claims] if collection == "incidents" else [])
    if not staging.kept:
        return f"TRUNCATE {', '.join(names)}"
    deletes = [f"d{k} AS (DELETE FROM {name})" for k, name in enumerate(names[1:])]
    return f"WITH {', '.join(deletes)} DELETE FROM {names[0]}"
