"""`geomap import`: stream a file of any size into the database, all or nothing.

1. A reader (`readers`) yields the file's features one at a time, each validated as
   `geomap load` validates it; references to groups and sites are checked against the
   database. This runs in a thread, or for a large first import of a text sequence in worker
   processes (`chunks`), which turn valid features into chunks of COPY text.
2. The main thread COPYs each chunk of the file into temporary staging tables (the features;
   an incident's claims in a second one), finds ids the
   file repeats, and applies the chunk with one set-based upsert (`geomap.db.bulk.apply`):
   new and changed features are written with their attributions and history, unchanged ones
   are left alone, so re-importing a file changes nothing. Reading the next chunk overlaps
   with the database writing this one. Memory holds a few chunks, whatever the file's size.
3. A first import into an empty collection has nothing to compare with: it COPYs the rows,
   their claims and their history lines straight into their tables, with no staging. The
   collection's primary key then finds an id the file repeats; since the report must say
   where each repeat was first used, such a file, or one with an invalid feature that is not
   skipped, is read again the staged way (the direct writes rolled back to a savepoint).
4. Problems go to the report as they are found. With any problem the transaction is rolled
   back at the end and InvalidInput lists them: the database is unchanged. With
   `skip_invalid` the valid features are kept.
5. Likely duplicates among the imported incidents are reported.

Everything runs in one transaction, which locks the collection against other writers
(readers go on; during a large first import they wait for the index rebuild).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO

import psycopg
from sqlalchemy import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from geomap.db import bulk, store
from geomap.db import groups as stored_groups
from geomap.db.duplicates import DuplicateRule, likely_duplicates
from geomap.errors import InvalidInput, Problem
from geomap.io import parallel, spreadsheet
from geomap.io.chunks import Chunk, Chunks, Progress, ReaderProcesses, ReaderThread
from geomap.io.lines import FeatureLines
from geomap.io.readers import Reader, detect_format, open_reader

log = logging.getLogger(__name__)
SHOWN = 20  # problems and duplicates kept in memory to show; the reports get all of them
COPY_LINES = 2_000  # COPY lines sent at a time
# A first import of a text sequence at least this large is read by worker processes
# (`geomap.io.parallel`), when the machine has more than one core.
PARALLEL_MIN_BYTES = 32 << 20


class ProblemLog:
    """Problems as they are found: all of them to the report file (CSV: where, field, reason),
    the first few kept to show, and counts. Safe to add to from two threads."""

    def __init__(self, report: Path | None):
        self.report = Path(report) if report else None
        self.shown: list[Problem] = []
        self.problems = 0
        self.features = 0
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._writer = None

    def __enter__(self) -> ProblemLog:
        if self.report:
            self._file = open(self.report, "w", newline="", encoding="utf-8")
            self._writer = spreadsheet.Writer(self._file)
            self._writer.writerow(["where", "field", "reason"])
        return self

    def __exit__(self, *exc) -> None:
        if self._file:
            self._file.close()

    def add(self, problems: Iterable[Problem]) -> None:
        """The problems of one feature."""
        problems = list(problems)
        if not problems:
            return
        with self._lock:
            self.features += 1
            self.problems += len(problems)
            self.shown += problems[:max(SHOWN - len(self.shown), 0)]
            if self._writer:
                self._writer.writerows([p.where, p.field, p.reason] for p in problems)


@dataclass
class ImportResult:
    path: Path
    format: str
    collection: str
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    report: Path | None = None
    groups_created: list[str] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    duplicate_count: int = 0
    duplicate_rule: DuplicateRule | None = None
    rebuilt_indexes: bool = False
    direct: bool = False  # a first import, written without staging
    readers: int = 0  # reader processes (0: one reader thread)

    def lines(self) -> list[str]:
        """A summary for people."""
        out = [f"{self.collection}: {self.created} created, {self.updated} updated, {self.unchanged} unchanged "
               f"({self.read} read from {self.path})"]
        if self.groups_created:
            out.append(f"groups: {len(self.groups_created)} created: {', '.join(self.groups_created)}")
        if self.invalid:
            where = f"; all of them are in {self.report}" if self.report else ""
            out.append(f"skipped {self.invalid} invalid feature(s) with {self.problem_count} problem(s){where}")
            out += [f"  - {p}" for p in self.problems]
        if self.duplicate_rule is not None:
            rule = self.duplicate_rule
            out.append(f"likely duplicates (same group and event type, within {rule.metres:g} m and {rule.days} "
                       f"day(s)): {self.duplicate_count} pair(s)")
            out += [f"  - {d['a']} / {d['b']}: {d['group']}, {d['event_type']}, {d['metres']:g} m, "
                    f"{d['a_date']} / {d['b_date']}" for d in self.duplicates]
        return out


def import_file(engine: Engine, path: Path, fmt: str | None = None, collection: str | None = None, *,
                skip_invalid: bool = False, report: Path | None = None,
                duplicates: DuplicateRule | None = DuplicateRule(),
                duplicates_report: Path | None = None, actor: str | None = None,
                progress: Progress | None = None) -> ImportResult:
    """Import one file; raise InvalidInput (changing nothing) when any feature is invalid,
    unless `skip_invalid`. `progress` is called now and then with the bytes read so far.

    `actor` names the writer in `history` (default "geomap import PATH"); `duplicates` is the
    likely-duplicate rule (None: do not look); `report` and `duplicates_report` are CSV files
    that receive every problem and every likely duplicate pair.
    """
    path = Path(path)
    job = _Job(path, fmt or detect_format(path), collection, skip_invalid, report,
               actor or f"geomap import {path}", progress)
    with ExitStack() as stack:
        stream = _open(path, stack)
        conn = stack.enter_context(engine.begin())
        try:
            with conn.begin_nested():  # a direct first import that meets a repeated id is undone
                result = _read_and_write(conn, stream, job, direct=True)
        except _ReadAgain as again:
            log.info("%s; reading the file again the staged way", again)
            result = _read_and_write(conn, stream, job, direct=False)
        if duplicates is not None and result.collection == "incidents":
            _report_duplicates(conn, duplicates, duplicates_report, result)
    return result


@dataclass(frozen=True)
class _Job:
    path: Path
    format: str
    collection: str | None
    skip_invalid: bool
    report: Path | None
    actor: str
    progress: Progress | None


class _ReadAgain(Exception):
    """A direct first import found what only the staged way reports in full."""


def _read_and_write(conn: Connection, stream: IO[bytes], job: _Job, direct: bool) -> ImportResult:
    """One pass over the file: written directly when `direct` and the collection is empty,
    else staged. Raises InvalidInput when a feature is invalid (unless skipped)."""
    stream.seek(0)
    reader = open_reader(stream, job.path, job.format, job.collection, **_context(conn, job.format))
    items = reader.items()
    first = next(items, None)
    result = ImportResult(job.path, job.format, reader.collection, report=job.report)
    bulk.lock(conn, reader.collection)
    result.direct = direct and bulk.is_empty(conn, reader.collection)  # locked: stays so but for our rows
    size = os.fstat(stream.fileno()).st_size
    with ProblemLog(job.report) as sink:
        known = _known(conn, reader)
        if result.direct and job.format == "geojsonseq" and size >= PARALLEL_MIN_BYTES and parallel.workers() > 1:
            producer = ReaderProcesses(job.path, reader.collection, job.actor, known, sink, job.progress)
            result.readers = producer.workers
        else:
            producer = ReaderThread(chain([first] if first else [], items),
                                    FeatureLines(job.path, reader.collection, job.actor, result.direct, known),
                                    sink, stream, job.progress)
        try:
            _consume(conn, reader, producer, sink, job, result, size)
        finally:
            producer.stop()
        if sink.problems and not job.skip_invalid:
            raise _refusal(job.path, sink)  # leaving import_file's `with` rolls the transaction back
        result.invalid, result.problems, result.problem_count = sink.features, sink.shown, sink.problems
    return result


def _refusal(path: Path, sink: ProblemLog) -> InvalidInput:
    more = (f"; all of them are in {sink.report}" if sink.report else
            "; pass --report FILE to get all of them" if sink.problems > len(sink.shown) else "")
    return InvalidInput(f"{path}: {sink.problems} problem(s) in {sink.features} feature(s); "
                        f"nothing was imported{more}", sink.shown)


def _open(path: Path, stack: ExitStack) -> IO[bytes]:
    try:
        return stack.enter_context(open(path, "rb"))
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read file: {exc.strerror}") from None


def _context(conn: Connection, fmt: str) -> dict:
    if fmt != "acled-csv":
        return {}
    from geomap.io.acled import GroupIndex

    return {"groups": GroupIndex(stored_groups.names(conn))}


def _known(conn: Connection, reader: Reader) -> dict[str, set[str]]:
    """Ids that references may name: stored groups and sites (plus groups an ACLED import creates)."""
    groups = getattr(reader, "groups", None)
    return {"groups": groups.ids if groups is not None else store.existing_ids(conn, "groups"),
            "sites": store.existing_ids(conn, "sites")}


def _consume(conn: Connection, reader: Reader, producer: Chunks, sink: ProblemLog, job: _Job,
             result: ImportResult, size: int) -> None:
    """Write each chunk; rebuild indexes once when the import is large. A statement the
    database refuses (a check only it makes) refuses the import."""
    try:
        write = _write_directly if result.direct else _stage_and_apply
        rebuilt, tables = write(conn, reader, producer, sink, job, result, size)
        log.info("read, validated and wrote %d feature(s) %s in %.1f s (%.1f s waiting for %s)", result.read,
                 "directly" if result.direct else "staged", producer.elapsed(), producer.waited,
                 f"{result.readers} reader processes" if result.readers else "the reader")
        if rebuilt:
            clock = time.perf_counter()
            bulk.recreate(conn, rebuilt, tables)
            result.rebuilt_indexes = True
            log.info("rebuilt indexes and foreign keys in %.1f s", time.perf_counter() - clock)
    except psycopg.errors.UniqueViolation as exc:
        if not result.direct:
            raise _refused(result, exc) from None
        raise _ReadAgain("an id is repeated in the file") from None
    except (DBAPIError, psycopg.Error) as exc:
        raise _refused(result, exc) from None


def _refused(result: ImportResult, exc: Exception) -> InvalidInput:
    error = getattr(exc, "orig", exc)  # SQLAlchemy wraps the driver's error; raw COPY does not
    diag = getattr(error, "diag", None)
    reason = getattr(diag, "message_primary", None) or str(error)
    detail = getattr(diag, "message_detail", None) or getattr(diag, "context", None)
    return InvalidInput(f"{result.path}: the database refused the import; nothing was imported",
                        [Problem(str(result.path), "feature", reason + (f" ({detail})" if detail else ""))])


Rebuild = tuple[list[tuple[str, str, str]], list[str]]  # what bulk.drop_indexes_and_keys dropped, and the tables


def _drop_if_large(conn: Connection, collection: str, chunk: Chunk, size: int) -> Rebuild:
    """On the first chunk, which tells how large the import will be: drop the indexes and keys
    that a large import rebuilds once at the end."""
    tables = bulk.tables_to_rebuild(conn, collection, chunk.read * size // max(chunk.position, 1))
    return bulk.drop_indexes_and_keys(conn, tables), tables


def _write_directly(conn: Connection, reader: Reader, producer: Chunks, sink: ProblemLog, job: _Job,
                    result: ImportResult, size: int) -> Rebuild:
    """COPY each chunk's rows, claims and history straight into their tables."""
    copies, rebuilt, tables = bulk.direct_copies(reader.collection), None, []
    for chunk in producer.chunks():
        result.read = chunk.read
        if sink.problems and not job.skip_invalid:
            raise _ReadAgain("a feature is invalid")
        if rebuilt is None:
            rebuilt, tables = _drop_if_large(conn, reader.collection, chunk, size)
        result.groups_created += _create_groups(conn, reader, job.actor)
        for copy_sql, lines in zip(copies, chunk.lines):
            _copy(conn, copy_sql, lines)
        result.created += chunk.rows
    return rebuilt, tables


