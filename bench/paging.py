"""Deep pages and counts of the items endpoint at 1,000,000 incidents (issue 13).

    flock /tmp/geomap-bench.lock .venv/bin/python bench/paging.py [--incidents N] [--seed S] [--repeat R]

Starts (or reuses) the bench cluster and the database `bench_<N>_<seed>` (bench/synth.py) and
times geomap's items request in-process (Flask test client: parsing, SQL, the document; no HTTP
server), each figure the median of R runs after a warm-up round, the requests compared with each
other taking turns:

1. the first page (`limit=100`, in incidents' order: date_start, then id) against the page at
   99 % of N (990,000 of 1,000,000) reached as clients reach it, by the keyset cursor of the
   previous page's next link (target: at most 1.5x the first page), and the same page by
   `offset` (keys first: a walk of the start-date index, JSON for 100 rows), and by the
   statement before issue 13 (JSON built for every skipped row), for reference;
2. `numberMatched` on bbox + datetime pages (the seeded paths of bench/api.py: 0.5 degree boxes,
   one-year windows): each path's page with its count against the same page with the count
   switched off, remembered counts forgotten before every request (target: at most 1.3x, total
   time over the paths); and the count of the whole collection (estimate) on its first page.

Prints the ratios with their targets and the load average before and after.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

import psycopg
import synth
from api import request_paths
from io_libraries import spread

from geomap import create_app
from geomap.api import cursors
from geomap.db import counts, features
from geomap.db.cluster import Cluster
from geomap.db.features import feature_json
from geomap.db.stored import STORED

DATA = Path(__file__).resolve().parent / "data"
ITEMS = "/collections/incidents/items"


def timed(client, path: str, repeat: int, before=None) -> tuple[float, dict]:
    """The median seconds of `repeat` GETs of `path` (after one warm-up), and the last body."""
    ((times, body),) = timed_together(client, [path], repeat, before)
    return statistics.median(times), body


def timed_together(client, paths: list[str], repeat: int, before=None) -> list[tuple[list[float], dict]]:
    """For each path, the seconds of `repeat` GETs and the last body. The paths take turns (one
    warm-up round first), so that a minute of load on the machine falls on all of them alike,
    not on one figure of a ratio."""
    times: dict[str, list[float]] = {path: [] for path in paths}
    bodies: dict[str, dict] = {}
    for i in range(repeat + 1):
        for path in paths if i % 2 == 0 else reversed(paths):
            if before:
                before()
            start = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - start
            assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
            bodies[path] = response.get_json()
            if i:
                times[path].append(elapsed)
    return [(times[path], bodies[path]) for path in paths]


def old_deep_page(url: str, offset: int, repeat: int) -> float:
    """The statement before issue 13: the Feature JSON built for every row up to the offset."""
    from sqlalchemy import Text, cast, select

    from geomap.db.engine import make_engine

    engine = make_engine(url)
    stored = STORED["incidents"]
    statement = (select(cast(feature_json(stored), Text)).order_by(stored.table.c.date_start, stored.table.c.id)
                 .offset(offset).limit(101))
    times = []
    with engine.connect() as conn:
        for i in range(repeat + 1):
            start = time.perf_counter()
            conn.execute(statement).all()
            if i:
                times.append(time.perf_counter() - start)
    engine.dispose()
    return statistics.median(times)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def deep_pages(client, conn, n: int, repeat: int, url: str) -> dict:
    position = n * 99 // 100  # 990,000 of 1,000,000
    last_before = conn.execute("SELECT date_start, id FROM incidents ORDER BY date_start, id OFFSET %s LIMIT 1",
                               (position - 1,)).fetchone()  # incidents' order (issue 16)
    cursor = cursors.encode(position, tuple(last_before))
    (first_s, body), (cursor_s, deep), (offset_s, deep_offset) = timed_together(
        client, [f"{ITEMS}?limit=100", f"{ITEMS}?limit=100&cursor={cursor}", f"{ITEMS}?limit=100&offset={position}"],
        repeat)
    first, by_cursor, by_offset = (statistics.median(t) for t in (first_s, cursor_s, offset_s))
    assert [f["id"] for f in deep["features"]] == [f["id"] for f in deep_offset["features"]]
    old = old_deep_page(url, position, max(1, repeat // 3))
    ms = [[t * 1000 for t in times] for times in (first_s, cursor_s, offset_s)]
    print(f"first page (limit=100): {spread(ms[0], 1)} ms; numberMatched {body['numberMatched']:,} "
          f"(exact: {body['numberMatchedExact']})")
    print(f"page at {position:,} by cursor: {spread(ms[1], 1)} ms; by offset: {spread(ms[2], 1)} ms; "
          f"by the statement before issue 13 (SQL alone): {old * 1000:.1f} ms")
    print(f"RATIO deep page (cursor) / first page: {by_cursor / first:.2f} (target <= 1.5)")
    print(f"deep page (offset) / first page: {by_offset / first:.2f}; before issue 13 / first page: {old / first:.1f}")
    return {"first": first, "cursor": by_cursor, "offset": by_offset, "before": old}


def count_cost(client, paths: list[str], repeat: int) -> dict:
    free = counts.Count(0, True)
    with_count = without = 0.0
    exact = 0
    for path in paths:
        t_with, body = timed(client, path, repeat, before=counts.forget)
        with mock.patch.object(counts, "counted_page", lambda conn, q: (features.page(conn, q), free)):
            t_without, _ = timed(client, path, repeat)
        with_count, without = with_count + t_with, without + t_without
        exact += body["numberMatchedExact"]
    print(f"{len(paths)} bbox+datetime pages: {with_count * 1000 / len(paths):.1f} ms each with numberMatched, "
          f"{without * 1000 / len(paths):.1f} ms without ({exact} of {len(paths)} counts exact)")
    print(f"RATIO numberMatched page / page without it: {with_count / without:.2f} (target <= 1.3)")
    return {"with": with_count, "without": without, "exact": exact}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--paths", type=int, default=40)
    args = parser.parse_args(argv)
    print(f"load average before: {load()}")
    cluster = Cluster(synth.BENCH_HOME)
    ours = not cluster.status().running  # started here (under this run's priority): stopped at the end
    synth.start_like_us(cluster)
    try:
        measure(cluster, args)
    finally:
        if ours:
            cluster.stop()
    print(f"load average after: {load()}")
    return 0


def measure(cluster: Cluster, args) -> None:
    synth.build(cluster, args.incidents, args.seed)
    db = synth.database_name(args.incidents, args.seed)
    app = create_app({"DATABASE_URL": cluster.url(db)})
    client = app.test_client()
    with psycopg.connect(cluster.url(db, driver="postgresql"), autocommit=True) as conn:
        deep_pages(client, conn, args.incidents, args.repeat, cluster.url(db))
        paths = request_paths(conn, args.incidents, args.paths, args.seed)
    count_cost(client, paths, max(3, args.repeat // 3))
    app.extensions["geomap.engine"].dispose()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
