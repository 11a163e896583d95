"""Run the app under gunicorn. The app is built once in the master (which also starts the
embedded database and validates the settings) and forked into the workers.

The workers are gevent's (one greenlet per connection): a client that sends its request or
reads its answer slowly holds a greenlet, not a worker, so a few slow or hostile clients cannot
starve the server (issue 14: two connections dripping a header line every 5 s blocked both
sync workers; 50 such connections leave /health answering in under 0.1 s here). Measured on
this machine (2 cores shared, load 4-8, 2026-12-06; bench/README.md "Server"): gthread with 8
threads per worker stalls /health behind 50 such connections (its threads block reading the
headers), waitress holds them off but runs every request on one core, gevent holds them off and
served the items page at 215-339 req/s against sync's 171-186.

Within a worker, requests interleave only where they wait: on a client's socket and, since
`_cooperative_database` (psycopg chose its blocking wait when the master imported it), on the
database; Python's own work runs one request at a time per worker. So the CPU-heavy requests
(maps, graphics, the context report) do not run here: `geomap.render` passes them to a separate
set of sync workers at a lower CPU priority, with a bounded queue (503 and Retry-After beyond),
so a map that takes a second of CPU no longer holds up every read of its worker (README
"Concurrency", bench/README "load.py").

Policy (see README "Exposure"): at most WORKER_CONNECTIONS open connections per worker; a
request line of at most MAX_REQUEST_LINE bytes (a longer URL is a 414 problem document), at
most 100 header fields of 8 KB; bodies up to GEOMAP_MAX_CONTENT_LENGTH (413); a request's line
and headers must arrive within KEEPALIVE_S (gunicorn's gevent worker reads them under that
timeout: a slowloris connection is closed after it, and KEEPALIVE_S must not be 0, which would
lift it), as must the next request on a kept-alive connection; a worker stuck longer than TIMEOUT_S in one request is
restarted. No gunicorn control socket: several `geomap serve` of one user do not share one.
"""
from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket
import sys
import warnings

import msgspec
from gunicorn import glogging, util
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from geomap.db.engine import cooperative_waits

WORKER_CLASS = "gevent"
WORKER_CONNECTIONS = 1000
MAX_REQUEST_LINE = 4096 + len("GET  HTTP/1.1")  # a URL over 4 KB is refused (414)
KEEPALIVE_S = 5  # also the time a request's head may take (see above): never 0
TIMEOUT_S = 120  # a map of a large area can take tens of seconds on a busy machine
SECRET_PARAMS = re.compile(r"(?i)((?:^|&)(?:[\w.-]*token|access_token|api_key|apikey|key|password|secret)=)[^&]*")


class _Arbiter(Arbiter):
    """gunicorn's master, which also starts the render tier again when it has died."""

    def manage_workers(self) -> None:
        """Keep the front's workers, and the render tier (called about once a second)."""
        super().manage_workers()
        if self.app.tier is not None:
            self.app.tier.check()


class _Server(BaseApplication):
    def __init__(self, options: dict[str, object], public_url: str, tier=None):
        self.options = options
        self.public_url = public_url
        self.tier = tier
        super().__init__()

    def run(self) -> None:
        """gunicorn's BaseApplication.run with this module's arbiter."""
        try:
            _Arbiter(self).run()
        except RuntimeError as exc:
            sys.exit(f"\nError: {exc}\n")

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # control_socket_disable: gunicorn 24 and later have a control socket
                self.cfg.set(key, value)

    def load(self):
        from geomap import create_app, render

        app = self.flask_app = create_app(default_public_url=self.public_url)
        if self.tier is None:
            return app
        return render.RenderProxy(app, self.tier.socket_path, render.PENDING, TIMEOUT_S)


def _cooperative_database(worker) -> None:
    """gunicorn's post_worker_init, after the gevent worker's monkey-patching: psycopg waits for
    the database through gevent (it chose its blocking wait when the master imported it), so a
    request waiting for a query or a commit lets the worker's other requests run; the pool is
    made anew, its locks gevent's, so a request waiting for a connection waits as a greenlet."""
    from gevent import monkey

    if not monkey.is_module_patched("select"):
        return
    cooperative_waits()
    worker.app.flask_app.extensions["geomap.engine"].dispose(close=False)


