"""Import benchmark: `geomap import` against GDAL's `ogr2ogr -f PostgreSQL` (COPY mode) loading the
same GeoJSON text sequence into the same PostgreSQL server, side by side in one run.

    .venv/bin/python bench/import_bench.py                      # 1,000,000 incidents, seed 1
    .venv/bin/python bench/import_bench.py --incidents 100000   # a quicker look
    .venv/bin/python bench/import_bench.py --repeat 3           # three runs each (default 2)

The file (and groups, sites and zones it refers to) is made by `geomap.io.synth_files` into bench/data/
once and reused. Each tool loads it into a fresh database of the bench cluster
(bench/data/cluster): geomap with full validation, claims, history and the likely-duplicate
report, into its constrained and indexed schema; ogr2ogr into a new table of its own (with
PG_USE_COPY=YES and its spatial index). Both run as child processes, timed wall-clock, and
their peak resident memory is the larger of the kernel's high-water mark of each child (VmHWM)
and the peak of the sum of resident memory over the child and its descendants (geomap's reader
processes), sampled every 50 ms.

The two tools alternate (`--repeat`, 2 by default): ogr2ogr first in the first round, geomap
first in the next, and so on, since the machine's load moves each run; the ratio is of the two
medians, printed with every run's time.

Targets (issue 5, issue 16): geomap's time at most 1.5x ogr2ogr's, median of 2 alternating runs
each; geomap's peak memory under 1 GB.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import synth  # noqa: E402  the bench's shared set-up (bench/synth.py)

from geomap.db import migrate  # noqa: E402
from geomap.db.cluster import Cluster  # noqa: E402
from geomap.db.engine import make_engine  # noqa: E402
from geomap.ingest import load  # noqa: E402
from geomap.io import synth_files  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
DATABASES = ("import_bench_geomap", "import_bench_ogr")
RATIO_TARGET = 1.5
RSS_TARGET_MB = 1024


@dataclass
class Run:
    seconds: float
    peak_mb: float
    output: str


def data_files(n: int, seed: int, log=print) -> list[Path]:
    directory = DATA / f"import-{n}-{seed}"
    paths = [directory / name for name in synth_files.FILES]
    if not all(p.exists() for p in paths):
        log(f"writing {n:,} synthetic incidents (seed {seed}) to {directory}")
        clock = time.perf_counter()
        synth_files.write_files(directory, n, seed)
        log(f"  written in {time.perf_counter() - clock:.0f} s")
    return paths


def drop_databases(cluster: Cluster) -> None:
    """Drop both tools' databases (else autovacuum works on their million new rows during the
    next run, or the next benchmark) and CHECKPOINT (else their WAL is flushed meanwhile)."""
    with psycopg.connect(cluster.url("postgres", driver="postgresql"), autocommit=True) as admin:
        for database in DATABASES:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute("CHECKPOINT")


def fresh_database(cluster: Cluster, name: str, migrated: bool) -> str:
    """A new database `name` on a quiet server (`drop_databases`)."""
    drop_databases(cluster)
    with psycopg.connect(cluster.url("postgres", driver="postgresql"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = cluster.url(name)
    engine = make_engine(url)
    try:
        if migrated:
            migrate.upgrade(engine)
        else:
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
    finally:
        engine.dispose()
    return url


def timed(command: list[str], env: dict[str, str]) -> Run:
    """Run a child process: its wall time, output and peak resident memory. The peak is the
    kernel's high-water mark of the child's own memory (VmHWM), or the peak of the resident
    memory of the child and all its descendants together (sampled), whichever is larger; both
    read while it runs: rusage's maxrss would count the parent's pages the child had between
    fork and exec, and not add up processes."""
    with tempfile.TemporaryFile(mode="w+") as out:
        clock = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        peak_kb = 0
        while child.poll() is None:
            peak_kb = max(peak_kb, _status_kb(child.pid, "VmHWM:"), _tree_kb(child.pid))
            time.sleep(0.05)
        seconds = time.perf_counter() - clock
        out.seek(0)
        output = out.read()
    if child.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({child.returncode}):\n{output}")
    return Run(seconds, peak_kb / 1024, output)


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith(field)), 0)
    except OSError:  # it has just exited
        return 0


def _tree_kb(pid: int) -> int:
    """The resident memory of a process and all its descendants now."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            kids = [int(k) for k in children.read().split()]
    except OSError:
        kids = []
    return _status_kb(pid, "VmRSS:") + sum(_tree_kb(k) for k in kids)


def ogr_connection(url: str) -> str:
    parts = urlsplit(url)
    return (f"PG:host={parts.hostname} port={parts.port} user={parts.username} password={parts.password} "
            f"dbname={parts.path.lstrip('/')}")


def run_geomap(cluster: Cluster, paths: list[Path], duplicates: bool) -> Run:
    url = fresh_database(cluster, DATABASES[0], migrated=True)
    engine = make_engine(url)
    load(engine, paths[:3])
    engine.dispose()
    # --exclusive: like ogr2ogr, build the indexes once after the rows (readers would wait; none here).
    # Without it geomap keeps its indexes up as it writes, so that readers go on: bench/import_readers.py.
    command = [sys.executable, "-m", "geomap", "-v", "import", "--exclusive", str(paths[3])]
    return timed(command + ([] if duplicates else ["--no-duplicates"]), dict(os.environ, DATABASE_URL=url))


