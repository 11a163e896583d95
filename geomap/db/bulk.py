"""Set-based bulk writes for `geomap import`: a staging table filled by COPY, a plan of what
changes, and one upsert; attributions and history follow from the plan, one statement each.

All inside the caller's transaction. Identifiers come from the schema metadata or the
catalogue, never from input; every value is bound. The statements mirror `store` (one feature
at a time) so that an import and `geomap load` leave the same rows and the same history.

The staging table has the target's column types; `geomap.db.rows` writes the values as
`geomap load` binds them. An incident's claims go to a second staging table in the columns of
`attributions`, keyed by the row's place in the file, so that PostgreSQL copies them as they are
instead of parsing and unpacking a JSON array per incident.

Two sets of staging tables (`Staging`): an import's (`create_staging`), made for its
transaction and dropped at commit, and the session's of each collection (`session_staging`),
which writes of a few records (the API's, `geomap load`) reuse: creating and dropping four
temporary tables cost such a write about two thirds of its database time.
"""
from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass

import msgspec
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from geomap.db.store import BOOKKEEPING, table
from geomap.model.records import Attribution

log = logging.getLogger(__name__)
# An import that writes at least this many rows, and at least as many as the collection
# holds, rebuilds the collection's secondary indexes and foreign keys once after writing
# instead of maintaining them row by row (several times faster; readers wait meanwhile).
BULK_MIN = 20_000
TEMP_BUFFERS = "256MB"  # local buffers for the staging tables (a session's, only as used)
# The column of incidents that the claims determine, and the function of the triggers on
# attributions that keep it (migration 0005).
DERIVED = "attributed_groups"
GROUP_TRIGGER = "attributions_sync_attributed_groups"
# The fields of a claim, as the record definition orders them.
CLAIM_FIELDS = tuple(Attribution.model_fields)


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


def lock(conn: Connection, collection: str) -> None:
    """Keep other writers out of the collection until commit; readers go on."""
    tables = [collection] + (["attributions"] if collection == "incidents" else [])
    conn.execute(text(f"LOCK TABLE {', '.join(tables)} IN SHARE ROW EXCLUSIVE MODE"))
    # Bulk statements look costly to the planner: JIT compilation would add seconds to each
    # and gain nothing; sorts and hashes of a chunk fit in memory.
    conn.execute(text("SET LOCAL jit = off"))
    conn.execute(text("SET LOCAL work_mem = '64MB'"))


def staging_columns(collection: str) -> list[str]:
    """The staging table's columns that COPY fills: the target's content columns, for incidents
    the groups of the affirmative claims (`incidents.attributed_groups`, which the upsert writes
    itself so that the triggers on `attributions` find every written incident already right and
    rewrite none), and where each row came from (`src`) and its place in the file (`ord`)."""
    return content_columns(collection) + ([DERIVED] if collection == "incidents" else []) + ["src", "ord"]


# The claims staging table's columns, filled by COPY: the incident's place in the file (`ord`
# of the staging table), then the columns of attributions.
CLAIM_COLUMNS = ("ord", "position", "group_id", "claimant", "stance", "sources", "notes")


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
    return _fields(collection, _written_columns(collection))


HISTORY_COLUMNS = ("collection", "feature_id", "action", "version", "actor", "changes")


def direct_copies(collection: str) -> list[str]:
    """The COPY statements of a first import into an empty collection, which writes the rows
    straight into their tables: the collection, for incidents the claims (keyed by incident id),
    and history (one `create` line per row: `geomap.io.rows.history_line`)."""
    copies = [f"COPY {collection} ({', '.join(_written_columns(collection))}) FROM STDIN"]
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
    # `attributions` (the claims as JSON) is not COPYed: `_staged_claims_json` fills it from the claims table.
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
    conn.execute(text(_clear_sql(collection, staging)))


def _clear_sql(collection: str, staging: Staging) -> str:
    """An import's TRUNCATE; the session's few rows are deleted (TRUNCATE would give each table
    new files), their dead rows gone at commit, which empties the tables in place."""
    names = [staging.rows, staging.plan] + ([staging.claims] if collection == "incidents" else [])
    if not staging.kept:
        return f"TRUNCATE {', '.join(names)}"
    deletes = [f"d{k} AS (DELETE FROM {name})" for k, name in enumerate(names[1:])]
    return f"WITH {', '.join(deletes)} DELETE FROM {names[0]}"


