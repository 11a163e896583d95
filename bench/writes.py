"""Single-feature writes through the API: POST, PUT and PATCH of one incident, and of an incident
with thousands of claims, in-process (Flask test client) on a seeded database.

    .venv/bin/python bench/writes.py                       # 100 of each, claims 2,000 and 5,000
    .venv/bin/python bench/writes.py --code /tmp/old-tree  # the same, on another checkout's geomap
    .venv/bin/python bench/writes.py --requests 300 --claims 500,5000 --repeat 5

`--code DIR` puts DIR first on sys.path, so that two versions of geomap (this tree and, say, a
`git worktree` of the commit before a change) run the same benchmark in one session on the same
machine: the way to compare a change, since a figure measured another day on a shared machine
is not comparable (checkouts from before the one write path, 4ac3bba^, run too). Uses the
bench cluster (bench/data/cluster) and a fresh database
`writes_bench` (seed data loaded with `geomap load`), dropped at the end.

Each request is timed alone (perf_counter around the test client's call: routing, parsing,
validation, the transaction and the response); WARMUP requests of each kind run first and are
not counted. Prints per kind the median, the 10th-90th percentile range and the minimum in ms,
then, per claim count, the median of `--repeat` POSTs of one incident with that many claims and
of a title PATCH of it (the PATCH reads, merges, validates and rewrites every claim).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WARMUP = 10
DATABASE = "writes_bench"
GEOJSON = "application/geo+json"
MERGE = "application/merge-patch+json"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose geomap to run")
    parser.add_argument("--requests", type=int, default=100, help="timed requests of each kind")
    parser.add_argument("--claims", default="2000,5000", help="claim counts of the large writes")
    parser.add_argument("--repeat", type=int, default=3, help="large writes of each claim count")
    parser.add_argument("--home", type=Path, help="the bench cluster (default: synth.BENCH_HOME)")
    return parser.parse_args()


def _database(cluster) -> str:
    import psycopg

    with psycopg.connect(cluster.url("postgres", driver="postgresql"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    return cluster.url(DATABASE)


def _drop(cluster) -> None:
    import psycopg

    with psycopg.connect(cluster.url("postgres", driver="postgresql"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def _incident(template: dict, iid: str, groups: list[str], claims: int = 1) -> dict:
    feature = copy.deepcopy(template)
    feature["id"] = iid
    source = feature["properties"]["sources"][0]
    feature["properties"]["attributions"] = [
        {"group": groups[k % len(groups)], "claimant": f"claimant {k}", "stance": "accused", "sources": [source]}
        for k in range(claims)]
    return feature


class Timer:
    def __init__(self, client, token: str):
        self.client, self.auth = client, {"Authorization": f"Bearer {token}"}

    def __call__(self, method: str, url: str, body: dict, content_type: str, expect: int,
                 etag: str | None = None) -> tuple[float, str]:
        headers = dict(self.auth, **({"If-Match": etag} if etag else {}))
        data = json.dumps(body)
        clock = time.perf_counter()
        response = getattr(self.client, method)(url, data=data, content_type=content_type, headers=headers)
        elapsed = time.perf_counter() - clock
        if response.status_code != expect:
            raise SystemExit(f"{method.upper()} {url}: {response.status_code} {response.get_data(as_text=True)[:500]}")
        return elapsed * 1000, response.headers["ETag"]


def _singles(timer: Timer, template: dict, groups: list[str], count: int) -> dict[str, list[float]]:
    """POST, then PUT, then PATCH each of `count` new incidents (after WARMUP of each)."""
    times: dict[str, list[float]] = {"POST": [], "PUT": [], "PATCH": []}
    for k in range(WARMUP + count):
        iid = f"bench-write-{k}"
        feature = _incident(template, iid, groups)
        url = f"/collections/incidents/items/{iid}"
        posted, etag = timer("post", "/collections/incidents/items", feature, GEOJSON, 201)
        feature["properties"]["title"] = f"Replaced {k}"
        put, etag = timer("put", url, feature, GEOJSON, 200, etag)
        patched, _ = timer("patch", url, {"properties": {"title": f"Patched {k}"}}, MERGE, 200, etag)
        if k >= WARMUP:
            for kind, ms in (("POST", posted), ("PUT", put), ("PATCH", patched)):
                times[kind].append(ms)
    return times


def _large(timer: Timer, template: dict, groups: list[str], claims: int, repeat: int) -> tuple[list[float], list[float]]:
    posts, patches = [], []
    for k in range(repeat):
        iid = f"bench-claims-{claims}-{k}"
        posted, etag = timer("post", "/collections/incidents/items", _incident(template, iid, groups, claims),
                             GEOJSON, 201)
        patched, _ = timer("patch", f"/collections/incidents/items/{iid}",
                           {"properties": {"title": f"Patched {k}"}}, MERGE, 200, etag)
        posts.append(posted)
        patches.append(patched)
    return posts, patches


def _summary(values: list[float]) -> str:
    deciles = statistics.quantiles(values, n=10)
    return (f"median {statistics.median(values):7.1f} ms  p10-p90 {deciles[0]:6.1f}-{deciles[-1]:6.1f}  "
            f"min {min(values):6.1f}  (n={len(values)})")


def main() -> None:
    args = _arguments()
    sys.path.insert(0, str(args.code.resolve()))
    from geomap import create_app
    from geomap.db import migrate, tokens
    from geomap.db.cluster import Cluster
    from geomap.db.engine import make_engine
    try:
        from geomap.ingest import load
    except ImportError:  # a checkout from before the one write path (geomap.ingest)
        from geomap.io.load import load

    import synth  # after --code is first on sys.path: it imports geomap

    import geomap
    print(f"geomap from {Path(geomap.__file__).parent}; load average {os.getloadavg()}")
    cluster = Cluster(args.home or synth.BENCH_HOME)
    cluster.start()
    url = _database(cluster)
    try:
        engine = make_engine(url)
        migrate.upgrade(engine)
        load(engine)
        with engine.begin() as conn:
            token = tokens.create(conn, "bench", "editor")
        engine.dispose()
        app = create_app({"DATABASE_URL": url})
        timer = Timer(app.test_client(), token)
        seed = json.loads((args.code / "data" / "incidents.geojson").read_text())["features"][0]
        groups = [g["id"] for g in json.loads((args.code / "data" / "groups.json").read_text())["groups"]]
        for kind, values in _singles(timer, seed, groups, args.requests).items():
            print(f"{kind:5} one incident, one claim: {_summary(values)}")
        for claims in (int(c) for c in args.claims.split(",")):
            posts, patches = _large(timer, seed, groups, claims, args.repeat)
            print(f"{claims:5} claims: POST median {statistics.median(posts) / 1000:.2f} s "
                  f"(min {min(posts) / 1000:.2f}), title PATCH median {statistics.median(patches) / 1000:.2f} s "
                  f"(min {min(patches) / 1000:.2f})")
        print(f"load average after {os.getloadavg()}")
    finally:
        _drop(cluster)


if __name__ == "__main__":
    main()
