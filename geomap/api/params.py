"""Query parameters parsed and validated: every error names the parameter and what is allowed.

Plain functions over a mapping of strings (no Flask), returning the plain values of
`geomap.model.query` (which `geomap.db` translates into SQL). The values that the commands take
too (number, whole number, bbox, datetime, lists, known names) are parsed by `geomap.io.params`.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, TypeVar

from geomap.api import crs, cursors, schemas
from geomap.errors import BadRequest, InvalidInput
from geomap.io.params import (
    bbox,
    check_known,
    instant,
    integer,
    interval,
    number,
    parameter_error,
    parameters_error,
    values,
)
from geomap.model.query import Collection, FeatureQuery, Near, Page, SortKey, order_kinds, sortables
from geomap.model.records import PROPERTIES

if TYPE_CHECKING:
    from pygeofilter.ast import Node

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100
MAX_INTEGER = 2**31 - 1  # PostgreSQL integer
MAX_OFFSET = 2**53 - 1  # any larger skips everything anyway, and must not overflow PostgreSQL's bigint
MAX_NEAR_RADIUS_M = 1_000_000
T = TypeVar("T")
FORMATS = ("json", "geojson", "html", "csv", "kml", "gpkg", "geojsonseq", "fgb")
ITEMS_PARAMETERS = ("f", "bbox", "bbox-crs", "crs", "datetime", "limit", "offset", "cursor", "sortby", "filter",
                    "filter-lang", "filter-crs", "near", "radius", "properties", "skipGeometry", "resultType")


def single(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The query string as one value per name. Every request's query string passes here first
    (geomap.api.problems): a repeated parameter is refused, because which of its values counts
    would be a guess (Werkzeug reads the first, other servers the last); PostgreSQL text cannot
    hold a NUL."""
    pairs = list(pairs)
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise parameter_error(name.replace("\x00", ""), "contains a NUL character; send text without it")
    found = dict(pairs)
    if len(found) == len(pairs):  # no name twice (the usual case, without counting them)
        return found
    repeated = sorted(name for name, count in Counter(name for name, _ in pairs).items() if count > 1)
    if repeated:
        raise parameters_error(repeated, "given more than once; give each parameter once "
                                         "(several values go in one, separated by commas)")
    return dict(pairs)


def parsed(name: str, parse: Callable[[str], T], text: str) -> T:
    """`parse(text)` for a query parameter: a value the analysis refuses (InvalidInput, which is
    422 for a request body) is a malformed parameter here, 400 naming it."""
    try:
        return parse(text)
    except InvalidInput as exc:
        raise parameter_error(name, exc.detail.removeprefix(f"{name}: ")) from None


def bounded(name: str, text: str, low: float, high: float, unit: str = "", *, above: bool = False) -> float:
    """A number from `low` (or above it, when `above`) to `high`; the message gives the range."""
    value = number(name, text)
    if value < low or (above and value == low) or value > high:
        span = f"above {low:.15g} and at most {high:.15g}" if above else f"from {low:.15g} to {high:.15g}"
        raise parameter_error(name, f"must be {span}{unit}; got {value:.15g}")
    return value


def feature_query(collection: Collection, args: Mapping[str, str]) -> FeatureQuery:
    """The FeatureQuery for an items request (a CQL2 filter is parsed here, and checked against
    the queryables where it is translated)."""
    check_known(args, ITEMS_PARAMETERS + tuple(collection.queryables))
    if "filter-crs" in args and args["filter-crs"] != CRS84:
        raise BadRequest(f"filter-crs: only {CRS84} (WGS84 longitude, latitude) is supported")
    if args.get("filter-lang", "cql2-text") != "cql2-text":
        raise BadRequest("filter-lang: only cql2-text is supported")
    projected = crs.bbox_fields(args)  # a bbox in another CRS (Part 2), else None
    query = FeatureQuery(
        collection=collection,
        bbox=projected["bbox"] if projected else bbox(args["bbox"], antimeridian=True) if "bbox" in args else None,
        bbox_crs=projected["bbox_crs"] if projected else None,
        crs=crs.response_crs(args),
        interval=interval(args["datetime"]) if "datetime" in args else None,
        equals={k: _values(k, v, collection) for k, v in args.items() if k in collection.queryables},
        filter=cql2_text(args["filter"]) if args.get("filter") else None,
        near=near(args) if "near" in args or "radius" in args else None,
        sortby=sortby(args["sortby"], collection) if "sortby" in args else (),
        properties=properties(args["properties"], collection) if "properties" in args else None,
        skip_geometry=boolean("skipGeometry", args.get("skipGeometry", "false")),
    )
    return replace(query, page=page(args, query))


