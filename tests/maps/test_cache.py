"""Scenes (a selection's, an incident's focus map) are cached on the change stamps of the tables
they read (migration 0007): kept through autovacuum's work and writes to other tables, dropped by
every kind of write to each table a scene reads, whichever path writes it (SQL, load, a bulk
import's COPY)."""
from __future__ import annotations

import json

import pytest
from builders import group, incident, load_features, site, zone
from sqlalchemy import text

from geomap import maps
from geomap.db import map_queries, rebuild, tokens
from geomap.importer import import_file
from geomap.io import chunks
from geomap.maps.cache import READS

SQUARE = [(43.5, 34.5), (44.5, 34.5), (44.5, 35.5), (43.5, 35.5)]

# One statement of each kind for each table a selection scene reads, on the rows `data` loads.
WRITES = {
    "groups": {
        "insert": "INSERT INTO groups (id, name, kind, color) VALUES ('new', 'New', 'militia', '#000000')",
        "update": "UPDATE groups SET name = 'Renamed' WHERE id = 'alpha'",
        "delete": "DELETE FROM groups WHERE id = 'spare'"},
    "sites": {
        "insert": "INSERT INTO sites (id, name, kind, geom, precision_m, status, sources) "
                  "SELECT 'copy', name, kind, geom, precision_m, status, sources FROM sites WHERE id = 'base'",
        "update": "UPDATE sites SET name = 'Renamed' WHERE id = 'base'",
        "delete": "DELETE FROM sites WHERE id = 'base'"},
    "incidents": {
        "insert": "INSERT INTO incidents (id, title, date_start, date_end, event_type, geom, precision_m, status, "
                  "sources) SELECT 'copy', title, date_start, date_end, event_type, geom, precision_m, status, "
                  "sources FROM incidents WHERE id = 'one'",
        "update": "UPDATE incidents SET title = 'Renamed' WHERE id = 'one'",
        "delete": "DELETE FROM incidents WHERE id = 'two'"},
    "attributions": {
        "insert": "INSERT INTO attributions (incident_id, position, group_id, claimant, stance, sources) "
                  "SELECT 'two', 0, group_id, claimant, stance, sources FROM attributions WHERE incident_id = 'one'",
        "update": "UPDATE attributions SET stance = 'denied' WHERE incident_id = 'one'",
        "delete": "DELETE FROM attributions WHERE incident_id = 'one'"},
    "control_zones": {
        "insert": "INSERT INTO control_zones (id, name, group_id, kind, valid_from, valid_to, geom, confidence, "
                  "status, precision_m, sources) SELECT 'copy', name, group_id, kind, valid_from, valid_to, geom, "
                  "confidence, status, precision_m, sources FROM control_zones WHERE id = 'zone'",
        "update": "UPDATE control_zones SET valid_to = '2020-06-30' WHERE id = 'zone'",
        "delete": "DELETE FROM control_zones WHERE id = 'zone'"},
}


@pytest.fixture
def data(engine, tmp_path):
    load_features(engine, tmp_path, groups=[group("alpha"), group("spare")], sites=[site("base", 44.0, 35.0)],
                  zones=[zone("zone", "alpha", SQUARE, "2019-01-01", "2020-12-31")],
                  incidents=[incident("one", 44.0, 35.0, "2019-12-01", claims=(("alpha", "claimed"),)),
                             incident("two", 44.1, 35.1, "2019-12-02")])
    return engine


def stamp(engine, table_name: str) -> int:
    with engine.connect() as conn:
        return dict(map_queries.change_stamps(conn, [table_name]))[table_name]


def test_the_cache_is_kept_through_vacuum_analyze_and_writes_to_other_tables(data):
    first = maps.selection_scene(data, maps.Selection())
    with data.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does: it moves the WAL, not the data
    with data.begin() as conn:
        tokens.create(conn, "reader", "viewer")
        conn.execute(text("INSERT INTO history (collection, feature_id, action, version, actor, changes) "
                          "VALUES ('incidents', 'elsewhere', 'create', 1, 'test', '[]')"))
    assert maps.selection_scene(data, maps.Selection()) is first


@pytest.mark.parametrize("table_name, kind", [(t, k) for t in WRITES for k in WRITES[t]])
def test_every_kind_of_write_to_a_table_the_scene_reads_drops_it(data, table_name, kind):
    first = maps.selection_scene(data, maps.Selection())
    before = stamp(data, table_name)
    with data.begin() as conn:
        assert conn.execute(text(WRITES[table_name][kind])).rowcount == 1
    assert stamp(data, table_name) != before
    again = maps.selection_scene(data, maps.Selection())
    assert again is not first and again.data_version != first.data_version


@pytest.mark.parametrize("table_name", READS)
def test_truncate_drops_it(data, table_name):
    first = maps.selection_scene(data, maps.Selection())
    before = stamp(data, table_name)
    with data.begin() as conn:
        conn.execute(text(f"TRUNCATE {table_name} CASCADE"))
    assert stamp(data, table_name) != before
    assert maps.selection_scene(data, maps.Selection()) is not first


def test_a_rolled_back_write_keeps_it(data):
    first = maps.selection_scene(data, maps.Selection())
    with data.connect() as conn:
        conn.execute(text(WRITES["incidents"]["update"]))
        conn.rollback()
    assert maps.selection_scene(data, maps.Selection()) is first


def write_sequence(path, features):
    path.write_text("".join("\x1e" + json.dumps(f) + "\n" for f in features))
    return path


def test_bulk_imports_drop_it_on_the_direct_and_the_staged_path(engine, tmp_path, monkeypatch):
    """A first import COPYs straight into incidents (rebuilding the indexes, with the claims'
    group triggers paused); a second goes through the staging tables and one upsert."""
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 2)
    monkeypatch.setattr(rebuild, "BULK_MIN", 3)
    load_features(engine, tmp_path, groups=[group("alpha")])
    empty, before = maps.selection_scene(engine, maps.Selection()), stamp(engine, "incidents")
    features = [incident(f"i{n}", 44.0 + n / 100, 35.0, "2019-12-01", claims=(("alpha", "claimed"),))
                for n in range(5)]
    first = import_file(engine, write_sequence(tmp_path / "a.geojsonseq", features), collection="incidents",
                        exclusive=True)
    assert first.direct and first.rebuilt_indexes and stamp(engine, "incidents") != before  # COPY fired it
    imported = maps.selection_scene(engine, maps.Selection())
    assert imported is not empty and imported.total_incidents == 5
    assert {i.id: [c.group for c in i.claims] for i in imported.incidents} == {f"i{n}": ["alpha"] for n in range(5)}
    features[0]["properties"]["title"] = "Renamed"
    second = import_file(engine, write_sequence(tmp_path / "b.geojsonseq", features), collection="incidents")
    assert not second.direct and second.updated == 1
    renamed = maps.selection_scene(engine, maps.Selection())
    assert renamed is not imported and {i.title for i in renamed.incidents if i.id == "i0"} == {"Renamed"}


def test_a_focus_scene_is_cached_until_a_table_it_reads_is_written(data):
    first = maps.focus_scene(data, "one")
    assert maps.focus_scene(data, "one") is first
    assert maps.focus_scene(data, "one", maps.MapOptions(title="Other")) is not first  # another request
    with data.begin() as conn:
        conn.execute(text(WRITES["incidents"]["update"]))
    again = maps.focus_scene(data, "one")
    assert again is not first and again.title == "Renamed" and again.data_version != first.data_version
