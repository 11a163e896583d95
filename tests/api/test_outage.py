"""A database outage under a running app: every route that needs the database answers 503 with
Retry-After as a problem document (never 500), and the app serves again by itself once the
database is back, on the same port."""
from __future__ import annotations

import shutil
import time

import pytest
from conftest import make_home

from geomap import create_app
from geomap.db import migrate
from geomap.db.cluster import Cluster
from geomap.db.engine import make_engine
from geomap.ingest import load

ROUTES = ["/health", "/collections/incidents/items?f=json", "/collections/sites/items/k1-air-base?f=json",
          "/analysis/distance?from=sites/k1-air-base&to=44.0,35.0", "/analysis/overlaps?date=2019-12-27",
          "/collections/incidents/items/k1-rocket-attack-2019-12-27/context?f=json"]


@pytest.fixture
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
