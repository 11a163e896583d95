"""`geomap import`: stream a file of any size into the database, all or nothing. Where the
file formats (`geomap.io`) meet the writing (`geomap.db.importing`), as `geomap.ingest` is for
`geomap load`.

1. A reader (`geomap.io.readers`) yields the file's features one at a time, each validated as
   `geomap load` validates it; references to groups and sites are checked against the
   database. This runs in a thread, or for a large first import of a text sequence in worker
   processes (`geomap.io.chunks`), which turn valid features into chunks of COPY text
   (`geomap.db.lines`).
2. The main thread writes each chunk (`geomap.db.importing`): COPYed into temporary staging
   tables (the features; an incident's claims in a second one), the ids the file repeats
   found, and applied with one set-based upsert (`geomap.db.bulk.apply`): new and changed
   features are written with their attributions and history, unchanged ones are left alone, so
   re-importing a file changes nothing. Reading the next chunk overlaps with the database
   writing this one. Memory holds a few chunks, whatever the file's size.
3. A first import into an empty collection has nothing to compare with: it COPYs the rows,
   their claims and their history lines straight into their tables, with no staging. The
   collection's primary key then finds an id the file repeats; since the report must say
   where each repeat was first used, such a file, or one with an invalid feature that is not
   skipped, is read again the staged way (the direct writes rolled back to a savepoint).
4. Problems go to the report as they are found. With any problem the transaction is rolled
   back at the end and InvalidInput lists them: the database is unchanged. With
   `skip_invalid` the valid features are kept.
5. Duplicates among the imported incidents are reported: the likely ones pair by pair, the
   possible ones (their discs meet only through a coarse one) counted by precision class.

Everything runs in one transaction, which locks the collection against other writers; readers
go on, and see the collection as it was until the commit. With `exclusive`, a large import
drops the collection's indexes and rebuilds them at the end: faster, but readers of the
collection wait until the commit (`geomap.db.importing`).
"""
from __future__ import annotations

import logging
import os
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import IO

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from geomap.analysis.duplicate_rows import FIELDS, search
from geomap.analysis.duplicates import DuplicateRule, Possible
from geomap.analysis.wording import possible_text
from geomap.db import duplicates as duplicate_columns
from geomap.db import groups as stored_groups
from geomap.db import importing, store
from geomap.db.lines import FeatureLines
from geomap.errors import InvalidInput, Problem
from geomap.io import parallel, spreadsheet
from geomap.io.chunks import Chunks, Progress, ReaderProcesses, ReaderThread
from geomap.io.problem_log import SHOWN, ProblemLog
from geomap.io.readers import Reader, detect_format, open_reader

log = logging.getLogger(__name__)
# A first import of a text sequence at least this large is read by worker processes
# (`geomap.io.parallel`), when the machine has more than one core.
PARALLEL_MIN_BYTES = 32 << 20


@dataclass
class ImportResult:
    """What one `geomap import` did: counts, problems, likely duplicates, which path it took and its timings."""

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
    duplicates: list[dict] = field(default_factory=list)  # the first likely ones
    duplicate_count: int = 0  # likely pairs
    possible_duplicates: Possible = Possible()
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
            out.append(f"likely duplicates (same event type, claims naming a common group or none, locations or "
                       f"targets within {rule.metres:g} m disc to disc, {rule.days} day(s), through discs of at most "
                       f"{rule.precise_m:g} m): {self.duplicate_count} pair(s)")
            out += [f"  - {d['a']} / {d['b']}: {d['group'] or 'no common group'}, {d['event_type']}, "
                    f"{d['metres']:g} m apart ({d['basis']}), {d['a_date']} / {d['b_date']}" for d in self.duplicates]
            out.append(possible_text(self.possible_duplicates, rule.precise_m).lower())
        return out


