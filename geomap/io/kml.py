"""KML (OGC KML 2.2) in and out: Placemarks with Point, Polygon or MultiGeometry, properties in
ExtendedData.

Reading (`KMLReader`, for `geomap import`) streams the file with defusedxml's iterparse, which
refuses DTDs and entity definitions (no "billion laughs"), and forgets each Placemark once read.
A Placemark's properties come from its ExtendedData (`<Data name="...">` or `<SimpleData>`),
numbers and lists written as KML text (lists and objects as JSON); `<name>`, `<description>`
and `<TimeSpan>`/`<TimeStamp>` fill the fields ExtendedData leaves out. The id is ExtendedData
`id`, else the Placemark's `id` attribute. The collection is --collection, else the Document's
`<name>` when it names a collection, else the file name.

Writing (`write_kml`) puts every property in ExtendedData, so reading the file back gives the
same features; name, description and time span are there for Google Earth and QGIS.

Why not a library (bench/io_libraries.py, 200,000 synthetic incidents, 2 shared cores, 2026-12-06;
medians of 3 runs, table in bench/README.md): writing, this module took 14.0 s and 53 MB peak
RSS; simplekml 1.3.6 and fastkml 1.4.0 build the whole document first (20,000 incidents: 22.8 s
and 1,225 MB; 13.0 s and 571 MB), GDAL 3.12's LIBKML driver through pyogrio 0.13 63 s and
2,892 MB. Reading (with validation) took 91.6 s in 54 MB; fastkml parses the whole tree (20,000:
19.9 s, 515 MB) and recovers from malformed XML and entity bombs without a word; GDAL through
pyogrio reads raw columns, unvalidated, with LIBKML in 40.2 s and 2,230 MB, with the KML driver
in 19.8 s and 351 MB but no ExtendedData or TimeSpan, and both turn each Folder into a layer of
its own (`bench/io_libraries.py --semantics`). None streams in flat memory with the line of
an error, so the reader stays on defusedxml's iterparse and the writer on string formatting.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import IO, Any
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape, quoteattr

import msgspec
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from geomap.errors import InvalidInput, Problem
from geomap.io.readers import IMPORTABLE, Item, Reader, check_collection, collection_from_name
from geomap.model.records import fields_of_kind

KML_NS = "http://www.opengis.net/kml/2.2"
NAME_FIELD = {"incidents": "title", "sites": "name", "control_zones": "name"}
TEXT_FIELD = {"incidents": "description", "sites": "notes", "control_zones": "notes"}
TIME_FIELDS = {"incidents": ("date_start", "date_end"), "control_zones": ("valid_from", "valid_to")}
# ExtendedData is text: how each property is read back, from the record definitions.
INTEGERS = fields_of_kind("integer")
NUMBERS = fields_of_kind("number")
JSON_FIELDS = fields_of_kind("sources", "claims", "texts", "reports")
NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem: Element, name: str) -> Element | None:
    return next((c for c in elem if _local(c.tag) == name), None)


def _text(elem: Element | None) -> str | None:
    return None if elem is None else (elem.text or "").strip()


class KMLReader(Reader):
    """Placemarks of a KML file as features of one collection."""

    def items(self) -> Iterator[Item]:
        index, document_name, stack = 0, None, []
        try:
            for event, elem in iterparse(self.stream, events=("start", "end"), forbid_dtd=True):
                if event == "start":
                    stack.append(elem)
                    continue
                stack.pop()
                tag = _local(elem.tag)
                if tag == "name" and stack and _local(stack[-1].tag) == "Document" and document_name is None:
                    document_name = (elem.text or "").strip()
                if tag != "Placemark":
                    continue
                if index == 0:
                    self._resolve(document_name)
                index += 1
                yield self._placemark(elem, f"{self.path}: Placemark {index}")
                elem.clear()
                if stack:
                    stack[-1].remove(elem)  # keep memory flat: the tree never holds read Placemarks
        except ParseError as exc:
            line, column = exc.position
            raise InvalidInput(f"{self.path}: not well-formed XML at line {line}, column {column}; "
                               "nothing was imported") from None
        except DefusedXmlException:
            raise InvalidInput(f"{self.path}: the KML declares a DTD or entities, which geomap refuses "
                               "(they can be used to exhaust memory); remove the <!DOCTYPE ...> part") from None
        if index == 0:
            self._resolve(document_name)

    def _resolve(self, document_name: str | None) -> None:
        named = document_name if document_name in IMPORTABLE else None
        self.collection = check_collection(self.path, self.collection or named or collection_from_name(self.path))

    def _placemark(self, placemark: Element, where: str) -> Item:
        problems: list[Problem] = []
        data = _extended_data(placemark)
        feature_id = data.pop("id", None) or placemark.get("id")
        where_id = f"{where} (id {feature_id!r})" if feature_id else where
        properties = {key: _value(key, text, where_id, problems) for key, text in data.items()}
        self._fill(properties, placemark)
        geometry = _geometry(placemark, where_id, problems)
        if problems:
            return Item(where_id, None, tuple(problems))
        return self.validate({"type": "Feature", "id": feature_id, "geometry": geometry,
                              "properties": properties}, where)

    def _fill(self, properties: dict[str, Any], placemark: Element) -> None:
        """Name, description and time span stand in for the fields ExtendedData lacks."""
        name, description = _text(_child(placemark, "name")), _text(_child(placemark, "description"))
        if name:
            properties.setdefault(NAME_FIELD[self.collection], name)
        if description:
            properties.setdefault(TEXT_FIELD[self.collection], description)
        first, last = TIME_FIELDS.get(self.collection, (None, None))
        span, stamp = _child(placemark, "TimeSpan"), _child(placemark, "TimeStamp")
        if first and span is not None:
            if _text(_child(span, "begin")):
                properties.setdefault(first, _day(_text(_child(span, "begin"))))
            if _text(_child(span, "end")):
                properties.setdefault(last, _day(_text(_child(span, "end"))))
        if first and stamp is not None and _text(_child(stamp, "when")) and self.collection == "incidents":
            properties.setdefault(first, _day(_text(_child(stamp, "when"))))
            properties.setdefault(last, _day(_text(_child(stamp, "when"))))


def _day(text: str) -> str:
    """A KML dateTime's date ('2019-12-27T10:00:00Z' -> '2019-12-27'); other text as it is."""
    return text[:10] if re.match(r"^\d{4}-\d{2}-\d{2}T", text) else text


