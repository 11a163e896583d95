"""incidents.lon and incidents.lat (migration 0012) hold the point's coordinates after every write
path: seed load, API create / replace / patch, `geomap import` (chunked and bulk), plain SQL
and the benchmark's COPY loader; nothing can write them otherwise. The map's bounds and cell
counts read them through the index `incidents_map_columns` without the table, and count what
a brute-force pass over the rows counts."""
from __future__ import annotations

import json
import math
import sys
from datetime import date

import psycopg
import pytest
from builders import incident
from conftest import ROOT
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from test_attributed_groups import _features, _sequence, _write

from geomap.db import map_queries, rebuild
from geomap.importer import import_file
from geomap.ingest import load

GEOJSON = "application/geo+json"


def columns(engine) -> dict[str, tuple[float, float]]:
    with engine.connect() as conn:
        return {i: (lon, lat) for i, lon, lat in conn.execute(text("SELECT id, lon, lat FROM incidents"))}


def assert_in_step(engine) -> dict[str, tuple[float, float]]:
    """The columns equal PostGIS's own reading of each stored point (ST_AsText, parsed here)."""
    with engine.connect() as conn:
        points = dict(conn.execute(text("SELECT id, ST_AsText(geom) FROM incidents")).all())
    truth = {i: tuple(float(v) for v in wkt.removeprefix("POINT(").removesuffix(")").split()) for i, wkt in points.items()}
    stored = columns(engine)
    assert stored == truth
    return stored


def test_seed_load_fills_them(seeded):
    stored = assert_in_step(seeded)
    features = json.loads((ROOT / "data" / "incidents.geojson").read_text())["features"]
    assert {f["id"]: tuple(f["geometry"]["coordinates"]) for f in features} == stored


def test_api_create_replace_and_patch_move_them(app, client, editor_token):
    engine = app.extensions["geomap.engine"]
    load(engine)
    url = "/collections/incidents/items/moved"
    body = incident("moved", 44.123456, 35.654321, "2020-01-05")
    etag = _write(client, "POST", "/collections/incidents/items", editor_token, body)
    assert assert_in_step(engine)["moved"] == (44.123456, 35.654321)
    body["geometry"]["coordinates"] = [43.5, 36.25]
    etag = _write(client, "PUT", url, editor_token, body, etag)
    assert assert_in_step(engine)["moved"] == (43.5, 36.25)
    _write(client, "PATCH", url, editor_token, {"geometry": {"type": "Point", "coordinates": [42.75, 33.125]}},
           etag, patch=True)
    assert assert_in_step(engine)["moved"] == (42.75, 33.125)


def test_geomap_import_chunked_and_bulk_fill_them(engine, tmp_path, monkeypatch):
    load(engine, [ROOT / "data" / "groups.json"])
    first = _features("accused")
    assert import_file(engine, _sequence(tmp_path / "incidents-a.geojsonseq", first)).created == 6
    assert assert_in_step(engine)["imported-3"] == (44.03, 35.0)
    monkeypatch.setattr(rebuild, "BULK_MIN", 3)  # the path that rebuilds indexes after writing
    moved = [dict(f, geometry={"type": "Point", "coordinates": [40.5 + i, 31.5]}) for i, f in enumerate(first)]
    result = import_file(engine, _sequence(tmp_path / "incidents-b.geojsonseq", moved), exclusive=True)
    assert result.updated == 6 and result.rebuilt_indexes
    assert assert_in_step(engine)["imported-3"] == (43.5, 31.5)


def test_plain_sql_moves_them_and_cannot_write_them(seeded):
    with seeded.begin() as conn:
        conn.execute(text("UPDATE incidents SET geom = ST_SetSRID(ST_MakePoint(45.25, 34.5), 4326) "
                          "WHERE id = (SELECT min(id) FROM incidents)"))
    assert (45.25, 34.5) in assert_in_step(seeded).values()
    with pytest.raises(DBAPIError, match="generated column"), seeded.begin() as conn:
        conn.execute(text("UPDATE incidents SET lon = 0"))


