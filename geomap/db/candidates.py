"""Candidates for the analysis engine, narrowed by index (DESIGN.md decision 3).

The database answers "which rows could matter" with the geometry GiST indexes (lon/lat boxes
around the circle, `in_envelope`, with the dates where there are some) and an exact `ST_DWithin`
on geography; `geomap.analysis` computes the exact answer. Every value is bound.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    Float,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    func,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import NullType, UserDefinedType

from geomap.db.schema import control_zones, groups, incidents, sites


class Geography(UserDefinedType):
    """Plain `geography`, so that a cast compiles to `CAST(geom AS geography)` and matches the
    `(geom::geography)` expression indexes (GeoAlchemy2's type adds a typmod that would not)."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "geography"


def point(lon: float, lat: float) -> ColumnElement:
    """A WGS84 lon/lat point as a geography, for geodesic distances in metres."""
    return cast(func.ST_SetSRID(func.ST_MakePoint(float(lon), float(lat)), 4326), Geography)


def within(geom_column, lon: float, lat: float, metres: float) -> ColumnElement:
    """Rows within `metres` (geodesic) of the point: boxes the geometry GiST index answers
    (`in_envelope`), then the exact test."""
    return and_(in_envelope(geom_column, lon, lat, metres),
                func.ST_DWithin(cast(geom_column, Geography), point(lon, lat), float(metres)))


def _incident_groups() -> ColumnElement:
    """The groups the incident's affirmative claims name (kept by the database, migration 0005)."""
    return type_coerce(incidents.c.attributed_groups, NullType())  # psycopg returns lists: no second pass


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


# The largest precision radius is kept per pooled connection rather than read before every
# query (a round trip each, issue 16). Each query checks it is still the largest in the same
# statement, at no cost in round trips: `_widest_holds` is a one-time filter on the
# precision index, so a write of a wider precision (from any process) makes the query return no
# rows, and an empty answer is re-read with the largest radius read afresh (`_guarded`).
WIDEST = "geomap.widest_precision_m"


def _widest_holds() -> ColumnElement:
    return select(func.coalesce(func.max(incidents.c.precision_m), 0.0)).scalar_subquery() <= bindparam("widest")


def _guarded(conn: Connection, statement: Callable[[int], Select], params: dict[str, Any]) -> list:
    """The rows of a statement built on `_near_clauses` for its number of boxes, with the kept
    largest precision, and again with the one read now when it may have grown since (no rows)."""
    widest = conn.info.get(WIDEST)
    if widest is not None:
        rows = _execute(conn, statement, params, widest)
        if rows:
            return rows
    fresh = max_precision(conn)
    conn.info[WIDEST] = fresh
    return rows if widest is not None and fresh <= widest else _execute(conn, statement, params, fresh)


def _execute(conn: Connection, statement: Callable[[int], Select], params: dict[str, Any], widest: float) -> list:
    """The statement's rows, with the boxes of the reach (the radius plus the largest precision)."""
    boxes = envelope(params["lon"], params["lat"], params["radius"] + widest)
    values = params | {"widest": widest} | {f"{k}{i}": v for i, box in enumerate(boxes)
                                            for k, v in zip(("west", "south", "east", "north"), box, strict=True)}
    return conn.execute(statement(len(boxes)), values).all()


def incidents_near(conn: Connection, lon: float, lat: float, radius_m: float, *,
                   date_from: date | None = None, date_to: date | None = None,
                   event_types: Iterable[str] = (), group_ids: Iterable[str] = (),
                   exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Incidents whose precision circle may reach within `radius_m` of the point."""
    params = _near_params(lon, lat, radius_m, date_from, date_to, event_types=list(event_types),
                          groups=list(group_ids), exclude=list(exclude))
    shape = _shape(params)
    return [row._mapping for row in _guarded(conn, lambda boxes: _incidents_near_statement(boxes, *shape), params)]


def neighbour_columns(conn: Connection, lon: float, lat: float, radius_m: float, *, date_from: date,
                      date_to: date, exclude: Iterable[str] = ()) -> list[tuple]:
    """Like `incidents_near`, but only (id, lon, lat, precision_m, date_start, date_end, groups):
    what counting thousands of neighbours needs (`geomap.analysis.proximity.Neighbours`)."""
    params = _near_params(lon, lat, radius_m, date_from, date_to, event_types=[], groups=[], exclude=list(exclude))
    shape = _shape(params)
    return _guarded(conn, lambda boxes: _neighbour_columns_statement(boxes, *shape), params)


def _near_params(lon, lat, radius_m, date_from, date_to, **lists) -> dict[str, Any]:
    return {"lon": float(lon), "lat": float(lat), "radius": float(radius_m), "date_from": date_from,
            "date_to": date_to, **lists}


def _shape(params: dict[str, Any]) -> tuple:
    """What decides the statement's text besides its number of boxes: whether there are dates, and which lists are given."""
    dated = params["date_from"] is not None or params["date_to"] is not None
    return (dated, *(bool(params[k]) for k in ("event_types", "groups", "exclude")))


@functools.cache
def _incidents_near_statement(boxes: int, dated: bool, event_types: bool, groups: bool, exclude: bool) -> Select:
    """incidents_near's statement for its shape, built once (its values are bound parameters)."""
    return incident_select().where(*_near_clauses(boxes, dated), *_list_clauses(event_types, groups, exclude))


@functools.cache
def _neighbour_columns_statement(boxes: int, dated: bool, event_types: bool, groups: bool, exclude: bool) -> Select:
    return select(incidents.c.id, func.ST_X(incidents.c.geom), func.ST_Y(incidents.c.geom), incidents.c.precision_m,
                  incidents.c.date_start, incidents.c.date_end, _incident_groups()
                  ).where(*_near_clauses(boxes, dated), *_list_clauses(event_types, groups, exclude))


def _near_clauses(boxes: int, dated: bool) -> list[ColumnElement]:
    """Rows whose precision circle may reach within the radius of the point. The index condition
    is the boxes of the reach, with the widest precision in the table; the exact test keeps only
    rows whose own precision lets them reach, so that no row is transferred for nothing."""
    at = func.ST_SetSRID(func.ST_MakePoint(bindparam("lon", type_=Float), bindparam("lat", type_=Float)), 4326)
    exact = func.ST_DWithin(cast(incidents.c.geom, Geography), cast(at, Geography),
                            bindparam("radius", type_=Float) + incidents.c.precision_m)
    box = [incidents.c.geom.op("&&")(func.ST_MakeEnvelope(*(bindparam(f"{k}{i}", type_=Float) for k in
                                                           ("west", "south", "east", "north")), 4326))
           for i in range(boxes)]
    clauses = [_widest_holds(), or_(*box), exact]
    if dated:  # so that the (geom, daterange) index answers both
        own = func.daterange(incidents.c.date_start, incidents.c.date_end, "[]")
        window = func.daterange(bindparam("date_from", type_=Date), bindparam("date_to", type_=Date), "[]")
        clauses.insert(2, own.op("&&")(window))
    return clauses


def _list_clauses(event_types: bool, groups: bool, exclude: bool) -> list[ColumnElement]:
    clauses = []
    if event_types:
        clauses.append(incidents.c.event_type.in_(bindparam("event_types", expanding=True)))
    if groups:
        clauses.append(incidents.c.attributed_groups.overlap(cast(bindparam("groups"), ARRAY(Text))))
    if exclude:
        clauses.append(incidents.c.id.not_in(bindparam("exclude", expanding=True)))
    return clauses


def attributed_to(group_ids: Iterable[str]) -> ColumnElement:
    """Incidents that an affirmative claim attributes to any of the groups."""
    return incidents.c.attributed_groups.overlap(cast(list(group_ids), ARRAY(Text)))


def incident_filters(date_from, date_to, event_types, group_ids, exclude) -> list[ColumnElement]:
    """The WHERE clauses of the incident filters given: the date window overlaps, event types, groups, ids excluded."""
    clauses = []
    if date_from is not None:
        clauses.append(incidents.c.date_end >= date_from)
    if date_to is not None:
        clauses.append(incidents.c.date_start <= date_to)
    if event_types := list(event_types):
        clauses.append(incidents.c.event_type.in_(event_types))
    if group_ids := list(group_ids):
        clauses.append(attributed_to(group_ids))
    if exclude := list(exclude):
        clauses.append(incidents.c.id.not_in(exclude))
    return clauses


def nearest_prior(conn: Connection, lon: float, lat: float, *, before: date, within_m: float, days: int,
                  per_group: int = 5) -> dict[str, list[dict[str, Any]]]:
    """For every group, its `per_group` incidents nearest the point that ended before `before`,
    at most `days` earlier and `within_m` metres away, nearest first; the caller re-ranks these
    few exactly (the horizon is the context report's: `geomap.analysis.report`).

    One scan for all groups: the (geom, daterange) GiST index answers space and time together
    (the distance test is a filter, so that the geography index does not add the whole ring for
    all dates), and each group's incidents are ranked by distance. (An unbounded
    nearest-neighbour walk per group reads the whole index when a group has few such incidents.)
    """
    metres_per_radian, margin = _local_scale(lat)
    ranked = conn.execute(_nearest_prior_statement(), {
        "lon": float(lon), "lat": float(lat), "within_m": float(within_m), "before": before,
        "since": before - timedelta(days=days), "per_group": per_group, "north_m": metres_per_radian[0],
        "east_m": metres_per_radian[1], "margin": margin,
        **dict(zip(("west", "south", "east", "north"), _one_box(lon, lat, within_m), strict=True))}).all()
    # Then the few ranked incidents by id: joined in the statement, the planner expected tens of
    # thousands of ranked rows and merge-joined them over the whole primary key (issue 16).
    rows = {row["id"]: row for row in incidents_by_id(conn, {r.id for r in ranked})}
    found: dict[str, list[dict[str, Any]]] = {}
    for r in ranked:
        found.setdefault(r.group_id, []).append(rows[r.id] | {"prior_of": r.group_id})
    return found


# WGS84, for the local scale of `_local_scale`.
WGS84_A, WGS84_E2 = 6_378_137.0, 0.0066943799901413165
# The local flat distance of `_nearest_prior_statement` is within 1.5 % of the geodesic one for
# points within 100 km of a centre at most 70 degrees from the equator (well within: the
# meridian's and the parallel's scale at the centre, the parallel's at the mean latitude), so
# every incident of a group's true k nearest has a flat distance within a factor (1.015)^2 of the
# group's k-th smallest flat distance. Nearer the poles, no such bound is claimed: every
# candidate is measured exactly.
FLAT_MARGIN, FLAT_MAX_LAT = 1.015 ** 2, 70.0


def _local_scale(lat: float) -> tuple[tuple[float, float], float]:
    """Metres per radian of latitude and of longitude (times the cosine of the latitude) at
    `lat`, and the margin of the flat distance (infinite where it is not claimed)."""
    phi = math.radians(lat)
    w = 1.0 - WGS84_E2 * math.sin(phi) ** 2
    scale = (WGS84_A * (1.0 - WGS84_E2) / w ** 1.5, WGS84_A / math.sqrt(w))
    return scale, (FLAT_MARGIN if abs(lat) <= FLAT_MAX_LAT else math.inf)


@functools.cache
def _nearest_prior_statement() -> Select:
    """Every group's nearest incidents (group_id, id), nearest first: built once.

    Measuring every candidate's geodesic distance (20,000 within 100 km and a year at 1M
    incidents) cost more than the scan; a flat distance in the centre's local scale ranks them
    first, and only those within `margin` of each group's k-th nearest are measured exactly."""
    lon, lat = bindparam("lon", type_=Float), bindparam("lat", type_=Float)
    window = func.daterange(bindparam("since", type_=Date), bindparam("before", type_=Date), "[)")
    own = func.daterange(incidents.c.date_start, incidents.c.date_end, "[]")
    box = func.ST_MakeEnvelope(*(bindparam(k, type_=Float) for k in ("west", "south", "east", "north")), 4326)
    x, y = func.ST_X(incidents.c.geom), func.ST_Y(incidents.c.geom)
    east = func.radians(x - lon - 360 * func.round((x - lon) / 360)) * bindparam("east_m", type_=Float) \
        * func.cos(func.radians((y + lat) / 2))
    north = func.radians(y - lat) * bindparam("north_m", type_=Float)
    near = (select(incidents.c.id, incidents.c.geom, incidents.c.attributed_groups.label("groups"),
                   func.sqrt(east * east + north * north).label("flat"))
            # ended before `before`: `&<` (does not extend to the right of the window), which the
            # (geom, daterange) GiST answers with the rest; as `date_end < before`, the planner
            # walked the date_end B-tree over every earlier incident (500,000 rows at 1M).
            .where(incidents.c.geom.op("&&")(box), own.op("&&")(window), own.op("&<")(window))
            .cte("near").prefix_with("MATERIALIZED"))  # each flat distance computed once, then filtered
    margin = bindparam("margin", type_=Float)
    claimed = (select(func.unnest(near.c.groups).label("group_id"), near.c.id, near.c.geom, near.c.flat)
               .where(near.c.flat <= bindparam("within_m", type_=Float) * margin).subquery("claimed"))
    kth = func.nth_value(claimed.c.flat, bindparam("per_group", type_=Integer)).over(
        partition_by=claimed.c.group_id, order_by=claimed.c.flat, rows=(None, None))
    bounded = select(claimed, kth.label("kth")).subquery("bounded")
    at = cast(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326), Geography)
    few = (select(bounded.c.group_id, bounded.c.id,
                  func.ST_Distance(cast(bounded.c.geom, Geography), at).label("metres"))
           .where(bounded.c.flat <= func.coalesce(bounded.c.kth, float("inf")) * margin).subquery("few"))
    rank = func.row_number().over(partition_by=few.c.group_id, order_by=(few.c.metres, few.c.id))
    ranked = (select(few.c.group_id, few.c.id, rank.label("rank"))
              .where(few.c.metres <= bindparam("within_m", type_=Float)).subquery("ranked"))
    return (select(ranked.c.group_id, ranked.c.id).where(ranked.c.rank <= bindparam("per_group", type_=Integer))
            .order_by(ranked.c.group_id, ranked.c.rank))


def _one_box(lon: float, lat: float, metres: float) -> tuple[float, float, float, float]:
    """The one box of `envelope` (the prior search's radius, 100 km, wraps only near the
    antimeridian or a pole: there, the box of every longitude is taken, which still holds it)."""
    boxes = envelope(lon, lat, metres)
    if len(boxes) == 1:
        return boxes[0]
    return (-180.0, min(b[1] for b in boxes), 180.0, max(b[3] for b in boxes))


# The mean Earth radius; an angle of metres / EARTH_M, widened by ENVELOPE_MARGIN, is more than
# the angle any geodesic of that length on WGS84 spans (a degree of arc is at least 110.57 km).
EARTH_M = 6_371_008.8
ENVELOPE_MARGIN = 1.01


def base_counts(conn: Connection, lon: float, lat: float, group_ids: Iterable[str], *, local_m: float,
                region_m: float, window: tuple[date, date], baseline: tuple[date, date],
                exclude: Iterable[str] = ()) -> dict[str, tuple[int, int]]:
    """For each of the groups, (observed, baseline): its incidents whose point lies within
    `local_m` of the point and whose start date is in `window`, and those within `region_m` whose
    start date is in `baseline` (both date ranges inclusive; `geomap.analysis.baserate`).

    One scan of the (geom, daterange) GiST index over the region and both periods; the exact
    distance and date tests filter, and each incident counts once for each group it is
    attributed to.
    """
    wanted = list(group_ids)
    if not wanted:
        return {}
    geography = cast(incidents.c.geom, Geography)
    first, last = min(window[0], baseline[0]), max(window[1], baseline[1])
    group = func.unnest(incidents.c.attributed_groups).table_valued("g").render_derived()
    local = and_(incidents.c.date_start.between(*window), func.ST_DWithin(geography, point(lon, lat), float(local_m)))
    query = (select(group.c.g, func.count().filter(local), func.count().filter(incidents.c.date_start.between(*baseline)))
             .select_from(incidents).join(group, true())
             .where(in_envelope(incidents.c.geom, lon, lat, region_m),
                    func.daterange(incidents.c.date_start, incidents.c.date_end, "[]").op("&&")(
                        func.daterange(first, last, "[]")),
                    incidents.c.date_start.between(first, last), attributed_to(wanted),
                    func.ST_DWithin(geography, point(lon, lat), float(region_m)), group.c.g.in_(wanted),
                    *incident_filters(None, None, (), (), exclude))
             .group_by(group.c.g))
    found = {g: (0, 0) for g in wanted}
    found.update({g: (observed, base) for g, observed, base in conn.execute(query)})
    return found


# The mean Earth radius; an angle of metres / EARTH_M, widened by ENVELOPE_MARGIN, is more than
# the angle any geodesic of that length on WGS84 spans (a degree of arc is at least 110.57 km).
EARTH_M = 6_371_008.8
ENVELOPE_MARGIN = 1.01


def envelope(lon: float, lat: float, metres: float) -> list[tuple[float, float, float, float]]:
    """Lon/lat boxes (west, south, east, north) that hold every point within `metres` of
    (lon, lat), a little generously: the spherical cap of that radius (widened 1 %) spans its
    angle in latitude and asin(sin(angle) / cos(lat)) in longitude; two boxes when it crosses
    the antimeridian, one box of every longitude when it holds a pole."""
    angle = min(metres / EARTH_M * ENVELOPE_MARGIN, math.pi)
    south, north = lat - math.degrees(angle), lat + math.degrees(angle)
    if south <= -90.0 or north >= 90.0:
        return [(-180.0, max(-90.0, south), 180.0, min(90.0, north))]
    dx = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(lat)))))  # < 1: no pole inside
    west, east = lon - dx, lon + dx
    if west < -180.0:
        return [(-180.0, south, east, north), (west + 360.0, south, 180.0, north)]
    if east > 180.0:
        return [(west, south, 180.0, north), (-180.0, south, east - 360.0, north)]
    return [(west, south, east, north)]


