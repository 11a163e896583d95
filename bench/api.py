"""OGC API items endpoint (bbox + datetime + limit=100) under gunicorn: geomap against pygeoapi
and a bare reference, side by side in one run, with wrk.

    .venv/bin/python bench/api.py [--incidents N] [--seed S] [--workers W] [--threads T]
                                  [--duration SECONDS] [--connections C] [--rounds R]

Starts (or reuses) the bench cluster in bench/data/cluster and the database `bench_<N>_<seed>`
(bench/synth.py), then serves the same `incidents` table with three apps, each under gunicorn
on a loopback port with the same worker count, worker class and threads, the same gunicorn
version, the same CPython, and no access log:

1. geomap: `gunicorn 'geomap:create_app()'`, DATABASE_URL pointing at the bench database;
2. pygeoapi (every package pinned in bench/pygeoapi-requirements.txt, in its own venv
   bench/data/pygeoapi-venv so that its pins never touch .venv) with its PostgreSQL provider on
   the same table (id_field id, geom_field geom, time_field date_start), config and OpenAPI
   document generated into bench/data/pygeoapi/, and the index its query needs (a btree_gist
   GiST on (geom, date_start), created for the run and dropped after it);
3. bench/bare_items.py: PostgreSQL builds the whole FeatureCollection, Python passes the bytes.

The request paths are a fixed, seeded list (boxes ~0.5 degree wide centred on random incidents,
one-year datetime windows, limit=100), the same for the three servers; wrk (Debian package
`wrk`, one thread, C connections) cycles through them with a Lua script. Before timing, the
first paths are checked: every server answers 200, geomap's feature ids equal bare's, and
pygeoapi fills the page when they do (its time_field is date_start alone, so with fewer matches
than the limit its count may differ). Then R rounds, the order of the servers rotating from round
to round, each turn a warm-up followed by a timed run of the same duration; in a round every
server's cycle starts at the same path (a different one in each round). Prints requests/s, wrk's
latency p50/p90/p99, and the ratios geomap/pygeoapi (target >= 4) and geomap/bare (target >= 0.8);
writes the figures to bench/data/api-<database>-<time>.json.

The comparison is service against service, each answering its own way: pygeoapi matches
`date_start` alone within the window (geomap and bare: the interval overlaps it), returns no
attribution claims, and counts every match (numberMatched) on every page.

`--profile K` then profiles geomap's items request in-process (Flask test client, cProfile) over
K paths, and splits its time into SQL (execute + fetch) and Python.
"""
from __future__ import annotations

import argparse
import cProfile
import importlib.metadata
import json
import os
import pstats
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg
import synth

from geomap.db.cluster import Cluster

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / "data"
PYGEOAPI_VERSION = "0.21.0"
PYGEOAPI_VENV = DATA / "pygeoapi-venv"
PYGEOAPI_REQUIREMENTS = BENCH / "pygeoapi-requirements.txt"
PYGEOAPI_DIR = DATA / "pygeoapi"
ITEMS = "/collections/incidents/items"
BOX_DEGREES = 0.5
WINDOW_DAYS = 365
LIMIT = 100
SANITY_PATHS = 5
TARGETS = {"pygeoapi": 4.0, "bare": 0.8}
SERVERS = ("geomap", "pygeoapi", "bare")


# -- request paths -------------------------------------------------------------------------------

def request_paths(conn: psycopg.Connection, n: int, count: int, seed: int) -> list[str]:
    """`count` items requests: a box centred on a random incident, a one-year window, limit 100."""
    rng = np.random.default_rng(seed + 2000)
    ids = [synth.incident_id(int(i)) for i in rng.integers(0, n, count)]
    where = dict(conn.execute("SELECT id, ARRAY[ST_X(geom), ST_Y(geom)] FROM incidents WHERE id = ANY(%s)",
                              (ids,)).fetchall())
    last_start = (date(2021, 12, 31) - date(2012, 1, 1)).days - WINDOW_DAYS
    starts = rng.integers(0, last_start + 1, count)
    half = BOX_DEGREES / 2
    paths = []
    for i, d in zip(ids, starts, strict=True):
        lon, lat = where[i]
        first = date(2012, 1, 1) + timedelta(days=int(d))
        last = first + timedelta(days=WINDOW_DAYS - 1)
        box = f"{lon - half:.4f},{lat - half:.4f},{lon + half:.4f},{lat + half:.4f}"
        paths.append(f"{ITEMS}?bbox={box}&datetime={first}/{last}&limit={LIMIT}")
    return paths


