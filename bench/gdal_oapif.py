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
import collections
import json
import os
import re
import resource
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
QGIS_PYTHON = "/usr/bin/python3"  # QGIS's bindings belong to Debian's python3, not the venv
QGIS_PROBE = BENCH / "qgis_load.py"
STEPS = ("pg", "oapif", "qgis")


def pg_source(url: str) -> str:
    """GDAL's PG: connection string for a postgresql:// URL."""
    parts = urllib.parse.urlsplit(url)
    return (f"PG:host={parts.hostname} port={parts.port} dbname={parts.path.lstrip('/')} "
            f"user={urllib.parse.unquote(parts.username)} password={urllib.parse.unquote(parts.password or '')}")


def client_cpu() -> float:
    """CPU seconds (user + system) of the children waited for so far (ogr2ogr, QGIS)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def read_all(source: str, *options: str) -> tuple[float, int, float]:
    """Seconds for ogr2ogr to write every incident as GeoJSONSeq to a pipe, the features counted
    and ogr2ogr's own CPU seconds (what the read would take with a server that cost nothing)."""
    argv = ["ogr2ogr", "-f", "GeoJSONSeq", "/vsistdout/", source, "incidents", *options]
    started, cpu, lines = time.perf_counter(), client_cpu(), 0
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=GDAL_ENV) as process:
        while piece := process.stdout.read(1 << 20):
            lines += piece.count(b"\n")
        errors = process.stderr.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"{argv[:5]} failed: {errors[-2000:]}")
    return time.perf_counter() - started, lines, client_cpu() - cpu


def qgis_read(url: str) -> dict:
    """QGIS opening the OAPIF layer with its defaults and iterating every feature (bench/qgis_load.py)."""
    home = api.DATA / "qgis-home"
    home.mkdir(parents=True, exist_ok=True)
    cpu = client_cpu()
    result = subprocess.run([QGIS_PYTHON, str(QGIS_PROBE), url, "incidents"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(home)}, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"QGIS failed: {result.stderr[-2000:]}")
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "cpu_s": client_cpu() - cpu}


ACCESS_FORMAT = '"%(r)s" %(s)s %(B)s %(L)s'  # request line, status, bytes, seconds the server took


def items_requests(log: Path, start: int) -> str:
    """The items requests in the access log after byte `start`: how many, by the `limit` asked,
    and the seconds the server spent on them (gunicorn's request time: from the request read to
    the last byte written, so it includes waiting for a slow client to take the body)."""
    with log.open("rb") as f:
        f.seek(start)
        lines = [ln for ln in f.read().decode(errors="replace").splitlines() if "/collections/incidents/items" in ln]
    limits = collections.Counter(m.group(1) if (m := re.search(r"[?&]limit=(\d+)", line)) else "none"
                                 for line in lines)
    served = sum(float(line.rsplit(" ", 1)[1]) for line in lines)
    return (f"{len(lines)} items requests (limit: " + ", ".join(f"{k} x{v}" for k, v in sorted(limits.items()))
            + f"; served in {served:.1f} s)")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    parser.add_argument("--only", default=",".join(STEPS), help="the reads to time, of " + ",".join(STEPS))
    args = parser.parse_args(argv)
    steps = args.only.split(",")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))  # (`timeout`): the server stops too
    cluster = Cluster(synth.BENCH_HOME)
    ours = not cluster.status().running  # started here (under this run's priority): stopped at the end
    synth.start_like_us(cluster)
    try:
        run(cluster, args, steps)
    finally:
        if ours:
            cluster.stop()


def run(cluster: Cluster, args, steps: list[str]) -> None:
    synth.build(cluster, args.incidents, args.seed)
    db = synth.database_name(args.incidents, args.seed)
    port = args.port or api.free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    access = api.DATA / "gdal-oapif-access.log"
    access.write_text("")
    server = api.Server("gdal-oapif", [gunicorn, "geomap:create_app()", "--bind", f"127.0.0.1:{port}", "--workers",
                                       str(args.workers), "--worker-class", "gthread", "--threads", "4",
                                       "--timeout", "120", "--log-level", "warning", "--access-logfile", str(access),
                                       "--access-logformat", ACCESS_FORMAT],
                        dict(os.environ, DATABASE_URL=cluster.url(db)), port)
    server.start()
    times: dict[str, float] = {}
    try:
        server.wait_ready("/health")
        print(f"{args.incidents:,} incidents, load before {load()}", flush=True)
        if "pg" in steps:
            times["pg"], count, cpu = read_all(pg_source(cluster.url(db, driver="postgresql")))
            print(f"PG driver:    {times['pg']:8.1f} s (ogr2ogr's CPU {cpu:.1f} s), {count:,} features, "
                  f"load {load()}", flush=True)
        if "oapif" in steps:
            mark = access.stat().st_size
            times["oapif"], count, cpu = read_all(f"OAPIF:http://127.0.0.1:{port}", "-oo",
                                                  f"PAGE_SIZE={args.page_size}")
            print(f"OAPIF driver: {times['oapif']:8.1f} s (ogr2ogr's CPU {cpu:.1f} s), {count:,} features, "
                  f"{items_requests(access, mark)}, load {load()}", flush=True)
        if "qgis" in steps:
            mark = access.stat().st_size
            qgis = qgis_read(f"http://127.0.0.1:{port}")
            times["qgis"] = qgis["total_s"]
            print(f"QGIS {qgis['qgis']}: {qgis['total_s']:8.1f} s (QGIS's CPU {qgis['cpu_s']:.1f} s; valid "
                  f"{qgis['valid_s']:.1f} s, featureCount "
                  f"{qgis['count']:,} in {qgis['count_s']:.2f} s, {qgis['features']:,} features iterated in "
                  f"{qgis['read_s']:.1f} s), {items_requests(access, mark)}, load {load()}", flush=True)
    finally:
        server.stop()
    for step in ("oapif", "qgis"):
        if step in times and "pg" in times:
            print(f"RATIO {step} / PG: {times[step] / times['pg']:.2f} (target <= 3)")


if __name__ == "__main__":
    main()
