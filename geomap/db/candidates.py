"""Candidates for the analysis engine, narrowed by index (DESIGN.md decision 3).

The database answers "which rows could matter" with the geometry GiST indexes (lon/lat boxes
around the circle, `in_envelope`, with the dates where there are some) and an exact `ST_DWithin`
on geography; `geomap.analysis` computes the exact answer. Every value is bound.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Select,
    Text,
    and_,
    cast,
    func,
    null,
    or_,
    select,
    true,
    type_coerce,
    union_all,
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


def incidents_near(conn: Connection, lon: float, lat: float, radius_m: float, *,
                   date_from: date | None = None, date_to: date | None = None,
                   event_types: Iterable[str] = (), group_ids: Iterable[str] = (),
                   exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Incidents whose precision circle may reach within `radius_m` of the point."""
    clauses = _near(conn, lon, lat, radius_m, date_from, date_to)
    query = incident_select().where(*clauses, *incident_filters(None, None, event_types, group_ids, exclude))
    return conn.execute(query).mappings().all()


def neighbour_columns(conn: Connection, lon: float, lat: float, radius_m: float, *, date_from: date,
                      date_to: date, exclude: Iterable[str] = ()) -> list[tuple]:
    """Like `incidents_near`, but only (id, lon, lat, precision_m, date_start, date_end, groups):
    what counting thousands of neighbours needs (`geomap.analysis.proximity.Neighbours`)."""
    query = select(incidents.c.id, func.ST_X(incidents.c.geom), func.ST_Y(incidents.c.geom), incidents.c.precision_m,
                   incidents.c.date_start, incidents.c.date_end, _incident_groups()
                   ).where(*_near(conn, lon, lat, radius_m, date_from, date_to),
                           *incident_filters(None, None, (), (), exclude))
    return conn.execute(query).all()


def _near(conn: Connection, lon: float, lat: float, radius_m: float, date_from: date | None,
          date_to: date | None) -> list[ColumnElement]:
    """Rows whose precision circle may reach within `radius_m` of the point. The index condition
    uses the widest precision in the table; the second keeps only rows whose own precision lets
    them reach, so that no row is transferred for nothing."""
    reach = radius_m + max_precision(conn)
    exact = func.ST_DWithin(cast(incidents.c.geom, Geography), point(lon, lat), float(radius_m) + incidents.c.precision_m)
    clauses = [in_envelope(incidents.c.geom, lon, lat, reach), exact]
    if date_from is not None or date_to is not None:  # so that the (geom, daterange) index answers both
        own = func.daterange(incidents.c.date_start, incidents.c.date_end, "[]")
        clauses.insert(1, own.op("&&")(func.daterange(date_from, date_to, "[]")))
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
    few exactly (the horizon is the context report's: `geomap.analysis.report`)."""
    return surroundings(conn, lon, lat, before=before, within_m=within_m, days=days, per_group=per_group)[0]


@dataclass(frozen=True)
class Counting:
    """The base rates' two counts (`base_counts`), asked of `surroundings`' scan."""

    local_m: float
    region_m: float
    window: tuple[date, date]
    baseline: tuple[date, date]


def surroundings(conn: Connection, lon: float, lat: float, *, before: date, within_m: float, days: int,
                 per_group: int = 5, counting: Counting | None = None, exclude: Iterable[str] = ()
                 ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, tuple[int, int]]]:
    """`nearest_prior`, and with `counting` every group's (observed, baseline) counts as
    `base_counts` gives them, from one scan of the incidents around the point.

    One scan for all groups: the (geom, daterange) GiST index answers space and time together
    (the distance test is a filter, so that the geography index does not add the whole ring for
    all dates); only incidents attributed to some group are measured, each once; then each
    group's incidents are ranked by distance and counted. (An unbounded nearest-neighbour walk
    per group reads the whole index when a group has few such incidents.)
    """
    spans = [(before - timedelta(days=days), before)] + ([counting.window, counting.baseline] if counting else [])
    reach = max(within_m, counting.region_m if counting else 0.0)
    own = func.daterange(incidents.c.date_start, incidents.c.date_end, "[]")
    distance = func.ST_Distance(cast(incidents.c.geom, Geography), point(lon, lat))
    near = (select(incidents.c.id, incidents.c.attributed_groups.label("groups"), incidents.c.date_start,
                   incidents.c.date_end, distance.label("metres"))
            .where(in_envelope(incidents.c.geom, lon, lat, reach),
                   own.op("&&")(func.daterange(min(s[0] for s in spans), max(s[1] for s in spans), "[]")),
                   func.cardinality(incidents.c.attributed_groups) > 0,
                   *incident_filters(None, None, (), (), exclude))
            .cte("near").prefix_with("MATERIALIZED"))  # each distance computed once, then filtered
    claimed = (select(func.unnest(near.c.groups).label("group_id"), near.c.id, near.c.metres, near.c.date_start,
                      near.c.date_end).where(near.c.metres <= reach).subquery("claimed"))
    parts = [_ranked(claimed, before, within_m, days, per_group)] + ([_counted(claimed, counting)] if counting else [])
    both = union_all(*parts).subquery("found")
    query = (incident_select().add_columns(both.c.group_id.label("prior_of"), both.c.observed, both.c.baseline)
             .select_from(both.outerjoin(incidents, incidents.c.id == both.c.id))
             .order_by(both.c.group_id, both.c.rank))
    priors: dict[str, list[dict[str, Any]]] = {}
    counts: dict[str, tuple[int, int]] = {}
    for row in conn.execute(query).mappings():
        if row["id"] is None:
            counts[row["prior_of"]] = (row["observed"], row["baseline"])
        else:
            priors.setdefault(row["prior_of"], []).append(dict(row))
    return priors, counts