def _extended_data(placemark: Element) -> dict[str, str]:
    data: dict[str, str] = {}
    extended = _child(placemark, "ExtendedData")
    if extended is None:
        return data
    for elem in extended.iter():
        tag = _local(elem.tag)
        if tag == "Data" and elem.get("name"):
            data[elem.get("name")] = (_child(elem, "value").text or "") if _child(elem, "value") is not None else ""
        elif tag == "SimpleData" and elem.get("name"):
            data[elem.get("name")] = elem.text or ""
    return data


def _value(key: str, text: str, where: str, problems: list[Problem]) -> Any:
    """ExtendedData text as the value the data model expects."""
    if key in JSON_FIELDS:
        try:
            return msgspec.json.decode(text) if text.strip() else []
        except msgspec.DecodeError as exc:
            problems.append(Problem(where, f"properties.{key}", f"must be JSON in KML ExtendedData: {exc}"))
            return None
    if key in INTEGERS | NUMBERS:
        if not text.strip():
            return None
        try:
            return int(text) if key in INTEGERS else float(text)
        except ValueError:
            kind = "an integer" if key in INTEGERS else "a number"
            problems.append(Problem(where, f"properties.{key}", f"must be {kind}; got {text!r}"))
            return None
    return text


def _geometry(placemark: Element, where: str, problems: list[Problem]) -> dict | None:
    geometry = next((c for c in placemark if _local(c.tag) in ("Point", "Polygon", "MultiGeometry", "LineString",
                                                              "LinearRing", "Model", "Track")), None)
    if geometry is None:
        return None
    try:
        return _as_geojson(geometry)
    except ValueError as exc:
        problems.append(Problem(where, "geometry.coordinates", str(exc)))
        return None


def _as_geojson(elem: Element) -> dict:
    kind = _local(elem.tag)
    if kind == "Point":
        return {"type": "Point", "coordinates": _positions(elem)[0]}
    if kind == "Polygon":
        return {"type": "Polygon", "coordinates": _rings(elem)}
    if kind == "MultiGeometry":
        parts = [_as_geojson(c) for c in elem if _local(c.tag) in ("Point", "Polygon", "MultiGeometry", "LineString")]
        polygons = [p["coordinates"] for p in parts if p["type"] == "Polygon"] + \
                   [c for p in parts if p["type"] == "MultiPolygon" for c in p["coordinates"]]
        if parts and all(p["type"] in ("Polygon", "MultiPolygon") for p in parts):
            return {"type": "MultiPolygon", "coordinates": polygons}
        if len(parts) == 1:
            return parts[0]
        return {"type": "MultiGeometry"}  # refused by the geometry policy, which names the allowed types
    return {"type": kind, "coordinates": _positions(elem) if _child(elem, "coordinates") is not None else []}


