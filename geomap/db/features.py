"""Feature queries for the HTTP API and exports: small clause builders, every value bound.

PostgreSQL builds each Feature's GeoJSON (json_build_object + ST_AsGeoJSON), so a page of
features crosses into Python as text and leaves as bytes. The properties are exactly the data
model's (docs/data-model.md), so an exported feature loads back unchanged.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, Connection, Select, Table, Text, and_, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by

from geomap.db.candidates import Geography, attributed_to, point, within
from geomap.db.schema import attributions, control_zones, incidents, sites
from geomap.model.records import PROPERTIES, kinds

COORDINATE_DIGITS = 9  # ~0.1 mm: stored doubles survive an export/import round trip at this precision


@dataclass(frozen=True)
class Collection:
    """How one table is exposed: its properties, queryables and temporal extent columns."""

    id: str
    title: str
    description: str
    table: Table
    geometry_type: str
    properties: tuple[str, ...]
    queryables: dict[str, str]  # name -> JSON Schema type: string, number, integer or date
    temporal: tuple[str, str] | None = None

    def column(self, name: str) -> ColumnElement:
        return self.table.c["group_id" if name == "group" and self.id == "control_zones" else name]


# JSON Schema types of queryables, by the kind of the record field (`geomap.model.records.kinds`).
_QUERYABLE_TYPES = {"text": "string", "date": "date", "integer": "integer", "number": "number"}


def _queryables(collection: str, names: tuple[str, ...]) -> dict[str, str]:
    """The named fields of the collection's record as queryables; an incident's `group` (the
    groups it is attributed to) is a queryable but no field of its own."""
    fields = kinds(PROPERTIES[collection]) | {"group": "text"}
    return {name: _QUERYABLE_TYPES[fields[name]] for name in names}


def _properties(collection: str) -> tuple[str, ...]:
    return tuple(PROPERTIES[collection].model_fields)


INCIDENT_PROPERTIES = _properties("incidents")
COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    Collection(
        "incidents", "Incidents", "Conflict incidents (ACLED vocabulary) with attribution claims, dated as "
        "intervals and located with a precision radius.", incidents, "Point", INCIDENT_PROPERTIES,
        _queryables("incidents", ("title", "event_type", "sub_event_type", "status", "country", "admin1", "admin2",
                                  "location_name", "target_site", "group", "precision_m", "fatalities_best",
                                  "date_start", "date_end")),
        ("date_start", "date_end")),
    Collection(
        "sites", "Sites", "Reference places that incidents target.", sites, "Point", _properties("sites"),
        _queryables("sites", ("name", "kind", "status", "country", "admin1", "precision_m"))),
    Collection(
        "control_zones", "Control zones", "Areas of control, presence or activity of armed groups, each valid "
        "from one date to another.", control_zones, "MultiPolygon", _properties("control_zones"),
        _queryables("control_zones", ("name", "group", "kind", "confidence", "status", "precision_m", "valid_from",
                                      "valid_to")),
        ("valid_from", "valid_to")),
)}


@dataclass(frozen=True)
class Near:
    lon: float
    lat: float
    radius_m: float


@dataclass(frozen=True)
class FeatureQuery:
    """A validated request for features; the HTTP layer and `geomap export` both build these."""

    collection: Collection
    bbox: tuple[float, float, float, float] | None = None
    interval: tuple[date | None, date | None] | None = None
    equals: dict[str, tuple[str, ...]] = field(default_factory=dict)
    where: ColumnElement | None = None  # a CQL2 filter, already translated by geomap.db.cql2
    near: Near | None = None
    sortby: tuple[tuple[str, bool], ...] = ()  # (queryable, ascending)
    limit: int | None = 100
    offset: int = 0


@dataclass(frozen=True)
class Page:
    features: list[str]  # each a GeoJSON Feature as JSON text
    more: bool  # another page follows


# -- the Feature as JSON --------------------------------------------------------------------

def _attributions_json() -> ColumnElement:
    a = attributions.c
    claim = func.json_build_object("group", a.group_id, "claimant", a.claimant, "stance", a.stance,
                                   "sources", a.sources, "notes", a.notes)
    return (select(func.coalesce(func.json_agg(aggregate_order_by(claim, a.position)), literal_column("'[]'::json")))
            .where(a.incident_id == incidents.c.id).scalar_subquery())


def _property(collection: Collection, name: str) -> ColumnElement:
    return _attributions_json() if name == "attributions" else collection.column(name)


def feature_json(collection: Collection, near: Near | None = None) -> ColumnElement:
    """The Feature built by PostgreSQL; with `near`, `distance_m` joins its properties."""
    t = collection.table
    pairs = [part for name in collection.properties for part in (name, _property(collection, name))]
    if near is not None:
        pairs += ["distance_m", _distance(t, near)]
    geometry = cast(func.ST_AsGeoJSON(t.c.geom, COORDINATE_DIGITS), JSON)
    return func.json_build_object("type", "Feature", "id", t.c.id, "geometry", geometry,
                                  "properties", func.json_build_object(*pairs))


def _geography(column) -> ColumnElement:
    return cast(column, Geography())


def _distance(table: Table, near: Near) -> ColumnElement:
    return func.ST_Distance(_geography(table.c.geom), point(near.lon, near.lat))


# -- clauses --------------------------------------------------------------------------------

def _bbox(collection: Collection, bbox: tuple[float, float, float, float]) -> ColumnElement:
    envelope = func.ST_MakeEnvelope(*bbox, 4326)
    return and_(collection.table.c.geom.op("&&")(envelope), func.ST_Intersects(collection.table.c.geom, envelope))


def _interval(collection: Collection, start: date | None, end: date | None) -> ColumnElement:
    """Features whose own interval (dates, or validity with an open end) overlaps [start, end].

    As range overlap, so that the (geom, daterange) GiST index answers bbox and time together;
    a null bound is open on either side.
    """
    first, last = (collection.column(c) for c in collection.temporal)
    own = func.daterange(first, last, "[]")
    return own.op("&&")(func.daterange(start, end, "[]"))


def equals_clause(collection: Collection, name: str, values: tuple[str, ...]) -> ColumnElement:
    if collection.id == "incidents" and name == "group":
        return attributed_to(values)
    return collection.column(name).in_(values)


def _near(collection: Collection, near: Near) -> ColumnElement:
    return within(collection.table.c.geom, near.lon, near.lat, near.radius_m)


def _clauses(q: FeatureQuery) -> list[ColumnElement]:
    clauses = [equals_clause(q.collection, name, values) for name, values in q.equals.items()]
    if q.bbox is not None:
        clauses.append(_bbox(q.collection, q.bbox))
    if q.interval is not None and q.collection.temporal is not None:
        clauses.append(_interval(q.collection, *q.interval))
    if q.near is not None:
        clauses.append(_near(q.collection, q.near))
    if q.where is not None:
        clauses.append(q.where)
    return clauses


def _order(q: FeatureQuery) -> list[ColumnElement]:
    t = q.collection.table
    order = [q.collection.column(name).asc() if ascending else q.collection.column(name).desc()
             for name, ascending in q.sortby]
    if q.near is not None and not q.sortby:
        order.append(_distance(t, q.near).asc())
    return order + [t.c.id.asc()]  # a total order, so that pages never overlap or skip


def statement(q: FeatureQuery) -> Select:
    query = select(cast(feature_json(q.collection, q.near), Text).label("feature")).where(*_clauses(q)).order_by(*_order(q))
    if q.limit is not None:
        query = query.limit(q.limit + 1)
    return query.offset(q.offset) if q.offset else query


# -- running --------------------------------------------------------------------------------

def page(conn: Connection, q: FeatureQuery) -> Page:
    """One page (limit + 1 rows are read to know whether another follows; no COUNT)."""
    rows = conn.execute(statement(q)).scalars().all()
    more = q.limit is not None and len(rows) > q.limit
    return Page(rows[: q.limit] if more else rows, more)


def stream(conn: Connection, q: FeatureQuery, batch: int = 1000) -> Iterator[str]:
    """Every matching feature as JSON text, in order, fetched in batches (for exports)."""
    yield from conn.execution_options(stream_results=True, yield_per=batch).execute(statement(q)).scalars()


def one(conn: Connection, collection: Collection, feature_id: str) -> tuple[str, int] | None:
    """A feature's JSON text and its version (for the ETag)."""
    t = collection.table
    row = conn.execute(select(cast(feature_json(collection), Text), t.c.version).where(t.c.id == feature_id)).first()
    return (row[0], row[1]) if row else None
