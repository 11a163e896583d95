"""Duplicates (issue 12, section 4) over the 1,000,000-incident benchmark database: the whole
search a first import of every incident makes (`geomap.analysis.duplicate_rows.search` with
`all_mine`), in three timed parts: reading the incidents and their claims, the search in date
blocks (`geomap.analysis.duplicates.graded`: the likely pairs kept, the possible ones counted by
precision class, as the import does) and turning the likely pairs into the report's rows (what
the import writes to `--duplicates-report`). Target: minutes at most (the grid join it replaces
did not finish in 14 minutes).

    flock /tmp/geomap-bench.lock chrt -r 10 .venv/bin/python bench/duplicates.py [--incidents N] [--seed S]

Uses the bench cluster (`bench/data/cluster`, its port in `bench/data/cluster/port`) and builds
or reuses `bench_<N>_<seed>` with `bench/synth.py`. Prints the pairs per grade, the likely ones by basis and by the
wider disc's radius, the peak memory and the load average before and after.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import synth  # noqa: E402  bench/synth.py

from geomap.analysis.duplicate_rows import Found, prepare  # noqa: E402
from geomap.analysis.duplicates import BASES, BLOCK, DuplicateRule, graded  # noqa: E402
from geomap.db import candidates, duplicates  # noqa: E402
from geomap.db.cluster import Cluster  # noqa: E402
from geomap.db.engine import make_engine  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--metres", type=float, default=1000.0)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--precise", type=float, default=DuplicateRule.precise,
                        help="likely pairs: discs of radius at most this many times --metres")
    parser.add_argument("--reports", type=int, default=100,
                        help="also time the context report's own duplicate step for this many random incidents")
    parser.add_argument("--reports-only", action="store_true", help="time the context report's step only")
    args = parser.parse_args(argv)
    with synth.running(Cluster(synth.BENCH_HOME)) as cluster:
        synth.build(cluster, args.incidents, args.seed)
        engine = make_engine(cluster.url(synth.database_name(args.incidents, args.seed)))
        if not args.reports_only:
            run(engine, DuplicateRule(args.metres, args.days, args.precise))
        if args.reports:
            run_reports(engine, args.incidents, args.reports, args.seed)


def run(engine, rule: DuplicateRule) -> None:
    load_before = os.getloadavg()
    with engine.connect() as conn:
        clock = time.perf_counter()
        read = prepare(*vars(duplicates.read(conn, "true", "", "", {})).values())
        t_read = time.perf_counter() - clock
    clock = time.perf_counter()
    pairs, possible = graded(read.incidents, rule)  # what the import keeps: likely pairs, possible counts
    t_find = time.perf_counter() - clock
    clock = time.perf_counter()
    likely = sum(1 for _ in Found(read, pairs, possible).likely())
    t_rows = time.perf_counter() - clock
    load_after = os.getloadavg()
    print(f"{len(read.ids):,} incidents, rule {rule}: {likely:,} likely duplicate pairs (discs of at most "
          f"{rule.precise_m:g} m), {possible.total:,} possible ones")
    print("  likely by basis: " + ", ".join(
        f"{BASES[k]} {n:,}" for k, n in sorted(Counter(pairs.basis.tolist()).items())))
    print("  likely by the wider disc: " + ", ".join(
        f"{r / 1000:g} km {n:,}" for r, n in sorted(Counter(pairs.wider.tolist()).items())))
    print("  possible by precision class: " + ", ".join(f"up to {c.up_to_m / 1000:g} km {c.pairs:,}"
                                                         for c in possible.by_precision))
    total = t_read + t_find + t_rows
    print(f"read {t_read:.1f} s, search in date blocks of {BLOCK:,} incidents (likely pairs kept, possible "
          f"counted) {t_find:.1f} s, likely rows {t_rows:.1f} s: total {total:.1f} s; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in load_before)}; "
          f"after: {' '.join(f'{v:.2f}' for v in load_after)}")
    print(f"duplicates at {len(read.ids):,}: {total:.0f} s (target: minutes)")


def run_reports(engine, n: int, count: int, seed: int) -> None:
    """The context report's duplicate step alone (`inquiry._duplicates`: the neighbours within a
    day, read by id, and the search), after the report's own evidence is gathered, for random
    incidents of the benchmark (5 unmeasured first)."""
    from geomap import inquiry

    rng = np.random.default_rng(seed + 3000)
    ids = [synth.incident_id(int(i)) for i in rng.integers(0, n, count + 5)]
    seconds, found, coarse = [], [], []
    with engine.connect() as conn:
        for k, incident in enumerate(ids):
            widest = candidates.widest_site(conn)
            evidence = inquiry._evidence(conn, incident, 25000.0, 90, widest)
            clock = time.perf_counter()
            pairs = inquiry._duplicates(conn, evidence, widest)
            likely, possible = list(pairs.likely()), pairs.counts  # what the report keeps
            if k >= 5:
                seconds.append(time.perf_counter() - clock)
                found.append(len(likely))
                coarse.append(possible.total)
    ms = np.array(seconds) * 1000
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    print(f"context report's duplicate step, {len(ms)} incidents: median {p50:.1f} ms, p90 {p90:.1f} ms, "
          f"p99 {p99:.1f} ms, max {ms.max():.1f} ms ({np.mean(found):.1f} likely duplicates on average, "
          f"max {max(found)}; possible {np.mean(coarse):.1f}, max {max(coarse)}); load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
