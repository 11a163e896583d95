"""Selection map with 100,000 incidents in view: geomap's map against a naive Folium map.

    .venv/bin/python bench/maps_bench.py [--incidents N] [--seed S] [--runs R] [--keep-running]

Builds (or reuses) the synthetic database `bench_<N>_<seed>` with bench/synth.py in the bench
cluster (bench/data/cluster; stopped at the end if this run started it, unless --keep-running),
serves the app on loopback, and in one run measures in headless Chromium (Debian's, network off
beyond loopback):

1. ours: `GET /maps` with every incident in view; above geomap.maps.selection.SERVER_AGGREGATION_ABOVE the
   server counts incidents per grid cell and period, so the page carries cells, not incidents;
   "cold" is a server with geomap's scene and page caches off (it counts on every request; one
   unmeasured request first, so that the process's own start-up, imports and first database
   connection, is not counted as a cold map), "warm" one with them on (a repeated request: a
   second reader, or the PNG after its page);
2. naive: the same incidents as a stock Folium map with one `folium.Marker` (with a popup) per
   incident in a `MarkerCluster`, its Leaflet assets served by the same app (no CDN), as a file;
3. fast: the same incidents in Folium's own `FastMarkerCluster` (the data as one array, each
   marker made in the browser by a callback), with the same popups (the title) and tooltips (the
   date): the form Folium's documentation recommends for many points (issue 16).

Targets: ours cold at least 10x faster than the naive map and 3x faster than FastMarkerCluster.
"Interactive" is the page's load event (every map script has run; the maps are synchronous), or for
ours `geomap.drawn` if later (the moment `geomap.ready` became true), measured from navigation
start in the browser, server time included for ours; the same viewport (1280 x 860) for every page. Each page loads
R times, in turn, with a pause after each (`--settle`, 3 s) so that no measurement overlaps the
previous page's teardown on a 2-core machine; medians are compared. The servers run in their own
processes, and they, the browser and the bench cluster's PostgreSQL in this process's scheduling
class (`synth.start_like_us`: under `chrt -r 10`, a PostgreSQL left at the normal class waited
behind the rest, and only our page queries it). Prints the times, the ratios and the HTML sizes,
and the CPU the cold server and PostgreSQL spend on one cold request (`request_cpu`).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.request import urlopen

import folium
import synth
from folium.plugins import FastMarkerCluster, MarkerCluster
from werkzeug.middleware.shared_data import SharedDataMiddleware
from werkzeug.serving import make_server

from geomap import create_app, maps
from geomap.db import map_queries, migrate
from geomap.db.cluster import Cluster
from geomap.layers.assets import localise

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-proxy-server",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DATA = Path(__file__).resolve().parent / "data"
LIMIT_MB = 5.0
TARGET_RATIO = 10.0
TARGET_FAST_RATIO = 3.0
CPU_REQUESTS = 10  # cold requests timed for their CPU (request_cpu)
# FastMarkerCluster's callback: one marker per [lat, lon, title, date], its popup and tooltip as
# text, like folium.Popup and the tooltip of the naive map (which escape it).
FAST_CALLBACK = """function (row) {
    var marker = L.marker(new L.LatLng(row[0], row[1]));
    var popup = document.createElement("div");
    popup.textContent = row[2];
    marker.bindPopup(popup, {maxWidth: 300});
    marker.bindTooltip(row[3]);
    return marker;
}"""


def naive_html(engine, assets_base: str) -> tuple[str, float, int]:
    """The naive map: one Folium Marker with a popup per incident, in one MarkerCluster."""
    clock = time.perf_counter()
    with engine.connect() as conn:
        rows = map_queries.map_incidents(conn, [])
    fmap = folium.Map(location=[33.5, 43.0], zoom_start=6, tiles=None)
    cluster = MarkerCluster().add_to(fmap)
    for row in rows:
        folium.Marker([row["lat"], row["lon"]], popup=folium.Popup(row["title"]), tooltip=row["date_start"].isoformat()
                      ).add_to(cluster)
    # The same offline assets, so only the map differs; one file a tag, as Folium writes them (its
    # users get no bundles: geomap's pages do, geomap.layers.assets.bundled).
    localise(fmap.get_root(), assets_base, bundle=False)
    html = fmap.get_root().render()
    return html, time.perf_counter() - clock, len(rows)


def fast_html(engine, assets_base: str) -> tuple[str, float, int]:
    """The same incidents in Folium's FastMarkerCluster, with the same popups and tooltips."""
    clock = time.perf_counter()
    with engine.connect() as conn:
        rows = map_queries.map_incidents(conn, [])
    fmap = folium.Map(location=[33.5, 43.0], zoom_start=6, tiles=None)
    data = [[row["lat"], row["lon"], row["title"], row["date_start"].isoformat()] for row in rows]
    FastMarkerCluster(data, callback=FAST_CALLBACK).add_to(fmap)
    localise(fmap.get_root(), assets_base, bundle=False)  # as the naive map's
    html = fmap.get_root().render()
    return html, time.perf_counter() - clock, len(rows)


