"""GDAL reading every incident through geomap's OGC API (the OAPIF driver, page by page) against
GDAL reading the same table straight from PostgreSQL (the PG driver: the limit).

    flock /tmp/geomap-bench.lock .venv/bin/python bench/gdal_oapif.py [--incidents 1000000]
                                 [--seed 1] [--page-size 10000] [--workers 2]

Builds or reuses `bench_<N>_<seed>` (bench/synth.py), serves it with geomap under gunicorn
(gthread, as `geomap serve` runs it) on a free loopback port, then times, one after the other:

1. `ogr2ogr -f GeoJSONSeq /vsistdout/ OAPIF:http://... incidents -oo PAGE_SIZE=P`
2. `ogr2ogr -f GeoJSONSeq /vsistdout/ PG:"..." incidents`

Both write the same format to a pipe that this script reads and counts (one feature a line);
each count must be N. Prints both times, their ratio (issue 13's target: OAPIF at most 3x PG)
and the load average.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import api  # noqa: E402
import synth  # noqa: E402

from geomap.db.cluster import Cluster  # noqa: E402

GDAL_ENV = {"PATH": "/usr/bin:/bin", "GDAL_HTTP_TIMEOUT": "3600", "CPL_DEBUG": "OFF"}


def pg_source(url: str) -> str:
    """GDAL's PG: connection string for a postgresql:// URL."""
    parts = urllib.parse.urlsplit(url)
    return (f"PG:host={parts.hostname} port={parts.port} dbname={parts.path.lstrip('/')} "
            f"user={urllib.parse.unquote(parts.username)} password={urllib.parse.unquote(parts.password or '')}")


def read_all(source: str, *options: str) -> tuple[float, int]:
    """Seconds for ogr2ogr to write every incident as GeoJSONSeq to a pipe, and the features counted."""
    argv = ["ogr2ogr", "-f", "GeoJSONSeq", "/vsistdout/", source, "incidents", *options]
    started, lines = time.perf_counter(), 0
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=GDAL_ENV) as process:
        while piece := process.stdout.read(1 << 20):
            lines += piece.count(b"\n")
        errors = process.stderr.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"{argv[:5]} failed: {errors[-2000:]}")
    return time.perf_counter() - started, lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))  # (`timeout`): the server stops too
    cluster = Cluster(synth.BENCH_HOME)
    cluster.start()
    synth.build(cluster, args.incidents, args.seed)
    db = synth.database_name(args.incidents, args.seed)
    port = api.free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    server = api.Server("gdal-oapif", [gunicorn, "geomap:create_app()", "--bind", f"127.0.0.1:{port}", "--workers",
                                       str(args.workers), "--worker-class", "gthread", "--threads", "4",
                                       "--timeout", "120", "--log-level", "warning"],
                        dict(os.environ, DATABASE_URL=cluster.url(db)), port)
    server.start()
    try:
        server.wait_ready("/health")
        print(f"{args.incidents:,} incidents, load before {os.getloadavg()}", flush=True)
        pg_seconds, pg_count = read_all(pg_source(cluster.url(db, driver="postgresql")))
        print(f"PG driver:    {pg_seconds:8.1f} s, {pg_count:,} features, load {os.getloadavg()}", flush=True)
        oapif_seconds, oapif_count = read_all(f"OAPIF:http://127.0.0.1:{port}", "-oo", f"PAGE_SIZE={args.page_size}")
        print(f"OAPIF driver: {oapif_seconds:8.1f} s, {oapif_count:,} features (pages of {args.page_size:,}), "
              f"load {os.getloadavg()}", flush=True)
    finally:
        server.stop()
    print(f"OAPIF / PG: {oapif_seconds / pg_seconds:.2f} (target <= 3); counts {oapif_count:,} and {pg_count:,}"
          f"{'' if oapif_count == pg_count == args.incidents else ' DIFFER'}")


if __name__ == "__main__":
    main()
