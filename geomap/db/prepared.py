"""Statements compiled once and run many times with other values (issue 16: the items request
spent about as long building and compiling its statement with SQLAlchemy as PostgreSQL spent
running it).

A statement is built by the usual clause builders with named bind parameters in place of a
request's values, compiled once to its driver text, and kept under a key that says everything
else that shaped it. Each later execution sends that text with the request's values: still
bound parameters, never formatted into the SQL. This is not a server-side prepared statement
(geomap's engine turns those off: their generic plans were slower); PostgreSQL plans every
execution for its values.

Most run through SQLAlchemy (`run`, `Compiled.execute`: rows with names). The hottest, nearby's
and an items page's, run on the driver's own cursor (`run_on_driver`, `Compiled.driver_rows`):
SQLAlchemy's execution of the text was about a third of what nearby cost beyond bare SQL at
100,000 incidents, and a large part of what an items request spent in Python beyond the bare
reference's (bench/README.md, sessions 9 and 10). What that skips is done by hand
there: the driver's errors raised as SQLAlchemy's (a lost connection invalidated, so that
`geomap.db.engine.read` retries), a transaction begun in SQLAlchemy's books as its own execution
would, and statements that something watches through SQLAlchemy's events run the usual way.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

from cachetools import LRUCache
from sqlalchemy import Connection, CursorResult, Row
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement

CAPACITY = 512  # statements kept (per process): a shape is a collection, a set of criteria, a page size


@dataclass(frozen=True)
class Compiled:
    """A statement's driver text, its own constants (the JSON keys, the SRID: geomap's, never a
    request's) written in as literals, so that only the names in `supplied` take values, each
    execution's."""

    sql: str
    supplied: frozenset[str]
    constants: Mapping[str, object]  # those with no literal form (an infinite float), sent as parameters

    def execute(self, conn: Connection, values: Mapping[str, object]) -> CursorResult:
        """The statement run with `values` (one for each name in `supplied`)."""
        if values.keys() != self.supplied:
            raise ValueError(f"the statement takes {sorted(self.supplied)}, not {sorted(values)}")
        return conn.exec_driver_sql(self.sql, {**self.constants, **values})

    def driver_rows(self, conn: Connection, values: Mapping[str, object]) -> list[tuple]:
        """The statement's rows as the driver's tuples (columns by position), run on the pooled
        connection's own driver cursor: see `run_on_driver`."""
        if values.keys() != self.supplied:
            raise ValueError(f"the statement takes {sorted(self.supplied)}, not {sorted(values)}")
        parameters = {**self.constants, **values}
        if _observed(conn):
            return [tuple(row) for row in conn.exec_driver_sql(self.sql, parameters)]
        driver = conn.connection.dbapi_connection
        if not driver.autocommit and not conn.in_transaction():
            conn.begin()  # as SQLAlchemy's own execution would (autobegin): its commit and rollback cover this
        try:
            with driver.cursor() as cursor:
                cursor.execute(self.sql, parameters)
                return cursor.fetchall()
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, exc, self.sql, parameters) from exc
        except Exception:
            raise
        except BaseException as exc:  # an exit (a gevent timeout), as SQLAlchemy: the driver may be mid-message
            conn.invalidate(exc)
            raise


def compile_once(statement: ClauseElement, dialect: Dialect, supplied: frozenset[str] | None = None) -> Compiled:
    """`statement` compiled for `dialect`, its parameters named in `supplied` (by default those
    built without a value) left to each execution, the others (constants of geomap's code)
    written in: each was a parameter PostgreSQL received and typed at every execution, 36 for an
    incidents page. A ValueError when the text cannot be reused as is: a parameter the driver
    would not receive as given (a type that converts its values, a list expanded into the text)."""
    compiled = statement.compile(dialect=dialect)
    if supplied is None:
        supplied = frozenset(name for bind, name in compiled.bind_names.items() if bind.required)
    if "POSTCOMPILE" in compiled.string:
        raise ValueError("a list parameter is expanded into the text at each execution")
    converted = [name for name, bind in compiled.binds.items()
                 if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None]
    if converted:
        raise ValueError(f"parameters {converted} are converted before they are sent")
    values = compiled.construct_params(dict.fromkeys(supplied))  # the supplied ones need no value here
    missing = supplied - values.keys()
    if missing:
        raise ValueError(f"the statement has no parameters {sorted(missing)}")
    text, constants = compiled.string, {}
    for bind, name in compiled.bind_names.items():
        if name in supplied:
            continue
        if isinstance(values[name], float) and not math.isfinite(values[name]):
            constants[name] = values[name]  # SQLAlchemy would write `inf`, which PostgreSQL reads as a column
        else:  # the statement's own constant, written in by SQLAlchemy's literal rendering
            text = text.replace(f"%({name})s", compiled.render_literal_value(values[name], bind.type))
    return Compiled(text, supplied, constants)


