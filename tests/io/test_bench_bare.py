"""bench/bare_items.py, the bare reference of the items benchmark, must serve what geomap's items
endpoint serves for the same request: the same features in the same order, each with the same
properties (a property geomap gained and the reference lacked made the reference's pages 4 %
smaller, and its ratio flattered it)."""
from __future__ import annotations

import json
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import bare_items  # noqa: E402

QUERY = "bbox=40,30,50,40&datetime=2019-01-01/2020-12-31&limit=50"


def bare_page(monkeypatch, database_url) -> dict:
    monkeypatch.setenv("DATABASE_URL", database_url.replace("+psycopg", "", 1))  # as api.py gives it
    monkeypatch.setattr(bare_items, "_local", type(bare_items._local)())
    statuses = []
    body = b"".join(bare_items.app({"QUERY_STRING": QUERY}, lambda status, headers: statuses.append(status)))
    bare_items._local.conn.close()
    assert statuses == ["200 OK"]
    return json.loads(body)


def test_the_bare_reference_serves_geomaps_features(seeded_client, database_url, monkeypatch):
    ours = seeded_client.get(f"/collections/incidents/items?{QUERY}")
    assert ours.status_code == 200
    expected = ours.get_json()["features"]
    got = bare_page(monkeypatch, database_url)["features"]
    assert len(expected) > 5
    assert [f["id"] for f in got] == [f["id"] for f in expected]
    for theirs, mine in zip(got, expected, strict=True):
        assert theirs["geometry"] == mine["geometry"]
        assert theirs["properties"].keys() == mine["properties"].keys(), theirs["id"]
        assert theirs["properties"] == mine["properties"], theirs["id"]
