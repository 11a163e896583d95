"""Read geomap's seed/exchange files (RFC 7946 FeatureCollections, and groups.json) into
validated records, collecting every problem with its file, feature and field."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import shapely
from pydantic import BaseModel, ValidationError
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from geomap.errors import InvalidInput, Problem
from geomap.io.geometry import GeometryError, as_multipolygon, parse_geometry
from geomap.model.records import GEOMETRY_TYPES, PROPERTIES, GroupRecord, Record
from geomap.vocabulary import ID_PATTERN

COLLECTIONS = ("groups", "sites", "control_zones", "incidents", "relations")  # in the order they are written


def read_file(path: Path) -> list[Record]:
    """Parse and validate one file; raise InvalidInput listing every problem in it."""
    document = _load_json(path)
    collection = _collection_of(path, document)
    problems: list[Problem] = []
    records = (_read_groups if collection == "groups" else _read_features)(path, document, collection, problems)
    problems += _duplicate_ids(records)
    if problems:
        where = {p.where for p in problems}
        raise InvalidInput(f"{path}: {len(problems)} problem(s) in {len(where)} feature(s); nothing was loaded",
                           problems)
    return records


def validate_feature(feature: Any, collection: str, where: str) -> Record:
    """Validate one GeoJSON Feature (e.g. a request body); raise InvalidInput listing every problem."""
    problems: list[Problem] = []
    record = _read_feature(feature, collection, where, problems)
    if problems or record is None:
        raise InvalidInput(f"{where}: {len(problems)} problem(s); nothing was written", problems)
    return record


def _load_json(path: Path) -> Any:
    # The json module, not msgspec: its errors give the line and column (msgspec's a byte offset),
    # and `geomap load` files are small (the seed; large files go through `geomap import`).
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text (RFC 7946 requires UTF-8)") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None


def _collection_of(path: Path, document: Any) -> str:
    if not isinstance(document, dict):
        raise InvalidInput(f"{path}: the top level must be a JSON object (a GeoJSON FeatureCollection)")
    name = document.get("collection", Path(path).name.split(".")[0])
    if name not in COLLECTIONS:
        raise InvalidInput(f'{path}: cannot tell which collection this file holds; add "collection": one of '
                           f"{', '.join(COLLECTIONS)} at the top level, or name the file after it")
    return name


def _read_groups(path: Path, document: dict, collection: str, problems: list[Problem]) -> list[Record]:
    items = document.get("groups")
    if not isinstance(items, list):
        problems.append(Problem(str(path), "groups", "must be an array of group objects"))
        return []
    records = []
    for index, item in enumerate(items):
        where = f"{path}: groups[{index}]" + (f" (id {item.get('id')!r})" if isinstance(item, dict) else "")
        model = _validate(GroupRecord, item, where, "", problems)
        if model is not None:
            records.append(Record(collection, model.id, model, None, where))
    return records


def _read_features(path: Path, document: dict, collection: str, problems: list[Problem]) -> list[Record]:
    if document.get("type") != "FeatureCollection" or not isinstance(document.get("features"), list):
        problems.append(Problem(str(path), "type", 'must be a FeatureCollection with a "features" array'))
        return []
    records = []
    for index, feature in enumerate(document["features"]):
        record = _read_feature(feature, collection, f"{path}: features[{index}]", problems)
        if record is not None:
            records.append(record)
    return records


def read_feature(feature: Any, collection: str, where: str, problems: list[Problem]) -> Record | None:
    """Validate one decoded GeoJSON Feature of `collection`; append its problems, if any, to
    `problems` (each naming `where` and the field) and return None, else return its Record."""
    return _read_feature(feature, collection, where, problems)


def _read_feature(feature: Any, collection: str, where: str, problems: list[Problem]) -> Record | None:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        problems.append(Problem(where, "type", 'must be a GeoJSON Feature ("type": "Feature")'))
        return None
    feature_id = feature.get("id")
    if isinstance(feature_id, str):
        where = f"{where} (id {feature_id!r})"
    before = len(problems)
    _check_id(feature_id, where, problems)
    geometry = _geometry(feature.get("geometry"), collection, where, problems)
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        problems.append(Problem(where, "properties", "must be an object"))
        return None
    model = _validate(PROPERTIES[collection], properties, where, "properties.", problems)
    if model is not None and collection == "relations":
        problems += _relation_geometry(model, geometry, where)
    if len(problems) > before:
        return None
    return Record(collection, feature_id, model, geometry, where)


def _relation_geometry(props: Any, geometry: BaseGeometry | None, where: str) -> list[Problem]:
    """A relation carries a polygon only when it is `inside` one of its own (no object)."""
    if props.kind == "inside" and props.object is None and geometry is None:
        return [Problem(where, "geometry", "an 'inside' relation without an object needs the polygon the subject "
                        "lies in (a Polygon or MultiPolygon), or name a zone in properties.object")]
    if geometry is not None and (props.kind != "inside" or props.object is not None):
        return [Problem(where, "geometry", "must be null: only an 'inside' relation without an object carries "
                        "a polygon")]
    return []


def _check_id(feature_id: Any, where: str, problems: list[Problem]) -> None:
    if feature_id is None:
        problems.append(Problem(where, "id", "missing: every feature needs a stable string id"))
    elif not isinstance(feature_id, str) or not re.fullmatch(ID_PATTERN, feature_id):
        problems.append(Problem(where, "id", f"must be a lowercase slug matching {ID_PATTERN}; got {feature_id!r}"))


def _geometry(obj: Any, collection: str, where: str, problems: list[Problem]) -> BaseGeometry | None:
    if obj is None and collection == "relations":
        return None
    try:
        geom = parse_geometry(obj, GEOMETRY_TYPES[collection])
    except GeometryError as exc:
        problems.append(Problem(where, exc.field, exc.reason))
        return None
    return as_multipolygon(geom) if collection in ("control_zones", "relations") else geom


def _validate(model: type[BaseModel], data: Any, where: str, prefix: str, problems: list[Problem]):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            field = prefix + _dotted(error["loc"]) if error["loc"] else prefix.rstrip(".")
            reason = _reason(error)
            named, _, rest = reason.partition(": ")  # a check of the whole record names its field first
            if not error["loc"] and named in model.model_fields:
                field, reason = prefix + named, rest
            problems.append(Problem(where, field, reason))
        return None


def _dotted(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + str(part)
    return text


def _reason(error: dict) -> str:
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return "missing (required)"
    if error["type"] == "extra_forbidden":
        return "unknown field (check the spelling against the data model in docs/data-model.md)"
    return f"{message}; got {error['input']!r}" if error["type"] != "value_error" else message


def _duplicate_ids(records: list[Record]) -> list[Problem]:
    seen: dict[str, str] = {}
    problems = []
    for record in records:
        if record.id in seen:
            problems.append(Problem(record.where, "id", f"duplicate id, already used at {seen[record.id]}"))
        seen.setdefault(record.id, record.where)
    return problems


def to_feature(collection: str, row: dict[str, Any]) -> dict[str, Any]:
    """A stored row (content columns, `geom` as WKB) as a JSON-ready GeoJSON Feature
    (or a plain object for groups), the shape that `read_file` accepts back."""
    values = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
    values.pop("version", None)
    if "group_id" in values:
        values["group"] = values.pop("group_id")
    if "attributions" in values:
        values["attributions"] = [{"group": c["group_id"], **{k: v for k, v in c.items() if k != "group_id"}}
                                  for c in values["attributions"]]
    if collection == "groups":
        return values
    wkb = values.pop("geom")
    geometry = None if wkb is None else msgspec.json.decode(msgspec.json.encode(mapping(shapely.from_wkb(wkb))))
    # (tuples to lists, as in parsed GeoJSON)
    return {"type": "Feature", "id": values.pop("id"), "geometry": geometry, "properties": values}
