"""Where each collection of the OGC API is stored (`Stored`, `STORED`) and the clauses that a
feature query's criteria (`geomap.model.query.FeatureQuery`: equality, bbox, datetime, near, CQL2)
make on its table, every value bound. `geomap.db.features` builds its statements from them,
`geomap.db.counts` its counts, `geomap.db.cql2` its translations.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import BindParameter, ColumnElement, Date, Integer, Table, and_, bindparam, cast, func, or_, select

from geomap.db import cql2
from geomap.db import crs as in_crs
from geomap.db.candidates import attributed_to
from geomap.db.reach import within
from geomap.db.schema import control_zones, incidents, relations, sites
from geomap.model.crs import Crs
from geomap.model.query import COLLECTIONS, Collection, FeatureQuery, Near
from geomap.model.records import PROPERTIES


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
    # A date window is stated on the two dates (not as a range overlap) and bounded below on the
    # start date by the longest span (`geomap.db.features.longest_span`), so that the start-date B-tree walks it
    # in the collection's date order (`Collection.order`) and stops after the page.
    walks_dates: bool = False

    def column(self, name: str) -> ColumnElement:
        """The column of a property or queryable (a zone's `group` is its `group_id`)."""
        return self.table.c["group_id" if name == "group" and self.collection.id == "control_zones" else name]


STORED: dict[str, Stored] = {s.collection.id: s for s in (
    Stored(COLLECTIONS["incidents"], incidents, INCIDENT_PROPERTIES, walks_dates=True),
    Stored(COLLECTIONS["sites"], sites, _properties("sites")),
    Stored(COLLECTIONS["control_zones"], control_zones, _properties("control_zones")),
    Stored(COLLECTIONS["relations"], relations, _properties("relations")),
)}


# -- clauses --------------------------------------------------------------------------------

def _bbox(stored: Stored, bbox: tuple[float, float, float, float], bbox_crs: Crs | None = None) -> ColumnElement:
    """Within the box; a CRS84 box across the antimeridian (west > east) is its two halves."""
    west, south, east, north = bbox
    if bbox_crs is None and crosses(bbox):
        return or_(_bbox(stored, (west, south, 180.0, north)), _bbox(stored, (-180.0, south, east, north)))
    envelope = func.ST_MakeEnvelope(*bbox, 4326) if bbox_crs is None else in_crs.envelope(bbox, bbox_crs)
    # ST_Intersects brings its own `&&` for the index (PostGIS's support function): a second one
    # would count the box's selectivity twice, and the planner then expects a dense box's page
    # to be found among a few rows and sorts them all rather than walking an order (issue 16).
    return func.ST_Intersects(stored.table.c.geom, envelope)


def crosses(bbox: tuple) -> bool:
    """Whether a CRS84 box crosses the antimeridian (west > east). A box of bind parameters
    (`_bound`'s, which never crosses) does not."""
    return not isinstance(bbox[0], BindParameter) and bbox[0] > bbox[2]


def _interval(stored: Stored, start: date | None, end: date | None, longest: bool = False) -> ColumnElement:
    """Features whose own interval (dates, or validity with an open end) overlaps [start, end];
    a null bound is open on either side.

    As range overlap, so that the (geom, daterange) GiST index answers bbox and time together;
    for a collection that `walks_dates`, as the two date tests, and with `longest` also the
    start date at most the longest span (the `longest` parameter, `longest_span`) before the
    window: no feature more, but a start for the start-date B-tree's walk.
    """
    first, last = (stored.column(c) for c in stored.collection.temporal)
    if not stored.walks_dates:
        return func.daterange(first, last, "[]").op("&&")(func.daterange(start, end, "[]"))
    clauses = [] if end is None else [first <= end]
    if start is not None:
        clauses.append(last >= start)
        if longest:
            clauses += [first >= cast(start, Date) - bindparam("longest", type_=Integer), _longest_holds(stored)]
    return and_(*clauses)


def _longest_holds(stored: Stored) -> ColumnElement:
    """No feature spans longer than the `longest` parameter (a one-time filter, read from
    migration 0013's index): a longer span written since it was read empties the page, which
    `page` then reads again."""
    first, last = (stored.column(c) for c in stored.collection.temporal)
    return select(func.coalesce(func.max(last - first), 0)).scalar_subquery() <= bindparam("longest", type_=Integer)


def equals_clause(stored: Stored, name: str, values: tuple) -> ColumnElement:
    """`name` is one of `values`; for incidents' `group`, any group an affirmative claim names."""
    if stored.collection.id == "incidents" and name == "group":
        return attributed_to(values)
    return stored.column(name).in_(values)


def _near(stored: Stored, near: Near) -> ColumnElement:
    return within(stored.table.c.geom, near.lon, near.lat, near.radius_m)


def where(stored: Stored, q: FeatureQuery, longest: bool = False) -> list[ColumnElement]:
    """The clauses every matching feature meets (all of the query's criteria; not its page); with
    `longest`, a date window's start bound of the start date too (`_interval`)."""
    clauses = [equals_clause(stored, name, values) for name, values in q.equals.items()]
    if q.bbox is not None:
        clauses.append(_bbox(stored, q.bbox, q.bbox_crs))
    if q.interval is not None and stored.collection.temporal is not None:
        clauses.append(_interval(stored, *q.interval, longest))
    if q.near is not None:
        clauses.append(_near(stored, q.near))
    if q.filter is not None:
        clauses.append(cql2.translate(q.filter, stored))
    return clauses
