"""Writers for exports: GeoJSON, GeoJSON text sequences, CSV, KML and GeoPackage.

Each takes an iterable of GeoJSON Feature dicts, the shape `geojson.to_feature` and
`geomap.db.features.stream` produce (properties exactly the data model's), consumes it once
(so an export streams in bounded memory) and returns how many features it wrote:

    write_geojson(features, stream, collection)      text stream
    write_geojsonseq(features, stream, collection)   text stream, RFC 8142
    write_csv(features, stream, collection)          text stream (open it with newline="")
    write_kml(features, stream, collection)          text stream
    write_gpkg(features, path, collection)           a file path (GeoPackage is SQLite)

`write(fmt, features, target, collection)` picks one by name; `MEDIA_TYPES` and `EXTENSIONS`
name what HTTP and file names need.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import IO, Any

import msgspec
import shapely
from shapely.geometry import shape

from geomap.io import spreadsheet
from geomap.io.gpkg import write_gpkg
from geomap.io.kml import write_kml

FORMATS = ("geojson", "geojsonseq", "csv", "kml", "gpkg")
MEDIA_TYPES = {"geojson": "application/geo+json", "geojsonseq": "application/geo+json-seq", "csv": "text/csv",
               "kml": "application/vnd.google-earth.kml+xml", "gpkg": "application/geopackage+sqlite3"}
_DECODER = msgspec.json.Decoder()
EXTENSIONS = {"geojson": ".geojson", "geojsonseq": ".geojsonseq", "csv": ".csv", "kml": ".kml", "gpkg": ".gpkg"}


def write_geojson(features: Iterable[dict], stream: IO[str], collection: str | None = None) -> int:
    """A FeatureCollection with a top-level "collection" member (which `geomap import` reads)."""
    head = {"type": "FeatureCollection"} | ({"collection": collection} if collection else {})
    stream.write(msgspec.json.encode(head).decode()[:-1] + ', "features": [\n')
    count = 0
    for feature in features:
        stream.write((",\n" if count else "") + msgspec.json.encode(feature).decode())
        count += 1
    stream.write("\n]}\n")
    return count


def write_geojsonseq(features: Iterable[dict], stream: IO[str], collection: str | None = None) -> int:
    """One Feature per text: RS (0x1E), the JSON, LF (RFC 8142)."""
    count = 0
    for feature in features:
        stream.write("\x1e" + msgspec.json.encode(feature).decode() + "\n")
        count += 1
    return count


def write_csv(features: Iterable[dict], stream: IO[str], collection: str | None = None) -> int:
    """One row per feature: `id`, then `longitude` and `latitude` for points or `wkt` for other
    geometries, then the properties in order; lists and objects (sources, attributions, tags) as
    JSON, nulls as empty cells; text that a spreadsheet would run as a formula is escaped
    (`geomap.io.spreadsheet`). The columns come from the first feature."""
    iterator = iter(features)
    first = next(iterator, None)
    if first is None:
        return 0
    point = first["geometry"] is not None and first["geometry"]["type"] == "Point"
    names = list(first["properties"])
    writer = spreadsheet.Writer(stream)
    writer.writerow(["id", *(["longitude", "latitude"] if point else ["wkt"]), *names])
    count = 0
    for feature in chain([first], iterator):
        geometry = feature["geometry"]
        where = geometry["coordinates"][:2] if point else \
            [shapely.to_wkt(shape(geometry), rounding_precision=-1) if geometry else ""]
        writer.writerow([feature["id"], *where, *(_cell(feature["properties"].get(n)) for n in names)])
        count += 1
    return count


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return msgspec.json.encode(value).decode()
    return value


TEXT_WRITERS = {"geojson": write_geojson, "geojsonseq": write_geojsonseq, "csv": write_csv, "kml": write_kml}


def write(fmt: str, features: Iterable[dict], target: Path | IO[str], collection: str) -> int:
    """Write `features` in format `fmt` to a path (or, except for gpkg, a text stream)."""
    if fmt == "gpkg":
        return write_gpkg(features, Path(target), collection)
    if fmt not in TEXT_WRITERS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if isinstance(target, (str, Path)):
        with open(target, "w", encoding="utf-8", newline="") as stream:
            return TEXT_WRITERS[fmt](features, stream, collection)
    return TEXT_WRITERS[fmt](features, target, collection)


def decoded(texts: Iterable[str | bytes]) -> Iterator[dict]:
    """Feature JSON texts (as `geomap.db.features.stream` yields them) as dicts."""
    return (_DECODER.decode(text) for text in texts)
