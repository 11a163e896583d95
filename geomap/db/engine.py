"""Engines: the configured DATABASE_URL, or the embedded cluster started on demand."""
from __future__ import annotations

import select
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import msgspec
import psycopg
from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError

from geomap.config import Settings
from geomap.db.cluster import Cluster

T = TypeVar("T")


def database_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise the embedded cluster's, starting it if needed."""
    if settings.database_url:
        return settings.database_url
    cluster = Cluster(settings.home, port=settings.db_port)
    cluster.start()
    return cluster.url()


# geomap's queries are short and indexed. PostGIS costs ST_DWithin high, which pushes their
# estimates past the JIT and parallel-query thresholds: measured on 1M incidents, the nearby
# query took 147 ms with both and 46 ms without. Set per connection, so DATABASE_URL servers too.
# (The map's cell counts allow parallel workers for their own transaction: map_queries.CELLS_SETTINGS.)
SESSION_OPTIONS = "-c jit=off -c max_parallel_workers_per_gather=0"


def _json_text(value) -> str:
    return msgspec.json.encode(value).decode()


def make_engine(url: str, **pool: object) -> Engine:
    # prepare_threshold=None: no server-side prepared statements, whose generic plans were
    # measured 4-5x slower than custom plans on dense bbox queries. json and jsonb values are
    # decoded by msgspec (the same Python values as the json module's, about three times as
    # fast: a tenth of a nearby query with hundreds of rows went to decoding their sources), and
    # encoded by it too (one JSON library throughout).
    # No pool_pre_ping: its SELECT 1 was a round trip on every checkout (issue 16). A pooled
    # connection whose server went away is found without one (`_discard_if_closed`), and a read
    # that still meets a dead connection is retried once on a new one (`read`).
    """An engine on `url`, its connections set up the way geomap's queries were measured to need;
    `pool`: SQLAlchemy's pool settings (pool_size, max_overflow, pool_timeout), else its defaults."""
    engine = create_engine(url, json_deserializer=msgspec.json.decode, json_serializer=_json_text,
                           connect_args={"options": SESSION_OPTIONS, "prepare_threshold": None}, **pool)
    event.listen(engine, "checkout", _discard_if_closed)
    return engine


def _discard_if_closed(dbapi_connection, record, proxy) -> None:
    """A liveness check with no round trip: an idle connection has nothing to read, so a readable
    socket means the server closed it (shutdown, restart, a terminated backend: PostgreSQL sends
    its FATAL message and closes) or sent something unexpected. The pool then discards it and
    connects anew (DisconnectionError on checkout)."""
    if dbapi_connection.closed or _readable(dbapi_connection.pgconn.socket):
        raise DisconnectionError("the server closed this pooled connection")


def _readable(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


_AUTOCOMMIT: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def autocommit(engine: Engine) -> Engine:
    """The engine's pool in autocommit mode, for read-only work: each statement is its own
    transaction, so no BEGIN and ROLLBACK round trips around it (psycopg sends BEGIN before the
    first statement of a transaction; the pool rolls back on return)."""
    found = _AUTOCOMMIT.get(engine)
    if found is None:
        found = _AUTOCOMMIT[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return found


def read(engine: Engine, work: Callable[[Connection], T]) -> T:
    """`work(conn)` on an autocommit connection (read-only work: statements that see the data as
    of their own start are enough). When the connection turns out dead at its first use (the
    server restarted since it was pooled), the pool is refreshed and `work` runs once more."""
    try:
        with autocommit(engine).connect() as conn:
            return work(conn)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    with autocommit(engine).connect() as conn:
        return work(conn)


def lost(exc: BaseException) -> bool:
    """Whether a database error says the database could not do the work (the connection lost, the
    server shutting down, a timeout or a cancelled transaction), not that it refused the data. Such
    an error goes on up as what it is (the API's 503, the CLI's lost-connection message); it is
    never reported as bad input."""
    error = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error; raw COPY does not
    return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


def cooperative_waits() -> None:
    """psycopg waits for the database by polling its sockets through `select`, as patched by
    gevent in a gevent worker (`geomap.server`), not by the blocking wait it chose at import."""
    import select

    from psycopg import waiting

    waiting.wait = waiting.wait_poll if hasattr(select, "poll") else waiting.wait_select


def on_local_backend(engine: Engine, act: Callable[[int], None]) -> None:
    """Call `act` with the process id of the server process behind each new connection of
    `engine`, when that process runs on this machine (a loopback or Unix-socket connection to a
    process named postgres: the embedded cluster). An OSError of `act` (a process of another
    user) is ignored: the connection works as before."""

    def connected(dbapi_connection, record) -> None:
        info = dbapi_connection.info
        if not (info.host in ("localhost", "127.0.0.1", "::1") or info.host.startswith("/")):
            return
        try:
            if Path(f"/proc/{info.backend_pid}/comm").read_text().strip() == "postgres":
                act(info.backend_pid)
        except OSError:
            pass

    event.listen(engine, "connect", connected)
