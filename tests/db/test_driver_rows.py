"""Statements run on the pooled connection's driver cursor (`geomap.db.prepared.run_on_driver`):
the driver's errors come up as SQLAlchemy's, a lost connection is invalidated so that
`geomap.db.engine.read` retries on a new one, and anything watching statements through
SQLAlchemy's events still sees them."""
from __future__ import annotations

import signal
import time

import pytest
from sqlalchemy import Float, Integer, bindparam, event, func, literal_column, select
from sqlalchemy.exc import DBAPIError

from geomap.db import prepared
from geomap.db.engine import autocommit, read

RATIO = select((literal_column("12") / bindparam("d", type_=Integer)).label("q"), bindparam("d", type_=Integer).label("d"))
SLEEP = select(func.pg_sleep(bindparam("s", type_=Float)))


class Exit(BaseException):
    """An exit raised while the driver waits for the server, as a gevent timeout is."""


def terminate(engine, pid: int) -> None:
    """End the server process `pid` from another connection, and let its client see the close."""
    with autocommit(engine).connect() as other:
        assert other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})").scalar_one()
    time.sleep(0.2)


def backend_pid(conn) -> int:
    """The connection's server process, known to the driver (no statement: one run by SQLAlchemy
    would leave a transaction open in its books, whose rollback at close meets the lost
    connection through SQLAlchemy's own error handling)."""
    return conn.connection.dbapi_connection.info.backend_pid


def test_rows_are_the_drivers_tuples(engine):
    with autocommit(engine).connect() as conn:
        assert prepared.run_on_driver(conn, RATIO, {"d": 4}) == [(3, 4)]


def test_a_driver_error_is_sqlalchemys_and_the_connection_stays_usable(engine):
    with autocommit(engine).connect() as conn:
        with pytest.raises(DBAPIError) as raised:
            prepared.run_on_driver(conn, RATIO, {"d": 0})
        assert "division by zero" in str(raised.value.orig)
        assert not raised.value.connection_invalidated and not conn.invalidated
        assert prepared.run_on_driver(conn, RATIO, {"d": 3}) == [(4, 3)]


def test_in_a_transaction_the_statement_is_sqlalchemys_to_commit_or_roll_back(engine):
    with engine.connect() as conn:
        assert not conn.in_transaction()
        assert prepared.run_on_driver(conn, RATIO, {"d": 2}) == [(6, 2)]
        assert conn.in_transaction()  # as SQLAlchemy's own execution begins one
        with pytest.raises(DBAPIError):
            prepared.run_on_driver(conn, RATIO, {"d": 0})
        conn.rollback()
        assert prepared.run_on_driver(conn, RATIO, {"d": 6}) == [(2, 6)]


def test_a_lost_connection_is_invalidated_as_sqlalchemy_would(engine):
    with autocommit(engine).connect() as conn:
        terminate(engine, backend_pid(conn))
        with pytest.raises(DBAPIError) as raised:
            prepared.run_on_driver(conn, RATIO, {"d": 1})
        assert raised.value.connection_invalidated and conn.invalidated


def test_read_retries_on_a_new_connection_when_the_driver_path_finds_its_own_lost(engine):
    """The server process ends after the pool handed the connection out (its socket check passed):
    the statement on the driver cursor meets the closed connection, and `read` runs the work again."""
    pids = []

    def work(conn):
        pids.append(backend_pid(conn))
        if len(pids) == 1:
            terminate(engine, pids[0])
        return prepared.run_on_driver(conn, RATIO, {"d": 12})

    assert read(engine, work) == [(1, 12)]
    assert len(pids) == 2 and pids[0] != pids[1]


def test_an_exit_during_the_statement_invalidates_the_connection(engine):
    """The driver may be left mid-message: the connection is invalidated, never pooled again,
    and the next one the pool hands out is another server process that answers."""
    def leave(signum, frame):
        raise Exit

    previous = signal.signal(signal.SIGALRM, leave)
    try:
        with autocommit(engine).connect() as conn:
            pid = backend_pid(conn)
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            with pytest.raises(Exit):
                prepared.run_on_driver(conn, SLEEP, {"s": 5.0})
            assert conn.invalidated
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    with autocommit(engine).connect() as conn:
        assert backend_pid(conn) != pid
        assert prepared.run_on_driver(conn, RATIO, {"d": 4}) == [(3, 4)]


def test_statements_watched_through_sqlalchemy_events_are_seen(engine):
    """The benchmarks capture and time statements by SQLAlchemy's cursor events: a watched
    connection runs the statement the usual way, with the same rows; an unwatched one does not."""
    seen = []

    def watch(conn, cursor, statement, *rest):
        seen.append(statement)

    with autocommit(engine).connect() as conn:
        assert prepared.run_on_driver(conn, RATIO, {"d": 4}) == [(3, 4)]
        assert seen == []
        event.listen(engine, "before_cursor_execute", watch)
        try:
            assert prepared.run_on_driver(conn, RATIO, {"d": 4}) == [(3, 4)]
        finally:
            event.remove(engine, "before_cursor_execute", watch)
    assert len(seen) == 1 and "/" in seen[0]