def peer_page(name: str, build, engine, rebuild: bool) -> str:
    """A peer's page, built by Folium once and kept in bench/data/ (it depends only on the data)."""
    cached = DATA / name
    if cached.exists() and not rebuild:
        print(f"{name}: reusing it ({cached.stat().st_size / 1e6:.1f} MB)")
        return cached.read_text(encoding="utf-8")
    html, seconds, n = build(engine, "/maps/assets")
    cached.write_text(html, encoding="utf-8")
    print(f"{name}: {n:,} markers; built by Folium {folium.__version__} in {seconds:.1f} s; "
          f"HTML {len(html.encode()) / 1e6:.1f} MB")
    return html


def _serve(database_url: str, static: dict[str, str], cached: bool, ports) -> None:
    """Child process: the app on loopback (its own process, so that it does not share the GIL
    with the Playwright client), with or without geomap's scene and page caches."""
    from cachetools import LRUCache

    from geomap.maps import cache

    if not cached:
        cache.SCENES, cache.PAGES = LRUCache(0), LRUCache(0)
    app = create_app({"DATABASE_URL": database_url})
    server = make_server("127.0.0.1", 0, SharedDataMiddleware(app, static), threaded=True)
    ports.put(server.server_port)
    server.serve_forever()


def serve(database_url: str, static: dict[str, str], cached: bool):
    ports = multiprocessing.Queue()
    process = multiprocessing.Process(target=_serve, args=(database_url, static, cached, ports), daemon=True)
    process.start()
    return process, f"http://127.0.0.1:{ports.get(timeout=120)}"


