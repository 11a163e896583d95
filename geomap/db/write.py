"""The one write path of validated records, single and bulk: the API's create, replace and
delete, `geomap load` and `geomap import` all write through `geomap.db.bulk`'s staged upsert
(COPY into a staging table, a plan of what changes, one upsert; claims and history follow).

Writes of records in hand (`write`, `create`, `replace`) stage them here, in the session's
staging tables (`staging.session_staging`, kept from one write to the next); an import stages its
chunks itself, with the same COPY text (`geomap.db.rows`) and the same `bulk.apply`. Each runs
in the caller's transaction: a refusal leaves it to be rolled back, so nothing is written.

Concurrency of single writes is optimistic: a replace or delete names the version it read and
loses (PreconditionFailed) if another write got there first. The stored row is locked before
its version is compared, so of two writes naming the same version exactly one wins.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from geomap.db import bulk, incarnation, rows, staging
from geomap.db.engine import lost
from geomap.db.incarnation import Version
from geomap.db.schema import relations
from geomap.db.store import current_rows, table
from geomap.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, Problem
from geomap.model.records import Record, precedes_cycle, references, time_edges, unknown_references
from geomap.vocabulary import EVENT_RELATIONS

COPY_LINES = 2_000  # COPY lines sent at a time
VALUES_LINES = 100  # a write of at most this many lines (rows and claims) stages them with one INSERT


# -- many records (geomap load) ------------------------------------------------------------------

def write(conn: Connection, collection: str, records: Sequence[Record], actor: str,
          refused: str = "the database refused a feature; nothing was loaded") -> bulk.Applied:
    """Create new features, update changed ones (version + 1, the previous kept in history),
    leave equal ones alone. `refused` is the message when the database refuses a row."""
    if not records:
        return bulk.Applied(0, 0, 0)
    return _staged(conn, collection, records, actor, every=False, refused=refused)


def check_references(conn: Connection, records: Iterable[Record]) -> None:
    """Every group, site (and for relations, incident and zone) the records name exists, in the
    database or among the records; the links between events make no cycle."""
    records = list(records)
    named: dict[str, set[str]] = {"groups": set(), "sites": set()}
    for record in records:
        for _, kind, ref in references(record):
            named.setdefault(kind, set()).add(ref)
    known = {kind: existing(conn, kind, ids) | {r.id for r in records if r.collection == kind}
             for kind, ids in named.items()}
    problems = [p for r in records for p in unknown_references(r, known)]
    if problems:
        raise InvalidInput(f"{len(problems)} reference(s) to unknown features; nothing was loaded", problems)
    check_event_links(conn, [r for r in records if r.collection == "relations"])


def check_event_links(conn: Connection, records: Sequence[Record]) -> None:
    """The links between events, stored and written (a written relation replaces the stored one of
    its id), make no cycle: none in time (`precedes`, and `response_to`, whose object came first)
    and none of `part_of`; InvalidInput naming the relations of the cycle otherwise."""
    if not any(r.properties.kind in EVENT_RELATIONS for r in records):
        return
    written = {r.id: r for r in records}
    stored = conn.execute(select(relations.c.id, relations.c.kind, relations.c.subject, relations.c.object)
                          .where(relations.c.kind.in_(EVENT_RELATIONS))).all()
    links = [tuple(row) for row in stored if row[0] not in written] + \
        [(r.id, r.properties.kind, r.properties.subject, r.properties.object) for r in records
         if r.properties.kind in EVENT_RELATIONS]
    for edges, reason in ((time_edges(links), "an event cannot come before itself"),
                          ([(i, s, o) for i, k, s, o in links if k == "part_of"], "an event cannot be part of itself")):
        cycle = precedes_cycle(edges)
        if cycle:
            at = next((written[rid].where for rid in cycle if rid in written), records[0].where)
            raise InvalidInput("the links between events would form a cycle; nothing was written",
                               [Problem(at, "properties.kind", f"relations {' -> '.join(cycle)} form a cycle: {reason}")])


def existing(conn: Connection, collection: str, ids: Iterable[str]) -> set[str]:
    """Those of `ids` that are stored in the collection."""
    ids = list(ids)
    if not ids:
        return set()
    t = table(collection)
    return set(conn.execute(select(t.c.id).where(t.c.id.in_(ids))).scalars())


# -- one feature (the API) -----------------------------------------------------------------------

@dataclass(frozen=True)
class Expected:
    """Which stored version a replace or delete may overwrite. `tags`: any of these versions
    (If-Match's ETags); None: whatever version is current, with `star` (If-Match: *, which
    fails with 412 when there is no current feature, RFC 9110) or without it (a write the
    deployment lets go without If-Match: 404 when there is none)."""

    tags: frozenset[Version] | None = None
    star: bool = False

    def admits(self, current: Version) -> bool:
        """Whether the current version is one this write may overwrite."""
        return self.tags is None or current in self.tags


ANY = Expected()  # an unconditional write


def create(conn: Connection, record: Record, actor: str) -> Version:
    """Write a new feature; its version (1, of a new incarnation). Creates of one id wait for
    each other (the lock a row would give, before there is a row), so the second finds the first's."""
    stamp = conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"{record.collection}/{record.id}")),
                                incarnation.now())).one()[1]
    if _locked(conn, record.collection, record.id) is not None:
        raise Conflict(f"{record.collection}/{record.id} already exists; PUT or PATCH it instead")
    check_references(conn, [record])
    _staged(conn, record.collection, [record], actor, every=True, refused=_REFUSED)
    return Version(1, stamp)