# -- the three servers ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned() -> dict[str, str]:
    """pygeoapi's environment: every package and its version (bench/pygeoapi-requirements.txt)."""
    lines = (ln.strip() for ln in PYGEOAPI_REQUIREMENTS.read_text().splitlines())
    return dict(ln.split("==", 1) for ln in lines if ln and not ln.startswith("#"))


def ensure_pygeoapi() -> Path:
    """The pygeoapi venv's gunicorn, installing its pinned environment if any version differs.
    Its PostgreSQL provider imports GeoAlchemy2, which pygeoapi does not install: it, SQLAlchemy
    and gunicorn must be the versions of .venv (checked), so both sides run the same server and ORM."""
    python, gunicorn = PYGEOAPI_VENV / "bin" / "python", PYGEOAPI_VENV / "bin" / "gunicorn"
    wanted = pinned()
    same = {name: importlib.metadata.version(name) for name in ("gunicorn", "GeoAlchemy2", "SQLAlchemy")}
    if any(wanted.get(k) != v for k, v in same.items()):
        raise SystemExit(f"{PYGEOAPI_REQUIREMENTS.name} pins {[f'{k}=={wanted.get(k)}' for k in same]}, "
                         f".venv has {same}: make them equal")
    check = ("import importlib.metadata as m, json, sys; names = json.loads(sys.argv[1]); "
             "print(json.dumps({p: m.version(p) for p in names}))")
    if python.exists():
        found = subprocess.run([str(python), "-c", check, json.dumps(list(wanted))], capture_output=True, text=True)
        if found.returncode == 0 and json.loads(found.stdout) == wanted:
            return gunicorn
    print(f"installing pygeoapi {PYGEOAPI_VERSION} into {PYGEOAPI_VENV} (its own venv, "
          f"{PYGEOAPI_REQUIREMENTS.name}) ...", flush=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(PYGEOAPI_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(PYGEOAPI_REQUIREMENTS)], check=True)
    found = subprocess.run([str(python), "-c", check, json.dumps(list(wanted))], capture_output=True, text=True,
                           check=True)
    if json.loads(found.stdout) != wanted:
        raise SystemExit(f"pygeoapi's venv does not hold the pinned versions: {found.stdout}")
    return gunicorn


# The index pygeoapi's query needs, as its users would create it: its PostgreSQL provider filters
# `ST_Intersects(geom, box) AND date_start BETWEEN a AND b` (time_field is one column), which the
# (geom, daterange) GiST geomap's queries use cannot serve. Created before the run, dropped after.
PYGEOAPI_INDEX = "incidents_pygeoapi_geom_date_start"
PYGEOAPI_INDEX_SQL = (f"CREATE EXTENSION IF NOT EXISTS btree_gist; "
                      f"CREATE INDEX IF NOT EXISTS {PYGEOAPI_INDEX} ON incidents USING gist (geom, date_start)")


def pygeoapi_index(cluster: Cluster, db: str, create: bool) -> float:
    clock = time.perf_counter()
    with psycopg.connect(cluster.url(db, driver="postgresql"), autocommit=True) as conn:
        if create:
            conn.execute(PYGEOAPI_INDEX_SQL)
            conn.execute("ANALYZE incidents")
        else:
            conn.execute(f"DROP INDEX IF EXISTS {PYGEOAPI_INDEX}")
    return time.perf_counter() - clock


