"""The staged upsert of `geomap import`, `geomap load` and the API's writes: from the rows in the
staging tables (`geomap.db.staging`), a plan of what changes, then history, one upsert, and the
attributions, one statement each, all inside the caller's transaction.

Identifiers come from the schema metadata or the catalogue, never from input; every value is
bound. The statements mirror `store` (one feature at a time) so that an import and `geomap load`
leave the same rows and the same history. Large imports rebuild indexes around this
(`geomap.db.rebuild`).
"""
from __future__ import annotations

from dataclasses import dataclass

import msgspec
from sqlalchemy import Connection, text

from geomap.db.staging import CLAIM_COLUMNS, IMPORT, Staging, clear_sql, content_columns, written_columns
from geomap.db.store import table
from geomap.model.records import Attribution

# The fields of a claim, as the record definition orders them.
CLAIM_FIELDS = tuple(Attribution.model_fields)


def lock(conn: Connection, collection: str) -> None:
    """Keep other writers out of the collection until commit; readers go on."""
    tables = [collection] + (["attributions"] if collection == "incidents" else [])
    conn.execute(text(f"LOCK TABLE {', '.join(tables)} IN SHARE ROW EXCLUSIVE MODE"))
    # Bulk statements look costly to the planner: JIT compilation would add seconds to each
    # and gain nothing; sorts and hashes of a chunk fit in memory.
    conn.execute(text("SET LOCAL jit = off"))
    conn.execute(text("SET LOCAL work_mem = '64MB'"))


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
    conn.execute(text("; ".join(tail + [clear_sql(collection, staging)])))
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
    columns = written_columns(collection)
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
