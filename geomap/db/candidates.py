"""Candidates for the analysis engine, narrowed by index (DESIGN.md decision 3).

The database answers "which rows could matter" with GiST-indexed `ST_DWithin` on geography and
the date indexes; `geomap.analysis` computes the exact answer. Every value is bound.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from sqlalchemy.dialects.postgresql import TIMESTAMP, aggregate_order_by
from sqlalchemy.types import NullType, UserDefinedType

from sqlalchemy import (
    Connection, ColumnElement, Select, and_, case, cast, distinct, exists, func, literal_column, or_, select,
    Text, type_coerce,
)

from geomap.db.schema import attributions, control_zones, groups, incidents, sites
from geomap.vocabulary import AFFIRMATIVE_STANCES


class Geography(UserDefinedType):
    """Plain `geography`, so that a cast compiles to `CAST(geom AS geography)` and matches the
    `(geom::geography)` expression indexes (GeoAlchemy2's type adds a typmod that would not)."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "geography"


def point(lon: float, lat: float) -> ColumnElement:
    return cast(func.ST_SetSRID(func.ST_MakePoint(float(lon), float(lat)), 4326), Geography)


def _within(geom_column, lon: float, lat: float, metres: float) -> ColumnElement:
    """Indexable: the geography cast matches the `(geom::geography)` GiST index."""
    return func.ST_DWithin(cast(geom_column, Geography), point(lon, lat), float(metres))


def _incident_groups() -> ColumnElement:
    return (select(func.coalesce(func.array_agg(distinct(attributions.c.group_id)), literal_column("'{}'::text[]")))
            .where(attributions.c.incident_id == incidents.c.id, attributions.c.stance.in_(AFFIRMATIVE_STANCES))
            .scalar_subquery())


def incident_select() -> Select:
    """The incident columns the analysis needs, with the groups of its attribution claims."""
    return select(
        incidents.c.id, incidents.c.title, incidents.c.date_start, incidents.c.date_end,
        incidents.c.event_type, incidents.c.sub_event_type, incidents.c.status, incidents.c.precision_m,
        incidents.c.target_site, incidents.c.sources,
        func.ST_X(incidents.c.geom).label("lon"), func.ST_Y(incidents.c.geom).label("lat"),
        _incident_groups().label("groups"),
    )


def max_precision(conn: Connection) -> float:
    """The largest incident precision radius (read from its index)."""
    return conn.execute(select(func.coalesce(func.max(incidents.c.precision_m), 0.0))).scalar_one()


def incidents_near(conn: Connection, lon: float, lat: float, radius_m: float, *,
                   date_from: date | None = None, date_to: date | None = None,
                   event_types: Iterable[str] = (), group_ids: Iterable[str] = (),
                   exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Incidents whose precision circle may reach within `radius_m` of the point.

    The index condition uses the widest precision in the table; the second condition keeps
    only rows whose own precision lets them reach, so that no row is transferred for nothing.
    """
    reach = radius_m + max_precision(conn)
    exact = func.ST_DWithin(cast(incidents.c.geom, Geography), point(lon, lat),
                            float(radius_m) + incidents.c.precision_m)
    query = incident_select().where(_within(incidents.c.geom, lon, lat, reach), exact,
                                    *_incident_filters(date_from, date_to, event_types, group_ids, exclude))
    if date_from is not None or date_to is not None:
        # The same rows, stated so that the (geom, daterange) GiST index can answer space and time together.
        own = func.daterange(incidents.c.date_start, incidents.c.date_end, "[]")
        query = query.where(incidents.c.geom.op("&&")(envelope(lon, lat, reach)),
                            own.op("&&")(func.daterange(date_from, date_to, "[]")))
    return conn.execute(query).mappings().all()


def _incident_filters(date_from, date_to, event_types, group_ids, exclude) -> list[ColumnElement]:
    clauses = []
    if date_from is not None:
        clauses.append(incidents.c.date_end >= date_from)
    if date_to is not None:
        clauses.append(incidents.c.date_start <= date_to)
    if event_types := list(event_types):
        clauses.append(incidents.c.event_type.in_(event_types))
    if group_ids := list(group_ids):
        clauses.append(exists().where(attributions.c.incident_id == incidents.c.id,
                                      attributions.c.group_id.in_(group_ids),
                                      attributions.c.stance.in_(AFFIRMATIVE_STANCES)))
    if exclude := list(exclude):
        clauses.append(incidents.c.id.not_in(exclude))
    return clauses


PRIOR_SEARCH_M = 100_000.0
PRIOR_SEARCH_DAYS = 365


def nearest_incidents(conn: Connection, lon: float, lat: float, *, group_id: str, before: date,
                      limit: int = 5) -> list[dict[str, Any]]:
    """The incidents of a group that ended before `before`, at most PRIOR_SEARCH_DAYS earlier
    and PRIOR_SEARCH_M away, nearest first; the caller re-ranks these few exactly.

    The horizon lets the (geom, daterange) GiST index answer space and time in one scan: an
    unbounded nearest-neighbour walk reads the whole index when a group has few such incidents.
    """
    window = func.daterange(before - timedelta(days=PRIOR_SEARCH_DAYS), before, "[)")
    own = func.daterange(incidents.c.date_start, incidents.c.date_end, "[]")
    query = (incident_select()
             .where(incidents.c.geom.op("&&")(envelope(lon, lat, PRIOR_SEARCH_M)), own.op("&&")(window),
                    incidents.c.date_end < before, _within(incidents.c.geom, lon, lat, PRIOR_SEARCH_M),
                    *_incident_filters(None, None, (), (group_id,), ()))
             .order_by(func.ST_Distance(cast(incidents.c.geom, Geography), point(lon, lat))).limit(limit))
    return conn.execute(query).mappings().all()


def envelope(lon: float, lat: float, metres: float) -> ColumnElement:
    """A lon/lat box that holds every point within `metres` (a little generous), for the
    geometry indexes."""
    dy = metres / 110_574 * 1.01
    dx = min(180.0, metres / (111_320 * max(0.01, math.cos(math.radians(lat)))) * 1.01)
    return func.ST_MakeEnvelope(lon - dx, max(-90.0, lat - dy), lon + dx, min(90.0, lat + dy), 4326)


def incident(conn: Connection, incident_id: str) -> dict[str, Any] | None:
    row = conn.execute(incident_select().where(incidents.c.id == incident_id)).mappings().first()
    return dict(row) if row else None


def _site_select() -> Select:
    return select(sites.c.id, sites.c.name, sites.c.kind, sites.c.precision_m, sites.c.status, sites.c.sources,
                  func.ST_X(sites.c.geom).label("lon"), func.ST_Y(sites.c.geom).label("lat"))


def site(conn: Connection, site_id: str) -> dict[str, Any] | None:
    row = conn.execute(_site_select().where(sites.c.id == site_id)).mappings().first()
    return dict(row) if row else None


def sites_near(conn: Connection, lon: float, lat: float, radius_m: float) -> list[dict[str, Any]]:
    reach = radius_m + conn.execute(select(func.coalesce(func.max(sites.c.precision_m), 0.0))).scalar_one()
    return [dict(r) for r in conn.execute(_site_select().where(_within(sites.c.geom, lon, lat, reach))).mappings()]


def _zone_select() -> Select:
    c = control_zones.c
    return select(c.id, c.name, c.group_id, c.kind, c.valid_from, c.valid_to, c.confidence, c.status,
                  c.precision_m, c.sources, func.ST_AsBinary(c.geom).label("wkb"))


def in_force(on: date) -> ColumnElement:
    c = control_zones.c
    return and_(c.valid_from <= on, or_(c.valid_to.is_(None), c.valid_to >= on))


def zones_in_force(conn: Connection, on: date, group_ids: Iterable[str] = ()) -> list[dict[str, Any]]:
    query = _zone_select().where(in_force(on))
    if group_ids := list(group_ids):
        query = query.where(control_zones.c.group_id.in_(group_ids))
    return [_zone_row(r) for r in conn.execute(query.order_by(control_zones.c.id)).mappings()]


def zone(conn: Connection, zone_id: str) -> dict[str, Any] | None:
    row = conn.execute(_zone_select().where(control_zones.c.id == zone_id)).mappings().first()
    return _zone_row(row) if row else None


def _zone_row(row) -> dict[str, Any]:
    return {**row, "wkb": bytes(row["wkb"])}


def all_groups(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(groups.c.id, groups.c.name, groups.c.color).order_by(groups.c.id))
            .mappings()]


# -- maps (geomap.maps): the incidents, sites and zones a map of a selection shows ---------------

MAP_PERIODS = ("month", "quarter", "year")  # the time bins of server-side aggregation


def _in_bbox(geom_column, bbox: tuple[float, float, float, float]) -> ColumnElement:
    envelope = func.ST_MakeEnvelope(*(float(v) for v in bbox), 4326)
    return and_(geom_column.op("&&")(envelope), func.ST_Intersects(geom_column, envelope))


def map_incident_filters(bbox=None, date_from: date | None = None, date_to: date | None = None,
                         event_types: Iterable[str] = (), group_ids: Iterable[str] = (),
                         ids: Iterable[str] = ()) -> list[ColumnElement]:
    """The selection of a map: the items endpoint's bbox, datetime, event_type and group filters."""
    clauses = _incident_filters(date_from, date_to, event_types, group_ids, ())
    if ids := list(ids):
        clauses.append(incidents.c.id.in_(ids))
    return clauses + ([_in_bbox(incidents.c.geom, bbox)] if bbox else [])


def map_incidents(conn: Connection, clauses: list[ColumnElement], limit: int | None = None) -> list[dict[str, Any]]:
    """Incidents with the columns a map popup shows, oldest first."""
    query = (incident_select().add_columns(incidents.c.description, incidents.c.location_name,
                                           incidents.c.fatalities_best)
             .where(*clauses).order_by(incidents.c.date_start, incidents.c.id).limit(limit))
    return [dict(row) for row in conn.execute(query).mappings()]


def count_incidents(conn: Connection, clauses: list[ColumnElement], cap: int) -> int:
    """How many incidents match, counting no further than `cap` (so a huge table costs little)."""
    capped = select(incidents.c.id).where(*clauses).limit(cap).subquery()
    return conn.execute(select(func.count()).select_from(capped)).scalar_one()


def incident_bounds(conn: Connection, clauses: list[ColumnElement]) -> dict[str, Any] | None:
    """The bounding box (west, south, east, north) and dates (first, last) of matching incidents."""
    lon, lat = func.ST_X(incidents.c.geom), func.ST_Y(incidents.c.geom)
    query = select(func.min(lon).label("west"), func.min(lat).label("south"), func.max(lon).label("east"),
                   func.max(lat).label("north"), func.min(incidents.c.date_start).label("first"),
                   func.max(incidents.c.date_end).label("last")).where(*clauses)
    row = conn.execute(query).mappings().first()
    return None if row is None or row["west"] is None else dict(row)


def incident_cells(conn: Connection, clauses: list[ColumnElement], origin: tuple[float, float],
                   cell: tuple[float, float], period: str, by: str) -> list:
    """Incidents counted per grid cell and period (server-side clustering for big maps).

    A cell is `cell` degrees wide and high from `origin`; the period is the month, quarter or
    year of `date_start`; the category is the event type (`by="event_type"`) or the attributed
    group (`by="group"`: a group id, "" for none, "+" for two or more groups). One row per cell
    and period: cx, cy, period (its first day), categories and counts (largest first), n, mean
    lon and lat, first and last date.
    """
    if period not in MAP_PERIODS:
        raise ValueError(f"period must be one of {MAP_PERIODS}")
    lon, lat = func.ST_X(incidents.c.geom), func.ST_Y(incidents.c.geom)
    category, claims = (incidents.c.event_type, None) if by == "event_type" else _group_category()
    inner = select(
        lon.label("lon"), lat.label("lat"), incidents.c.date_start, incidents.c.date_end,
        func.floor((lon - float(origin[0])) / float(cell[0])).label("cx"),
        func.floor((lat - float(origin[1])) / float(cell[1])).label("cy"),
        # date -> timestamp (not timestamptz): truncating in a time zone costs more than the rest
        func.date(func.date_trunc(period, cast(incidents.c.date_start, TIMESTAMP))).label("period"),
        category.label("category"),
    ).where(*clauses)
    if claims is not None:  # one hash join, not a subquery per incident
        inner = inner.select_from(incidents.outerjoin(claims, claims.c.incident_id == incidents.c.id))
    inner = inner.subquery()
    keys = (inner.c.cx, inner.c.cy, inner.c.period)
    per_category = (select(*keys, inner.c.category, func.count().label("n"), func.sum(inner.c.lon).label("lons"),
                           func.sum(inner.c.lat).label("lats"), func.min(inner.c.date_start).label("first"),
                           func.max(inner.c.date_end).label("last"))
                    .group_by(*keys, inner.c.category).subquery())
    c = per_category.c
    order = (c.n.desc(), c.category)
    untyped = NullType()  # psycopg already returns Python lists; SQLAlchemy need not walk them again
    query = (select(c.cx, c.cy, c.period,
                    type_coerce(func.array_agg(aggregate_order_by(c.category, *order)), untyped).label("categories"),
                    type_coerce(func.array_agg(aggregate_order_by(c.n, *order)), untyped).label("counts"),
                    func.sum(c.n).label("n"),
                    (func.sum(c.lons) / func.sum(c.n)).label("lon"), (func.sum(c.lats) / func.sum(c.n)).label("lat"),
                    func.min(c.first).label("first"), func.max(c.last).label("last"))
             .group_by(c.cx, c.cy, c.period).order_by(c.cx, c.cy, c.period))
    return conn.execute(query).all()


def _group_category() -> tuple[ColumnElement, Any]:
    """"" (none), a group id (one) or "+" (several), from the incident's affirmative claims.

    min and max of the claimed groups tell one from several without a DISTINCT, so that the
    claims of every incident aggregate in one hash pass."""
    claims = (select(attributions.c.incident_id, func.min(attributions.c.group_id).label("first"),
                     func.max(attributions.c.group_id).label("last"))
              .where(attributions.c.stance.in_(AFFIRMATIVE_STANCES)).group_by(attributions.c.incident_id)
              .subquery("claims"))
    return case((claims.c.first.is_(None), literal_column("''")), (claims.c.first == claims.c.last, claims.c.first),
                else_=literal_column("'+'")), claims


def map_sites(conn: Connection, bbox=None) -> list[dict[str, Any]]:
    query = _site_select().order_by(sites.c.id)
    return [dict(r) for r in conn.execute(query.where(_in_bbox(sites.c.geom, bbox)) if bbox else query).mappings()]


def map_zones(conn: Connection, bbox=None, date_from: date | None = None, date_to: date | None = None,
              group_ids: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Zones in force at some time in [date_from, date_to] (open ends allowed) inside `bbox`."""
    c = control_zones.c
    clauses = [c.group_id.in_(list(group_ids))] if list(group_ids) else []
    if date_to is not None:
        clauses.append(c.valid_from <= date_to)
    if date_from is not None:
        clauses.append(or_(c.valid_to.is_(None), c.valid_to >= date_from))
    if bbox:
        clauses.append(_in_bbox(c.geom, bbox))
    return [_zone_row(r) for r in conn.execute(_zone_select().add_columns(c.notes).where(*clauses).order_by(c.id))
            .mappings()]


def change_stamp(conn: Connection) -> str:
    """The server's write-ahead-log position: it moves on every commit anywhere in the cluster, so
    data read after it is at least as new as it (a cache keyed on it is never stale; it is only
    dropped more often than needed). On a read replica, the position replayed so far."""
    return conn.execute(select(case((func.pg_is_in_recovery(), func.pg_last_wal_replay_lsn()),
                                    else_=func.pg_current_wal_lsn()).cast(Text))).scalar_one()
