"""`geomap import`: stream a file of any size into the database, all or nothing.

1. A reader (`readers`) yields the file's features one at a time, each validated as
   `geomap load` validates it; references to groups and sites are checked against the
   database. This runs in a producer thread, which turns valid features into COPY text.
2. The main thread COPYs each chunk of the file into temporary staging tables (the features;
   an incident's claims in a second one), finds ids the
   file repeats, and applies the chunk with one set-based upsert (`geomap.db.bulk.apply`):
   new and changed features are written with their attributions and history, unchanged ones
   are left alone, so re-importing a file changes nothing. Reading the next chunk overlaps
   with the database writing this one. Memory holds a few chunks, whatever the file's size.
3. Problems go to the report as they are found. With any problem the transaction is rolled
   back at the end and InvalidInput lists them: the database is unchanged. With
   `skip_invalid` the valid features are kept.
4. Likely duplicates among the imported incidents are reported.

Everything runs in one transaction, which locks the collection against other writers
(readers go on; during a large first import they wait for the index rebuild).
"""
from __future__ import annotations

import csv
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
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
from geomap.db.duplicates import DuplicateRule, likely_duplicates
from geomap.errors import InvalidInput, Problem
from geomap.io import rows
from geomap.io.load import unknown_references
from geomap.io.readers import Item, Reader, detect_format, open_reader

log = logging.getLogger(__name__)
SHOWN = 20  # problems and duplicates kept in memory to show; the reports get all of them
CHUNK_ROWS = 25_000  # features staged and upserted at a time
COPY_LINES = 2_000  # COPY lines sent at a time
PROGRESS_EVERY = 1_000
Progress = Callable[[int], None]


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
            self._writer = csv.writer(self._file)
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
    fmt = fmt or detect_format(path)
    actor = actor or f"geomap import {path}"
    with ExitStack() as stack:
        stream = _open(path, stack)
        size = os.fstat(stream.fileno()).st_size
        sink = stack.enter_context(ProblemLog(report))
        conn = stack.enter_context(engine.begin())
        reader = open_reader(stream, path, fmt, collection, **_context(conn, fmt))
        items = reader.items()
        first = next(items, None)
        result = ImportResult(path, fmt, reader.collection, report=report)
        bulk.lock(conn, reader.collection)
        producer = _Producer(chain([first] if first else [], items), reader, _known(conn, reader), sink,
                             stream, progress)
        stack.callback(producer.stop)
        _consume(conn, reader, producer, sink, skip_invalid, actor, result, size)
        if sink.problems and not skip_invalid:
            raise _refusal(path, sink)  # leaving the `with` rolls the transaction back
        result.invalid, result.problems, result.problem_count = sink.features, sink.shown, sink.problems
        if duplicates is not None and reader.collection == "incidents":
            _report_duplicates(conn, duplicates, duplicates_report, result)
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

    return {"groups": GroupIndex.load(conn)}


def _known(conn: Connection, reader: Reader) -> dict[str, set[str]]:
    """Ids that references may name: stored groups and sites (plus groups an ACLED import creates)."""
    groups = getattr(reader, "groups", None)
    return {"groups": groups.ids if groups is not None else store.existing_ids(conn, "groups"),
            "sites": store.existing_ids(conn, "sites")}


@dataclass
class _Chunk:
    lines: list[str]
    claims: list[str]  # the COPY lines of the rows' claims (incidents), a text per row that has any
    read: int  # features read so far
    position: int  # bytes of the file read so far


class _Producer:
    """Reads, validates and formats features in a thread, handing over chunks of COPY lines
    through a short queue (so memory holds at most a few chunks)."""

    def __init__(self, items: Iterator[Item], reader: Reader, known: dict[str, set[str]], sink: ProblemLog,
                 stream: IO[bytes], progress: Progress | None):
        self.items, self.known, self.sink, self.stream, self.progress = items, known, sink, stream, progress
        self.line = rows.formatter(bulk.staging_fields(reader.collection))
        self.prefix = f"{reader.path}: "  # staged places leave out the path, which every one starts with
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.waited = 0.0  # seconds the database side waited for chunks (logged with -v)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="geomap-import-reader", daemon=True)
        self.thread.start()

    def chunks(self) -> Iterator[_Chunk]:
        while True:
            started = time.perf_counter()
            kind, value = self.queue.get()
            self.waited += time.perf_counter() - started
            if kind == "error":
                raise value
            yield value
            if kind == "last":
                return

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)

    def _put(self, kind: str, value) -> None:
        while not self.stopped.is_set():
            try:
                self.queue.put((kind, value), timeout=0.2)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        try:
            count, lines, claims = 0, [], []
            for count, item in enumerate(self.items, start=1):
                if self.stopped.is_set():
                    return
                formatted = self._line(item, count)
                if formatted is not None:
                    lines.append(formatted[0])
                    if formatted[1]:
                        claims.append(formatted[1])
                if count % PROGRESS_EVERY == 0 and self.progress:
                    self.progress(self.stream.tell())
                if len(lines) >= CHUNK_ROWS:
                    self._put("chunk", _Chunk(lines, claims, count, self.stream.tell()))
                    lines, claims = [], []
            if self.progress:
                self.progress(self.stream.tell())
            self._put("last", _Chunk(lines, claims, count, self.stream.tell()))
        except BaseException as exc:  # handed to the main thread, which raises it
            self._put("error", exc)

    def _line(self, item: Item, ordinal: int) -> tuple[str, str] | None:
        """The feature's COPY line and its claims' lines, or None if it has a problem."""
        if item.record is None:
            self.sink.add(item.problems)
            return None
        problems = unknown_references(item.record, self.known)
        text = self.line(item.record, item.where.removeprefix(self.prefix), ordinal)
        if rows.has_nul(text[0]) or rows.has_nul(text[1]):
            problems.append(Problem(item.where, "properties", "contains a NUL character (\\u0000), "
                                    "which PostgreSQL cannot store; remove it"))
        self.sink.add(problems)
        return None if problems else text


