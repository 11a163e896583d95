"""The K-1 story page in headless Chromium: time to interactive and size (issue 15's targets:
at most 1 s and under 2 MB).

    .venv/bin/python bench/story.py [--runs R] [--settle S]

Uses the bench cluster (bench/data/cluster; its port from bench/data/cluster/port) and a database
`bench_story_seed` holding the seed data (migrated and loaded here; loading again changes
nothing). Serves the app on loopback in its own process, requests the page once unmeasured (the
process's imports and first connection), then in one Chromium (network off beyond loopback),
after one unmeasured load of each (the browser's own first page), loads, R times each, in turn:

1. served: `GET /stories/k1-rocket-attack-2019-12-27`, server time included;
2. file: the page `geomap story` writes, opened from disk (no server at all).

"Interactive" is the later of the load event and the page's own ready mark (the map drawn, its
steps and controls wired: `window.geomapStory.readyAt`), from navigation start. Prints each run,
the medians, min and max, the HTML size and the load average before and after.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

import synth
from maps_bench import CHROMIUM, FLAGS, serve

from geomap import create_app
from geomap.db import migrate
from geomap.db.cluster import Cluster
from geomap.ingest import load
from geomap.layers.storymap import document
from geomap.maps.stories import load_story

STORY = "k1-rocket-attack-2019-12-27"
DATABASE = "bench_story_seed"
TARGET_MS, LIMIT_MB = 1000.0, 2.0
READY = "window.geomapStory && window.geomapStory.ready === true"


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def seed_database(cluster: Cluster) -> str:
    """The URL of `bench_story_seed`, created, migrated and loaded with the seed if needed."""
    import psycopg

    with psycopg.connect(cluster.url("postgres", driver="postgresql"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    url = cluster.url(DATABASE)
    engine = create_app({"DATABASE_URL": url}).extensions["geomap.engine"]
    migrate.upgrade(engine)
    load(engine)
    engine.dispose()
    return url


def interactive_ms(page, url: str) -> float:
    page.goto(url, wait_until="load", timeout=60_000)
    page.wait_for_function(READY, timeout=60_000)
    timing = page.evaluate("() => ({load: performance.getEntriesByType('navigation')[0].loadEventEnd,"
                           " ready: window.geomapStory.readyAt})")
    return max(timing["load"], timing["ready"])


def browser_runs(urls: dict[str, str], runs: int, settle: float) -> tuple[dict[str, list[float]], list[str]]:
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {name: [] for name in urls}
    blocked: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith(("http://127.0.0.1", "file:")):
            return r.continue_()
        blocked.append(url)
        return r.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for url in urls.values():  # unmeasured: the browser's own first page (its renderer, caches)
            page = browser.new_page()
            page.route("**/*", route)
            interactive_ms(page, url)
            page.close()
        for i in range(runs):
            for name in (list(urls) if i % 2 == 0 else list(reversed(urls))):
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.route("**/*", route)
                times[name].append(interactive_ms(page, urls[name]))
                print(f"  run {i + 1} {name}: {times[name][-1]:.0f} ms", flush=True)
                page.close()
                time.sleep(settle)
        browser.close()
    return times, blocked


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds to wait after each page closes")
    parser.add_argument("--seed", type=int, default=1, help="ignored: the seed data is fixed (run.py passes it)")
    args = parser.parse_args(argv)
    print(f"load average before: {loadavg()}")
    port_file = synth.BENCH_HOME / "port"
    cluster = Cluster(synth.BENCH_HOME, port=int(port_file.read_text()) if port_file.exists() else None)
    started = not cluster.status().running
    cluster.start()
    url = seed_database(cluster)
    engine = create_app({"DATABASE_URL": url}).extensions["geomap.engine"]
    html = document(load_story(engine, STORY)).encode()
    engine.dispose()
    path = Path(tempfile.mkdtemp(prefix="geomap-story-bench-")) / "story.html"
    path.write_bytes(html)
    server, base = serve(url, {}, cached=True)
    try:
        served = urlopen(f"{base}/stories/{STORY}", timeout=60).read()  # the server process warms up
        times, blocked = browser_runs({"served": f"{base}/stories/{STORY}", "file": path.as_uri()},
                                      args.runs, args.settle)
    finally:
        server.terminate()
        if started:
            cluster.stop()
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values):.0f} ms, min {min(values):.0f}, max {max(values):.0f} "
              f"({', '.join(f'{v:.0f}' for v in values)})")
    worst = max(statistics.median(v) for v in times.values())
    size_mb = max(len(served), len(html)) / 1e6
    print(f"story interactive: median {worst:.0f} ms (the slower of served and file; target <= {TARGET_MS:g} ms)")
    print(f"story HTML: {size_mb:.2f} MB (limit {LIMIT_MB:g} MB)")
    if blocked:
        print(f"blocked requests beyond loopback: {len(blocked)} (e.g. {blocked[0]})")
    print(f"load average after: {loadavg()}")
    ok = worst <= TARGET_MS and size_mb < LIMIT_MB and not blocked
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
