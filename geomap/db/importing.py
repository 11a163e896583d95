"""The writing side of `geomap import` (`geomap.importer`): chunks of COPY text into the
database, in the caller's transaction.

- A first import into an empty collection has nothing to compare with: each chunk's rows,
  claims and history lines are COPYed straight into their tables (`staging.direct_copies`). The
  primary key then finds an id the file repeats, and the report must say where each repeat
  was first used: so on a repeat, or on an invalid feature that is not skipped, `ReadAgain`
  asks the caller to undo these writes (a savepoint) and read the file again the staged way.
- Otherwise each chunk is COPYed into the import's staging tables (`staging.create_staging`), the
  ids it repeats are found and dropped, and it is applied with the one set-based upsert of every
  write (`bulk.apply`).
- An exclusive import (`Import.exclusive`), when large, drops the collection's secondary indexes
  (but `rebuild.KEPT_INDEXES`) and foreign keys on its first chunk and rebuilds them once at the
  end: faster, but DROP INDEX locks the table, so readers wait until the import commits (200,000
  incidents: 12.3 s against 21.3 s keeping the indexes, with GET items and /health stalled up to
  9.9 s against 0.12 s; bench/import_readers.py). By default the indexes are kept, and readers
  go on (they see the collection as it was until the commit). Groups that an ACLED import names
  are created before the chunk that needs them (`geomap.db.groups`).

A statement the database refuses (a check only it makes) refuses the import: InvalidInput.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from geomap.db import bulk, rebuild, staging
from geomap.db import groups as stored_groups
from geomap.db.engine import lost
from geomap.db.write import copy
from geomap.errors import InvalidInput, Problem

log = logging.getLogger(__name__)
Rebuild = tuple[list[tuple[str, str, str]], list[str]]  # what rebuild.drop_indexes_and_keys dropped, and the tables


class Chunk(Protocol):
    """A chunk of the file (`geomap.io.chunks.Chunk`)."""

    lines: tuple[list[str], ...]  # the COPY lines of each table, in the order of the COPY statements
    rows: int  # the valid features in the chunk
    read: int  # features read so far
    position: int  # bytes of the file read so far


class Sink(Protocol):
    """Where problems go (`geomap.io.problem_log.ProblemLog`): `problems` counts them."""

    problems: int

    def add(self, problems: Iterable[Problem]) -> None: ...


class ReadAgain(Exception):
    """A direct first import found what only the staged way reports in full."""


@dataclass
class Import:
    """One pass of an import over its file: what it is, and what it wrote."""

    source: str  # the file, as messages name it
    collection: str
    actor: str
    refuse: bool  # any problem refuses the import (not skip_invalid): stop writing at the first
    exclusive: bool = False  # a large import may drop and rebuild indexes (readers wait until it commits)
    new_groups: Callable[[], list[dict]] | None = None  # rows of groups to create before the next chunk
    direct: bool = False
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    groups_created: list[str] = field(default_factory=list)
    rebuilt_indexes: bool = False


def begin(conn: Connection, collection: str, direct: bool) -> bool:
    """Lock the collection against other writers; whether the import may write directly
    (`direct` asked, and the collection is empty: locked, it stays so but for our rows)."""
    bulk.lock(conn, collection)
    return direct and rebuild.is_empty(conn, collection)


def write(conn: Connection, job: Import, chunks: Iterable[Chunk], sink: Sink, size: int,
          prefix: str = "") -> None:
    """Write each chunk (directly when `job.direct`, else staged); rebuild the indexes once when
    the import is large. `size`: the file's bytes; `prefix`: what staged places leave out."""
    try:
        clock = time.perf_counter()
        if job.direct:
            rebuilt, tables = _write_directly(conn, job, chunks, sink, size)
        else:
            rebuilt, tables = _stage_and_apply(conn, job, chunks, sink, size, prefix)
        log.info("wrote %d feature(s) %s in %.1f s", job.read, "directly" if job.direct else "staged",
                 time.perf_counter() - clock)
        if rebuilt:
            clock = time.perf_counter()
            rebuild.recreate(conn, rebuilt, tables)
            job.rebuilt_indexes = True
            log.info("rebuilt indexes and foreign keys in %.1f s", time.perf_counter() - clock)
    except psycopg.errors.UniqueViolation as exc:
        if not job.direct:
            raise _refused(job, exc) from None
        raise ReadAgain("an id is repeated in the file") from None
    except (DBAPIError, psycopg.Error) as exc:
        if lost(exc):
            raise
        raise _refused(job, exc) from None


def _refused(job: Import, exc: Exception) -> InvalidInput:
    error = getattr(exc, "orig", exc)  # SQLAlchemy wraps the driver's error; raw COPY does not
    diag = getattr(error, "diag", None)
    reason = getattr(diag, "message_primary", None) or str(error)
    detail = getattr(diag, "message_detail", None) or getattr(diag, "context", None)
    return InvalidInput(f"{job.source}: the database refused the import; nothing was imported",
                        [Problem(job.source, "feature", reason + (f" ({detail})" if detail else ""))])


def _drop_if_large(conn: Connection, job: Import, chunk: Chunk, size: int) -> Rebuild:
    """On the first chunk, which tells how large the import will be: drop the indexes and keys
    that a large exclusive import rebuilds once at the end."""
    if not job.exclusive:
        return [], []
    tables = rebuild.tables_to_rebuild(conn, job.collection, chunk.read * size // max(chunk.position, 1))
    return rebuild.drop_indexes_and_keys(conn, tables), tables


def _write_directly(conn: Connection, job: Import, chunks: Iterable[Chunk], sink: Sink, size: int) -> Rebuild:
    """COPY each chunk's rows, claims and history straight into their tables."""
    copies, rebuilt, tables = staging.direct_copies(job.collection), None, []
    for chunk in chunks:
        job.read = chunk.read
        if sink.problems and job.refuse:
            raise ReadAgain("a feature is invalid")
        if rebuilt is None:
            rebuilt, tables = _drop_if_large(conn, job, chunk, size)
        _create_groups(conn, job)
        for copy_sql, lines in zip(copies, chunk.lines, strict=False):  # sites, zones: no claims table
            copy(conn, copy_sql, lines)
        job.created += chunk.rows
    return rebuilt, tables


def _stage_and_apply(conn: Connection, job: Import, chunks: Iterable[Chunk], sink: Sink, size: int,
                     prefix: str) -> Rebuild:
    """COPY each chunk into the staging tables, drop the ids it repeats and apply it."""
    collection = job.collection
    copies, rebuilt, tables = staging.create_staging(conn, collection), None, []
    for chunk in chunks:
        for copy_sql, lines in zip(copies, chunk.lines, strict=False):  # sites, zones: no claims table
            copy(conn, copy_sql, lines)
        for where, used in staging.repeated_ids(conn, chunk.rows):
            sink.add([Problem(prefix + where, "id", f"duplicate id, already used at {prefix}{used}")])
        job.read = chunk.read
        if sink.problems and job.refuse:  # refused at the end: only read on, to report everything
            staging.clear_staging(conn, collection)
            continue
        if rebuilt is None:
            rebuilt, tables = _drop_if_large(conn, job, chunk, size)
        _create_groups(conn, job)
        applied = bulk.apply(conn, collection, job.actor)
        job.created, job.updated = job.created + applied.created, job.updated + applied.updated
        job.unchanged += applied.unchanged
    return rebuilt, tables


def _create_groups(conn: Connection, job: Import) -> None:
    if job.new_groups is not None:
        job.groups_created += stored_groups.create(conn, job.new_groups(), job.actor)