def replace(conn: Connection, record: Record, expected: Expected, actor: str) -> Version:
    """Write `record` over the stored feature if `expected` admits its version; the new version."""
    current = _expect(conn, record.collection, record.id, expected)
    check_references(conn, [record])
    _staged(conn, record.collection, [record], actor, every=True, refused=_REFUSED)
    return Version(current.version + 1, current.incarnation)


def delete(conn: Connection, collection: str, feature_id: str, expected: Expected, actor: str) -> None:
    """Delete the feature if `expected` admits its version, keeping it in history."""
    _expect(conn, collection, feature_id, expected)
    history = (f"INSERT INTO history (collection, feature_id, action, version, actor, changes, previous) "
               f"SELECT :collection, t.id, 'delete', t.version + 1, :actor, '[]', {bulk.previous_sql(collection)} "
               f"FROM {collection} t {bulk.stored_claims_join(collection)} WHERE t.id = :id")
    values = {"collection": collection, "actor": actor, "id": feature_id}
    try:
        with conn.begin_nested():
            conn.execute(text(history), values)
            conn.execute(text(f"DELETE FROM {collection} WHERE id = :id"), values)
    except IntegrityError:
        raise Conflict(f"{collection}/{feature_id} is still referenced (e.g. an incident's target_site, or a "
                       "relation's subject or object); change those first") from None


def current_row(conn: Connection, collection: str, feature_id: str) -> dict[str, Any]:
    """The stored content and version of a feature (for PATCH), or NotFound."""
    row = current_rows(conn, collection, [feature_id]).get(feature_id)
    if row is None:
        raise NotFound(f"no feature {feature_id!r} in {collection}")
    return row


_REFUSED = "the database refused the feature; nothing was written"


def _locked(conn: Connection, collection: str, feature_id: str) -> Version | None:
    """The stored version, the row locked until commit (a concurrent writer waits, then
    reads the version this transaction writes)."""
    t: Table = table(collection)
    row = conn.execute(select(t.c.version, incarnation.of(t)).where(t.c.id == feature_id).with_for_update()).first()
    return None if row is None else Version(*row)


def _expect(conn: Connection, collection: str, feature_id: str, expected: Expected) -> Version:
    current = _locked(conn, collection, feature_id)
    if current is None and expected.star:
        raise PreconditionFailed(f"If-Match: * needs a current feature, and there is no {feature_id!r} in "
                                 f"{collection}; POST creates one")
    if current is None:
        raise NotFound(f"no feature {feature_id!r} in {collection}")
    if not expected.admits(current):
        raise PreconditionFailed(f"{collection}/{feature_id} changed since you read it (If-Match no longer "
                                 "matches); GET it again, re-apply your change, and retry with the new ETag")
    return current


# -- staging -------------------------------------------------------------------------------------