@dataclass(frozen=True)
class Applied:
    """How many records a write created, updated and left unchanged."""

    created: int
    updated: int
    unchanged: int


def apply(conn: Connection, collection: str, actor: str, every: bool = False, staging: Staging = IMPORT) -> Applied:
    """Plan, history, upsert, attributions for the staged rows: set-based, in the caller's
    transaction, in three round trips (a good part of a one-feature write's time is spent
    waiting on them). `every`: a stored feature staged again is a new version even when nothing
    differs (an API replace always makes one; a load or import leaves it alone). The staging
    tables are emptied at the end, for the next chunk or write."""
    if collection == "incidents":
        _staged_claims_json(conn, staging)
    created, updated, staged = conn.execute(text(_plan_sql(collection, staging, every)),
                                            {"all_columns": create_changes(collection), "collection": collection,
                                             "actor": actor}).one()
    tail = [_upsert_sql(collection, staging)]  # no values to bind: sent as one batch
    if collection == "incidents":
        if updated:
            tail.append("DELETE FROM attributions WHERE incident_id = "
                        f"ANY(ARRAY(SELECT id FROM {staging.plan} WHERE action = 'update'))")
        tail.append(_claims_sql(staging, f"JOIN {staging.plan} p ON p.id = s.id"))
    conn.execute(text("; ".join(tail + [_clear_sql(collection, staging)])))
    return Applied(created, updated, staged - created - updated)


def _plan_sql(collection: str, staging: Staging, every: bool) -> str:
    """Plan the new rows and the changed ones, write their history, and count them and the staged rows."""
    history = "SELECT :collection, id, action, version, :actor, changes, previous FROM"
    return (f"WITH created AS (INSERT INTO {staging.plan} (id, action, version, changes) SELECT s.id, 'create', 1, "
            f"CAST(:all_columns AS jsonb) FROM {staging.rows} s LEFT JOIN LATERAL ({_stored(collection, 'id')}) t "
            f"ON true WHERE t.id IS NULL RETURNING *), updated AS ({_changed_sql(collection, staging, every)} "
            "RETURNING *), history AS (INSERT INTO history (collection, feature_id, action, version, actor, changes, "
            f"previous) {history} created UNION ALL {history} updated) "
            "SELECT (SELECT count(*) FROM created), (SELECT count(*) FROM updated), "
            f"(SELECT count(*) FROM {staging.rows})")


def _staged_claims_json(conn: Connection, staging: Staging) -> None:
    """Fill the staging table's `attributions` with each row's claims as the JSON array that
    `_stored_claims_sql` makes of stored ones, for the plan to compare (a row without claims
    keeps NULL, which the plan reads as [])."""
    fields = ", ".join(f"'{f}', c.{f}" for f in CLAIM_FIELDS if f != "group")
    conn.execute(text(
        f"UPDATE {staging.rows} s SET attributions = c.claims FROM (SELECT c.ord, jsonb_agg(jsonb_build_object("
        f"'group', c.group_id, {fields}) ORDER BY c.position) AS claims FROM {staging.claims} c GROUP BY c.ord) c "
        "WHERE c.ord = s.ord"))


def _written_columns(collection: str) -> list[str]:
    """The columns an import writes: the content, and for incidents the claims' groups."""
    return content_columns(collection) + ([DERIVED] if collection == "incidents" else [])


def _compared(collection: str) -> list[str]:
    """Columns whose difference makes a change, sorted: `history.changes` lists them so."""
    return sorted(c for c in content_columns(collection) if c != "id")


def create_changes(collection: str) -> str:
    """`changes` of a create, as JSON: every field of the row, as `geomap load` records it."""
    names = content_columns(collection) + (["attributions"] if collection == "incidents" else [])
    return msgspec.json.encode(sorted(map(str, names))).decode()  # (column names are quoted_name)


