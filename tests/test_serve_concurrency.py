"""The concurrency of `geomap serve` (issue 14's load target; README "Concurrency"): maps drawn
by the render tier (geomap.render) while reads answer at once, which the old model (maps in the
front workers, `--render-workers 0`) cannot do; more maps than the tier takes are 503s with
Retry-After; a killed render tier is started again by the server; a killed server leaves no
render process and no socket directory behind; a request waiting for the database does not hold
up the other requests of its worker."""
from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
from serving import free_port, get, wait_for_health

from geomap import render

BIG_MAP = "/maps.png?bbox=40,30,48,38&width=2400&height=1800"  # a second or more of CPU here
SMALL_MAP = "/maps.png?bbox=43,35,44,36&width=600&height=400"


@pytest.fixture(scope="module")
def cluster_url(cluster):
    from conftest import fresh_database

    with fresh_database(cluster) as url:
        yield url


def _serve(url: str, log: Path, render_workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "GEOMAP_HOME": str(log.parent)}
    with log.open("wb") as out:  # the server's own copy stays open
        process = subprocess.Popen([sys.executable, "-m", "geomap", "serve", "--port", str(port), "--workers", "1",
                                    "--render-workers", str(render_workers)], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    wait_for_health(base, process, log)
    return process, base


@pytest.fixture(scope="module", params=[1, 0], ids=["render-tier", "maps-in-front"])
def served(request, cluster_url, tmp_path_factory):
    log = tmp_path_factory.mktemp("render") / "serve.log"
    process, base = _serve(cluster_url, log, request.param)
    try:
        yield base, request.param
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _in_background(url: str, results: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(get(url, timeout=120)))
    thread.start()
    return thread


def test_reads_answer_while_maps_are_drawn_only_with_the_render_tier(served):
    base, render_workers = served
    assert get(base + BIG_MAP, timeout=120)[0] == 200  # warm: fonts, basemap, caches
    start = time.monotonic()
    assert get(base + BIG_MAP, timeout=120)[0] == 200
    one_map = time.monotonic() - start
    results: list = []
    maps = [_in_background(base + BIG_MAP, results) for _ in range(2)]
    time.sleep(0.2)  # the maps are being drawn
    start = time.monotonic()
    assert get(base + "/collections?f=json", timeout=120)[0] == 200
    read = time.monotonic() - start
    for thread in maps:
        thread.join()
    assert [status for status, _, _ in results] == [200, 200]
    print(f"one map {one_map:.2f} s; a read while two are drawn {read:.3f} s")
    if render_workers:
        assert read < min(1.0, one_map / 2), (read, one_map)
    else:  # the reference: the front worker draws, and the read waits for it
        assert read > one_map / 2, (read, one_map)


@pytest.mark.parametrize("served", [1], indirect=True, ids=["render-tier"])
def test_more_maps_than_the_tier_takes_are_503_with_retry_after(served):
    base, _ = served
    results: list = []
    threads = [_in_background(base + BIG_MAP, results) for _ in range(render.PENDING + 3)]
    for thread in threads:
        thread.join()
    statuses = sorted(status for status, _, _ in results)
    assert statuses.count(503) >= 3 and statuses.count(200) >= 1, statuses
    for status, headers, body in results:
        if status == 503:
            assert headers["Retry-After"] == str(render.RETRY_AFTER_S)
            assert headers["Content-Type"] == "application/problem+json"
            assert json.loads(body)["type"].endswith("/renderer-busy")
        else:
            assert headers["Content-Type"] == "image/png" and body.startswith(b"\x89PNG")


def _render_processes(server_pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"geomap.render" in argv and str(server_pid).encode() in argv:
            found.append(int(entry.name))
    return found


def _dead(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] in ("Z", "X")
    except OSError:
        return True


def _socket_directories(server_pid: int) -> list[str]:
    return glob.glob(os.path.join(tempfile.gettempdir(), f"{render.DIRECTORY_PREFIX}{server_pid}-*"))


def test_a_killed_server_leaves_no_render_process_and_no_directory(cluster_url, tmp_path):
    process, base = _serve(cluster_url, tmp_path / "serve.log", 2)
    try:
        assert get(base + SMALL_MAP, timeout=60)[0] == 200
        assert len(_render_processes(process.pid)) == 3  # the tier's arbiter and its two workers
        assert len(_socket_directories(process.pid)) == 1
    finally:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 15
    while (_render_processes(process.pid) or _socket_directories(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _render_processes(process.pid) == []
    assert _socket_directories(process.pid) == []  # the tier removed it on its way out


def test_a_killed_render_tier_is_started_again(cluster_url, tmp_path):
    """A map asked right after the tier was killed waits for the tier the server starts again
    (within `render.STARTING_S`) and is drawn: no 503 while the tier restarts."""
    process, base = _serve(cluster_url, tmp_path / "serve.log", 1)
    try:
        assert get(base + SMALL_MAP, timeout=60)[0] == 200
        killed = _render_processes(process.pid)
        assert len(killed) == 2  # the tier's arbiter and its worker
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        while not all(_dead(pid) for pid in killed):  # a map asked before would be in flight as it died: a 503
            time.sleep(0.01)
        start = time.monotonic()
        status, _, body = get(base + SMALL_MAP, timeout=60)
        print(f"a map answered {status} {time.monotonic() - start:.1f} s after the kill")
        assert status == 200, body
        assert get(base + "/health", timeout=10)[0] == 200  # the front never went away
        restarted = _render_processes(process.pid)
        assert len(restarted) == 2 and not set(restarted) & set(killed)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert _socket_directories(process.pid) == []


def test_socket_directories_of_killed_servers_are_removed_at_start():
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid no process has now (a server killed together with its tier)
    stale = Path(tempfile.mkdtemp(prefix=f"{render.DIRECTORY_PREFIX}{gone.pid}-"))
    (stale / "render.sock").touch()
    live = Path(tempfile.mkdtemp(prefix=f"{render.DIRECTORY_PREFIX}{os.getpid()}-"))  # a running server's
    try:
        fresh = render.private_directory()
        assert not stale.exists() and live.exists()
        assert fresh.name.startswith(f"{render.DIRECTORY_PREFIX}{os.getpid()}-") and fresh.stat().st_mode & 0o777 == 0o700
        fresh.rmdir()
    finally:
        live.rmdir()


def test_a_request_waiting_for_the_database_does_not_stall_its_worker(cluster_url, tmp_path):
    process, base = _serve(cluster_url, tmp_path / "serve.log", 0)  # one front worker
    try:
        with psycopg.connect(cluster_url.replace("+psycopg", "")) as conn:
            conn.execute("LOCK TABLE sites IN ACCESS EXCLUSIVE MODE")  # until this transaction ends
            results: list = []
            blocked = _in_background(base + "/collections/sites/items?f=json", results)
            time.sleep(0.5)
            start = time.monotonic()
            status = get(base + "/collections/incidents/items?f=json&limit=1", timeout=30)[0]
            elapsed = time.monotonic() - start
            assert results == []  # the sites are still locked
        blocked.join()
        assert status == 200 and elapsed < 1.0, elapsed
        assert results[0][0] == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