def _stage_and_apply(conn: Connection, reader: Reader, producer: ReaderThread, sink: ProblemLog, job: _Job,
                     result: ImportResult, size: int) -> Rebuild:
    """COPY each chunk into the staging tables, drop the ids it repeats and apply it."""
    collection = reader.collection
    copies, rebuilt, tables = bulk.create_staging(conn, collection), None, []
    for chunk in producer.chunks():
        for copy_sql, lines in zip(copies, chunk.lines):
            _copy(conn, copy_sql, lines)
        for where, used in bulk.repeated_ids(conn, chunk.rows):
            sink.add([Problem(producer.prefix + where, "id", f"duplicate id, already used at {producer.prefix}{used}")])
        result.read = chunk.read
        if sink.problems and not job.skip_invalid:  # refused at the end: only read on, to report everything
            bulk.clear_staging(conn, collection)
            continue
        if rebuilt is None:
            rebuilt, tables = _drop_if_large(conn, collection, chunk, size)
        result.groups_created += _create_groups(conn, reader, job.actor)
        _apply(conn, collection, job.actor, result)
        bulk.clear_staging(conn, collection)
    return rebuilt, tables


def _copy(conn: Connection, copy_sql: str, lines: list[str]) -> None:
    if not lines:
        return
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for start in range(0, len(lines), COPY_LINES):
            copy.write("".join(lines[start:start + COPY_LINES]))


def _create_groups(conn: Connection, reader: Reader, actor: str) -> list[str]:
    groups = getattr(reader, "groups", None)
    return stored_groups.create(conn, groups.take_new(), actor) if groups is not None else []


def _apply(conn: Connection, collection: str, actor: str, result: ImportResult) -> None:
    applied = bulk.apply(conn, collection, actor)
    result.created += applied.created
    result.updated += applied.updated
    result.unchanged += applied.unchanged


def _report_duplicates(conn: Connection, rule: DuplicateRule, path: Path | None, result: ImportResult) -> None:
    clock = time.perf_counter()
    result.duplicate_rule = rule
    with ExitStack() as stack:
        writer = None
        if path:
            writer = spreadsheet.Writer(stack.enter_context(open(path, "w", newline="", encoding="utf-8")))
            writer.writerow(["a", "b", "group", "event_type", "metres", "a_date", "b_date"])
        for pair in likely_duplicates(conn, rule, everything_imported=result.direct):
            result.duplicate_count += 1
            if len(result.duplicates) < SHOWN:
                result.duplicates.append(pair)
            if writer:
                writer.writerow(pair.values())
    log.info("looked for likely duplicates in %.1f s", time.perf_counter() - clock)