def page(args: Mapping[str, str], query: FeatureQuery) -> Page:
    """The page: `limit` (above the maximum it is the maximum, as OGC API - Features asks), and
    `offset` or the keyset `cursor` a next link carries (not both)."""
    limit = min(integer("limit", args.get("limit"), DEFAULT_LIMIT, 1, None), MAX_LIMIT)
    if "cursor" not in args:
        return Page(limit, integer("offset", args.get("offset"), 0, 0, MAX_OFFSET))
    if "offset" in args:
        raise parameters_error(["cursor", "offset"], "give one of them, not both")
    position, last = cursors.decode(args["cursor"], order_kinds(query))
    return Page(limit, position, last)


def properties(text: str, collection: Collection) -> tuple[str, ...]:
    """The feature properties to return (`properties=a,b`; empty: none); a 400 naming an unknown one."""
    names = tuple(v.strip() for v in text.split(",") if v.strip())
    known = tuple(PROPERTIES[collection.id].model_fields) + ("distance_m",)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise parameter_error("properties", f"no property {', '.join(map(repr, unknown))} in {collection.id}; "
                                            f"the properties are {', '.join(known)}")
    return names


def whole_features_only(args: Mapping[str, str], fmt: str) -> None:
    """Refuse `properties` and `skipGeometry=true` for a format that carries whole features (CSV,
    KML, GeoPackage and the HTML page write every property and the geometry)."""
    partial = [n for n in ("properties", "skipGeometry") if n in args and args[n].lower() != "false"]
    if partial:
        raise parameters_error(partial, f"only with GeoJSON (f=json); f={fmt} carries every property and the geometry")


def hits(args: Mapping[str, str]) -> bool:
    """Whether `resultType=hits` asks for the count alone (as GDAL does to count a filtered layer)."""
    value = args.get("resultType", "results")
    if value not in ("results", "hits"):
        raise parameter_error("resultType", f"must be results or hits; got {value!r}")
    return value == "hits"


def boolean(name: str, text: str) -> bool:
    """`true` or `false`."""
    if text.lower() not in ("true", "false"):
        raise parameter_error(name, f"must be true or false; got {text!r}")
    return text.lower() == "true"


def cql2_text(text: str) -> Node:
    """The syntax tree of a CQL2 text filter; a syntax error names where it is."""
    from pygeofilter.parsers.cql2_text import parse  # builds its grammar on first import: only when asked

    try:
        return parse(text)
    except Exception as exc:  # pygeofilter raises lark's several error types
        raise BadRequest(f"filter: not valid CQL2 text: {str(exc).splitlines()[0]}") from None


def _values(name: str, text: str, collection: Collection) -> tuple[str | float | int | date, ...]:
    """The values of an equality filter, each parsed as the queryable's type, and one of its
    vocabulary when it has one (`/queryables` lists it as the enum)."""
    parse = {"number": number, "date": instant, "integer": lambda n, t: integer(n, t, 0, 0, MAX_INTEGER)}.get(
        collection.queryables[name], lambda n, t: t)
    parsed = tuple(parse(name, v) for v in values(name, text))
    allowed = schemas.queryable_schema(collection, name).get("enum")
    unknown = [v for v in parsed if allowed is not None and v not in allowed]
    if unknown:
        raise parameter_error(name, f"{', '.join(map(repr, unknown))} not in the vocabulary: {', '.join(allowed)}")
    return parsed


def sortby(text: str, collection: Collection) -> tuple[SortKey, ...]:
    """The sort keys of `sortby` (a comma-separated list, `-` for descending); a 400 for an unsortable name."""
    keys = []
    for item in (i.strip() for i in text.split(",")):
        name = item.lstrip("+-")
        if name not in sortables(collection):
            raise BadRequest(f"sortby: {name!r} is not a sortable of {collection.id}; "
                             f"see /collections/{collection.id}/sortables")
        keys.append(SortKey(name, not item.startswith("-")))
    return tuple(keys)


def near(args: Mapping[str, str]) -> Near:
    """The `near=lon,lat` and `radius` (metres) parameters as one Near; a 400 if either is missing or bad."""
    if "near" not in args or "radius" not in args:
        raise BadRequest("near, radius: give both, near=lon,lat&radius=metres")
    parts = [number("near", p) for p in args["near"].split(",")]
    if len(parts) != 2 or not (-180 <= parts[0] <= 180 and -90 <= parts[1] <= 90):
        raise BadRequest("near: give lon,lat in decimal degrees (WGS84)")
    return Near(parts[0], parts[1], bounded("radius", args["radius"], 0, MAX_NEAR_RADIUS_M, " metres"))