def _ranked(claimed, before: date, within_m: float, days: int, per_group: int) -> Select:
    """Each group's `per_group` nearest incidents that ended in the `days` before `before`."""
    c = claimed.c
    rank = func.row_number().over(partition_by=c.group_id, order_by=(c.metres, c.id))
    prior = (select(c.group_id, c.id, rank.label("rank"))
             .where(c.date_end < before, c.date_end >= before - timedelta(days=days), c.metres <= within_m)
             .subquery("ranked"))
    nothing = null().cast(BigInteger)
    return select(prior.c.group_id, prior.c.id, prior.c.rank, nothing.label("observed"),
                  nothing.label("baseline")).where(prior.c.rank <= per_group)


def _counted(claimed, counting: Counting) -> Select:
    """Each group's observed and baseline counts, on a row without an incident."""
    c = claimed.c
    local = and_(c.date_start.between(*counting.window), c.metres <= counting.local_m)
    wider = and_(c.date_start.between(*counting.baseline), c.metres <= counting.region_m)
    return select(c.group_id, null().cast(Text).label("id"), null().cast(BigInteger).label("rank"),
                  func.count().filter(local).label("observed"), func.count().filter(wider).label("baseline")
                  ).group_by(c.group_id)


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
    row = conn.execute(incident_select().where(incidents.c.id == incident_id)).mappings().first()
    return dict(row) if row else None


def incident_facts(conn: Connection, incident_id: str) -> dict[str, Any] | None:
    """The facts a report prints about its own incident (`geomap.analysis.model.Facts`)."""
    c = incidents.c
    row = conn.execute(select(c.description, c.location_name, c.fatalities_low, c.fatalities_best, c.fatalities_high,
                              c.injured, c.notes, c.reported_events).where(c.id == incident_id)).mappings().first()
    return dict(row) if row else None


def incidents_by_id(conn: Connection, ids: Iterable[str]) -> list[dict[str, Any]]:
    """The incidents with these ids as the analysis reads them (ids not found are left out)."""
    return [dict(r) for r in conn.execute(incident_select().where(incidents.c.id.in_(list(ids)))).mappings()]


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
                  c.precision_m, c.sources, c.notes, func.ST_AsBinary(c.geom).label("wkb"))


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