def run_ogr2ogr(cluster: Cluster, path: Path) -> Run:
    ogr2ogr = shutil.which("ogr2ogr")
    if ogr2ogr is None:
        raise SystemExit("ogr2ogr is missing: apt-get install gdal-bin (scripts/install-system-deps.sh does)")
    url = fresh_database(cluster, DATABASES[1], migrated=False)
    command = [ogr2ogr, "-f", "PostgreSQL", ogr_connection(url), str(path), "-nln", "incidents", "-overwrite"]
    return timed(command, dict(os.environ, PG_USE_COPY="YES"))


def duplicate_seconds(output: str) -> float:
    """The likely-duplicate search's share of geomap's time, from its -v log."""
    found = re.search(r"looked for likely duplicates in ([0-9.]+) s", output)
    return float(found.group(1)) if found else 0.0


def median_run(runs: list[Run], seconds) -> Run:
    """The run of median `seconds(run)` (of an even number, the mean of the two middle ones, with
    the output and peak memory of the later of them)."""
    ordered = sorted(runs, key=seconds)
    middle = ordered[(len(ordered) - 1) // 2: len(ordered) // 2 + 1]
    mean = sum(seconds(r) for r in middle) / len(middle)
    return Run(mean + (middle[-1].seconds - seconds(middle[-1])), max(r.peak_mb for r in runs), middle[-1].output)


def loading_seconds(run: Run) -> float:
    return run.seconds - duplicate_seconds(run.output)


def report(n: int, ours: Run, theirs: Run) -> bool:
    """Print the figures. The target compares loading with loading: ogr2ogr makes no duplicate
    report, so that part of geomap's time is shown beside the ratio, not in it."""
    duplicates = duplicate_seconds(ours.output)
    load_seconds = ours.seconds - duplicates
    ratio = load_seconds / theirs.seconds
    ok = ratio <= RATIO_TARGET and ours.peak_mb < RSS_TARGET_MB
    print(f"\nimport of {n:,} incidents (GeoJSON text sequence) into the same PostgreSQL server")
    print(f"  geomap import  {load_seconds:8.1f} s   peak RSS {ours.peak_mb:7.0f} MB   "
          "(full validation, claims, history, indexes)")
    if duplicates:
        print(f"    + likely-duplicate report {duplicates:.1f} s (total {ours.seconds:.1f} s, "
              f"{ours.seconds / theirs.seconds:.2f}x)")
    print(f"  ogr2ogr (COPY) {theirs.seconds:8.1f} s   peak RSS {theirs.peak_mb:7.0f} MB")
    print(f"  ratio {ratio:.2f} (target <= {RATIO_TARGET}); geomap peak {ours.peak_mb:.0f} MB "
          f"(target < {RSS_TARGET_MB} MB): {'PASS' if ok else 'FAIL'}")
    return ok


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-duplicates", action="store_true", help="skip geomap's likely-duplicate report")
    parser.add_argument("--repeat", type=int, default=2,
                        help="alternate the two tools this many times (each going first in turn) and compare "
                             "their medians (other work on the machine slows runs unevenly)")
    parser.add_argument("--stop", action="store_true", help="stop the bench cluster afterwards")
    args = parser.parse_args(argv)
    paths = data_files(args.incidents, args.seed)
    cluster = Cluster(synth.BENCH_HOME)
    synth.start_like_us(cluster)
    try:
        ours, theirs = [], []
        for turn in range(max(args.repeat, 1)):
            for tool in (("ogr2ogr", "geomap") if turn % 2 == 0 else ("geomap", "ogr2ogr")):
                print(f"[{_load()}] round {turn + 1}: {tool} ...", flush=True)
                if tool == "ogr2ogr":
                    theirs.append(run_ogr2ogr(cluster, paths[3]))
                    print(f"ogr2ogr: {theirs[-1].seconds:.1f} s", flush=True)
                else:
                    ours.append(run_geomap(cluster, paths, duplicates=not args.no_duplicates))
                    print(f"geomap: {ours[-1].seconds:.1f} s\n{ours[-1].output.strip()}", flush=True)
        print(f"runs (loading s): geomap {', '.join(f'{loading_seconds(r):.1f}' for r in ours)}; "
              f"ogr2ogr {', '.join(f'{r.seconds:.1f}' for r in theirs)}; per round ratio "
              f"{', '.join(f'{loading_seconds(o) / t.seconds:.2f}' for o, t in zip(ours, theirs, strict=True))}; "
              f"load average now {_load()}")
        return 0 if report(args.incidents, median_run(ours, loading_seconds),
                           median_run(theirs, lambda r: r.seconds)) else 1
    finally:
        drop_databases(cluster)  # the next benchmark starts on a quiet server too
        if args.stop:
            cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