def cpu_ms(pids) -> float:
    """User + system CPU time so far of the processes `pids` (every thread), in milliseconds; a
    process that has gone counts nothing."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def postgres_pids(postmaster: int) -> list[int]:
    """The postmaster and its children (its backends and background processes), as
    import_bench.py's `_tree_kb` and downloads.py's `worker_pid` find children."""
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    return [postmaster, *map(int, children)]


def request_cpu(url: str, server_pid: int, postmaster: int, n: int) -> dict[str, list[float]]:
    """CPU milliseconds the server process and PostgreSQL spend on each of `n` requests of `url`
    (one at a time, outside the browser), with their wall time: on this 2-core machine the
    browser loading the page uses the other core and more, so the cold server's CPU is the part
    of a cold load the browser waits for, roughly one for one (bench/README.md, maps
    "Session 18")."""
    spent: dict[str, list[float]] = {"server": [], "postgres": [], "wall": []}
    for _ in range(n):
        pids = postgres_pids(postmaster)
        server, database, clock = cpu_ms([server_pid]), cpu_ms(pids), time.perf_counter()
        urlopen(url, timeout=600).read()
        spent["wall"].append((time.perf_counter() - clock) * 1000)
        spent["server"].append(cpu_ms([server_pid]) - server)
        spent["postgres"].append(cpu_ms(pids) - database)
    return spent


def interactive_ms(page, url: str, ready: str | None) -> tuple[float, float]:
    """Milliseconds from navigation start to the load event, or to our map's `geomap.drawn` (the
    moment `ready` became true: every layer drawn, popups bound) when that came later, and to the
    page's last byte (the server's part of it: for ours, the counting; the rest is the browser's).
    Our runtime draws synchronously today, so the two coincide; the later of them is taken so that
    no work moved past the load event could go uncounted."""
    page.goto(url, wait_until="load", timeout=600_000)
    if ready:
        page.wait_for_function(ready, timeout=600_000)
    timing = page.evaluate("() => { const t = performance.getEntriesByType('navigation')[0];"
                           " const drawn = (window.geomap && window.geomap.drawn) || 0;"
                           " return {load: Math.max(t.loadEventEnd, drawn), response: t.responseEnd}; }")
    return timing["load"], timing["response"]


def browser_runs(urls: dict[str, tuple[str, str | None]], runs: int, settle: float = 0.0) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {name: [] for name in urls}
    blocked: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for i in range(runs):
            order = list(urls) if i % 2 == 0 else list(reversed(urls))
            for name in order:
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.route("**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url
                           or route.request.url.startswith("data:") else (blocked.append(route.request.url),
                                                                           route.abort()))
                url, ready = urls[name]
                load, response = interactive_ms(page, url, ready)
                times[name].append(load)
                print(f"  run {i + 1} {name}: {load / 1000:.2f} s (page received at {response / 1000:.2f} s)", flush=True)
                page.close()
                time.sleep(settle)  # the closed page's teardown (100 MB for the naive map) ends first
        browser.close()
    if blocked:
        print(f"  blocked non-loopback requests: {len(blocked)} (e.g. {blocked[0]})")
    return times


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rebuild-naive", action="store_true", help="rebuild the peers' maps even if they are cached")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds to wait after each page closes, so that no load overlaps the previous "
                             "page's teardown (0: none, as before)")
    parser.add_argument("--keep-running", action="store_true", help="leave the bench cluster running")
    args = parser.parse_args(argv)
    with synth.running(Cluster(synth.BENCH_HOME), keep=args.keep_running) as cluster:
        times, ours, html, fast = measure(cluster, args)
    report(times, ours, html, fast, args.runs)


def measure(cluster: Cluster, args) -> tuple[dict[str, list[float]], bytes, str, str]:
    """The loads' times of each page, and the pages (ours, the naive map, FastMarkerCluster's)."""
    synth.build(cluster, args.incidents, args.seed)
    database_url = cluster.url(synth.database_name(args.incidents, args.seed))
    engine = create_app({"DATABASE_URL": database_url}).extensions["geomap.engine"]
    if migrate.current(engine) != migrate.head():  # e.g. built before incidents.attributed_groups (0005)
        sys.exit(f"{synth.database_name(args.incidents, args.seed)} is at migration {migrate.current(engine)}, "
                 f"not {migrate.head()}: rebuild it (bench/synth.py --force) or run geomap.db.migrate.upgrade on it")
    workdir = Path(tempfile.mkdtemp(prefix="geomap-maps-bench-"))
    cold_server, cold_base = serve(database_url, {}, cached=False)
    warm_server, base = serve(database_url, {"/naive": str(workdir)}, cached=True)
    try:
        clock = time.perf_counter()
        ours = urlopen(f"{base}/maps", timeout=600).read()  # also fills the warm server's cache
        server_s = time.perf_counter() - clock
        urlopen(f"{cold_base}/maps", timeout=600).read()  # the cold server's process warms up; its caches stay off
        scene = maps.selection_scene(engine, maps.Selection())
        print(f"ours: {scene.total_incidents:,} incidents as {len(scene.cells):,} cells; server {server_s:.2f} s; "
              f"HTML {len(ours) / 1e6:.2f} MB")
        spent = request_cpu(f"{cold_base}/maps", cold_server.pid, cluster.status().pid, CPU_REQUESTS)
        print(f"ours cold, per request (median of {CPU_REQUESTS}, one at a time, outside the browser; CPU in steps of "
              f"{1000 / os.sysconf('SC_CLK_TCK'):g} ms): "
              + ", ".join(f"{k} {'' if k == 'wall' else 'CPU '}{statistics.median(v):.0f} ms ({min(v):.0f}-{max(v):.0f})"
                          for k, v in spent.items()))
        database = synth.database_name(args.incidents, args.seed)
        html = peer_page(f"naive-{database}.html", naive_html, engine, args.rebuild_naive)
        fast = peer_page(f"fast-{database}.html", fast_html, engine, args.rebuild_naive)
        (workdir / "naive.html").write_text(html, encoding="utf-8")
        (workdir / "fast.html").write_text(fast, encoding="utf-8")
        ready = "window.geomap && window.geomap.ready === true"
        times = browser_runs({"ours-cold": (f"{cold_base}/maps", ready), "ours-warm": (f"{base}/maps", ready),
                              "naive": (f"{base}/naive/naive.html", None), "fast": (f"{base}/naive/fast.html", None)},
                             args.runs, args.settle)
    finally:
        cold_server.terminate()
        warm_server.terminate()
    return times, ours, html, fast


def report(times: dict[str, list[float]], ours: bytes, html: str, fast: str, runs: int) -> None:
    """Prints the medians, the ratios against their targets and the pages' sizes; exits 1 if any is missed."""
    cold, warm, naive_ms, fast_ms = (statistics.median(times[k]) for k in ("ours-cold", "ours-warm", "naive", "fast"))
    ratio, fast_ratio = naive_ms / cold, fast_ms / cold
    print(f"\ninteractive (median of {runs}): ours {cold / 1000:.2f} s (cache warm: {warm / 1000:.2f} s), "
          f"naive {naive_ms / 1000:.2f} s, FastMarkerCluster {fast_ms / 1000:.2f} s")
    for name in times:
        print(f"  {name}: {', '.join(f'{t / 1000:.2f}' for t in times[name])} s")
    print(f"ratio {ratio:.1f}x with the server counting every time, {naive_ms / warm:.1f}x with the scene cached "
          f"(target >= {TARGET_RATIO:g}x)")
    print(f"against FastMarkerCluster {fast_ratio:.1f}x cold, {fast_ms / warm:.1f}x with the scene cached "
          f"(target >= {TARGET_FAST_RATIO:g}x)")
    print(f"HTML: ours {len(ours) / 1e6:.2f} MB (limit {LIMIT_MB:g} MB), naive {len(html.encode()) / 1e6:.1f} MB, "
          f"FastMarkerCluster {len(fast.encode()) / 1e6:.1f} MB")
    ok = ratio >= TARGET_RATIO and fast_ratio >= TARGET_FAST_RATIO and len(ours) / 1e6 < LIMIT_MB
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
