"""The render tier of `geomap serve`: the CPU-heavy requests (maps and their graphics, the
context report and its PDF) run in a separate set of processes, so they never stall the reads.

Why (issue 14, bench/README "load.py"): a gevent worker runs one request at a time (psycopg
and matplotlib block it), so a map that takes a second of CPU held up every read queued in
its worker: under a mixed load, items answered in 30 ms at the median and 7.5 s at the p99.

How: the front workers (gevent, the ones clients talk to) pass a heavy request to the render
tier, a gunicorn of sync workers on a Unix socket in a private directory, through `RenderProxy`,
and wait for it cooperatively (a gevent socket), serving other requests meanwhile. The render
tier runs at a lower CPU priority than the front, its database connections' server processes
too (nice +10, or the normal policy when the server runs under a real-time one: `lower_priority`),
so reads keep the cores when both want them. The server starts the tier again when it has died.
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
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgspec
from gunicorn.app.base import BaseApplication

# The endpoints that draw or print: seconds of CPU for one request.
HEAVY = re.compile(r"/maps(?:\.(?:png|svg|pdf))?|/maps/incidents/[^/]+|/collections/incidents/items/[^/]+/context"
                   r"|/stories/[^/]+\.(?:png|svg|pdf)")
RETRY_AFTER_S = 2  # about one map's time on this machine
PENDING = 4  # heavy requests in flight per front worker, waiting or drawing
# How long a heavy request waits for a tier that is starting, at the server's start or after
# it died: it boots in 1-5 s here, about a minute at a load of 12-15 (when the front waited for
# it before serving anything, /health did not answer for that minute).
STARTING_S = 30
NICE = 10
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade"}
CHUNK = 65536
STABLE_S = 30  # a tier that ended sooner after its start is started again after a growing delay
MAX_DELAY_S = 30
DIRECTORY_PREFIX = "geomap-render-"


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
            _connect(conn, time.monotonic() + STARTING_S)
            response = _forward(conn, environ)
        except (OSError, http.client.HTTPException):  # no tier, or a worker that died drawing (gunicorn's timeout)
            conn.close()
            self.slots.release()
            return _busy(start_response, "renderer-unavailable", "the map renderer is not reachable; try again shortly")
        start_response(f"{response.status} {response.reason}",
                       [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP])
        return _drained(conn, response, self.slots.release)


def _connect(conn: _UnixConnection, deadline: float) -> None:
    """Connect to the tier, waiting while it is (re)starting: its socket not there yet, or not
    accepting (a killed tier's). In a front worker the wait is gevent's: other requests go on."""
    while True:
        try:
            conn.connect()
            return
        except (FileNotFoundError, ConnectionRefusedError):
            conn.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


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


class Tier:
    """The render tier as a child process of `geomap serve` that dies with it, and is started
    again when it has died (`check`, which the server's arbiter calls about once a second)."""

    def __init__(self, socket_path: str, workers: int, public_url: str):
        self.argv = [sys.executable, "-m", "geomap.render", str(os.getpid()), socket_path, str(workers), public_url]
        self.socket_path = socket_path
        self.process: subprocess.Popen | None = None
        self.started, self.delay, self.due = 0.0, 0.0, None

    def start(self) -> None:
        """Start the tier, without waiting for it: the front serves meanwhile, and a heavy
        request waits for the tier to accept (`STARTING_S`). One that fails to start is started
        again by `check`."""
        self.process, self.started = subprocess.Popen(self.argv), time.monotonic()

    def check(self) -> None:
        """Start the tier again if it has died (its master killed, out of memory): at once, or,
        when it died within STABLE_S of its start, after twice the last delay (1 s to MAX_DELAY_S),
        so that a tier that cannot start does not take a core doing so. Until then heavy requests
        wait for it (`STARTING_S`), then are 503s (`renderer-unavailable`)."""
        if self.process is None or self.process.poll() is None:  # poll: 0 once gunicorn's arbiter has reaped it
            return
        now = time.monotonic()
        if self.due is None:
            quick = now - self.started < STABLE_S
            self.delay = min(MAX_DELAY_S, max(1.0, 2 * self.delay)) if quick else 0.0
            self.due = now + self.delay
            print(f"geomap: the render tier ended (exit status {self.process.returncode}); starting it again in "
                  f"{self.delay:.0f} s", file=sys.stderr)
        if now >= self.due:
            self.due = None
            self.start()

    def stop(self) -> None:
        """End the tier: gracefully (its workers finish their request), else by force after 15 s."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        except ChildProcessError:  # reaped by gunicorn's arbiter already
            pass


def private_directory() -> Path:
    """A new directory for the tier's socket (mode 0700: the tier is this user's alone), named
    after this server's pid. The tier removes it when the server is killed; those left by servers
    killed together with their tier (kill -9 of the process group) are removed here.
    """
    temporary = Path(tempfile.gettempdir())
    for old in temporary.glob(f"{DIRECTORY_PREFIX}*"):
        pid = old.name[len(DIRECTORY_PREFIX):].partition("-")[0]
        try:
            mine = old.lstat().st_uid == os.getuid() and old.is_dir()
        except OSError:
            continue
        if mine and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{DIRECTORY_PREFIX}{os.getpid()}-", dir=temporary))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def lower_priority(pid: int = 0) -> None:
    """Put process `pid` (0: this one) below the front: nice +NICE, or, under a real-time
    policy (the benchmarks run under `chrt -r`), out of it to the normal one. Not one real-time
    priority lower: a real-time tier that keeps the cores busy trips the kernel's real-time
    throttling (sched_rt_runtime_us, 0.95 s of every second), which stops every real-time
    task, the front and the database included, for the rest of the second (bench/README "load.py")."""
    if os.sched_getscheduler(pid) in (os.SCHED_RR, os.SCHED_FIFO):
        os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
    else:
        os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, pid) + NICE)


class _Tier(BaseApplication):
    def __init__(self, socket_path: str, workers: int, public_url: str):
        from geomap import server

        self.public_url = public_url
        self.options = {"bind": f"unix:{socket_path}", "workers": workers, "worker_class": "sync",
                        "preload_app": True, "timeout": server.TIMEOUT_S, "graceful_timeout": 10,
                        "accesslog": None, "errorlog": "-", "proc_name": "geomap-render",
                        "limit_request_line": server.MAX_REQUEST_LINE, "control_socket_disable": True,
                        "post_fork": _post_fork, "worker_exit": _worker_exit}
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        from geomap import create_app
        from geomap.db.engine import on_local_backend

        app = self.flask_app = create_app(default_public_url=self.public_url)
        # a map's SQL at the tier's priority too, not on equal terms with the reads'
        on_local_backend(app.extensions["geomap.engine"], lower_priority)
        return app


def _post_fork(arbiter, worker) -> None:
    from geomap.io.parallel import die_with_parent

    die_with_parent(arbiter.pid)  # a killed tier leaves no worker behind
    # a pool of its own: not the connections the master opened while building the app (shared
    # by every worker, they would mix their queries), each new one at the tier's priority
    arbiter.app.flask_app.extensions["geomap.engine"].dispose(close=False)


def _worker_exit(arbiter, worker) -> None:
    """A render worker that has finished ends at once: tearing down its interpreter (the app,
    matplotlib, their caches) took seconds at the tier's low priority on a busy machine, which
    held up the tier's stop. A worker that failed to boot keeps its exit status for gunicorn."""
    if worker.booted:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def main(argv: list[str]) -> None:
    """Run the render tier for the `geomap serve` whose pid is argv[0] (see the module's docstring)."""
    from geomap.io.parallel import die_with_parent

    parent, socket_path, workers, public_url = argv
    die_with_parent(int(parent), signal.SIGTERM)  # a killed `geomap serve` leaves no render tier behind
    lower_priority()
    tier = os.getpid()
    try:
        _Tier(socket_path, int(workers), public_url).run()
    finally:  # in the tier's master only (a worker's exit passes here too), once the server was killed
        if os.getpid() == tier and os.getppid() != int(parent):  # nobody else will remove the socket's directory
            shutil.rmtree(Path(socket_path).parent, ignore_errors=True)
            sys.stderr.flush()
            os._exit(0)  # and nobody waits for its status: no teardown of the interpreter (as `_worker_exit`)


if __name__ == "__main__":
    main(sys.argv[1:])