def in_envelope(geom_column, lon: float, lat: float, metres: float) -> ColumnElement:
    """`geom && box` for the boxes of `envelope`: answered by the geometry GiST indexes."""
    return or_(*(geom_column.op("&&")(func.ST_MakeEnvelope(*box, 4326)) for box in envelope(lon, lat, metres)))


def incident(conn: Connection, incident_id: str) -> dict[str, Any] | None:
    """One incident as the analysis reads it, or None if there is none with this id."""
    row = conn.execute(_incident_statement(), {"id": incident_id}).mappings().first()
    return dict(row) if row else None


def incident_facts(conn: Connection, incident_id: str) -> dict[str, Any] | None:
    """The facts a report prints about its own incident (`geomap.analysis.model.Facts`)."""
    c = incidents.c
    row = conn.execute(select(c.description, c.location_name, c.fatalities_low, c.fatalities_best, c.fatalities_high,
                              c.injured, c.notes, c.reported_events).where(c.id == incident_id)).mappings().first()
    return dict(row) if row else None


@functools.cache
def _incident_statement() -> Select:
    return incident_select().where(incidents.c.id == bindparam("id"))


def incidents_by_id(conn: Connection, ids: Iterable[str]) -> list[dict[str, Any]]:
    """The incidents with these ids as the analysis reads them (ids not found are left out)."""
    if not (ids := list(ids)):
        return []
    return [dict(r) for r in conn.execute(_incidents_by_id_statement(), {"ids": ids}).mappings()]