PYGEOAPI_CONFIG = """\
server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages: [en-US]
  pretty_print: false
  limits: {{default_items: 100, max_items: 10000, on_exceed: throttle}}
  map: {{url: 'https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png', attribution: OpenStreetMap}}
  admin: false
logging:
  level: ERROR
metadata:
  identification:
    title: geomap bench peer
    description: pygeoapi on the geomap bench database
    keywords: [bench]
    keywords_type: theme
    terms_of_service: https://example.org/terms
    url: https://example.org
  license: {{name: CC-BY 4.0, url: 'https://creativecommons.org/licenses/by/4.0/'}}
  provider: {{name: geomap bench, url: https://example.org}}
  contact: {{name: bench, email: bench@example.org, role: pointOfContact}}
resources:
  incidents:
    type: collection
    title: Incidents
    description: Synthetic conflict incidents
    keywords: [incidents]
    links: []
    extents:
      spatial: {{bbox: [-180, -90, 180, 90], crs: 'http://www.opengis.net/def/crs/OGC/1.3/CRS84'}}
      temporal: {{begin: 2012-01-01T00:00:00Z, end: null}}
    providers:
      - type: feature
        name: PostgreSQL
        data: {{host: 127.0.0.1, port: {db_port}, dbname: {db}, user: {user}, password: '{password}', search_path: [public]}}
        options: {options}
        id_field: id
        table: incidents
        geom_field: geom
        time_field: date_start
"""


def pygeoapi_files(cluster: Cluster, db: str, port: int, pg_options: str) -> dict[str, str]:
    """Write pygeoapi's config and OpenAPI document into bench/data/pygeoapi/; returns its env."""
    PYGEOAPI_DIR.mkdir(parents=True, exist_ok=True)
    config, openapi = PYGEOAPI_DIR / "config.yml", PYGEOAPI_DIR / "openapi.yml"
    options = json.dumps({"options": pg_options}) if pg_options else "{}"
    url = urllib.parse.urlsplit(cluster.url(db))
    config.touch(mode=0o600)
    config.write_text(PYGEOAPI_CONFIG.format(port=port, db_port=url.port, db=db, user=url.username,
                                             password=urllib.parse.unquote(url.password).replace("'", "''"),
                                             options=options))
    env = dict(os.environ, PYGEOAPI_CONFIG=str(config), PYGEOAPI_OPENAPI=str(openapi))
    subprocess.run([str(PYGEOAPI_VENV / "bin" / "pygeoapi"), "openapi", "generate", str(config),
                    "--output-file", str(openapi)], env=env, check=True, capture_output=True)
    return env


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    cwd: Path = ROOT
    process: subprocess.Popen | None = None
    log: Path = field(init=False)

    def __post_init__(self):
        self.log = DATA / f"api-{self.name}.log"

    def start(self) -> None:
        with self.log.open("w") as out:
            self.process = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def wait_ready(self, path: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}); see {self.log}")
            try:
                status, _ = fetch(self.port, path)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not answer 200 on {path} within {timeout:.0f} s; see {self.log}")

    def stop(self) -> None:
        """SIGTERM to the gunicorn master we started (it stops its workers), SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def gunicorn_argv(gunicorn: Path, app: str, port: int, args) -> list[str]:
    worker_class = "sync" if args.threads == 1 else "gthread"
    return [str(gunicorn), app, "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
            "--worker-class", worker_class, "--threads", str(args.threads), "--timeout", "120",
            "--log-level", "warning"]


def make_servers(cluster: Cluster, db: str, args) -> dict[str, Server]:
    venv_gunicorn = Path(sys.executable).parent / "gunicorn"
    query = f"?options={urllib.parse.quote(args.pg_options)}" if args.pg_options else ""
    ports = {name: free_port() for name in SERVERS}
    pygeoapi_env = pygeoapi_files(cluster, db, ports["pygeoapi"], args.pg_options)
    return {
        "geomap": Server("geomap", gunicorn_argv(venv_gunicorn, "geomap:create_app()", ports["geomap"], args),
                         dict(os.environ, DATABASE_URL=cluster.url(db) + query), ports["geomap"]),
        "pygeoapi": Server("pygeoapi", gunicorn_argv(PYGEOAPI_VENV / "bin" / "gunicorn", "pygeoapi.flask_app:APP",
                                                     ports["pygeoapi"], args), pygeoapi_env, ports["pygeoapi"],
                           cwd=PYGEOAPI_DIR),
        "bare": Server("bare", gunicorn_argv(venv_gunicorn, "bare_items:app", ports["bare"], args),
                       dict(os.environ, DATABASE_URL=cluster.url(db, driver="postgresql") + query), ports["bare"],
                       cwd=BENCH),
    }


def fetch(port: int, path: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as response:
        return response.status, response.read()


# -- sanity --------------------------------------------------------------------------------------

def sanity(servers: dict[str, Server], paths: list[str]) -> list[str]:
    """Every server answers 200; geomap's ids equal bare's; pygeoapi returns as many features when
    the page is full (with fewer matches its count may differ: it matches date_start alone)."""
    lines = []
    for path in paths:
        ids = {}
        for name, server in servers.items():
            status, body = fetch(server.port, path)
            doc = json.loads(body)
            if status != 200 or doc.get("type") != "FeatureCollection":
                raise AssertionError(f"{name} answered {status} {body[:300]!r} to {path}")
            ids[name] = [f["id"] for f in doc["features"]]
        counts = {k: len(v) for k, v in ids.items()}
        if ids["geomap"] != ids["bare"]:
            raise AssertionError(f"geomap's and bare's ids differ on {path}: counts {counts}")
        if counts["geomap"] == LIMIT and counts["pygeoapi"] != LIMIT:
            raise AssertionError(f"feature counts differ on {path}: {counts}")
        common = len(set(ids["geomap"]) & set(ids["pygeoapi"]))
        lines.append(f"  {path}: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + " features; geomap ids == "
                     f"bare ids; {common} of pygeoapi's also in geomap's")
    return lines


# -- wrk -----------------------------------------------------------------------------------------

LUA = """\
local paths = {%s}
local i = 0
init = function(args)
  i = tonumber(args[1]) or 0
