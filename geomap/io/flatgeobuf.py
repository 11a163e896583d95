"""FlatGeobuf (flatgeobuf.org, version 3) writing with the FlatBuffers runtime, streamed.

A FlatGeobuf file is 8 magic bytes, a size-prefixed FlatBuffers `Header` (geometry type,
columns, CRS, feature count, spatial index node size), an optional packed Hilbert R-tree, then
one size-prefixed `Feature` table per feature (its geometry as flat coordinate arrays, its
properties as a byte string of column index and value pairs). Written without the index
(node size 0) and with a feature count of 0 ("unknown", as the specification allows), the file
is a stream: each feature is written as it comes, in flat memory, which is what an HTTP
download of any size needs. GDAL, QGIS and the flatgeobuf JavaScript reader read such files
(the tests read them back with GDAL's ogrinfo/ogr2ogr).

The columns are the collection's record fields, typed by their kind (text String, date
DateTime, integer Long, number Double, lists and objects Json), then any other property the
first feature has (such as `distance_m`). Nulls are left out of a feature's properties.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any

import flatbuffers
import msgspec
import numpy as np

from geomap.model.records import PROPERTIES, kinds

MAGIC = b"fgb\x03fgb\x00"
MEDIA_TYPE = "application/flatgeobuf"
# ColumnType and GeometryType of the FlatGeobuf schema (header.fbs)
BOOL, LONG, DOUBLE, STRING, JSON, DATETIME = 2, 7, 10, 11, 12, 13
GEOMETRY_TYPES = {"Point": 1, "LineString": 2, "Polygon": 3, "MultiPoint": 4, "MultiLineString": 5,
                  "MultiPolygon": 6}
_COLUMN_TYPE = {"text": STRING, "date": DATETIME, "integer": LONG, "number": DOUBLE}


def columns_of(collection: str, first: dict | None) -> list[tuple[str, int]]:
    """The columns (name, ColumnType) of a collection's features: `id`, the record's fields,
    then whatever else the first feature's properties hold."""
    known = {name: _COLUMN_TYPE.get(kind, JSON) for name, kind in kinds(PROPERTIES[collection]).items()}
    extra = {name: _type_of(value) for name, value in (first or {}).get("properties", {}).items() if name not in known}
    return [("id", STRING), *known.items(), *extra.items()]


def _type_of(value: Any) -> int:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return LONG
    return DOUBLE if isinstance(value, float) else STRING if isinstance(value, str) or value is None else JSON


def chunks(features: Iterable[dict], collection: str, geometry_type: str, srid: int = 4326) -> Iterator[bytes]:
    """The FlatGeobuf file of the features, piece by piece: the magic bytes and header, then
    one piece per feature."""
    iterator = iter(features)
    first = next(iterator, None)
    columns = columns_of(collection, first)
    yield MAGIC + header(collection, GEOMETRY_TYPES[geometry_type], columns, srid)
    index = {name: (k, kind) for k, (name, kind) in enumerate(columns)}
    for feature in chain([first], iterator) if first is not None else ():
        yield feature_bytes(feature, index)


def header(name: str, geometry_type: int, columns: list[tuple[str, int]], srid: int) -> bytes:
    """The size-prefixed Header table: no index (node size 0), feature count unknown (0)."""
    b = flatbuffers.Builder(1024)
    column_offsets = [_column(b, n, t) for n, t in columns]
    b.StartVector(4, len(column_offsets), 4)
    for offset in reversed(column_offsets):
        b.PrependUOffsetTRelative(offset)
    column_vector = b.EndVector()
    org = b.CreateString("EPSG")
    b.StartObject(6)  # Crs
    b.PrependUOffsetTRelativeSlot(0, org, 0)
    b.PrependInt32Slot(1, srid, 0)
    crs = b.EndObject()
    title = b.CreateString(name)
    b.StartObject(14)  # Header
    b.PrependUOffsetTRelativeSlot(0, title, 0)
    b.PrependUint8Slot(2, geometry_type, 0)
    b.PrependUOffsetTRelativeSlot(7, column_vector, 0)
    b.PrependUint16Slot(9, 0, 16)  # no spatial index
    b.PrependUOffsetTRelativeSlot(10, crs, 0)
    b.FinishSizePrefixed(b.EndObject())
    return bytes(b.Output())


