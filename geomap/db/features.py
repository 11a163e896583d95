"""Feature queries (`geomap.model.query.FeatureQuery`) translated into SQL: small clause
builders, every value bound. The HTTP API and `geomap export` run them.

PostgreSQL builds each Feature's GeoJSON (json_build_object + ST_AsGeoJSON), so a page of
features crosses into Python as text and leaves as bytes. The properties are exactly the data
model's (docs/data-model.md), so an exported feature loads back unchanged.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Connection, Select, Table, Text, and_, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by

from geomap.db import cql2, incarnation
from geomap.db import crs as in_crs
from geomap.db.candidates import Geography, attributed_to, point, within
from geomap.db.incarnation import Version
from geomap.db.schema import attributions, control_zones, incidents, sites
from geomap.model.crs import Crs
from geomap.model.query import COLLECTIONS, Collection, FeatureQuery, Near
from geomap.model.records import PROPERTIES

COORDINATE_DIGITS = 9  # ~0.1 mm: stored doubles survive an export/import round trip at this precision


def _properties(collection: str) -> tuple[str, ...]:
    """The properties of a collection's Features, in order: the fields of its record."""
    return tuple(PROPERTIES[collection].model_fields)


INCIDENT_PROPERTIES = _properties("incidents")


@dataclass(frozen=True)
class Stored:
    """Where a collection (`geomap.model.query.COLLECTIONS`) is stored: its table, and the
    properties of its Features in order (each a column, but for an incident's attributions)."""

    collection: Collection
    table: Table
    properties: tuple[str, ...]

    def column(self, name: str) -> ColumnElement:
        """The column of a property or queryable (a zone's `group` is its `group_id`)."""
        return self.table.c["group_id" if name == "group" and self.collection.id == "control_zones" else name]


STORED: dict[str, Stored] = {s.collection.id: s for s in (
    Stored(COLLECTIONS["incidents"], incidents, INCIDENT_PROPERTIES),
    Stored(COLLECTIONS["sites"], sites, _properties("sites")),
    Stored(COLLECTIONS["control_zones"], control_zones, _properties("control_zones")),
)}


@dataclass(frozen=True)
class FeaturePage:
    """The features of one page, and whether another follows."""

    features: list[str]  # each a GeoJSON Feature as JSON text
    more: bool  # another page follows


# -- the Feature as JSON --------------------------------------------------------------------

def _attributions_json() -> ColumnElement:
    a = attributions.c
    claim = func.json_build_object("group", a.group_id, "claimant", a.claimant, "stance", a.stance,
                                   "sources", a.sources, "notes", a.notes)
    return (select(func.coalesce(func.json_agg(aggregate_order_by(claim, a.position)), literal_column("'[]'::json")))
            .where(a.incident_id == incidents.c.id).scalar_subquery())


def _property(stored: Stored, name: str) -> ColumnElement:
    return _attributions_json() if name == "attributions" else stored.column(name)


def feature_json(stored: Stored, near: Near | None = None, crs: Crs | None = None) -> ColumnElement:
    """The Feature built by PostgreSQL; with `near`, `distance_m` joins its properties; with
    `crs`, its coordinates are in that CRS (geomap.db.crs)."""
    t = stored.table
    pairs = [part for name in stored.properties for part in (name, _property(stored, name))]
    if near is not None:
        pairs += ["distance_m", _distance(t, near)]
    geometry = cast(func.ST_AsGeoJSON(t.c.geom, COORDINATE_DIGITS) if crs is None else
                    func.ST_AsGeoJSON(in_crs.geometry(t.c.geom, crs), in_crs.digits(crs)), JSON)
    return func.json_build_object("type", "Feature", "id", t.c.id, "geometry", geometry,
                                  "properties", func.json_build_object(*pairs))


def _geography(column) -> ColumnElement:
    return cast(column, Geography())


def _distance(table: Table, near: Near) -> ColumnElement:
    return func.ST_Distance(_geography(table.c.geom), point(near.lon, near.lat))