def _consume(conn: Connection, reader: Reader, producer: _Producer, sink: ProblemLog, skip_invalid: bool,
             actor: str, result: ImportResult, size: int) -> None:
    """Stage and apply each chunk; rebuild indexes once when the import is large. A statement
    the database refuses (a check only it makes) refuses the import."""
    try:
        _stage_and_apply(conn, reader, producer, sink, skip_invalid, actor, result, size)
    except (DBAPIError, psycopg.Error) as exc:
        error = getattr(exc, "orig", exc)  # SQLAlchemy wraps the driver's error; raw COPY does not
        diag = getattr(error, "diag", None)
        reason = getattr(diag, "message_primary", None) or str(error)
        detail = getattr(diag, "message_detail", None) or getattr(diag, "context", None)
        raise InvalidInput(f"{result.path}: the database refused the import; nothing was imported",
                           [Problem(str(result.path), "feature", reason + (f" ({detail})" if detail else ""))]) from None


def _stage_and_apply(conn: Connection, reader: Reader, producer: _Producer, sink: ProblemLog, skip_invalid: bool,
                     actor: str, result: ImportResult, size: int) -> None:
    collection = reader.collection
    copies = bulk.create_staging(conn, collection)
    fresh = bulk.is_empty(conn, collection)  # locked: stays so but for this import's own rows
    clock, rebuilt = time.perf_counter(), None
    for chunk in producer.chunks():
        for copy_sql, lines in zip(copies, (chunk.lines, chunk.claims)):
            _copy(conn, copy_sql, lines)
        for where, used in bulk.repeated_ids(conn, len(chunk.lines)):
            sink.add([Problem(producer.prefix + where, "id", f"duplicate id, already used at {producer.prefix}{used}")])
        result.read = chunk.read
        if sink.problems and not skip_invalid:  # refused at the end: only read on, to report everything
            bulk.clear_staging(conn, collection)
            continue
        if rebuilt is None:  # the first chunk tells how large the import will be
            tables = bulk.tables_to_rebuild(conn, collection, chunk.read * size // max(chunk.position, 1))
            rebuilt = bulk.drop_indexes_and_keys(conn, tables)
        result.groups_created += _create_groups(conn, reader, actor)
        _apply(conn, collection, actor, result, fresh)
        bulk.clear_staging(conn, collection)
    log.info("read, validated and wrote %d feature(s) in %.1f s (%.1f s waiting for the reader)", result.read,
             time.perf_counter() - clock, producer.waited)
    if rebuilt:
        clock = time.perf_counter()
        bulk.recreate(conn, rebuilt, tables)
        result.rebuilt_indexes = True
        log.info("rebuilt indexes and foreign keys in %.1f s", time.perf_counter() - clock)


def _copy(conn: Connection, copy_sql: str, lines: list[str]) -> None:
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for start in range(0, len(lines), COPY_LINES):
            copy.write("".join(lines[start:start + COPY_LINES]))


def _create_groups(conn: Connection, reader: Reader, actor: str) -> list[str]:
    groups = getattr(reader, "groups", None)
    return groups.insert_new(conn, actor) if groups is not None else []


def _apply(conn: Connection, collection: str, actor: str, result: ImportResult, fresh: bool) -> None:
    applied = bulk.apply(conn, collection, actor, fresh)
    result.created += applied.created
    result.updated += applied.updated
    result.unchanged += applied.unchanged


def _report_duplicates(conn: Connection, rule: DuplicateRule, path: Path | None, result: ImportResult) -> None:
    clock = time.perf_counter()
    result.duplicate_rule = rule
    with ExitStack() as stack:
        writer = None
        if path:
            writer = csv.writer(stack.enter_context(open(path, "w", newline="", encoding="utf-8")))
            writer.writerow(["a", "b", "group", "event_type", "metres", "a_date", "b_date"])
        for pair in likely_duplicates(conn, rule):
            result.duplicate_count += 1
            if len(result.duplicates) < SHOWN:
                result.duplicates.append(pair)
            if writer:
                writer.writerow(pair.values())
    log.info("looked for likely duplicates in %.1f s", time.perf_counter() - clock)
