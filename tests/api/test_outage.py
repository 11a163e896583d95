"""A database outage under a running app: every route that needs the database answers 503 with
Retry-After as a problem document (never 500), and the app serves again by itself once the
database is back, on the same port. Then the same under load, against `geomap serve`: reads
and writes while the database restarts."""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest
from builders import site
from conftest import make_home
from serving import free_port, wait_for_health
from sqlalchemy import text

from geomap import create_app
from geomap.db import migrate
from geomap.db.cluster import Cluster
from geomap.db.engine import make_engine
from geomap.ingest import load

ROUTES = ["/health", "/collections/incidents/items?f=json", "/collections/sites/items/k1-air-base?f=json",
          "/analysis/distance?from=sites/k1-air-base&to=44.0,35.0", "/analysis/overlaps?date=2019-12-27",
          "/collections/incidents/items/k1-rocket-attack-2019-12-27/context?f=json"]


@pytest.fixture(scope="module")
def own_cluster():
    home = make_home("geomap-outage-")
    cluster = Cluster(home)
    cluster.start()
    engine = make_engine(cluster.url())
    migrate.upgrade(engine)
    load(engine)
    engine.dispose()
    yield cluster
    cluster.stop()
    shutil.rmtree(home, ignore_errors=True)


def test_an_outage_is_503_with_retry_after_and_the_app_recovers(own_cluster):
    app = create_app({"DATABASE_URL": own_cluster.url()})
    client = app.test_client()
    assert all(client.get(route).status_code == 200 for route in ROUTES)  # the pool holds connections
    own_cluster.stop()
    for route in ROUTES:
        response = client.get(route)
        assert response.status_code == 503, (route, response.get_data(as_text=True))
        assert response.mimetype == "application/problem+json"
        assert response.headers["Retry-After"].isdigit()
        assert "not reachable" in response.get_json()["detail"]
    own_cluster.start()
    back = time.monotonic()
    while client.get("/health").status_code != 200:
        assert time.monotonic() - back < 5, "the app did not serve within 5 s of the database's return"
        time.sleep(0.1)
    assert all(client.get(route).status_code == 200 for route in ROUTES)
    app.extensions["geomap.engine"].dispose()


def test_no_free_database_connection_is_503_with_retry_after(database_url):
    """A gevent worker holds many requests at once: when every pooled connection stays in use for
    the pool's timeout, the request is a 503 to retry, not a 500."""
    from geomap.db.engine import make_engine

    app = create_app({"DATABASE_URL": database_url})
    app.extensions["geomap.engine"] = engine = make_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    with engine.connect():  # the pool's one connection, held
        response = app.test_client().get("/collections/incidents/items?f=json&limit=1")
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"].isdigit()
    assert "every database connection is in use" in response.get_json()["detail"]
    assert app.test_client().get("/collections/incidents/items?f=json&limit=1").status_code == 200
    engine.dispose()


@dataclass(frozen=True)
class Answer:
    start: float
    end: float
    method: str
    status: int
    retry_after: str | None
    written: str | None  # the id a 2xx write stored


READS = ["/collections/incidents/items?f=json&limit=5", "/collections/sites/items/k1-air-base?f=json",
         "/analysis/distance?from=sites/k1-air-base&to=44.0,35.0", "/health",
         "/collections/incidents/items/k1-rocket-attack-2019-12-27/context?f=json"]  # by the render tier
# 4 clients: never more than a front worker's render.PENDING heavy requests, so no 503 is load shedding
OUTAGE_S = 30  # the longest the database stays down waiting for the load to meet the outage


def _ask(base: str, token: str, n: int, rng: random.Random) -> Answer:
    start, written = time.monotonic(), None
    if rng.random() < 0.2:
        fid = f"chaos-{n}"
        request = urllib.request.Request(base + "/collections/sites/items", method="POST",
                                         data=json.dumps(site(fid, 44.0 + n * 1e-4, 35.0, 10)).encode(),
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/geo+json"})
    else:
        fid, request = None, urllib.request.Request(base + rng.choice(READS))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            status, retry = response.status, response.headers.get("Retry-After")
    except urllib.error.HTTPError as error:
        with error:
            status, retry = error.code, error.headers.get("Retry-After")
    if fid and 200 <= status < 300:
        written = fid
    return Answer(start, time.monotonic(), request.get_method(), status, retry, written)


def _load(base: str, token: str, stop: threading.Event, out: list[Answer], worker: int) -> None:
    rng, n = random.Random(worker), worker * 100_000
    while not stop.is_set():
        out.append(_ask(base, token, n, rng))
        n += 1


def _until_met(answers: list[Answer], seconds: float) -> None:
    """Keep the database down until the load has met the outage (an answer 503) or for `seconds`:
    on a slow machine a fixed 2 s could pass with every request still in flight."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not any(a.status == 503 for a in list(answers)):
        time.sleep(0.1)
    time.sleep(0.5)  # a little longer, so that more than one request meets it


def test_a_database_restart_under_load_answers_503_never_500_and_loses_no_write(own_cluster, tmp_path):
    engine = make_engine(own_cluster.url())
    try:
        _restart_under_load(own_cluster, engine, tmp_path)
    finally:  # also when an assertion fails: its pooled connection is closed, not left to the garbage collector
        engine.dispose()


def _restart_under_load(own_cluster, engine, tmp_path) -> None:
    from geomap.db import tokens

    with engine.begin() as conn:
        token = tokens.create(conn, "chaos", "editor")
    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "geomap", "serve", "--port", str(port)], stdout=out,
                                  stderr=subprocess.STDOUT, env={**os.environ, "DATABASE_URL": own_cluster.url()})
    base, answers, stop = f"http://127.0.0.1:{port}", [], threading.Event()
    threads = [threading.Thread(target=_load, args=(base, token, stop, answers, k)) for k in range(4)]
    try:
        wait_for_health(base, server, log)
        for thread in threads:
            thread.start()
        time.sleep(2)
        own_cluster.stop()
        _until_met(answers, OUTAGE_S)
        own_cluster.start()
        back = time.monotonic()
        time.sleep(6)
    finally:  # bench/import_readers.py stops its pollers alike: a test does not import bench/ code
        stop.set()
        for thread in threads:
            thread.join()
        server.terminate()
        server.wait(timeout=30)
    statuses = sorted({a.status for a in answers})
    assert set(statuses) <= {200, 201, 412, 503}, (statuses, log.read_text()[-3000:])
    assert all(a.retry_after and a.retry_after.isdigit() for a in answers if a.status == 503)
    assert any(a.status == 503 for a in answers), "the load never met the outage"
    served = [a.end - back for a in answers if a.start >= back and a.status in (200, 201)]
    assert served and min(served) < 5, "no 200 within 5 s of the database's return"
    assert all(a.status in (200, 201) for a in answers if a.start >= back + 5)
    written = [a.written for a in answers if a.written]
    assert written, "no write succeeded"
    with engine.connect() as conn:
        stored = set(conn.execute(text("SELECT id FROM sites WHERE id LIKE 'chaos-%'")).scalars())
    assert set(written) <= stored
