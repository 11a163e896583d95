"""Test setup: one real PostgreSQL/PostGIS cluster for the session, started by geomap's own
embedded-cluster code in a temporary GEOMAP_HOME; a fresh database per test, cloned from a
migrated template."""
from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from geomap import create_app
from geomap.db import migrate
from geomap.db.cluster import Cluster
from geomap.db.engine import make_engine
from geomap.db.schema import metadata

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = "geomap_template"
_counter = itertools.count()


def make_home(prefix: str = "geomap-test-") -> Path:
    """A temporary GEOMAP_HOME the postgres user can enter when the tests run as root."""
    home = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    home.chmod(0o755)
    return home


@pytest.fixture(scope="session")
def cluster():
    home = make_home()
    cluster = Cluster(home)
    cluster.start()
    engine = make_engine(cluster.url())
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{TEMPLATE}"'))
    template = make_engine(cluster.url(TEMPLATE))
    migrate.upgrade(template)
    template.dispose()
    engine.dispose()
    yield cluster
    cluster.stop()
    shutil.rmtree(home, ignore_errors=True)


def _admin(cluster: Cluster) -> psycopg.Connection:
    return psycopg.connect(cluster.url("postgres", driver="postgresql"), autocommit=True)


@contextmanager
def fresh_database(cluster: Cluster):
    """URL of a new, migrated, empty database, dropped afterwards."""
    name = f"test_{os.getpid()}_{next(_counter)}"
    with _admin(cluster) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    yield cluster.url(name)
    with _admin(cluster) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(cluster):
    """A fresh database for one test."""
    with fresh_database(cluster) as url:
        yield url


@contextmanager
def app_with_seed(cluster, **settings):
    """An app (with these settings besides DATABASE_URL) on a new database holding the seed data;
    its engine disposed and the database dropped afterwards."""
    from geomap.ingest import load

    with fresh_database(cluster) as url:
        app = create_app({"DATABASE_URL": url, **settings})
        try:
            load(app.extensions["geomap.engine"])
            yield app
        finally:
            app.extensions["geomap.engine"].dispose()


@pytest.fixture(scope="module")
def seeded_app(cluster):
    """An app on a database with the seed data, shared by a module's read-only tests."""
    with app_with_seed(cluster) as app:
        yield app


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def seeded(engine):
    from geomap.ingest import load

    load(engine)
    return engine


@pytest.fixture
def app(database_url):
    app = create_app({"DATABASE_URL": database_url})
    yield app
    app.extensions["geomap.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def snapshot(engine) -> dict[str, list[tuple]]:
    """Every row of every geomap table, bookkeeping included, in a stable order; not the change
    stamps (a cache key that every write statement moves, even one that writes no row)."""
    with engine.connect() as conn:
        return {name: [tuple(row) for row in conn.execute(text(f'SELECT * FROM "{name}" ORDER BY 1'))]
                for name in sorted(metadata.tables) if name != "change_stamps"}


def url_of(sock) -> str:
    """The URL of a server listening on `sock`."""
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def loopback():
    """A listening socket on a free loopback port, made before the app so that the app can be
    given its URL (`url_of`) as its public URL (GEOMAP_PUBLIC_URL), as `geomap serve` gives an
    app its bind address; `serving` then serves on this very socket."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock


@contextmanager
def serving(app, listener=None):
    """The app on a real HTTP server on loopback (threaded), on `listener` (a socket from
    `loopback()`) or else on a free port: yields the server's URL."""
    import threading

    from werkzeug.serving import make_server

    with ExitStack() as stack:
        sock = listener or stack.enter_context(loopback())
        server = make_server("127.0.0.1", 0, app, threaded=True, fd=sock.fileno())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield url_of(sock)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)


@pytest.fixture
def listener():
    with loopback() as sock:
        yield sock


@pytest.fixture
def live_app(database_url, listener):
    """An app whose public URL is the address `live_server` serves it at."""
    app = create_app({"DATABASE_URL": database_url, "GEOMAP_PUBLIC_URL": url_of(listener)})
    yield app
    app.extensions["geomap.engine"].dispose()


@pytest.fixture
def live_server(live_app, listener):
    """`live_app` on a real HTTP server on loopback (threaded), for what a client sees: its URL."""
    with serving(live_app, listener) as url:
        yield url


@pytest.fixture
def editor_token(app):
    from geomap.db import tokens

    with app.extensions["geomap.engine"].begin() as conn:
        return tokens.create(conn, "test-editor", "editor")


@pytest.fixture
def seeded_client(app, client):
    """A test client of an app whose database holds the seed data."""
    from geomap.ingest import load

    load(app.extensions["geomap.engine"])
    return client


def data_snapshot(engine) -> dict:
    """Every data table but the tokens (a token's last use is recorded even when a write fails)."""
    return {name: rows for name, rows in snapshot(engine).items() if name != "api_tokens"}


def bearer(token: str, **headers) -> dict:
    """Request headers with the token as a bearer credential."""
    return {"Authorization": f"Bearer {token}", **headers}


# Headless Chromium (Debian's, installed by scripts/install-system-deps.sh), offline: no proxy, no
# background requests of its own, so a test sees only the requests a page makes.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-proxy-server",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Never a skip: `make test` installs Debian's chromium, and a missing browser must fail the run.
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run scripts/install-system-deps.sh"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()