def load_synthetic(engine, n: int, seed: int) -> None:
    """`n` of the benchmark's synthetic incidents, written by its COPY loader, then vacuumed and
    analysed (so that index-only scans need no heap and the planner knows the rows)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import synth

    with psycopg.connect(engine.url.set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        synth.load(conn, synth.generate(n, seed), seed)
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE incidents")


def test_the_benchmark_copy_loader_fills_them(engine):
    load_synthetic(engine, 2000, 7)
    assert len(assert_in_step(engine)) == 2000


def _plan(conn, statement) -> str:
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    return "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {compiled}")))


def test_map_cells_by_parallel_workers_count_what_one_process_counts(engine):
    """The cell counts may be planned with parallel workers (`CELLS_SETTINGS`, for their
    transaction alone): made to (the parallel costs set to next to nothing), the workers read and
    sort the rows and the leader merges them, and the cells equal those of the serial plan, in the
    same order; after the transaction the connection is back to no workers."""
    load_synthetic(engine, 5000, 5)
    grid = ([], (36.0, 30.0), (0.5, 0.5), "year", "group")
    with engine.connect() as conn:
        serial = map_queries.incident_cells(conn, *grid)
        assert "Workers" not in _plan(conn, map_queries.cells_query(*grid))  # 5,000 rows: not worth a worker
    with engine.connect() as conn:
        for setting in ("parallel_setup_cost", "min_parallel_index_scan_size", "min_parallel_table_scan_size"):
            conn.execute(text(f"SET {setting} = 0"))
        conn.execute(text("SET parallel_tuple_cost = 0.001"))
        conn.execute(text("SET enable_hashagg = off"))  # sorted by the workers, merged in order
        conn.execute(text("SET parallel_leader_participation = off"))  # the workers count every row
        parallel = map_queries.incident_cells(conn, *grid)
        plan = _plan(conn, map_queries.cells_query(*grid))
        conn.rollback()
        workers = conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one()
    assert "Workers Planned: 2" in plan and "Gather Merge" in plan, plan
    assert [tuple(r) for r in parallel] == [tuple(r) for r in serial] and sum(r.n for r in serial) == 5000
    assert workers == "0"


def test_map_bounds_read_the_index_alone_and_match_brute_force(engine):
    load_synthetic(engine, 5000, 3)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT ST_AsText(geom), date_start, date_end FROM incidents")).all()
        bounds = map_queries.incident_bounds(conn, [])
        conn.execute(text("SET enable_seqscan = off"))  # a small table: the planner would rather scan it
        plan = _plan(conn, map_queries.bounds_query([]))
    points = [tuple(float(v) for v in wkt[6:-1].split()) for wkt, _, _ in rows]
    assert bounds == {"west": min(p[0] for p in points), "south": min(p[1] for p in points),
                      "east": max(p[0] for p in points), "north": max(p[1] for p in points),
                      "first": min(r[1] for r in rows), "last": max(r[2] for r in rows), "n": len(rows)}
    assert "Index Only Scan using incidents_map_columns" in plan, plan


@pytest.mark.parametrize("by", ["event_type", "group"])
def test_map_cells_read_the_index_alone_and_match_brute_force(engine, by):
    """Counted per event type, or per attributed group ("" for none, the group's id for one, "+"
    for several: the map's default), as counting the rows one by one in Python says."""
    load_synthetic(engine, 5000, 4)
    origin, size = (36.0, 30.0), 0.75
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT ST_AsText(geom), date_start, event_type, attributed_groups FROM incidents")).all()
        cells = map_queries.incident_cells(conn, [], origin, (size, size), "year", by)
        conn.execute(text("SET enable_seqscan = off"))
        plan = _plan(conn, map_queries.cells_query([], origin, (size, size), "year", by))
    truth: dict[tuple, dict[str, int]] = {}
    for wkt, day, event_type, groups in rows:
        lon, lat = (float(v) for v in wkt[6:-1].split())
        key = (math.floor((lon - origin[0]) / size), math.floor((lat - origin[1]) / size), date(day.year, 1, 1))
        category = event_type if by == "event_type" else "" if not groups else groups[0] if len(groups) == 1 else "+"
        truth.setdefault(key, {}).setdefault(category, 0)
        truth[key][category] += 1
    got = {(int(r.cx), int(r.cy), r.period): dict(zip(r.categories, r.counts, strict=True)) for r in cells}
    assert got == truth and sum(r.n for r in cells) == 5000
    if by == "group":  # every kind of category was counted
        assert {"", "+"} <= {c for counts in truth.values() for c in counts} and len({c for v in truth.values() for c in v}) > 3
    pairs = [list(zip(r.categories, r.counts, strict=True)) for r in cells]
    assert all(p == sorted(p, key=lambda c: (-c[1], c[0])) for p in pairs)  # largest first, ties by name
    assert sum(len(p) > 2 and len({n for _, n in p}) < len(p) for p in pairs) > 10  # orders with ties were checked
    assert "Index Only Scan using incidents_map_columns" in plan, plan