end
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, "connect": %%d, "read": %%d, "write": %%d, '
    .. '"status": %%d, "timeout": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "mean_us": %%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
"""


def write_lua(paths: list[str]) -> Path:
    script = DATA / "api-paths.lua"
    script.write_text(LUA % ", ".join(json.dumps(p) for p in paths))
    return script


def wrk(port: int, script: Path, seconds: float, connections: int, offset: int = 0) -> dict:
    """One wrk run; the cycle through the paths starts after the first `offset` of them."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "60s", "-s", str(script),
            f"http://127.0.0.1:{port}", "--", str(offset)]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("WRK-JSON "))
    result = json.loads(line[len("WRK-JSON "):])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


# -- profile -------------------------------------------------------------------------------------

def profile(url: str, bare_url: str, paths: list[str]) -> None:
    """geomap's items request in-process: cProfile, and SQL (execute + fetch) vs Python per request."""
    from urllib.parse import parse_qs, urlsplit

    import bare_items
    from sqlalchemy import event

    from geomap import create_app

    app = create_app({"DATABASE_URL": url})
    engine, client = app.extensions["geomap.engine"], app.test_client()
    sql = []

    def before(conn, cursor, statement, parameters, context, executemany):
        context.bench_start = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        sql.append(time.perf_counter() - context.bench_start)

    for p in paths[:20]:
        client.get(p)
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    totals, sqls = [], []
    for p in paths:
        sql.clear()
        clock = time.perf_counter()
        client.get(p)
        totals.append(time.perf_counter() - clock)
        sqls.append(sum(sql))
    event.remove(engine, "before_cursor_execute", before)
    event.remove(engine, "after_cursor_execute", after)
    bare = []
    with psycopg.connect(bare_url, autocommit=True, prepare_threshold=None) as conn:  # as bare_items
        longest = conn.execute("SELECT coalesce(max(date_end - date_start), 0) FROM incidents").fetchone()[0]
        for p in paths:
            q = {k: v[0] for k, v in parse_qs(urlsplit(p).query).items()}
            w, s, e, n = (float(v) for v in q["bbox"].split(","))
            start, end = q["datetime"].split("/")
            clock = time.perf_counter()
            conn.execute(bare_items.SQL, dict(w=w, s=s, e=e, n=n, start=start, end=end, longest=longest,
                                              limit=LIMIT)).fetchone()
            bare.append(time.perf_counter() - clock)
    totals, sqls, bare = (np.asarray(x) * 1000 for x in (totals, sqls, bare))
    print(f"\nprofile: geomap items in-process over {len(paths)} paths, ms per request (median / mean): "
          f"total {np.median(totals):.1f} / {totals.mean():.1f}; SQL execute+fetch {np.median(sqls):.1f} / "
          f"{sqls.mean():.1f} ({len(sql)} statement per request); the rest (Python, pool checkout and reset) "
          f"{np.median(totals - sqls):.1f} / {(totals - sqls).mean():.1f}; bare SQL alone {np.median(bare):.1f} / "
          f"{bare.mean():.1f}")
    profiler = cProfile.Profile()
    profiler.enable()
    for p in paths:
        client.get(p)
    profiler.disable()
    target = DATA / "api-geomap-items.pstats"
    profiler.dump_stats(target)
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(30)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    print(f"profile written to {target}")


