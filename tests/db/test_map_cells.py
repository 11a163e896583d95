"""The map's server-side clusters (`map_queries.incident_cells`): a cell's centre is the mean of its
incidents' coordinates whatever order PostgreSQL reads them in, so the same data gives the same
map and the same data version (floats summed in another row order differ in their last bits)."""
from __future__ import annotations

import random
import statistics

from builders import incident, load_features
from sqlalchemy import text

from geomap.db import map_queries

ORIGIN, CELL = (40.0, 30.0), (10.0, 10.0)  # one cell holds every incident


def cells(engine):
    with engine.begin() as conn:
        return map_queries.incident_cells(conn, [], ORIGIN, CELL, "year", "event_type")


def test_a_cell_centre_does_not_depend_on_the_order_rows_are_read(engine, tmp_path):
    rng = random.Random(7)
    points = [(44 + rng.random(), 35 + rng.random()) for _ in range(400)]
    load_features(engine, tmp_path, incidents=[incident(f"i{n:03d}", lon, lat, "2019-06-01")
                                               for n, (lon, lat) in enumerate(points)])
    before = cells(engine)
    with engine.begin() as conn:  # every other row gets a new tuple at the end of the heap
        conn.execute(text("UPDATE incidents SET precision_m = precision_m WHERE id LIKE '%0' OR id LIKE '%3' "
                          "OR id LIKE '%5' OR id LIKE '%8'"))
        order = conn.execute(text("SELECT id FROM incidents")).scalars().all()
    assert order != sorted(order)  # the scan now meets the rows in another order
    after = cells(engine)
    assert after == before
    (row,) = after
    assert row.n == len(points)
    assert abs(row.lon - statistics.fmean(p[0] for p in points)) < 1e-7
    assert abs(row.lat - statistics.fmean(p[1] for p in points)) < 1e-7
