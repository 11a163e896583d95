"""The space-time index trial of issue 16: the same hand-written statements over four layouts of
the 1,000,000-incident table, point by point in rotating order.

    .venv/bin/python bench/space_time.py [--points 100] [--seed 1]

The layouts (databases in the bench cluster, made by hand from `bench_1000000_1` as
bench/README.md says; this script only reads them):

- A `bench_1000000_1`: the `(geom, daterange)` GiST of migration 0004 (geomap's schema);
- C `bench_clustered`: the same, the table CLUSTERed on that GiST;
- D `bench_parts`, table `incidents`: a 2-D GiST on geom and a BRIN on date_start, no
  (geom, daterange) GiST and no date B-trees;
- P `bench_parts`, table `incidents_by_year`: yearly range partitions on date_start, each with its
  own (sorted) GiST on geom, an id and a (date_start, date_end) B-tree.

A and C take the date window as a range overlap (the GiST answers it with the box); D and P as
`date_start BETWEEN from - 29 AND to AND date_end >= from` (29 days is the longest interval in
the data, which the schema would have to keep, like the largest precision radius), so that P's
partitions are pruned and D's BRIN answers it. Per point (a random incident's place, a random
day in 2012-2021): nearby (25 km, 30 days), items (a 0.5-degree box, 365 days, ORDER BY id
LIMIT 100, the Feature built by PostgreSQL), and the report's two big scans (its neighbours:
25 km plus the widest precision, 90 days either side; and the 100 km, 455-day region of the
prior incidents and base counts). Prints median / p90 / p99 ms per statement and layout.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import synth  # noqa: E402  the bench's shared set-up (bench/synth.py)

from geomap.db.cluster import Cluster  # noqa: E402
from geomap.db.reach import one_box  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
LAYOUTS = {"A": ("bench_1000000_1", "incidents", "range"), "C": ("bench_clustered", "incidents", "range"),
           "D": ("bench_parts", "incidents", "start"), "P": ("bench_parts", "incidents_by_year", "start")}
WINDOW = {"range": "daterange(i.date_start, i.date_end, '[]') && daterange(%(f)s::date, %(t)s::date, '[]')",
          "start": "i.date_start BETWEEN %(f)s::date - 29 AND %(t)s::date AND i.date_end >= %(f)s::date"}
BOX = "i.geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)"
AT = "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography"
STATEMENTS = {
    "nearby": f"""SELECT i.id, i.title, i.date_start, i.date_end, i.event_type, i.precision_m, i.sources,
        ST_X(i.geom), ST_Y(i.geom), i.attributed_groups FROM {{table}} i
        WHERE {BOX} AND {{window}} AND ST_DWithin(i.geom::geography, {AT}, %(r)s + i.precision_m)""",
    "items": f"""SELECT json_agg(json_build_object('type', 'Feature', 'id', i.id,
        'geometry', ST_AsGeoJSON(i.geom, 9)::json, 'properties', to_jsonb(i) - 'geom'))::text
        FROM (SELECT * FROM {{table}} i WHERE {BOX} AND ST_Intersects(i.geom, ST_MakeEnvelope(%(w)s, %(s)s, %(e)s,
        %(n)s, 4326)) AND {{window}} ORDER BY i.id LIMIT 100) i""",
    "report neighbours": f"""SELECT array_agg(i.id), array_agg(ST_X(i.geom)), array_agg(i.date_start)
        FROM {{table}} i WHERE {BOX} AND {{window}} AND ST_DWithin(i.geom::geography, {AT}, %(r)s + i.precision_m)""",
    "report region": f"""SELECT g, count(*) FROM {{table}} i, unnest(i.attributed_groups) g
        WHERE {BOX} AND {{window}} AND ST_DWithin(i.geom::geography, {AT}, %(r)s) GROUP BY g""",
}


def parameters(kind: str, lon: float, lat: float, day: date) -> dict:
    """The statement's values: its reach, box and window."""
    if kind == "items":
        half, (f, t), r = 0.25, (day - timedelta(days=365), day), 0.0
        return dict(w=lon - half, s=lat - half, e=lon + half, n=lat + half, f=f, t=t, lon=lon, lat=lat, r=r)
    r, reach, (f, t) = {"nearby": (25000.0, 75000.0, (day - timedelta(days=30), day)),
                        "report neighbours": (25000.0, 75000.0, (day - timedelta(days=90), day + timedelta(days=90))),
                        "report region": (100000.0, 100000.0, (day - timedelta(days=455), day - timedelta(days=1)))}[kind]
    w, s, e, n = one_box(lon, lat, reach)
    return dict(w=w, s=s, e=e, n=n, f=f, t=t, lon=lon, lat=lat, r=r)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    cluster = Cluster(synth.BENCH_HOME)
    conns = {db: psycopg.connect(cluster.url(db, driver="postgresql"), autocommit=True, prepare_threshold=None)
             for db in {d for d, _, _ in LAYOUTS.values()}}
    rng = np.random.default_rng(args.seed + 2000)
    a = conns["bench_1000000_1"]
    ids = [f"syn-{int(i):07d}" for i in rng.integers(0, 1_000_000, args.points + 5)]
    places = [a.execute("SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE id = %s", (i,)).fetchone() for i in ids]
    days = [date(2012, 1, 1) + timedelta(days=int(rng.integers(0, 3653))) for _ in places]
    sql = {(k, kind): STATEMENTS[kind].format(table=t, window=WINDOW[form]) for k, (_, t, form) in LAYOUTS.items()
           for kind in STATEMENTS}
    seconds: dict[tuple[str, str], list[float]] = {key: [] for key in sql}
    order = list(LAYOUTS)
    for n, ((lon, lat), day) in enumerate(zip(places, days, strict=True)):
        for kind in STATEMENTS:
            values = parameters(kind, lon, lat, day)
            for k in order[n % 4:] + order[:n % 4]:  # rotating, so that no layout always runs first
                clock = time.perf_counter()
                conns[LAYOUTS[k][0]].execute(sql[(k, kind)], values).fetchall()
                if n >= 5:  # the first points warm the caches
                    seconds[(k, kind)].append(time.perf_counter() - clock)
    print(f"{args.points} points, seed {args.seed}; load average {' '.join(open('/proc/loadavg').read().split()[:3])}")
    print(f"{'statement':<18} " + "  ".join(f"{k + ' median / p90 / p99 ms':>30}" for k in LAYOUTS))
    for kind in STATEMENTS:
        cells = []
        for k in LAYOUTS:
            ms = np.array(seconds[(k, kind)]) * 1000
            cells.append(f"{np.median(ms):8.1f} / {np.percentile(ms, 90):7.1f} / {np.percentile(ms, 99):7.1f}")
        print(f"{kind:<18} " + "  ".join(f"{c:>30}" for c in cells))
    for conn in conns.values():
        conn.close()


if __name__ == "__main__":
    main()