def import_file(engine: Engine, path: Path, fmt: str | None = None, collection: str | None = None, *,
                skip_invalid: bool = False, report: Path | None = None,
                duplicates: DuplicateRule | None = DuplicateRule(),
                duplicates_report: Path | None = None, possible_duplicates: bool = False, actor: str | None = None,
                progress: Progress | None = None, exclusive: bool = False) -> ImportResult:
    """Import one file; raise InvalidInput (changing nothing) when any feature is invalid,
    unless `skip_invalid`. `progress` is called now and then with the bytes read so far.

    `actor` names the writer in `history` (default "geomap import PATH"); `duplicates` is the
    duplicate rule (None: do not look); `report` and `duplicates_report` are CSV files that
    receive every problem and every likely duplicate pair (and, with `possible_duplicates`,
    every possible one after them). `exclusive`: a large import may drop and rebuild the
    indexes (faster; readers wait until it commits).
    """
    path = Path(path)
    job = _Job(path, fmt or detect_format(path), collection, skip_invalid, report,
               actor or f"geomap import {path}", progress, exclusive)
    with ExitStack() as stack:
        stream = _open(path, stack)
        conn = stack.enter_context(engine.begin())
        try:
            with conn.begin_nested():  # a direct first import that meets a repeated id is undone
                result = _read_and_write(conn, stream, job, direct=True)
        except importing.ReadAgain as again:
            log.info("%s; reading the file again the staged way", again)
            result = _read_and_write(conn, stream, job, direct=False)
        if duplicates is not None and result.collection == "incidents":
            _report_duplicates(conn, duplicates, duplicates_report, possible_duplicates, result)
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
    exclusive: bool


def _read_and_write(conn: Connection, stream: IO[bytes], job: _Job, direct: bool) -> ImportResult:
    """One pass over the file: written directly when `direct` and the collection is empty,
    else staged. Raises InvalidInput when a feature is invalid (unless skipped)."""
    stream.seek(0)
    reader = open_reader(stream, job.path, job.format, job.collection, **_context(conn, job.format))
    items = reader.items()
    first = next(items, None)  # (a reader may learn its collection from the first feature)
    groups = getattr(reader, "groups", None)
    writing = importing.Import(str(job.path), reader.collection, job.actor, refuse=not job.skip_invalid,
                               exclusive=job.exclusive, new_groups=groups.take_new if groups is not None else None)
    writing.direct = importing.begin(conn, reader.collection, direct)
    size = os.fstat(stream.fileno()).st_size
    with ProblemLog(job.report) as sink:
        lines = FeatureLines(job.path, reader.collection, job.actor, writing.direct, _known(conn, reader))
        if writing.direct and job.format == "geojsonseq" and size >= PARALLEL_MIN_BYTES and parallel.workers() > 1:
            producer = ReaderProcesses(job.path, reader.collection, lines, sink, job.progress)
        else:
            producer = ReaderThread(chain([first] if first else [], items), lines, sink, stream, job.progress)
        try:
            importing.write(conn, writing, producer.chunks(), sink, size, lines.prefix)
        finally:
            producer.stop()
        if sink.problems and not job.skip_invalid:
            raise _refusal(job.path, sink)  # leaving import_file's `with` rolls the transaction back
    return _result(job, writing, sink, producer)


def _result(job: _Job, writing: importing.Import, sink: ProblemLog, producer: Chunks) -> ImportResult:
    readers = getattr(producer, "workers", 0)
    log.info("%s read and validated %d feature(s); the writing waited %.1f s for them",
             f"{readers} reader processes" if readers else "the reader", writing.read, producer.waited)
    return ImportResult(job.path, job.format, writing.collection, read=writing.read, created=writing.created,
                        updated=writing.updated, unchanged=writing.unchanged, invalid=sink.features,
                        problems=sink.shown, problem_count=sink.problems, report=job.report,
                        groups_created=writing.groups_created, rebuilt_indexes=writing.rebuilt_indexes,
                        direct=writing.direct, readers=readers)


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


def _report_duplicates(conn: Connection, rule: DuplicateRule, path: Path | None, possible: bool,
                       result: ImportResult) -> None:
    """Likely pairs counted, the first shown and all written to `path`; possible ones counted by
    precision class (and written after the likely ones when `possible`)."""
    clock = time.perf_counter()
    result.duplicate_rule = rule
    found = search(duplicate_columns.of_import(conn, rule.days, everything_imported=result.direct), rule,
                   all_mine=result.direct, list_possible=bool(path) and possible)
    result.duplicate_count = int(found.pairs.likely.sum())
    result.possible_duplicates = found.counts
    with ExitStack() as stack:
        writer = None
        if path:
            writer = spreadsheet.Writer(stack.enter_context(open(path, "w", newline="", encoding="utf-8")))
            writer.writerow(FIELDS)
        listed = chain(found.likely(), found.possible() if possible else ()) if writer else islice(found.likely(), SHOWN)
        for pair in listed:  # rows only for what is shown or written: coarse data makes millions of pairs
            if len(result.duplicates) < SHOWN and pair["grade"] == "likely":
                result.duplicates.append(pair)
            if writer:
                writer.writerow(pair.values())
    log.info("looked for likely duplicates in %.1f s", time.perf_counter() - clock)
