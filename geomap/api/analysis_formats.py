"""The analysis answers as GeoJSON and CSV (`f=geojson`, `f=csv`), beside their JSON and HTML.

Each answer is a list of rows: a geometry (or none) and flat properties. Nested values are
flattened with `_` (a distance becomes `distance_best`, `distance_min`, `distance_max`), the
feature a row is about (`incident`, `zone`) gives its fields without a prefix, and a location
becomes `longitude`, `latitude` and `precision_m`.

- GeoJSON: a FeatureCollection of the rows, with the question asked (`query`) beside them;
  nearby incidents are their points, zones (zones-at) their multipolygons, overlaps the shared
  area's geometry; a distance is one Feature without geometry (its ends may be zones).
- CSV: one line per row, the columns of the first row; points give `longitude` and `latitude`,
  other geometries are left to GeoJSON; lists as JSON; text a spreadsheet would run as a
  formula escaped (`geomap.io.spreadsheet`).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import msgspec
from flask import Response
from shapely.geometry import mapping

from geomap.analysis.serialise import to_data
from geomap.io import spreadsheet

FORMATS = ("json", "html", "geojson", "csv")
UNPREFIXED = ("incident", "zone")


@dataclass(frozen=True)
class Row:
    """One row of an answer: a GeoJSON geometry (or None) and flat properties."""

    geometry: dict | None
    properties: dict[str, Any]


def flat(data: dict, prefix: str = "") -> dict[str, Any]:
    """Nested objects flattened into one level, names joined by `_`.

    >>> flat({"id": "a", "distance": {"best": 1.0, "min": 0.0}, "incident": {"title": "t"}})
    {'id': 'a', 'distance_best': 1.0, 'distance_min': 0.0, 'title': 't'}
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "location" and isinstance(value, dict):
            out |= {f"{prefix}longitude": value["lon"], f"{prefix}latitude": value["lat"],
                    f"{prefix}precision_m": value["precision_m"]}
        elif isinstance(value, dict):
            out |= flat(value, prefix if key in UNPREFIXED else f"{prefix}{key}_")
        else:
            out[f"{prefix}{key}"] = value
    return out


def nearby_rows(found) -> list[Row]:
    """Nearby incidents: each its point."""
    return [Row({"type": "Point", "coordinates": [n.incident.location.lon, n.incident.location.lat]},
                flat(to_data(n))) for n in found]


def zone_rows(relations, nearest: dict) -> list[Row]:
    """Zones related to a point: each its multipolygon, and whether it is its group's nearest."""
    chosen = {id(r) for r in nearest.values()}
    return [Row(mapping(r.zone.geometry), flat(to_data(r)) | {"nearest_of_group": id(r) in chosen})
            for r in relations]


def overlap_rows(overlaps) -> list[Row]:
    """Overlapping zones: the area they share, and each zone's fields as `a_...` and `b_...`."""
    return [Row(mapping(o.a.geometry.intersection(o.b.geometry)),
                flat(to_data(o.a), "a_") | flat(to_data(o.b), "b_") | {"area_km2": o.area_km2}) for o in overlaps]


def respond(fmt: str, rows: list[Row], query: dict, name: str) -> Response:
    """The rows as a GeoJSON FeatureCollection or a CSV file named `name`."""
    if fmt == "geojson":
        body = {"type": "FeatureCollection", "query": to_data(query), "features": [
            {"type": "Feature", "geometry": r.geometry, "properties": to_data(r.properties)} for r in rows]}
        return Response(msgspec.json.encode(body), mimetype="application/geo+json")
    reply = Response(csv_text(rows), mimetype="text/csv")
    reply.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return reply


def csv_text(rows: list[Row]) -> str:
    """The rows as CSV: a header line, then one line per row (nothing when there are no rows)."""
    if not rows:
        return ""
    point = rows[0].geometry is not None and rows[0].geometry["type"] == "Point"
    names = list(rows[0].properties)
    if point:
        names = ["longitude", "latitude", *(n for n in names if n not in ("longitude", "latitude"))]
    stream = io.StringIO(newline="")
    writer = spreadsheet.Writer(stream)
    writer.writerow(names)
    for row in rows:
        values = to_data(row.properties)
        writer.writerow([_cell(values.get(n)) for n in names])
    return stream.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    return msgspec.json.encode(value).decode() if isinstance(value, (list, dict)) else value
