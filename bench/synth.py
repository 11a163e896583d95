"""Seeded synthetic conflict data over Iraq and Syria, generated with numpy and bulk-loaded.

The generator is `geomap.synth` (also behind `geomap synth`; its docstring says what the data
look like); this script bulk-loads its output for the benchmarks.

Loading: a fresh database migrated with `geomap.db.migrate.upgrade`; the secondary indexes are
dropped, the rows COPYed (text format), the indexes recreated from their own definitions, then
ANALYZE. Every check constraint of the schema holds. A comment on the database records the
parameters, so a finished build is recognised and reused.

    .venv/bin/python bench/synth.py --incidents 1000000 --seed 1   # into bench/data/cluster
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from geomap.db import migrate  # noqa: E402
from geomap.db.cluster import Cluster, unreachable_parent  # noqa: E402
from geomap.db.engine import make_engine  # noqa: E402
from geomap.errors import MissingDependency  # noqa: E402
from geomap.synth import (  # noqa: E402  the generator lives in the package (geomap synth)
    CLAIMANTS,
    EPOCH,
    GROUPS,
    HOTSPOTS,
    PAIRS,
    SITES,
    STATUS_P,
    SYNTH_VERSION,
    Data,
    generate,
    incident_id,
)
from geomap.synth import zones as synth_zones  # noqa: E402
from geomap.vocabulary import AFFIRMATIVE_STANCES, STANCES  # noqa: E402

ROOT_BENCH_HOME = Path("/var/lib/geomap-bench")  # as root, beside geomap's own (geomap.config.ROOT_HOME)
LOCAL_BENCH_HOME = Path(__file__).resolve().parent / "data" / "cluster"


def bench_home(local: Path = LOCAL_BENCH_HOME) -> Path:
    """The bench cluster's home: $GEOMAP_BENCH_HOME, else bench/data/cluster. As root the cluster
    runs as the postgres system user, who cannot enter a checkout under a private directory (a
    fresh Debian's clone in /root: `scripts/fresh-debian.sh --only bench` stopped there); then
    ROOT_BENCH_HOME, as geomap's own cluster moves to /var/lib/geomap (geomap.config.default_home)."""
    if os.environ.get("GEOMAP_BENCH_HOME"):
        return Path(os.environ["GEOMAP_BENCH_HOME"])
    try:
        return local if unreachable_parent(local) is None else ROOT_BENCH_HOME
    except MissingDependency:  # root without a postgres user: the cluster says so when it starts
        return local


BENCH_HOME = bench_home()

# -- loading -------------------------------------------------------------------------------------

INCIDENT_COLUMNS = ("id", "title", "date_start", "date_end", "event_type", "sub_event_type", "location_name",
                    "country", "admin1", "geom", "precision_m", "fatalities_low", "fatalities_best",
                    "fatalities_high", "injured", "status", "target_site", "sources", "attributed_groups")
ATTRIBUTION_COLUMNS = ("incident_id", "position", "group_id", "claimant", "stance", "sources")
CHUNK = 50_000


def _dates(days: np.ndarray) -> list[str]:
    return (EPOCH + days.astype("timedelta64[D]")).astype(str).tolist()


def _null(values: np.ndarray) -> list[str]:
    return [r"\N" if v < 0 else str(v) for v in values.tolist()]


def _source(kind: str, ident: str, date: str | None = None) -> str:
    return json.dumps([{"title": f"Synthetic {kind} report {ident}", "publisher": "geomap bench",
                        "url": f"https://example.org/synth/{kind}/{ident}", "date": date}])


def attributed_groups(data: Data) -> list[str]:
    """Per incident, `incidents.attributed_groups` as COPY text: the distinct groups of its
    affirmative claims in byte order, as the triggers of migration 0005 compute it. Loaded with
    the incidents, so that the trigger on the claims' COPY finds every row right and rewrites none."""
    affirmative = np.isin(np.asarray(STANCES)[data.claim_stance], AFFIRMATIVE_STANCES)
    named: dict[int, set[str]] = {}
    for i, g in zip(data.claim_incident[affirmative].tolist(), data.claim_group[affirmative].tolist(), strict=True):
        named.setdefault(i, set()).add(GROUPS[g][0])
    empty = "{}"
    return [("{" + ",".join(sorted(named[i])) + "}") if i in named else empty for i in range(len(data.lon))]


def _incident_lines(data: Data, groups: list[str], start: int, stop: int) -> str:
    sl = slice(start, stop)
    starts, ends = _dates(data.day_start[sl]), _dates(data.day_end[sl])
    statuses = list(STATUS_P)
    lines = []
    for k, (i, lon, lat, h, p, prec, st, low, best, high, inj, tgt) in enumerate(zip(
            range(start, stop), data.lon[sl].tolist(), data.lat[sl].tolist(), data.hotspot[sl].tolist(),
            data.pair[sl].tolist(), data.precision[sl].tolist(), data.status[sl].tolist(),
            data.fat_low[sl].tolist(), data.fat_best[sl].tolist(), data.fat_high[sl].tolist(),
            _null(data.injured[sl]), data.target[sl].tolist(), strict=True)):
        ident = incident_id(i)
        name, _, _, country, admin1, _ = HOTSPOTS[h]
        event_type, sub = PAIRS[p]
        target = SITES[tgt][0] if tgt >= 0 else r"\N"
        lines.append(f"{ident}\t{sub} near {name}\t{starts[k]}\t{ends[k]}\t{event_type}\t{sub}\t{name} area\t"
                     f"{country}\t{admin1}\tSRID=4326;POINT({lon:.6f} {lat:.6f})\t{prec}\t{low}\t{best}\t{high}\t"
                     f"{inj}\t{statuses[st]}\t{target}\t{_source('incidents', ident, starts[k])}\t{groups[i]}\n")
    return "".join(lines)


def _attribution_lines(data: Data, start: int, stop: int) -> str:
    lines = []
    for _k, (i, pos, g, st, cl) in enumerate(zip(
            data.claim_incident[start:stop].tolist(), data.claim_position[start:stop].tolist(),
            data.claim_group[start:stop].tolist(), data.claim_stance[start:stop].tolist(),
            data.claim_claimant[start:stop].tolist(), strict=True)):
        ident = incident_id(i)
        lines.append(f"{ident}\t{pos}\t{GROUPS[g][0]}\t{CLAIMANTS[cl]}\t{STANCES[st]}\t"
                     f"{_source('attributions', f'{ident}-{pos}')}\n")
    return "".join(lines)


def _copy(conn: psycopg.Connection, table: str, columns, total: int, lines) -> None:
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for start in range(0, total, CHUNK):
            copy.write(lines(start, min(start + CHUNK, total)))


def _multipolygon(ring: list[list[float]]) -> str:
    return "MULTIPOLYGON(((" + ", ".join(f"{x} {y}" for x, y in ring) + ")))"


def _reference_rows(conn: psycopg.Connection, seed: int) -> None:
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO groups (id, name, kind, color) VALUES (%s, %s, %s, %s)",
                        [g[:4] for g in GROUPS])
        cur.executemany(
            "INSERT INTO sites (id, name, kind, geom, precision_m, status, sources) VALUES "
            "(%s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326), 500, 'confirmed', %s::jsonb)",
            [(*s, _source("sites", s[0])) for s in SITES])
        zones = [(z.id, z.name, z.group, z.kind, z.valid_from, z.valid_to, _multipolygon(z.ring),
                  _source("zones", z.id)) for z in synth_zones(seed)]
        cur.executemany(
            "INSERT INTO control_zones (id, name, group_id, kind, valid_from, valid_to, geom, confidence, status, "
            "precision_m, sources) VALUES (%s, %s, %s, %s, %s, %s, ST_GeomFromText(%s, 4326), 'medium', "
            "'estimate', 5000, %s::jsonb)", zones)