def _staged(conn: Connection, collection: str, records: Sequence[Record], actor: str, every: bool,
            refused: str) -> bulk.Applied:
    """Stage and apply the records; when the database refuses them, say which one (the
    caller's transaction is then to be rolled back)."""
    if len(records) == 1:  # no savepoint: there is no other record to try
        try:
            return _stage_and_apply(conn, collection, records, actor, every)
        except (DBAPIError, psycopg.Error) as exc:
            raise _refusal(exc, refused, records[0]) from None
    try:
        with conn.begin_nested():
            return _stage_and_apply(conn, collection, records, actor, every)
    except (DBAPIError, psycopg.Error) as exc:
        if lost(exc):
            raise
    for record in records:  # the set was refused: find the first record refused (rolled back later)
        try:
            with conn.begin_nested():
                _stage_and_apply(conn, collection, [record], actor, every)
        except (DBAPIError, psycopg.Error) as exc:
            raise _refusal(exc, refused, record) from None
    raise InvalidInput(refused, [Problem(records[0].where.split(":")[0], "feature", "refused as a whole")])


def _stage_and_apply(conn: Connection, collection: str, records: Sequence[Record], actor: str,
                     every: bool) -> bulk.Applied:
    kept = staging.session_staging(conn, collection)
    line = _formatter(collection)
    texts = [[x for x in table if x] for table in zip(*(line(r, r.where, k) for k, r in enumerate(records)), strict=True)]
    lines = [[x for text in table for x in text.split("\n") if x] for table in texts]  # (claims: several a text)
    if sum(map(len, lines)) <= VALUES_LINES:
        _stage_values(conn, staging.staging_targets(collection, kept), lines)
    else:
        # a site's or zone's lines carry an empty claims part, which no staging table takes
        for copy_sql, table_texts in zip(staging.staging_copies(collection, kept), texts, strict=False):
            copy(conn, copy_sql, table_texts)
    return bulk.apply(conn, collection, actor, every=every, staging=kept)


def _stage_values(conn: Connection, targets: list[tuple[str, list[str]]], lines: list[list[str]]) -> None:
    """Stage a few COPY lines with one INSERT: the values COPY would read from them, bound, and
    read by the same input functions (a COPY is two round trips, and a one-feature write fills
    two tables). The other tables' INSERTs run as the first's WITH clauses."""
    inserts, values = [], {}
    # (strict=False: a site's or zone's lines carry an empty claims part, which no table takes)
    for k, ((target, columns), table_lines) in enumerate(zip(targets, lines, strict=False)):
        tuples = []
        for i, line in enumerate(table_lines):
            names = [f"v{k}_{i}_{j}" for j in range(len(columns))]
            values.update(zip(names, rows.values(line), strict=True))
            tuples.append(f"({', '.join(':' + name for name in names)})")
        if tuples:
            inserts.append(f"INSERT INTO {target} ({', '.join(columns)}) VALUES {', '.join(tuples)}")
    if inserts:
        ahead = [f"t{k} AS ({insert})" for k, insert in enumerate(inserts[1:])]
        conn.execute(text((f"WITH {', '.join(ahead)} " if ahead else "") + inserts[0]), values)


@functools.cache
def _formatter(collection: str):
    """The COPY lines of a record in the staging tables (compiled once per collection)."""
    return rows.formatter(staging.staging_fields(collection))


def copy(conn: Connection, copy_sql: str, lines: list[str]) -> None:
    """COPY the lines (text format) in pieces of COPY_LINES."""
    if not lines:
        return
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(copy_sql) as stream:
        for start in range(0, len(lines), COPY_LINES):
            stream.write("".join(lines[start:start + COPY_LINES]))


def _diag(exc: Exception, name: str) -> str | None:
    error = getattr(exc, "orig", exc)  # SQLAlchemy wraps the driver's error; raw COPY does not
    return getattr(getattr(error, "diag", None), name, None)


def _refusal(exc: Exception, refused: str, record: Record) -> Exception:
    """The database's refusal of `record` as bad input; a lost database as itself."""
    if lost(exc):
        return exc
    return InvalidInput(refused, [Problem(record.where, "feature", _reason(exc))])


def _reason(exc: Exception) -> str:
    return _diag(exc, "message_primary") or str(getattr(exc, "orig", exc))
