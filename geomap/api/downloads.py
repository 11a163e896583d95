"""Whole-collection downloads: every feature that matches, streamed in flat memory.

`GET /collections/{id}/download?f=geojson|geojsonseq|csv|gpkg|fgb` takes the items endpoint's
filters (bbox, datetime, equality filters, CQL2 `filter`, near/radius, sortby, crs for the
GeoJSON forms) but no `limit` or `offset`: the answer holds every match, however many. The
database sends the rows through a server-side cursor, in batches (`geomap.db.features.stream`);
GeoJSON and text sequences pass PostgreSQL's feature text through undecoded, CSV and
FlatGeobuf write each feature as it comes (`geomap.io.writers`, `geomap.io.flatgeobuf`), and
the response goes out in pieces of about 64 KiB. A GeoPackage is an SQLite database, which
cannot be written as a stream: it is written to a temporary file, which is then sent and
deleted. Every parameter is checked, and the query built, before the first byte is sent, so
a bad value is a 400 problem document and never a cut-off download.
"""
from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from flask import Blueprint, Response, request
from sqlalchemy import Engine

from geomap.api import crs, engine, params
from geomap.api.formats import negotiate
from geomap.api.ogc import collection_or_404
from geomap.db import features
from geomap.io import flatgeobuf, writers
from geomap.model.query import Collection, FeatureQuery, Page

blueprint = Blueprint("downloads", __name__)
FORMATS = ("geojson", "json", "geojsonseq", "csv", "gpkg", "fgb")
PIECE = 1 << 16  # bytes sent at a time
BATCH = 2000  # rows fetched from the server-side cursor at a time
FILE_PIECE = 1 << 20


@blueprint.get("/collections/<cid>/download")
def download(cid: str) -> Response:
    """GET /collections/{id}/download: every matching feature, as a file in `f`'s format."""
    c = collection_or_404(cid)
    fmt = negotiate(FORMATS)
    fmt = "geojson" if fmt == "json" else fmt
    query = download_query(c, request.args.to_dict())
    crs.check_format(query.crs, fmt)
    features.statement(query)  # a filter the database cannot run is refused now, not mid-stream
    body = pieces(fmt, c, query, engine())
    reply = crs.header(Response(chunked(body), mimetype=writers.MEDIA_TYPES[fmt]), query.crs)
    reply.headers["Content-Disposition"] = f'attachment; filename="{c.id}{writers.EXTENSIONS[fmt]}"'
    return reply


def download_query(c: Collection, args: dict[str, str]) -> FeatureQuery:
    """The items query of the download's parameters, for every matching feature."""
    for name in ("limit", "offset", "cursor", "resultType"):
        if name in args:
            raise params.parameter_error(name, "a download holds every matching feature; "
                                               "page through /items for part of them")
    return dataclasses.replace(params.feature_query(c, args), page=Page(limit=None))


def rows(db: Engine, query: FeatureQuery) -> Iterator[str]:
    """The features' JSON texts, read through a server-side cursor on a connection of their own
    (closed when the download ends or the client goes away)."""
    with db.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(features.statement(query))
        with result:  # closes the server-side cursor, also when the download is abandoned
            yield from result.scalars()


def pieces(fmt: str, c: Collection, query: FeatureQuery, db: Engine) -> Iterator[str | bytes]:
    """The download in `fmt`, piece by piece."""
    texts = rows(db, query)
    if fmt in ("geojson", "geojsonseq"):
        return writers.TEXTS[fmt](texts, c.id)
    if fmt == "csv":
        return writers.csv_texts(writers.decoded(texts), c.id)
    if fmt == "fgb":
        return flatgeobuf.chunks(writers.decoded(texts), c.id, c.geometry_type)
    return geopackage(writers.decoded(texts), c)


def geopackage(items: Iterable[dict], c: Collection) -> Iterator[bytes]:
    """A GeoPackage written to a temporary file, then read out; the file is deleted at the end."""
    with tempfile.TemporaryDirectory(prefix="geomap-download-") as folder:
        path = Path(folder) / f"{c.id}.gpkg"
        writers.write_gpkg(items, path, c.id, c.geometry_type)
        with open(path, "rb") as stream:
            while piece := stream.read(FILE_PIECE):
                yield piece


def chunked(items: Iterable[str | bytes], size: int = PIECE) -> Iterator[bytes]:
    """The pieces as UTF-8 bytes, joined into pieces of at least `size` bytes (but the last)."""
    buffer: list[bytes] = []
    length = 0
    for item in items:
        data = item.encode() if isinstance(item, str) else item
        buffer.append(data)
        length += len(data)
        if length >= size:
            yield b"".join(buffer)
            buffer, length = [], 0
            # Under `geomap serve`'s gevent workers, a pause: the worker's heartbeat and its other
            # connections get their turn, so a download streaming for minutes is not taken for a
            # hung worker at gunicorn's timeout (time.sleep is gevent's there; elsewhere a no-op).
            time.sleep(0)
    if buffer:
        yield b"".join(buffer)
