"""Readers during a large first import (issue 14 item 7): how long GET items and /health take
while `geomap import` writes N synthetic incidents into an empty collection, against a running
`geomap serve`.

    flock /tmp/geomap-bench.lock .venv/bin/python bench/import_readers.py [--incidents 200000]

Prints the import's time and, for each route, the requests made during the import with their
median, p99 and worst latency, and the load average. `--code REF` runs the import of another
commit's checkout (a `git worktree` under bench/data) against the same server, for a before/after.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psycopg
import synth  # the bench's shared set-up (bench/synth.py)

from geomap.db import migrate
from geomap.db.cluster import Cluster
from geomap.db.engine import make_engine
from geomap.ingest import load
from geomap.io.synth_files import write_files

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
ROUTES = {"health": "/health", "items": "/collections/incidents/items?f=json&limit=10"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fresh_database(cluster: Cluster, name: str, files: list[Path]) -> str:
    with psycopg.connect(cluster.url("postgres", driver="postgresql"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = cluster.url(name)
    engine = make_engine(url)
    migrate.upgrade(engine)
    load(engine, files)
    engine.dispose()
    return url


def poll(base: str, route: str, stop: threading.Event, out: list[tuple[float, float, int]]) -> None:
    while not stop.is_set():
        start = time.monotonic()
        try:
            with urllib.request.urlopen(base + route, timeout=60) as response:
                response.read()
                status = response.status
        except OSError:
            status = 0
        out.append((start, time.monotonic() - start, status))
        time.sleep(0.05)


def serve(url: str, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url}
    process = subprocess.Popen([sys.executable, "-m", "geomap", "serve", "--port", str(port)], env=env,
                               stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return process
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"geomap serve did not start; see {log}")


def summary(name: str, samples: list[tuple[float, float, int]], start: float, end: float) -> str:
    during = [s for s in samples if start <= s[0] <= end]
    times = sorted(s[1] for s in during) or [float("nan")]
    bad = sum(1 for s in during if s[2] != 200)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return (f"{name:7} {len(during):5d} requests during the import: median {statistics.median(times) * 1000:7.1f} ms, "
            f"p99 {p99 * 1000:7.1f} ms, worst {times[-1] * 1000:7.1f} ms, not 200: {bad}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--home", type=Path, default=DATA / "readers-cluster")
    parser.add_argument("--code", help="import with this commit's code (a worktree under bench/data)")
    args = parser.parse_args()
    files = write_files(DATA / f"readers-synth-{args.incidents}-{args.seed}", args.incidents, args.seed) \
        if not (DATA / f"readers-synth-{args.incidents}-{args.seed}" / "incidents.geojsonseq").exists() \
        else sorted((DATA / f"readers-synth-{args.incidents}-{args.seed}").iterdir())
    files = {p.name: p for p in files}
    ordered = [files[n] for n in ("groups.json", "sites.geojson", "control_zones.geojson")]
    args.home.mkdir(parents=True, exist_ok=True)
    args.home.chmod(0o755)
    cluster = Cluster(args.home)
    synth.start_like_us(cluster)
    url = fresh_database(cluster, "readers", ordered)
    port = free_port()
    server = serve(url, port, DATA / "readers-serve.log")
    python, cwd = sys.executable, ROOT
    if args.code:
        cwd = DATA / f"worktree-{args.code}"
        if not cwd.exists():
            subprocess.run(["git", "worktree", "add", "--detach", str(cwd), args.code], cwd=ROOT, check=True)
    samples = {name: [] for name in ROUTES}
    stop = threading.Event()
    threads = [threading.Thread(target=poll, args=(f"http://127.0.0.1:{port}", route, stop, samples[name]))
               for name, route in ROUTES.items()]
    try:
        for thread in threads:
            thread.start()
        time.sleep(2)
        start = time.monotonic()
        result = subprocess.run([python, "-c", "import sys; sys.path.insert(0, '.'); from geomap.cli import main; "
                                 "sys.argv[0] = 'geomap'; main()", "-v", "import", str(files["incidents.geojsonseq"])],
                                cwd=cwd, env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True)
        end = time.monotonic()
        time.sleep(1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()
    print(result.stdout.splitlines()[0] if result.stdout else result.stderr[-2000:])
    print("\n".join(line for line in result.stderr.splitlines() if "wrote" in line or "rebuilt" in line))
    print(f"import of {args.incidents} incidents ({args.code or 'this checkout'}): {end - start:.1f} s")
    for name in ROUTES:
        print(summary(name, samples[name], start, end))
    print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
