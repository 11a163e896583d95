"""Format negotiation (`f=` first, then Accept) and the responses for each format."""
from __future__ import annotations

import msgspec
from flask import Response, render_template, request

from geomap.errors import BadRequest

ACCEPT = {"application/geo+json": "json", "application/json": "json", "text/html": "html", "text/csv": "csv",
          "application/vnd.google-earth.kml+xml": "kml", "application/geopackage+sqlite3": "gpkg",
          "text/markdown": "md", "application/pdf": "pdf",
          "application/geo+json-seq": "geojsonseq", "application/flatgeobuf": "fgb"}
_CHOSEN: dict[tuple[str | None, tuple[str, ...]], str] = {}  # by Accept header and formats allowed
_CHOSEN_MAX = 256  # distinct Accept headers kept; past it, the table starts again


def negotiate(allowed: tuple[str, ...] = ("json", "html")) -> str:
    """The format asked for: `f` if given (validated), else the best Accept match, else JSON."""
    fmt = request.args.get("f")
    if fmt is not None:
        if fmt not in allowed:
            raise BadRequest(f"f: must be one of {', '.join(allowed)}; got {fmt!r}")
        return "json" if fmt == "geojson" else fmt
    # Clients send few distinct Accept headers: each one's choice is made once per process (the
    # header parsed and matched was a tenth of an items request's Python beyond its read, issue 16).
    key = (request.environ.get("HTTP_ACCEPT"), allowed)
    chosen = _CHOSEN.get(key)
    if chosen is None:
        offered = [media for media, name in ACCEPT.items() if name in allowed]
        # Ties (e.g. curl's */*) go to the first offered: GeoJSON.
        chosen = ACCEPT[request.accept_mimetypes.best_match(offered, default="application/geo+json")]
        if len(_CHOSEN) >= _CHOSEN_MAX:
            _CHOSEN.clear()
        _CHOSEN[key] = chosen
    return chosen


def json_response(data: dict, media_type: str = "application/json", status: int = 200) -> Response:
    """`data` encoded as JSON, with the given media type and status."""
    return Response(msgspec.json.encode(data), status=status, mimetype=media_type)


def raw_json(body: str, media_type: str = "application/geo+json") -> Response:
    """JSON text written elsewhere (e.g. by the database), sent as it is rather than decoded and encoded again."""
    return Response(body, mimetype=media_type)


def html(template: str, **context) -> Response:
    """The template rendered as an HTML response."""
    return Response(render_template(template, **context), mimetype="text/html")


def respond(data: dict, fmt: str, template: str, media_type: str = "application/json", **context) -> Response:
    """`data` as the HTML page of `template` when `fmt` is html, else as JSON."""
    return html(template, data=data, **context) if fmt == "html" else json_response(data, media_type)