def _rings(polygon: Element) -> list[list[list[float]]]:
    rings = []
    for boundary in ("outerBoundaryIs", "innerBoundaryIs"):
        for elem in (c for c in polygon if _local(c.tag) == boundary):
            ring = _child(elem, "LinearRing")
            if ring is None:
                raise ValueError(f"a {boundary} without a LinearRing")
            rings.append(_positions(ring))
    return rings


def _positions(elem: Element) -> list[list[float]]:
    text = _text(_child(elem, "coordinates")) or ""
    positions = []
    for item in text.split():
        try:
            positions.append([float(v) for v in item.split(",")])
        except ValueError:
            raise ValueError(f"KML coordinates must be longitude,latitude[,altitude] numbers; got {item!r}") from None
    if not positions:
        raise ValueError("no coordinates")
    return positions


# -- writing ------------------------------------------------------------------------------------

def write_kml(features: Iterable[dict], stream: IO[str], collection: str) -> int:
    """Write GeoJSON Feature dicts (as `geojson.to_feature` makes them) as a KML document that
    `geomap import` reads back to the same features. Returns how many were written."""
    stream.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="{KML_NS}">\n<Document>\n'
                 f"<name>{escape(collection)}</name>\n")
    count = 0
    for feature in features:
        stream.write(_placemark_xml(feature, collection))
        count += 1
    stream.write("</Document>\n</kml>\n")
    return count


def _placemark_xml(feature: dict, collection: str) -> str:
    props = feature["properties"]
    fid = str(feature["id"])
    attribute = f" id={quoteattr(fid)}" if NCNAME.match(fid) else ""
    parts = [f"<Placemark{attribute}>"]
    if props.get(NAME_FIELD.get(collection, "name")):
        parts.append(f"<name>{escape(str(props[NAME_FIELD.get(collection, 'name')]))}</name>")
    if props.get(TEXT_FIELD.get(collection, "notes")):
        parts.append(f"<description>{escape(str(props[TEXT_FIELD.get(collection, 'notes')]))}</description>")
    first, last = TIME_FIELDS.get(collection, (None, None))
    if first and props.get(first):
        end = f"<end>{escape(str(props[last]))}</end>" if props.get(last) else ""
        parts.append(f"<TimeSpan><begin>{escape(str(props[first]))}</begin>{end}</TimeSpan>")
    data = [("id", fid)] + [(k, _kml_text(v)) for k, v in props.items() if v is not None]
    parts.append("<ExtendedData>" + "".join(f"<Data name={quoteattr(k)}><value>{escape(v)}</value></Data>"
                                            for k, v in data) + "</ExtendedData>")
    if feature["geometry"] is not None:  # a relation has none (a Placemark's geometry is optional)
        parts.append(_geometry_xml(feature["geometry"]))
    return "".join(parts) + "</Placemark>\n"


def _kml_text(value: Any) -> str:
    if isinstance(value, (list, dict)):
        return msgspec.json.encode(value).decode()
    return repr(value) if isinstance(value, float) else str(value)


def _coordinates(positions: list) -> str:
    return "<coordinates>" + " ".join(",".join(repr(float(c)) for c in p[:2]) for p in positions) + "</coordinates>"


def _polygon_xml(rings: list) -> str:
    outer, *inner = rings
    holes = "".join(f"<innerBoundaryIs><LinearRing>{_coordinates(r)}</LinearRing></innerBoundaryIs>" for r in inner)
    return f"<Polygon><outerBoundaryIs><LinearRing>{_coordinates(outer)}</LinearRing></outerBoundaryIs>{holes}</Polygon>"


def _geometry_xml(geometry: dict) -> str:
    kind, coordinates = geometry["type"], geometry["coordinates"]
    if kind == "Point":
        return f"<Point>{_coordinates([coordinates])}</Point>"
    if kind == "Polygon":
        return _polygon_xml(coordinates)
    if kind == "MultiPolygon":
        return "<MultiGeometry>" + "".join(_polygon_xml(p) for p in coordinates) + "</MultiGeometry>"
    raise ValueError(f"KML export does not write {kind} geometries")
