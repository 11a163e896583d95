"""The base rate of one group over the 1,000,000-incident benchmark database (issue 12: at most
300 ms): `geomap.inquiry.group_base_rate` for the busiest group (the first of `geomap.synth.GROUPS`)
around random incidents, 25 km over the 90 days before against 100 km over the year before that,
as the context report computes it for every group.

    flock /tmp/geomap-bench.lock chrt -r 10 .venv/bin/python bench/baserate.py [--queries 200]

Prints the median, p90, p99 and max, the incidents counted, the load average before and after,
and the plan (EXPLAIN ANALYZE, BUFFERS) of the slowest count's statement in
bench/data/explain-baserate.txt.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import synth
from sqlalchemy import event

from geomap import inquiry
from geomap.db.cluster import Cluster
from geomap.db.engine import make_engine

DATA = Path(__file__).resolve().parent / "data"
TARGET_MS = 300.0
WARMUP = 10


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    with synth.running(Cluster(synth.BENCH_HOME)) as cluster:
        synth.build(cluster, args.incidents, args.seed)
        run(make_engine(cluster.url(synth.database_name(args.incidents, args.seed))), args)


def run(engine, args) -> None:
    rng = np.random.default_rng(args.seed + 2000)
    group = synth.GROUPS[0][0]
    ids = [synth.incident_id(int(i)) for i in rng.integers(0, args.incidents, args.queries + WARMUP)]
    statements: list[tuple[str, dict]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def keep(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    load_before = os.getloadavg()
    seconds, counted, last = [], [], []
    for k, incident in enumerate(ids):
        statements.clear()
        clock = time.perf_counter()
        rate = inquiry.group_base_rate(engine, incident, group, 25000.0, 90)
        if k >= WARMUP:
            seconds.append(time.perf_counter() - clock)
            counted.append(rate.observed + rate.baseline)
            last.append(list(statements))
    load_after = os.getloadavg()
    ms = np.array(seconds) * 1000
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    print(f"base rate of {group}, {len(ms)} incidents after {WARMUP} warm-up: median {p50:.1f} ms, p90 {p90:.1f} ms, "
          f"p99 {p99:.1f} ms, max {ms.max():.1f} ms ({statistics.mean(counted):,.0f} incidents counted on "
          f"average, max {max(counted):,})")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in load_before)}; "
          f"after: {' '.join(f'{v:.2f}' for v in load_after)}")
    slowest = int(np.argmax(ms))
    statement, parameters = last[slowest][-1]
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).all()
    DATA.mkdir(exist_ok=True)
    (DATA / "explain-baserate.txt").write_text("\n".join(r[0] for r in plan) + "\n")
    print(f"slowest: {ms[slowest]:.1f} ms, incident {ids[WARMUP + slowest]}; its plan in {DATA / 'explain-baserate.txt'}")
    print(f"base rate, one group at {args.incidents:,}: p99 {p99:.0f} ms, max {ms.max():.0f} ms "
          f"(target <= {TARGET_MS:.0f} ms){'' if ms.max() <= TARGET_MS else '  MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