SECONDARY_INDEXES = """
SELECT c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
WHERE t.relname = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
"""


def load(conn: psycopg.Connection, data: Data, seed: int) -> dict[str, float]:
    """Bulk-load into a migrated, empty database; returns seconds per phase."""
    timings = {}
    clock = time.perf_counter()
    indexes = conn.execute(SECONDARY_INDEXES, (["incidents", "attributions"],)).fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    _reference_rows(conn, seed)
    groups = attributed_groups(data)
    _copy(conn, "incidents", INCIDENT_COLUMNS, len(data.lon), lambda a, b: _incident_lines(data, groups, a, b))
    timings["copy incidents"] = time.perf_counter() - clock
    clock = time.perf_counter()
    _copy(conn, "attributions", ATTRIBUTION_COLUMNS, len(data.claim_incident),
          lambda a, b: _attribution_lines(data, a, b))
    timings["copy attributions"] = time.perf_counter() - clock
    clock = time.perf_counter()
    conn.execute("SET maintenance_work_mem = '1GB'")
    for _, definition in indexes:
        conn.execute(definition)
    timings["create indexes"] = time.perf_counter() - clock
    conn.commit()
    clock = time.perf_counter()
    conn.autocommit = True
    vacuum(conn)
    timings["vacuum analyze"] = time.perf_counter() - clock
    return timings


