"""Sustained mixed load against the default `geomap serve` (issue 14): reads of items, analysis
and maps with 5 % writes, for DURATION seconds from CLIENTS keep-alive connections; then the
same with the database restarted in the middle.

    flock /tmp/geomap-bench.lock .venv/bin/python bench/load.py [--seconds 60] [--clients 8] [--incidents 10000] [--workers 2] [--render-workers 2] [--no-maps] [--rate R] [--port P]

Prints, for each run: throughput, p50/p99 per kind of request, answers by status (a 503 with
its problem type), how many maps were shed (503 renderer-busy); for the
restart run, how long the database was down and how long after its return the first 200 came,
and whether every write that answered 2xx is stored; plus the unloaded median of each read (one
client, one request at a time) and p99 under load against 3x it; and the load average.
The server, its database (an embedded cluster under bench/data/load-home, GEOMAP_HOME) and the
data (`geomap synth --incidents N --load`) are its own.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
GEOMAP = [sys.executable, "-m", "geomap"]
READS = {
    "items": ["/collections/incidents/items?f=json&limit=20", "/collections/incidents/items?f=json&limit=50&bbox=43,33,45,36",
              "/collections/sites/items?f=json"],
    "analysis": ["/analysis/distance?from=sites/k1-air-base&to=44.0,35.0&f=json",
                 "/analysis/nearby?near=sites/k1-air-base&radius=25000&limit=20&f=json",
                 "/analysis/zones-at?lon=44.3&lat=35.5&date=2019-12-27&f=json"],
    "maps": ["/maps?bbox=43,33,45,36&datetime=2019-01-01/2019-12-31", "/maps.png?bbox=43.5,35,44.5,36&width=600&height=400"],
}
WRITE_SHARE = 0.05


@dataclass(frozen=True)
class Answer:
    start: float
    seconds: float
    kind: str
    status: int
    written: str | None = None
    problem: str | None = None  # a 503's problem type: renderer-busy (shed), renderer-unavailable, ...


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Client:
    """One keep-alive connection; reconnects after an error."""

    def __init__(self, port: int, token: str, seed: int, weights=(6, 3, 1)):
        self.port, self.token, self.rng, self.conn, self.n = port, token, random.Random(seed), None, 0
        self.prefix, self.weights = f"load-{time.time_ns()}-{seed}", weights  # ids new in every run

    def ask(self) -> Answer:
        self.n += 1
        if self.rng.random() < WRITE_SHARE:
            kind, fid = "write", f"{self.prefix}-{self.n}"
            body = json.dumps({"type": "Feature", "id": fid, "geometry": {"type": "Point", "coordinates": [
                44 + self.rng.random(), 35 + self.rng.random()]}, "properties": {
                "name": fid, "kind": "other", "precision_m": 100, "status": "confirmed",
                "sources": [{"title": "load", "publisher": "bench", "url": "https://example.org", "date": "2026-12-06"}]}})
            method, path = "POST", "/collections/sites/items"
            headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/geo+json"}
        else:
            kind, fid = self.rng.choices(list(READS), weights=self.weights)[0], None
            method, path, body, headers = "GET", self.rng.choice(READS[kind]), None, {}
        start = time.monotonic()
        status, problem = self._send(method, path, body, headers)
        return Answer(start, time.monotonic() - start, kind, status, fid if fid and 200 <= status < 300 else None,
                      problem)

    def _send(self, method, path, body, headers) -> tuple[int, str | None]:
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            content = response.read()
            problem = None
            if response.status == 503 and response.getheader("Content-Type", "").startswith("application/problem+json"):
                problem = json.loads(content).get("type", "").rsplit("/", 1)[-1]
            return response.status, problem
        except (OSError, http.client.HTTPException):
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return 0, None


def run_load(port: int, token: str, clients: int, seconds: float, weights, middle=None,
             rate: float | None = None) -> list[Answer]:
    """`clients` keep-alive connections asking one request after another for `seconds` (a closed
    loop), or, with `rate`, requests due at `rate` per second spread over them (an open loop): an
    answer's time then counts from when its request was due, so a request that waited for a free
    connection is as late as the server made it (no coordinated omission)."""
    answers: list[Answer] = []
    stop = threading.Event()
    start = time.monotonic()
    due = itertools.count()

    def work(seed: int) -> None:
        client = Client(port, token, seed, weights)
        while not stop.is_set():
            if rate is None:
                answers.append(client.ask())
                continue
            when = start + next(due) / rate
            if when >= start + seconds:
                return
            time.sleep(max(0.0, when - time.monotonic()))
            answer = client.ask()
            answers.append(replace(answer, start=when, seconds=answer.start + answer.seconds - when))

    threads = [threading.Thread(target=work, args=(k + 1,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    if middle is not None:
        time.sleep(seconds / 2)
        middle()
    time.sleep(max(0.0, start + seconds - time.monotonic()))
    stop.set()
    for thread in threads:
        thread.join()
    return answers


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def report(title: str, answers: list[Answer], seconds: float, unloaded: dict[str, float]) -> None:
    print(f"\n{title}: {len(answers)} requests in {seconds:.0f} s = {len(answers) / seconds:.1f} req/s; "
          f"by status: {dict(sorted(Counter(a.status for a in answers).items()))}")
    for kind in (*READS, "write"):
        times = [a.seconds for a in answers if a.kind == kind and a.status in (200, 201)]
        if not times:
            continue
        base = unloaded.get(kind)
        versus = f"; p99 / unloaded median {quantile(times, 0.99) / base:.1f}x (target <= 3x)" if base else ""
        others = dict(sorted(Counter(f"{a.status} {a.problem}" if a.problem else str(a.status)
                                     for a in answers if a.kind == kind and a.status not in (200, 201)).items()))
        print(f"  {kind:8} {len(times):6d} ok: p50 {quantile(times, 0.5) * 1000:7.1f} ms, "
              f"p99 {quantile(times, 0.99) * 1000:7.1f} ms{versus}" + (f"; other answers {others}" if others else ""))
    shed = sum(a.problem == "renderer-busy" for a in answers)
    heavy = sum(a.kind == "maps" for a in answers)
    print(f"  maps shed (503 renderer-busy, Retry-After): {shed} of {heavy} asked")


def unloaded_medians(port: int, token: str) -> dict[str, float]:
    client, out = Client(port, token, 0), {}
    for kind, paths in READS.items():
        times = []
        for _ in range(5):
            for path in paths:
                start = time.monotonic()
                client._send("GET", path, None, {})
                times.append(time.monotonic() - start)
        out[kind] = statistics.median(times)
    return out


def geomap(args: list[str], env: dict) -> str:
    return subprocess.run(GEOMAP + args, env=env, check=True, capture_output=True, text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--home", type=Path, default=DATA / "load-home")
    parser.add_argument("--workers", type=int, default=2, help="geomap serve --workers (its default: 2)")
    parser.add_argument("--render-workers", type=int,
                        help="geomap serve --render-workers (unset: its default, 2; 0: maps in the front workers, as before)")
    parser.add_argument("--no-maps", action="store_true", help="reads of items and analysis only (2:1)")
    parser.add_argument("--rate", type=float, help="an open loop: this many requests per second in all, "
                        "spread over --clients connections (default: a closed loop, each client asking at once again)")
    parser.add_argument("--port", type=int, help="the server's port (default: a free one); the database's is GEOMAP_DB_PORT")
    args = parser.parse_args()
    args.home.mkdir(parents=True, exist_ok=True)
    args.home.chmod(0o755)
    env = {**os.environ, "GEOMAP_HOME": str(args.home)}
    env.pop("DATABASE_URL", None)
    geomap(["db", "stop"], env)  # started anew below: under the run's scheduling policy (chrt), as the server
    geomap(["db", "upgrade"], env)
    loaded = args.home / f"loaded-{args.incidents}"
    if not loaded.exists():
        geomap(["load"], env)
        geomap(["synth", "--incidents", str(args.incidents), "-o", str(args.home / "synth"), "--load"], env)
        loaded.touch()
    token = geomap(["token", "create", "--name", f"load-{time.time_ns()}", "--role", "editor"], env).split()[-1]
    port = args.port or free_port()
    log = open(DATA / "load-serve.log", "wb")
    tier = [] if args.render_workers is None else ["--render-workers", str(args.render_workers)]
    server = subprocess.Popen(GEOMAP + ["serve", "--port", str(port), "--workers", str(args.workers), *tier], env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        print(f"geomap serve ({args.workers} gevent workers, render workers: {args.render_workers if args.render_workers is not None else 'default'}) on :{port}, {args.clients} clients, {args.seconds:.0f} s per run, "
              f"{args.incidents} synthetic incidents + seed; load average before: {_load()}")
        unloaded = unloaded_medians(port, token)
        print("unloaded medians: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in unloaded.items()))
        weights = (2, 1, 0) if args.no_maps else (6, 3, 1)
        print(f"mix: items, analysis, maps = {weights}, and {WRITE_SHARE:.0%} writes")
        print("load: " + (f"open loop, {args.rate:g} requests/s due" if args.rate else "closed loop"))
        steady = run_load(port, token, args.clients, args.seconds, weights, rate=args.rate)
        report("steady", steady, args.seconds, unloaded)
        print(f"  load average: {_load()}")
        outage: dict[str, float] = {}

        def restart() -> None:
            outage["stop"] = time.monotonic()
            geomap(["db", "stop"], env)
            time.sleep(2)
            geomap(["db", "start"], env)
            outage["back"] = time.monotonic()

        chaos = run_load(port, token, args.clients, args.seconds, weights, restart, rate=args.rate)
        report("database restarted in the middle", chaos, args.seconds, unloaded)
        first = min((a.start + a.seconds for a in chaos if a.start >= outage["back"] and a.status == 200), default=None)
        bad = sorted(Counter(a.status for a in chaos if a.status not in (200, 201, 412, 503)).items())
        print(f"  database down {outage['back'] - outage['stop']:.1f} s (stop, 2 s, start); first 200 "
              f"{(first - outage['back']) if first else float('nan'):.2f} s after its return; "
              f"answers other than 200/201/412/503: {dict(bad) or 'none'}")
        written = [a.written for a in steady + chaos if a.written]
        stored = set(geomap(["export", "--collection", "sites", "--format", "geojsonseq", "-o",
                             str(DATA / "load-sites.geojsonseq")], env) and
                     (json.loads(line.strip("\x1e"))["id"] for line in open(DATA / "load-sites.geojsonseq")
                      if line.strip()))
        print(f"  writes answered 2xx: {len(written)}, missing afterwards: {len(set(written) - stored)}")
        print(f"  load average: {_load()}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()
        log.close()


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
