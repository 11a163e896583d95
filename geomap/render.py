"""The render tier of `geomap serve`: the CPU-heavy requests (maps and their graphics, the
context report and its PDF) run in a separate set of processes, so they never stall the reads.

Why (issue 14, bench/README "load.py"): a gevent worker runs one request at a time (psycopg
and matplotlib block it), so a map that takes a second of CPU held up every read queued in
its worker: under a mixed load, items answered in 30 ms at the median and 7.5 s at the p99.

How: the front workers (gevent, the ones clients talk to) pass a heavy request to the render
tier, a gunicorn of sync workers on a Unix socket in a private directory, through `RenderProxy`,
and wait for it cooperatively (a gevent socket), serving other requests meanwhile. The render
tier runs at a lower CPU priority than the front (nice +10, or one real-time priority lower
when the server runs under a real-time policy), so reads keep the cores when both want them.
Each front worker lets at most `pending` heavy requests wait for or use the tier; one more is
refused at once with 503 and Retry-After (load shedding rather than an ever longer queue). The
proxy reads the tier's answer as it comes, whatever the client's pace, so a slow reader holds a
greenlet of the front, never a render worker.

    python -m geomap.render PARENT SOCKET WORKERS PUBLIC_URL    (started by `geomap serve`, never by hand)
"""
from __future__ import annotations

import http.client
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time

import msgspec
from gunicorn.app.base import BaseApplication

# The endpoints that draw or print: seconds of CPU for one request.
HEAVY = re.compile(r"/maps(?:\.(?:png|svg|pdf))?|/maps/incidents/[^/]+|/collections/incidents/items/[^/]+/context"
                   r"|/stories/[^/]+\.(?:png|svg|pdf)")
RETRY_AFTER_S = 2  # about one map's time on this machine
PENDING = 4  # heavy requests in flight per front worker, waiting or drawing
NICE = 10
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade"}
CHUNK = 65536


def is_heavy(path: str) -> bool:
    """Whether a request for `path` (PATH_INFO) goes to the render tier.

    >>> [is_heavy(p) for p in ("/maps", "/maps.png", "/maps/incidents/k1", "/maps/assets/x.js", "/collections")]
    [True, True, True, False, False]
    >>> [is_heavy(p) for p in ("/stories/k1.png", "/stories/k1.pdf", "/stories/k1", "/stories")]
    [True, True, False, False]
    """
    return HEAVY.fullmatch(path) is not None


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # gevent's in a gevent worker
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class RenderProxy:
    """WSGI middleware of the front: heavy requests to the render tier at `socket_path`, the
    rest to `app`. At most `pending` heavy requests in flight per process; more are a 503."""

    def __init__(self, app, socket_path: str, pending: int, timeout: float):
        self.app, self.socket_path, self.timeout = app, socket_path, timeout
        self.slots = threading.BoundedSemaphore(pending)  # only ever tried without blocking

    def __call__(self, environ, start_response):
        if not is_heavy(environ.get("PATH_INFO", "")):
            return self.app(environ, start_response)
        if not self.slots.acquire(blocking=False):
            return _busy(start_response, "renderer-busy", "every map renderer is busy; try again shortly")
        conn = _UnixConnection(self.socket_path, self.timeout)
        try:
            response = _forward(conn, environ)
        except (OSError, http.client.HTTPException):  # no tier, or a worker that died drawing (gunicorn's timeout)
            conn.close()
            self.slots.release()
            return _busy(start_response, "renderer-unavailable", "the map renderer is not reachable; try again shortly")
        start_response(f"{response.status} {response.reason}",
                       [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP])
        return _drained(conn, response, self.slots.release)