def redact(query: str) -> str:
    """`query` with the values of parameters that look like secrets replaced by "REDACTED".

    >>> redact("f=json&token=abc&x=1")
    'f=json&token=REDACTED&x=1'
    """
    return SECRET_PARAMS.sub(r"\1REDACTED", query)


class RedactingLogger(glogging.Logger):
    """gunicorn's logger, with secrets in query strings (a token a client put in the URL) left out of the access log."""

    def atoms(self, resp, req, environ, request_time):
        """The access log's fields, the request line and query string redacted."""
        atoms = super().atoms(resp, req, environ, request_time)
        path, sep, query = environ.get("RAW_URI", "").partition("?")
        if sep:
            atoms["r"] = f"{environ['REQUEST_METHOD']} {path}?{redact(query)} {environ['SERVER_PROTOCOL']}"
        atoms["q"] = redact(environ.get("QUERY_STRING", ""))
        return atoms


def _write_problem(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's answer to a request it refuses before the app sees it (a request line over the
    limit, too many headers, a malformed request), as a problem document like every other error."""
    from geomap.api.problems import TYPE_BASE

    slug = reason.lower().replace(" ", "-")
    body = msgspec.json.encode({"type": TYPE_BASE + slug, "title": reason, "status": status_int,
                                "detail": _detail(status_int, mesg)})
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/problem+json\r\n"
            f"X-Content-Type-Options: nosniff\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


def _detail(status: int, message: str) -> str:
    if status == 414:
        return f"the URL is over the limit of {MAX_REQUEST_LINE - len('GET  HTTP/1.1')} bytes; send fewer or shorter parameters"
    if status == 431:
        return "the request's header fields are too many or too large"
    return message[:200]


def public_url_for(host: str, port: int) -> str:
    """The public URL a server bound to `host`:`port` names when GEOMAP_PUBLIC_URL is unset:
    that address, or this machine's name for a wildcard address (0.0.0.0, ::)."""
    try:
        wildcard = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        wildcard = False
    name = socket.getfqdn() if wildcard else host
    name = f"[{name}]" if ":" in name else name
    return f"http://{name}:{port}"


def options(host: str, port: int, workers: int) -> dict[str, object]:
    """gunicorn's settings for `geomap serve` (the policy in this module's docstring)."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return {"bind": bind, "workers": workers, "preload_app": True, "accesslog": "-", "errorlog": "-",
            "worker_class": WORKER_CLASS, "worker_connections": WORKER_CONNECTIONS, "timeout": TIMEOUT_S,
            "keepalive": KEEPALIVE_S, "graceful_timeout": 10, "limit_request_line": MAX_REQUEST_LINE,
            "limit_request_fields": 100, "limit_request_field_size": 8190, "logger_class": RedactingLogger,
            "control_socket_disable": True, "post_worker_init": _cooperative_database}


def serve(host: str, port: int, workers: int, public_url: str | None = None, render_workers: int = 0) -> None:
    """Serve the app on `host`:`port` with `workers` gunicorn workers, logging requests to stdout,
    and the heavy requests on `render_workers` more (`geomap.render`; 0: in the same workers).
    Links name GEOMAP_PUBLIC_URL when set, else `public_url_for(host, port)`."""
    util.write_error = _write_problem  # gunicorn's own refusals (414, 431, 400) as problem documents
    # The workers patch ssl after the preloaded app imported it (urllib3, through folium); a
    # worker opens no TLS connection, so gevent's warning about it is noise in the log.
    warnings.filterwarnings("ignore", message="Monkey-patching ssl after ssl", module="gunicorn.workers.ggevent")
    public_url = public_url or public_url_for(host, port)
    settings = options(host, port, workers)
    if not render_workers:
        _Server(settings, public_url).run()
        return
    from geomap import render

    private, master = render.private_directory(), os.getpid()
    tier = render.Tier(str(private / "render.sock"), render_workers, public_url)
    settings["when_ready"] = lambda arbiter: tier.start()  # the front serves while the tier boots
    settings["on_exit"] = lambda arbiter: tier.stop()
    try:
        _Server(settings, public_url, tier).run()
    finally:  # a front worker's exit passes here too: only the master removes the directory
        if os.getpid() == master:
            shutil.rmtree(private, ignore_errors=True)