def _changed_sql(collection: str, staging: Staging, every: bool = False) -> str:
    """Add to the plan the stored features whose staged version differs."""
    columns = _compared(collection) + (["attributions"] if collection == "incidents" else [])
    stored = {c: f"t.{c}" for c in columns} | {"attributions": "coalesce(c.claims, '[]')"}
    staged = {c: f"s.{c}" for c in columns} | {"attributions": "coalesce(s.attributions, '[]')"}
    changed = [f"CASE WHEN {staged[c]} IS DISTINCT FROM {stored[c]} THEN '{c}' END" for c in sorted(columns)]
    differs = (f"({', '.join(staged[c] for c in columns)}) IS DISTINCT FROM "
               f"({', '.join(stored[c] for c in columns)})")
    claims = stored_claims_join(collection)
    return (
        f"INSERT INTO {staging.plan} (id, action, version, changes, previous) "
        "SELECT s.id, 'update', t.version + 1, "
        f"to_jsonb(array_remove(ARRAY[{', '.join(changed)}], NULL)), {previous_sql(collection)} "
        f"FROM {staging.rows} s JOIN LATERAL ({_stored(collection, '*')}) t ON true {claims} "
        f"WHERE {'true' if every else differs}"
    )


def _stored(collection: str, columns: str) -> str:
    """The stored row of the staged id `s.id`, looked up by primary key. A chunk is small and the
    table may be huge: as a LATERAL subquery with LIMIT, this is one index probe per staged row,
    never a hash of the whole table (which the planner might pick, knowing nothing of a table
    that is still being loaded)."""
    return f"SELECT {columns} FROM {collection} t WHERE t.id = s.id LIMIT 1"


def stored_claims_join(collection: str) -> str:
    """For incidents, the join that gives the stored row `t` its claims as `c.claims`."""
    return f"LEFT JOIN LATERAL ({_stored_claims_sql('t.id')}) c ON true" if collection == "incidents" else ""


def _stored_claims_sql(incident: str) -> str:
    """An incident's stored claims as the JSON array an import stages (and to_feature writes)."""
    fields = ", ".join(f"'{f}', a.{f}" for f in CLAIM_FIELDS if f != "group")
    return (f"SELECT jsonb_agg(jsonb_build_object('group', a.group_id, {fields}) ORDER BY a.position) AS claims "
            f"FROM attributions a WHERE a.incident_id = {incident}")


def previous_sql(collection: str) -> str:
    """The stored version as the GeoJSON Feature `geojson.to_feature` makes of it."""
    props = [f"'{'group' if c == 'group_id' else c}', t.{c}" for c in content_columns(collection)
             if c not in ("id", "geom")]
    if "geom" not in table(collection).c:  # a group: a plain object
        return f"jsonb_build_object('id', t.id, {', '.join(props)})"
    if collection == "incidents":
        props.append("'attributions', coalesce(c.claims, '[]')")
    return ("jsonb_build_object('type', 'Feature', 'id', t.id, 'geometry', ST_AsGeoJSON(t.geom, 15)::jsonb, "
            f"'properties', jsonb_build_object({', '.join(props)}))")


def _upsert_sql(collection: str, staging: Staging) -> str:
    columns = _written_columns(collection)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "id")
    # The plan holds only new and changed rows, so every conflict here is a real change.
    return (f"INSERT INTO {collection} AS t ({', '.join(columns)}, version) "
            f"SELECT {', '.join('s.' + c for c in columns)}, p.version "
            f"FROM {staging.rows} s JOIN {staging.plan} p ON p.id = s.id "
            f"ON CONFLICT (id) DO UPDATE SET {updates}, version = EXCLUDED.version, updated_at = now()")


def _claims_sql(staging: Staging, planned: str = "") -> str:
    """Insert the claims of the staged incidents (those `planned` joins to, or all; not those of
    rows dropped from the staging table as repeats)."""
    columns = ", ".join(CLAIM_COLUMNS[1:])
    return (f"INSERT INTO attributions (incident_id, {columns}) "
            f"SELECT s.id, {', '.join('c.' + c for c in CLAIM_COLUMNS[1:])} "
            f"FROM {staging.claims} c JOIN {staging.rows} s ON s.ord = c.ord {planned}")


# -- large imports: rebuild indexes and foreign keys once -----------------------------------------

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
    """Drop the tables' secondary indexes and foreign keys, and pause the triggers that keep
    `incidents.attributed_groups` (the upsert writes it); returns (kind, table, definition/name)."""
    dropped = _pause_group_triggers(conn) if "attributions" in tables else []
    indexes = conn.execute(text(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid IN (SELECT to_regclass(x) FROM unnest(CAST(:tables AS text[])) x) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"), {"tables": tables}).all()
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
