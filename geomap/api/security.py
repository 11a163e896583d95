"""What every answer of the app shares for safety: its public address, its security headers and
the longest URL it reads.

- Links, `Location` headers and embed snippets name the configured public URL
  (GEOMAP_PUBLIC_URL, `geomap.config.Settings.public_url`; else the address the server is bound
  to), never the Host header a request happened to carry: `PublicURL` rewrites each request's scheme, host and path prefix before
  Flask sees them, so `request.url_root` and `url_for(_external=True)` are right everywhere.
- Every answer says `X-Content-Type-Options: nosniff`, a Content-Security-Policy that fits the
  pages (their own scripts and styles, inline ones and Function() included as the maps need
  them; pictures from the app, data/blob URLs and the two optional online basemaps; nothing
  else), no referrer beyond the origin, and may be framed only by the service itself, except embeddable
  maps (`?embed=1`), which any site may frame.
- A URL over MAX_URL bytes is a 414 problem document (gunicorn refuses longer request lines
  the same way: `geomap.server`).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request

from geomap.errors import GeomapError

MAX_URL = 4096
ONLINE_TILES = "https://tile.openstreetmap.org https://*.tile.openstreetmap.org https://server.arcgisonline.com"
# 'unsafe-eval': the measuring tool of the maps (Leaflet.Measure, served offline) compiles its
# templates with Function(); without it the interactive maps do not start.
POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
          f"img-src 'self' data: blob: {ONLINE_TILES}; font-src 'self' data:; connect-src 'self'; "
          "object-src 'none'; base-uri 'self'; form-action 'self'")


class URITooLong(GeomapError, status=414, title="URI too long"):
    """The request's URL is longer than the service reads."""


class PublicURL:
    """WSGI middleware: each request as if it had been made to `public_url` (its scheme, host and
    port, and its path as a prefix), whatever Host header or address it came with. Without a
    public URL (an app made in-process and served by something other than `geomap serve`), the
    address the server is bound to (SERVER_NAME and SERVER_PORT, which gunicorn and werkzeug take
    from the listening socket), still never the Host header."""

    def __init__(self, app, public_url: str | None):
        self.app = app
        self.fixed = _parts(public_url) if public_url else None

    def __call__(self, environ, start_response):
        """Rewrite the request's public address, then call the app."""
        for forwarded in ("HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_PREFIX",
                          "HTTP_FORWARDED"):
            environ.pop(forwarded, None)
        if self.fixed is None:
            name, port = environ.get("SERVER_NAME", "localhost"), str(environ.get("SERVER_PORT", ""))
            default = {"http": "80", "https": "443"}.get(environ.get("wsgi.url_scheme", "http"))
            environ["HTTP_HOST"] = name if port in ("", default) else f"{name}:{port}"
            return self.app(environ, start_response)
        scheme, host, name, port, prefix = self.fixed
        environ.update({"wsgi.url_scheme": scheme, "HTTP_HOST": host, "SERVER_NAME": name, "SERVER_PORT": port,
                        "SCRIPT_NAME": prefix})
        return self.app(environ, start_response)


def _parts(public_url: str) -> tuple[str, str, str, str, str]:
    """(scheme, host with port, host name, port, path prefix) of a public URL."""
    parts = urlsplit(public_url)
    port = str(parts.port or (443 if parts.scheme == "https" else 80))
    return parts.scheme, parts.netloc, parts.hostname or "", port, parts.path.rstrip("/")


def _check_length() -> None:
    size = len(request.full_path.encode()) if request.query_string else len(request.path.encode())
    if size > MAX_URL:
        raise URITooLong(f"the URL is {size} bytes, over the limit of {MAX_URL}; send fewer or shorter "
                         "parameters (a long filter can be shortened with bbox or ids)")


FRAMED_POLICY = f"{POLICY}; frame-ancestors 'self'"


def _headers(response: Response) -> Response:
    """Each header appended unless the view set it (as `Headers.setdefault`, which looks each name
    up by raising and catching a KeyError: four of them were a tenth of an items request's Python
    beyond its read, issue 16)."""
    headers = response.headers
    present = {name.lower() for name, _ in headers}
    embeddable = (request.args.get("embed") or "").lower() in ("1", "true") and response.mimetype == "text/html"
    # No frame-ancestors at all when embeddable: `*` would still refuse hosts of no network scheme
    # (a page saved to a file, an about:blank or srcdoc host), where an embed must work too.
    for name, value in (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "strict-origin-when-cross-origin"),
                        ("Content-Security-Policy", POLICY if embeddable else FRAMED_POLICY),
                        *(() if embeddable else (("X-Frame-Options", "SAMEORIGIN"),))):
        if name.lower() not in present:
            headers.add(name, value)
    return response


def init_app(app: Flask, public_url: str | None) -> None:
    """Name `public_url` (else the server's bound address) in every link; the URL limit and headers on every answer."""
    app.wsgi_app = PublicURL(app.wsgi_app, public_url)
    app.before_request(_check_length)
    app.after_request(_headers)
