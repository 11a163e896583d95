"""The K-1 focus map as an A4 300 dpi PNG on a warm server (issue 15: at most 1.5 s).

    .venv/bin/python bench/graphics.py [--runs R] [--preset a4] [--dpi 300] [--format png] [--port P]

Starts (or reuses) an embedded cluster in bench/data/graphics-cluster (on `--port`, else the
last used, else a free one; stopped at the end unless it was running before), loads the seed data
into a fresh database, and times `GET /maps/incidents/k1-rocket-attack-2019-12-27.png` through
the app's test client (no network in between): one unmeasured request first (imports, the
first connection, matplotlib's font cache), then R measured ones (warm: the scene comes from
the scene cache, so what is measured is the drawing). Prints each time, the median and the
load average before and after.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import synth  # bench/synth.py (the script's folder is on sys.path)
from sqlalchemy import text

from geomap import create_app
from geomap.db import migrate
from geomap.db.cluster import Cluster
from geomap.db.engine import make_engine
from geomap.ingest import load

K1 = "k1-rocket-attack-2019-12-27"
DATA = Path(__file__).resolve().parent / "data"
TARGET_S = 1.5


def seeded_url(cluster: Cluster) -> str:
    """A fresh database with the seed data (dropped and made anew each run)."""
    admin = make_engine(cluster.url())
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "bench_graphics" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "bench_graphics"'))
    admin.dispose()
    url = cluster.url("bench_graphics")
    engine = make_engine(url)
    migrate.upgrade(engine)
    load(engine)
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--preset", default="a4")
    parser.add_argument("--dpi", default="300")
    parser.add_argument("--format", default="png", choices=("png", "svg", "pdf"))
    parser.add_argument("--port", type=int, help="the cluster's port (on a shared machine: one of your own)")
    args = parser.parse_args()
    home = DATA / "graphics-cluster"
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)
    with synth.running(Cluster(home, port=args.port)) as cluster:
        _measure(cluster, args)


def _measure(cluster: Cluster, args) -> None:
    app = create_app({"DATABASE_URL": seeded_url(cluster)})
    client = app.test_client()
    path = f"/maps/incidents/{K1}.{args.format}?preset={args.preset}&dpi={args.dpi}"
    load_before = os.getloadavg()
    first = _get(client, path)
    times = [_get(client, path) for _ in range(args.runs)]
    load_after = os.getloadavg()
    app.extensions["geomap.engine"].dispose()
    median = statistics.median(times)
    print(f"GET {path}")
    print(f"first (cold) {first:.2f} s; warm runs: {', '.join(f'{t:.2f}' for t in times)} s")
    print(f"median {median:.2f} s (target {TARGET_S} s: {'met' if median <= TARGET_S else 'NOT met'})")
    print(f"load average before {load_before[0]:.2f} {load_before[1]:.2f}, after {load_after[0]:.2f} "
          f"{load_after[1]:.2f}")


def _get(client, path: str) -> float:
    clock = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - clock
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return elapsed


if __name__ == "__main__":
    main()
