"""A page of items as CSV, KML, GeoPackage, a GeoJSON text sequence or FlatGeobuf
(`f=csv|kml|gpkg|geojsonseq|fgb`), written by geomap.io.writers and geomap.io.flatgeobuf."""
from __future__ import annotations

import io
import tempfile
from pathlib import Path

from flask import Response

from geomap.io import flatgeobuf, writers
from geomap.model.query import Collection


def response(fmt: str, collection: Collection, features: list[dict]) -> Response:
    """The features as a download in `fmt` (csv, kml, gpkg, geojsonseq or fgb), named after the collection."""
    if fmt == "fgb":
        body = b"".join(flatgeobuf.chunks(features, collection.id, collection.geometry_type))
    elif fmt == "gpkg":
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{collection.id}.gpkg"
            writers.write("gpkg", features, path, collection.id)
            body = path.read_bytes()
    else:
        stream = io.StringIO(newline="")
        writers.write(fmt, features, stream, collection.id)
        body = stream.getvalue()
    reply = Response(body, mimetype=writers.MEDIA_TYPES[fmt])
    reply.headers["Content-Disposition"] = f'attachment; filename="{collection.id}{writers.EXTENSIONS[fmt]}"'
    return reply