@functools.cache
def _incidents_by_id_statement() -> Select:
    return incident_select().where(incidents.c.id.in_(bindparam("ids", expanding=True)))


def site_select() -> Select:
    """The site columns the analysis needs, with the point as lon and lat."""
    return select(sites.c.id, sites.c.name, sites.c.kind, sites.c.precision_m, sites.c.status, sites.c.sources,
                  func.ST_X(sites.c.geom).label("lon"), func.ST_Y(sites.c.geom).label("lat"))


def site(conn: Connection, site_id: str) -> dict[str, Any] | None:
    """One site as the analysis reads it, or None if there is none with this id."""
    row = conn.execute(site_select().where(sites.c.id == site_id)).mappings().first()
    return dict(row) if row else None


def sites_near(conn: Connection, lon: float, lat: float, radius_m: float) -> list[dict[str, Any]]:
    """The sites that may lie within `radius_m` metres of the point, given their precision.

    The search reaches out by the largest site precision too; the analysis measures each exactly.
    """
    reach = radius_m + conn.execute(select(func.coalesce(func.max(sites.c.precision_m), 0.0))).scalar_one()
    return [dict(r) for r in conn.execute(site_select().where(within(sites.c.geom, lon, lat, reach))).mappings()]


def zone_select() -> Select:
    """The zone columns the analysis needs, with the geometry as WKB."""
    c = control_zones.c
    return select(c.id, c.name, c.group_id, c.kind, c.valid_from, c.valid_to, c.confidence, c.status,
                  c.precision_m, c.sources, func.ST_AsBinary(c.geom).label("wkb"))


