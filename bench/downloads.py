"""Whole-collection downloads over HTTP: time, size and the serving worker's peak memory, at two
sizes, to show memory stays flat (geomap.api.downloads).

    flock /tmp/geomap-bench.lock .venv/bin/python bench/downloads.py [--sizes 100000,1000000]
                                 [--formats geojson,geojsonseq,csv,gpkg,fgb] [--seed 1]

For each size, builds or reuses `bench_<N>_<seed>` (bench/synth.py), then for each format starts
geomap under gunicorn (one worker, gthread, as `geomap serve` runs it) on a free loopback port,
downloads `/collections/incidents/download?f=FORMAT` (every incident) reading it in 1 MiB pieces
and throwing them away, and reads the worker's peak resident memory (VmHWM in /proc: the worker
is new for each download, so its peak is that download's) and its memory before the download.
Prints one line per download with the load average, and per format the ratio of the peak at the
largest size to the peak at the smallest (flat: about 1).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import api  # noqa: E402  (bench/api.py: the gunicorn server helper)
import synth  # noqa: E402

from geomap.db.cluster import Cluster  # noqa: E402

PIECE = 1 << 20


def worker_pid(master: int) -> int:
    """The gunicorn worker forked by `master` (one worker)."""
    for _ in range(100):
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn master {master} has no worker")


def memory_mb(pid: int, field: str) -> float:
    """A memory figure of /proc/PID/status (VmRSS, VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


def download(port: int, fmt: str) -> tuple[float, int]:
    """Seconds and bytes of one whole download."""
    started, size = time.perf_counter(), 0
    url = f"http://127.0.0.1:{port}/collections/incidents/download?f={fmt}"
    with urllib.request.urlopen(url, timeout=3600) as response:
        while piece := response.read(PIECE):
            size += len(piece)
    return time.perf_counter() - started, size


def measure(cluster: Cluster, db: str, fmt: str) -> dict:
    port = api.free_port()
    argv = [str(Path(sys.executable).parent / "gunicorn"), "geomap:create_app()", "--bind", f"127.0.0.1:{port}",
            "--workers", "1", "--worker-class", "gthread", "--threads", "4", "--timeout", "120",
            "--log-level", "warning"]
    server = api.Server(f"downloads-{fmt}", argv, dict(os.environ, DATABASE_URL=cluster.url(db)), port)
    server.start()
    try:
        server.wait_ready("/health")
        worker = worker_pid(server.process.pid)
        before = memory_mb(worker, "VmRSS")
        seconds, size = download(port, fmt)
        return {"format": fmt, "seconds": seconds, "mb": size / 1e6, "rss_before_mb": before,
                "peak_mb": memory_mb(worker, "VmHWM"), "load": os.getloadavg()}
    finally:
        server.stop()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--formats", default="geojson,geojsonseq,csv,gpkg,fgb")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    cluster = Cluster(synth.BENCH_HOME)
    synth.start_like_us(cluster)
    sizes = [int(s) for s in args.sizes.split(",")]
    peaks: dict[tuple[int, str], float] = {}
    for n in sizes:
        synth.build(cluster, n, args.seed)
        for fmt in args.formats.split(","):
            m = measure(cluster, synth.database_name(n, args.seed), fmt)
            peaks[n, fmt] = m["peak_mb"]
            print(f"{n:>9,} {fmt:<10} {m['seconds']:8.1f} s {m['mb']:9.1f} MB  worker RSS {m['rss_before_mb']:6.1f} MB "
                  f"before, peak {m['peak_mb']:6.1f} MB  load {' '.join(f'{x:.2f}' for x in m['load'])}", flush=True)
    for fmt in args.formats.split(","):
        print(f"peak at {sizes[-1]:,} / peak at {sizes[0]:,}, {fmt}: {peaks[sizes[-1], fmt] / peaks[sizes[0], fmt]:.2f}")


if __name__ == "__main__":
    main()