# -- main ----------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for each server")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (1: sync workers, >1: gthread)")
    parser.add_argument("--duration", type=float, default=20, help="seconds per timed run")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of warm-up before each timed run")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--rounds", type=int, default=3,
                        help="timed runs per server, the order rotating (3: each server once in each position)")
    parser.add_argument("--paths", type=int, default=50, help="distinct request paths in the cycle")
    parser.add_argument("--pg-options", default="", metavar="OPTIONS",
                        help='server settings for every server\'s connections, e.g. "-c jit=off"')
    parser.add_argument("--profile", type=int, default=0, metavar="K",
                        help="afterwards, profile geomap's items request in-process over K paths")
    parser.add_argument("--keep-running", action="store_true", help="leave the bench cluster running")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed; it is the load generator of this benchmark. Install it with: "
              "apt-get install -y wrk", file=sys.stderr)
        return 2
    gunicorn = Path(sys.executable).parent / "gunicorn"
    if not gunicorn.exists():
        print(f"gunicorn is not installed in {gunicorn.parent}; install geomap's dependencies", file=sys.stderr)
        return 2
    ensure_pygeoapi()
    with synth.running(Cluster(synth.BENCH_HOME), keep=args.keep_running) as cluster:
        return run(cluster, args)


def run(cluster: Cluster, args) -> int:
    record = synth.build(cluster, args.incidents, args.seed)
    db = synth.database_name(args.incidents, args.seed)
    with psycopg.connect(cluster.url(db, driver="postgresql"), autocommit=True) as conn:
        paths = request_paths(conn, args.incidents, args.paths, args.seed)
        settings = {k: conn.execute(f"SHOW {k}").fetchone()[0] for k in
                    ("jit", "max_parallel_workers_per_gather", "shared_buffers", "work_mem")}
        pg_version = conn.execute("SELECT version()").fetchone()[0].split(" on ")[0]
    print(f"database {db}: {args.incidents:,} incidents (built in {record['seconds']['total']:.0f} s); {pg_version}; "
          + ", ".join(f"{k}={v}" for k, v in settings.items())
          + (f" (--pg-options {args.pg_options!r})" if args.pg_options else " (server defaults)"))
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} on {os.cpu_count()} cores")
    print(f"pygeoapi's index {PYGEOAPI_INDEX} (btree_gist, (geom, date_start)) ready in "
          f"{pygeoapi_index(cluster, db, create=True):.1f} s")
    servers = make_servers(cluster, db, args)
    try:
        for server in servers.values():
            server.start()
        for server in servers.values():
            server.wait_ready(paths[0])
        print(f"gunicorn {importlib.metadata.version('gunicorn')}, {args.workers} workers x {args.threads} thread(s) "
              f"({'sync' if args.threads == 1 else 'gthread'}) each, no access log; ports "
              + ", ".join(f"{n} {s.port}" for n, s in servers.items()))
        print(f"sanity on the first {SANITY_PATHS} of {len(paths)} paths:")
        print("\n".join(sanity(servers, paths[:SANITY_PATHS])))
        results = measure(servers, write_lua(paths), args)
    finally:
        for server in servers.values():
            server.stop()
        pygeoapi_index(cluster, db, create=False)  # the other benchmarks run without it
    load_after = os.getloadavg()
    report(args, db, results, load_before, load_after, settings)
    if args.profile:
        profile(cluster.url(db), cluster.url(db, driver="postgresql"), paths[:args.profile])
    return 0