def vacuum(conn: psycopg.Connection) -> None:
    """Vacuum and analyse a loaded database (autocommit): every page all-visible, so that
    index-only scans read no table pages, as they would after autovacuum."""
    conn.execute("VACUUM (ANALYZE) incidents")
    conn.execute("VACUUM (ANALYZE) attributions")
    conn.execute("ANALYZE")


# -- databases in the bench cluster --------------------------------------------------------------

def database_name(n: int, seed: int) -> str:
    return f"bench_{n}_{seed}"


def _marker(n: int, seed: int) -> dict:
    return {"synth": SYNTH_VERSION, "incidents": n, "seed": seed}


def built(admin: psycopg.Connection, name: str, n: int, seed: int) -> dict | None:
    """The build record of a finished database with these parameters, else None."""
    row = admin.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                        (name,)).fetchone()
    if row is None or not row[0]:
        return None
    try:
        record = json.loads(row[0])
    except ValueError:
        return None
    return record if all(record.get(k) == v for k, v in _marker(n, seed).items()) else None


@contextmanager
def running(cluster: Cluster, keep: bool = False) -> Iterator[Cluster]:
    """The bench cluster, started for a run and stopped after it, unless it was running already
    (then someone else may be using it: it is left so) or `keep`."""
    was_running = start_like_us(cluster)
    try:
        yield cluster
    finally:
        if not (was_running or keep):
            cluster.stop()


def start_like_us(cluster: Cluster) -> bool:
    """Start the bench cluster in this process's scheduling class and priority (whether it was
    running already is returned). A cluster found running in another (started before the bench's
    `chrt -r 10`, say) is restarted: its PostgreSQL would otherwise wait behind the browser and the
    servers, which run real-time, and only geomap's side of most comparisons queries it. Found in
    session 13: the maps page's cold load took 1,076-1,162 ms with PostgreSQL at the normal class,
    660-761 ms with it real-time like the rest (bench/README.md "Session 13")."""
    status = cluster.status()
    if status.running and _schedule(status.pid) != _schedule(0):
        print(f"bench cluster: its postmaster runs as {_schedule(status.pid)}, this run as {_schedule(0)}: "
              "restarted in this run's class", flush=True)
        cluster.port = cluster.port or status.port  # on the port it had
        cluster.stop()
    cluster.start()
    return status.running


def _schedule(pid: int) -> tuple[int, int]:
    """(policy, priority) of a process (0: this one)."""
    return os.sched_getscheduler(pid), os.sched_getparam(pid).sched_priority


def build(cluster: Cluster, n: int, seed: int, *, force: bool = False, log=print) -> dict:
    """Create (or reuse) the database for (n, seed); returns its build record."""
    name = database_name(n, seed)
    with psycopg.connect(cluster.url("postgres", driver="postgresql"), autocommit=True) as admin:
        record = None if force else built(admin, name, n, seed)
        if record is not None:
            log(f"reusing database {name} (built in {record['seconds']['total']:.0f} s)")
            engine = make_engine(cluster.url(name))
            before = migrate.current(engine)
            migrate.upgrade(engine)  # a database built before a later migration gets it (a no-op at head)
            upgraded = migrate.current(engine) != before
            engine.dispose()
            if upgraded:  # as a new build leaves it (`load`): a migration that
                with psycopg.connect(cluster.url(name, driver="postgresql"), autocommit=True) as conn:
                    vacuum(conn)  # rewrote the table (0012's columns) leaves no page all-visible
            return record
        log(f"building database {name}: {n:,} incidents, seed {seed}")
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        total = time.perf_counter()
        engine = make_engine(cluster.url(name))
        migrate.upgrade(engine)
        engine.dispose()
        clock = time.perf_counter()
        data = generate(n, seed)
        seconds = {"generate": time.perf_counter() - clock}
        log(f"  generated in {seconds['generate']:.1f} s ({len(data.claim_incident):,} claims); loading")
        with psycopg.connect(cluster.url(name, driver="postgresql")) as conn:
            seconds |= load(conn, data, seed)
        seconds["total"] = time.perf_counter() - total
        record = _marker(n, seed) | {"claims": int(len(data.claim_incident)), "seconds": seconds}
        admin.execute(f"COMMENT ON DATABASE \"{name}\" IS {sql.quote(json.dumps(record))}")
        log("  " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))
        return record


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--force", action="store_true", help="rebuild even if a finished build exists")
    parser.add_argument("--stop", action="store_true", help="stop the bench cluster afterwards")
    args = parser.parse_args(argv)
    cluster = Cluster(BENCH_HOME)
    cluster.start()
    try:
        build(cluster, args.incidents, args.seed, force=args.force)
    finally:
        if args.stop:
            cluster.stop()


if __name__ == "__main__":
    main()