def in_force(on: date) -> ColumnElement:
    """Zones valid on the day `on` (from `valid_from` to `valid_to`, both inclusive; no end: still valid)."""
    c = control_zones.c
    return and_(c.valid_from <= on, or_(c.valid_to.is_(None), c.valid_to >= on))


def zones_in_force(conn: Connection, on: date, group_ids: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The zones in force on `on`, of the given groups only if any are given, in id order."""
    query = zone_select().where(in_force(on))
    if group_ids := list(group_ids):
        query = query.where(control_zones.c.group_id.in_(group_ids))
    return [zone_row(r) for r in conn.execute(query.order_by(control_zones.c.id)).mappings()]


def zone(conn: Connection, zone_id: str) -> dict[str, Any] | None:
    """One zone as the analysis reads it, or None if there is none with this id."""
    row = conn.execute(zone_select().where(control_zones.c.id == zone_id)).mappings().first()
    return zone_row(row) if row else None


def zone_row(row) -> dict[str, Any]:
    """A zone row as a plain dict, its WKB as bytes."""
    return {**row, "wkb": bytes(row["wkb"])}


def all_groups(conn: Connection) -> list[dict[str, Any]]:
    """Every group's id, name and map colour, in id order."""
    return [dict(r) for r in conn.execute(select(groups.c.id, groups.c.name, groups.c.color).order_by(groups.c.id))
            .mappings()]