# -- clauses --------------------------------------------------------------------------------

def _bbox(stored: Stored, bbox: tuple[float, float, float, float], bbox_crs: Crs | None = None) -> ColumnElement:
    envelope = func.ST_MakeEnvelope(*bbox, 4326) if bbox_crs is None else in_crs.envelope(bbox, bbox_crs)
    return and_(stored.table.c.geom.op("&&")(envelope), func.ST_Intersects(stored.table.c.geom, envelope))


def _interval(stored: Stored, start: date | None, end: date | None) -> ColumnElement:
    """Features whose own interval (dates, or validity with an open end) overlaps [start, end].

    As range overlap, so that the (geom, daterange) GiST index answers bbox and time together;
    a null bound is open on either side.
    """
    first, last = (stored.column(c) for c in stored.collection.temporal)
    own = func.daterange(first, last, "[]")
    return own.op("&&")(func.daterange(start, end, "[]"))


def equals_clause(stored: Stored, name: str, values: tuple) -> ColumnElement:
    """`name` is one of `values`; for incidents' `group`, any group an affirmative claim names."""
    if stored.collection.id == "incidents" and name == "group":
        return attributed_to(values)
    return stored.column(name).in_(values)


def _near(stored: Stored, near: Near) -> ColumnElement:
    return within(stored.table.c.geom, near.lon, near.lat, near.radius_m)


def _clauses(stored: Stored, q: FeatureQuery) -> list[ColumnElement]:
    clauses = [equals_clause(stored, name, values) for name, values in q.equals.items()]
    if q.bbox is not None:
        clauses.append(_bbox(stored, q.bbox, q.bbox_crs))
    if q.interval is not None and stored.collection.temporal is not None:
        clauses.append(_interval(stored, *q.interval))
    if q.near is not None:
        clauses.append(_near(stored, q.near))
    if q.filter is not None:
        clauses.append(cql2.translate(q.filter, stored))
    return clauses


def _order(stored: Stored, q: FeatureQuery) -> list[ColumnElement]:
    order = [stored.column(key.queryable).asc() if key.ascending else stored.column(key.queryable).desc()
             for key in q.sortby]
    if q.near is not None and not q.sortby:
        order.append(_distance(stored.table, q.near).asc())
    return order + [stored.table.c.id.asc()]  # a total order, so that pages never overlap or skip


def statement(q: FeatureQuery) -> Select:
    """The SQL for a feature query; a CQL2 filter that names no queryable is a BadRequest."""
    stored = STORED[q.collection.id]
    query = (select(cast(feature_json(stored, q.near, q.crs), Text).label("feature"))
             .where(*_clauses(stored, q)).order_by(*_order(stored, q)))
    if q.page.limit is not None:
        query = query.limit(q.page.limit + 1)
    return query.offset(q.page.offset) if q.page.offset else query


# -- running --------------------------------------------------------------------------------

def page(conn: Connection, q: FeatureQuery) -> FeaturePage:
    """One page (limit + 1 rows are read to know whether another follows; no COUNT)."""
    rows = conn.execute(statement(q)).scalars().all()
    limit = q.page.limit
    more = limit is not None and len(rows) > limit
    return FeaturePage(rows[:limit] if more else rows, more)


def stream(conn: Connection, q: FeatureQuery, batch: int = 1000) -> Iterator[str]:
    """Every matching feature as JSON text, in order, fetched in batches (for exports)."""
    yield from conn.execution_options(stream_results=True, yield_per=batch).execute(statement(q)).scalars()


def one(conn: Connection, collection: Collection, feature_id: str,
        crs: Crs | None = None) -> tuple[str, Version] | None:
    """A feature's JSON text (in `crs`, else CRS84) and its version (for the ETag)."""
    stored = STORED[collection.id]
    t = stored.table
    row = conn.execute(select(cast(feature_json(stored, crs=crs), Text), t.c.version, incarnation.of(t))
                       .where(t.c.id == feature_id)).first()
    return (row[0], Version(row[1], row[2])) if row else None