class Statements:
    """Compiled statements by key (thread-safe, least recently used dropped past CAPACITY). The
    key must name everything that shapes the statement but the supplied values; the dialect and
    the server's version are added to it."""

    def __init__(self, capacity: int = CAPACITY):
        self._kept: LRUCache = LRUCache(capacity)
        self._lock = threading.Lock()

    def get(self, key: Hashable, dialect: Dialect, build: Callable[[], ClauseElement],
            supplied: frozenset[str] | None = None) -> Compiled:
        """The statement under `key`, built by `build()` and compiled the first time."""
        full = (dialect.name, dialect.driver, dialect.server_version_info, key)
        with self._lock:
            found = self._kept.get(full)
        if found is None:
            found = compile_once(build(), dialect, supplied)
            with self._lock:
                self._kept[full] = found
        return found

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


STATEMENTS = Statements()  # the process's: each user's keys begin with its own name


def _observed(conn: Connection) -> bool:
    """Whether anything watches this connection's statements through SQLAlchemy (cursor events,
    error handlers, echo): they then see `driver_rows`'s statements too, run the usual way (the
    benchmarks capture and time statements by these events)."""
    events = conn.dispatch
    return bool(events.before_cursor_execute or events.after_cursor_execute
                or conn.dialect.dispatch.handle_error or conn.engine.echo)


def _wrapped(conn: Connection, error: Exception, sql: str, parameters: Mapping[str, object]) -> DBAPIError:
    """A driver's error as SQLAlchemy raises it for its own statements: its DBAPIError subclass,
    `connection_invalidated` when the connection is lost, which is then invalidated (the pool
    replaces it; `geomap.db.engine.read` retries on a new one). SQLAlchemy would also mark the
    pool's older connections for replacement; geomap's checkout finds a closed one by its socket
    (`geomap.db.engine`)."""
    lost = conn.dialect.is_disconnect(error, conn.connection.dbapi_connection, None)
    if lost:
        conn.invalidate(error)
    return DBAPIError.instance(sql, parameters, error, conn.dialect.loaded_dbapi.Error,
                               hide_parameters=conn.engine.hide_parameters, connection_invalidated=lost,
                               dialect=conn.dialect)


def run(conn: Connection, statement: ClauseElement, values: Mapping[str, object]) -> list[Row]:
    """The rows of `statement`, built once (each value a named bind parameter), with `values`:
    its text compiled once per dialect and kept under the statement itself. For the hot reads
    of the analysis (nearby, the report's region): SQLAlchemy's per-call cache key and parameter
    processing cost 0.1-0.2 ms of a 1.7 ms nearby query at 100,000 incidents."""
    compiled = STATEMENTS.get(("statement", statement), conn.dialect, lambda: statement)
    return compiled.execute(conn, {name: values[name] for name in compiled.supplied}).all()


def run_on_driver(conn: Connection, statement: ClauseElement, values: Mapping[str, object]) -> list[tuple]:
    """`run`'s rows as plain tuples (columns by position), the statement run on the pooled
    connection's driver cursor rather than by SQLAlchemy's execution (its context, events,
    result metadata and a `Row` per row). For nearby, the hottest read: at 100,000 incidents,
    interleaved in one process under the bench lock (3 x 200 points), nearby / bare SQL went
    from 1.285 to 1.213 (issue 16's target 1.3; bench/README.md, session 9).

    A driver error is raised as SQLAlchemy would raise it (`_wrapped`), and a connection whose
    statements anything watches through SQLAlchemy runs them the usual way (`_observed`)."""
    compiled = STATEMENTS.get(("statement", statement), conn.dialect, lambda: statement)
    return compiled.driver_rows(conn, {name: values[name] for name in compiled.supplied})
