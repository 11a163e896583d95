"""Writers for exports: GeoJSON, GeoJSON text sequences, CSV, KML, GeoPackage and FlatGeobuf.

Each takes an iterable of GeoJSON Feature dicts, the shape `geojson.to_feature` and
`geomap.db.features.stream` produce (properties exactly the data model's), consumes it once
(so an export streams in bounded memory) and returns how many features it wrote:

    write_geojson(features, stream, collection)      text stream
    write_geojsonseq(features, stream, collection)   text stream, RFC 8142
    write_csv(features, stream, collection)          text stream (open it with newline="")
    write_kml(features, stream, collection)          text stream
    write_gpkg(features, path, collection)           a file path (GeoPackage is SQLite)
    flatgeobuf.write_flatgeobuf(...)                 a binary stream

The text formats but KML are also generators of pieces (`TEXTS`: `geojson_texts`,
`geojsonseq_texts`, `csv_texts`), which an HTTP download sends as they come; GeoJSON and
text sequences take features as JSON text too, and pass them through undecoded.
`write(fmt, features, target, collection)` picks one by name; `MEDIA_TYPES` and `EXTENSIONS`
name what HTTP and file names need.
"""
from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import IO, Any

import msgspec
import shapely
from shapely.geometry import shape

from geomap.io import flatgeobuf, spreadsheet
from geomap.io.gpkg import write_gpkg
from geomap.io.kml import write_kml

FORMATS = ("geojson", "geojsonseq", "csv", "kml", "gpkg", "fgb")
MEDIA_TYPES = {"geojson": "application/geo+json", "geojsonseq": "application/geo+json-seq", "csv": "text/csv",
               "kml": "application/vnd.google-earth.kml+xml", "gpkg": "application/geopackage+sqlite3",
               "fgb": flatgeobuf.MEDIA_TYPE}
_DECODER = msgspec.json.Decoder()
GEOMETRY_TYPES = {"incidents": "Point", "sites": "Point", "control_zones": "MultiPolygon"}
EXTENSIONS = {"geojson": ".geojson", "geojsonseq": ".geojsonseq", "csv": ".csv", "kml": ".kml", "gpkg": ".gpkg",
              "fgb": ".fgb"}


def geojson_texts(features: Iterable[dict | str], collection: str | None = None) -> Iterator[str]:
    """A FeatureCollection with a top-level "collection" member (which `geomap import` reads),
    piece by piece; a feature given as JSON text passes through as it is."""
    head = {"type": "FeatureCollection"} | ({"collection": collection} if collection else {})
    yield msgspec.json.encode(head).decode()[:-1] + ', "features": [\n'
    separator = ""
    for feature in features:
        yield separator + _json(feature)
        separator = ",\n"
    yield "\n]}\n"


def geojsonseq_texts(features: Iterable[dict | str], collection: str | None = None) -> Iterator[str]:
    """One Feature per text: RS (0x1E), the JSON, LF (RFC 8142)."""
    for feature in features:
        yield "\x1e" + _json(feature) + "\n"


def _json(feature: dict | str) -> str:
    return feature if isinstance(feature, str) else msgspec.json.encode(feature).decode()


def csv_texts(features: Iterable[dict], collection: str | None = None, rows: int = 500) -> Iterator[str]:
    """One row per feature: `id`, then `longitude` and `latitude` for points or `wkt` for other
    geometries, then the properties in order; lists and objects (sources, attributions, tags) as
    JSON, nulls as empty cells; text that a spreadsheet would run as a formula is escaped
    (`geomap.io.spreadsheet`). The columns come from the first feature. Yields `rows` rows at a time."""
    iterator = iter(features)
    first = next(iterator, None)
    if first is None:
        return
    point = first["geometry"] is not None and first["geometry"]["type"] == "Point"
    names = list(first["properties"])
    buffer = io.StringIO(newline="")
    writer = spreadsheet.Writer(buffer)
    writer.writerow(["id", *(["longitude", "latitude"] if point else ["wkt"]), *names])
    for count, feature in enumerate(chain([first], iterator), 1):
        geometry = feature["geometry"]
        where = geometry["coordinates"][:2] if point else \
            [shapely.to_wkt(shape(geometry), rounding_precision=-1) if geometry else ""]
        writer.writerow([feature["id"], *where, *(_cell(feature["properties"].get(n)) for n in names)])
        if count % rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


class Counted:
    """The items of an iterable, counted as they pass."""

    def __init__(self, items: Iterable):
        self.count, self._items = 0, items

    def __iter__(self) -> Iterator:
        for item in self._items:
            self.count += 1
            yield item


def _writer(texts):
    def write(features: Iterable[dict], stream: IO[str], collection: str | None = None) -> int:
        counted = Counted(features)
        stream.writelines(texts(counted, collection))
        return counted.count
    write.__doc__ = f"Write the features to a text stream, as {texts.__name__} gives them; returns their number."
    return write


write_geojson = _writer(geojson_texts)
write_geojsonseq = _writer(geojsonseq_texts)
write_csv = _writer(csv_texts)  # (open the stream with newline="")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return msgspec.json.encode(value).decode()
    return value


TEXT_WRITERS = {"geojson": write_geojson, "geojsonseq": write_geojsonseq, "csv": write_csv, "kml": write_kml}
TEXTS = {"geojson": geojson_texts, "geojsonseq": geojsonseq_texts, "csv": csv_texts}


def write(fmt: str, features: Iterable[dict], target: Path | IO[str], collection: str) -> int:
    """Write `features` in format `fmt` to a path (or, except for gpkg, a text stream)."""
    if fmt == "gpkg":
        return write_gpkg(features, Path(target), collection)
    if fmt == "fgb":
        with open(target, "wb") as stream:
            return flatgeobuf.write_flatgeobuf(features, stream, collection, GEOMETRY_TYPES[collection])
    if fmt not in TEXT_WRITERS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if isinstance(target, (str, Path)):
        with open(target, "w", encoding="utf-8", newline="") as stream:
            return TEXT_WRITERS[fmt](features, stream, collection)
    return TEXT_WRITERS[fmt](features, target, collection)


def decoded(texts: Iterable[str | bytes]) -> Iterator[dict]:
    """Feature JSON texts (as `geomap.db.features.stream` yields them) as dicts."""
    return (_DECODER.decode(text) for text in texts)