def _column(b: flatbuffers.Builder, name: str, column_type: int) -> int:
    text = b.CreateString(name)
    b.StartObject(11)
    b.PrependUOffsetTRelativeSlot(0, text, 0)
    b.PrependUint8Slot(1, column_type, 0)
    return b.EndObject()


def feature_bytes(feature: dict, index: dict[str, tuple[int, int]]) -> bytes:
    """One size-prefixed Feature table: its geometry, and its non-null properties (id first)."""
    b = flatbuffers.Builder(512)
    values = b.CreateByteVector(properties_bytes({"id": feature["id"], **feature["properties"]}, index))
    geometry = _geometry(b, feature["geometry"])
    b.StartObject(3)
    b.PrependUOffsetTRelativeSlot(0, geometry, 0)
    b.PrependUOffsetTRelativeSlot(1, values, 0)
    b.FinishSizePrefixed(b.EndObject())
    return bytes(b.Output())


def properties_bytes(properties: dict, index: dict[str, tuple[int, int]]) -> bytes:
    """Each non-null value as its column's index (uint16) then its bytes, little-endian."""
    parts = []
    for name, value in properties.items():
        if value is None or name not in index:
            continue
        k, kind = index[name]
        parts.append(struct.pack("<H", k) + _value_bytes(value, kind))
    return b"".join(parts)


def _value_bytes(value: Any, kind: int) -> bytes:
    if kind == BOOL:
        return struct.pack("<?", bool(value))
    if kind == LONG:
        return struct.pack("<q", int(value))
    if kind == DOUBLE:
        return struct.pack("<d", float(value))
    text = msgspec.json.encode(value) if kind == JSON else str(value).encode()
    return struct.pack("<I", len(text)) + text


def _geometry(b: flatbuffers.Builder, geometry: dict) -> int:
    """A Geometry table: a point's or a polygon's coordinates in `xy` (with `ends`, each ring's
    end, when there are several rings); a multi-geometry as `parts`, one Geometry each."""
    kind, coordinates = geometry["type"], geometry["coordinates"]
    if kind.startswith("Multi") and kind != "MultiPoint":
        single = kind.removeprefix("Multi")
        parts = [_geometry(b, {"type": single, "coordinates": c}) for c in coordinates]
        b.StartVector(4, len(parts), 4)
        for part in reversed(parts):
            b.PrependUOffsetTRelative(part)
        vector = b.EndVector()
        b.StartObject(8)
        b.PrependUint8Slot(6, GEOMETRY_TYPES[kind], 0)
        b.PrependUOffsetTRelativeSlot(7, vector, 0)
        return b.EndObject()
    rings = coordinates if kind in ("Polygon", "MultiLineString") else [coordinates if kind != "Point" else [coordinates]]
    xy = b.CreateNumpyVector(np.array([c[:2] for ring in rings for c in ring], dtype="<f8").ravel())
    ends = b.CreateNumpyVector(np.cumsum([len(r) for r in rings], dtype="<u4")) if len(rings) > 1 else None
    b.StartObject(8)
    if ends is not None:
        b.PrependUOffsetTRelativeSlot(0, ends, 0)
    b.PrependUOffsetTRelativeSlot(1, xy, 0)
    b.PrependUint8Slot(6, GEOMETRY_TYPES[kind], 0)
    return b.EndObject()


def write_flatgeobuf(features: Iterable[dict], stream, collection: str, geometry_type: str) -> int:
    """Write the features to a binary stream as FlatGeobuf; returns how many were written."""
    pieces = 0
    for piece in chunks(features, collection, geometry_type):
        stream.write(piece)
        pieces += 1
    return pieces - 1  # the first piece is the header