def _forward(conn: _UnixConnection, environ) -> http.client.HTTPResponse:
    """Send the request in `environ` on `conn` as it came (its Host header included), and read the answer's head."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else None
    path = environ.get("RAW_URI") or environ.get("PATH_INFO", "/") + (
        "?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")
    conn.putrequest(environ["REQUEST_METHOD"], path, skip_host=True, skip_accept_encoding=True)
    for key, value in environ.items():
        if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in HOP_BY_HOP:
            conn.putheader(key[5:].replace("_", "-"), value)
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            conn.putheader(name, environ[key])
    conn.putheader("Connection", "close")
    conn.endheaders(body)
    return conn.getresponse()


def _drained(conn, response, done):
    """The answer's body as it comes. A reader (a greenlet under gevent), started at once, empties
    the render worker's socket into memory at the worker's pace, so the worker and the slot are
    free when it has written, whether or not the client reads, or the body is ever asked for."""
    parts: queue.SimpleQueue = queue.SimpleQueue()

    def read() -> None:
        try:
            while part := response.read1(CHUNK):
                parts.put(part)
        except OSError as exc:
            parts.put(exc)
        finally:
            parts.put(None)
            conn.close()
            done()

    threading.Thread(target=read, daemon=True, name="geomap-render-reader").start()
    return _parts(parts)


def _parts(parts: queue.SimpleQueue):
    while (part := parts.get()) is not None:
        if isinstance(part, Exception):  # the status has gone out: end the answer short, as a dropped connection
            raise part
        yield part


def _busy(start_response, slug: str, detail: str):
    from geomap.api.problems import MEDIA_TYPE, TYPE_BASE

    body = msgspec.json.encode({"type": TYPE_BASE + slug, "title": "Service Unavailable", "status": 503,
                                "detail": detail})
    start_response("503 Service Unavailable", [("Content-Type", MEDIA_TYPE), ("Retry-After", str(RETRY_AFTER_S)),
                                               ("X-Content-Type-Options", "nosniff"),
                                               ("Content-Length", str(len(body)))])
    return [body]


def start(socket_path: str, workers: int, public_url: str) -> subprocess.Popen:
    """The render tier as a child process that dies with this one; returns once it accepts on
    `socket_path` (or has failed: then heavy requests are 503s, said in the log)."""
    process = subprocess.Popen([sys.executable, "-m", "geomap.render", str(os.getpid()), socket_path, str(workers),
                                public_url])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(socket_path)
            return process
        except OSError:
            time.sleep(0.1)
    print(f"geomap: the render tier did not start (exit status {process.poll()}); maps answer 503", file=sys.stderr)
    return process


def stop(process: subprocess.Popen) -> None:
    """End the render tier: gracefully (its workers finish their request), else by force after 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    except ChildProcessError:  # reaped by gunicorn's arbiter already
        pass


def lower_priority() -> None:
    """Below the front: nice +NICE, or one real-time priority lower under a real-time policy
    (the benchmarks run under `chrt -r`), where nice has no effect."""
    policy = os.sched_getscheduler(0)
    if policy in (os.SCHED_RR, os.SCHED_FIFO):
        priority = os.sched_getparam(0).sched_priority
        if priority > 1:
            os.sched_setscheduler(0, policy, os.sched_param(priority - 1))
        else:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    os.nice(NICE)


class _Tier(BaseApplication):
    def __init__(self, socket_path: str, workers: int, public_url: str):
        from geomap import server

        self.public_url = public_url
        self.options = {"bind": f"unix:{socket_path}", "workers": workers, "worker_class": "sync",
                        "preload_app": True, "timeout": server.TIMEOUT_S, "graceful_timeout": 10,
                        "accesslog": None, "errorlog": "-", "proc_name": "geomap-render",
                        "limit_request_line": server.MAX_REQUEST_LINE, "control_socket_disable": True,
                        "post_fork": _post_fork}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        from geomap import create_app

        return create_app(default_public_url=self.public_url)


def _post_fork(arbiter, worker) -> None:
    from geomap.io.parallel import die_with_parent

    die_with_parent(arbiter.pid)  # a killed tier leaves no worker behind


def main(argv: list[str]) -> None:
    """Run the render tier for the `geomap serve` whose pid is argv[0] (see the module's docstring)."""
    from geomap.io.parallel import die_with_parent

    parent, socket_path, workers, public_url = argv
    die_with_parent(int(parent))  # a killed `geomap serve` leaves no render tier behind
    lower_priority()
    _Tier(socket_path, int(workers), public_url).run()


if __name__ == "__main__":
    main(sys.argv[1:])