def measure(servers: dict[str, Server], script: Path, args) -> dict[str, list[dict]]:
    """Rounds of one timed run per server, the order rotating; in round r every server's cycle
    through the paths starts at the same offset r * paths / rounds, so that the paths left
    half-served at the end of a run differ from round to round but never between servers."""
    results = {name: [] for name in SERVERS}
    for r in range(args.rounds):
        order = SERVERS[r % 3:] + SERVERS[:r % 3]
        offset = r * args.paths // args.rounds
        for name in order:
            port = servers[name].port
            if args.warmup > 0:
                wrk(port, script, args.warmup, args.connections, offset)
            result = wrk(port, script, args.duration, args.connections, offset)
            result["cycles"] = result["requests"] / args.paths
            errors = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
            print(f"  round {r + 1} {name:<9} {result['rps']:8.1f} req/s   p50 {result['p50_us'] / 1000:7.1f} ms   "
                  f"p99 {result['p99_us'] / 1000:7.1f} ms   {result['bytes'] / max(result['requests'], 1) / 1024:6.1f} KiB"
                  f"/response   {result['cycles']:4.1f} cycles   errors {errors}   load {os.getloadavg()[0]:.2f}", flush=True)
            if result["status"]:
                raise AssertionError(f"{name}: {result['status']} non-2xx/3xx responses under load; see {servers[name].log}")
            results[name].append(result)
    return results


def report(args, db: str, results: dict[str, list[dict]], load_before, load_after, settings) -> None:
    summary = {}
    for name, runs in results.items():
        requests = sum(r["requests"] for r in runs)
        seconds = sum(r["duration_us"] for r in runs) / 1e6
        summary[name] = {"rps": requests / seconds, "p50_ms": float(np.mean([r["p50_us"] for r in runs])) / 1000,
                         "p90_ms": float(np.mean([r["p90_us"] for r in runs])) / 1000,
                         "p99_ms": float(np.mean([r["p99_us"] for r in runs])) / 1000,
                         "kib": sum(r["bytes"] for r in runs) / requests / 1024, "runs": [r["rps"] for r in runs]}
    print(f"\n{db}: items with bbox + datetime + limit={LIMIT}; {args.workers} workers x {args.threads} thread(s), "
          f"wrk {args.connections} connections, {args.rounds} x {args.duration:g} s per server (after {args.warmup:g} s "
          f"warm-up each)")
    for name, s in summary.items():
        print(f"  {name:<9} {s['rps']:8.1f} req/s  (runs {', '.join(f'{v:.1f}' for v in s['runs'])})   "
              f"p50 {s['p50_ms']:7.1f} ms   p90 {s['p90_ms']:7.1f} ms   p99 {s['p99_ms']:7.1f} ms   "
              f"{s['kib']:6.1f} KiB/response")
    ratios = {peer: summary["geomap"]["rps"] / summary[peer]["rps"] for peer in TARGETS}
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1-minute) on {os.cpu_count()} cores")
    per_round = {peer: [g / o for g, o in zip(summary["geomap"]["runs"], summary[peer]["runs"], strict=True)] for peer in TARGETS}
    for peer, ratio in ratios.items():
        target = TARGETS[peer]
        print(f"geomap/{peer:<9} = {ratio:5.2f}   (target >= {target:g}){'' if ratio >= target else '  MISSED'}"
              f"   per round: {', '.join(f'{v:.2f}' for v in per_round[peer])}")
    out = DATA / f"api-{db}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"args": vars(args), "database": db, "settings": settings, "load_before": load_before,
                               "load_after": load_after, "summary": summary, "ratios": ratios, "per_round": per_round,
                               "runs": results},
                              indent=1))
    print(f"figures written to {out}")


if __name__ == "__main__":
    sys.exit(main())
