"""Each group's nearest incidents before a date, within a horizon: one scan of the
(geom, daterange) GiST for every group, ranked by a flat distance in the centre's local scale
and measured geodesically only near each group's k-th (issue 16), then the few by id.
"""
from __future__ import annotations

import functools
import math
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    Date,
    Float,
    Integer,
    Select,
    Subquery,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    select,
    true,
)

from geomap.db import prepared
from geomap.db.candidates import incidents_by_id
from geomap.db.reach import Geography, located, one_box
from geomap.db.schema import incidents


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
    ranked = prepared.run(conn, _nearest_prior_statement(), region_params(lon, lat, within_m)
                          | prior_params(before=before, within_m=within_m, days=days, per_group=per_group))
    return by_group(conn, ranked)


def region_params(lon: float, lat: float, metres: float) -> dict[str, Any]:
    """`region`'s values: the point, its local scale and margin, and the box of `metres` around it."""
    metres_per_radian, margin = _local_scale(lat)
    return {"lon": float(lon), "lat": float(lat), "north_m": metres_per_radian[0], "east_m": metres_per_radian[1],
            "margin": margin, **dict(zip(("west", "south", "east", "north"), one_box(lon, lat, metres), strict=True))}


def prior_params(*, before: date, within_m: float, days: int, per_group: int) -> dict[str, Any]:
    """`ended_in_window`'s and `ranked_prior`'s values."""
    return {"within_m": float(within_m), "before": before, "since": before - timedelta(days=days),
            "per_group": per_group}


def by_group(conn: Connection, ranked: list) -> dict[str, list[dict[str, Any]]]:
    """The ranked (group_id, id) rows as each group's incident rows, nearest first: the few read
    by id (joined in the statement, the planner expected tens of thousands of ranked rows and
    merge-joined them over the whole primary key, issue 16)."""
    return grouped(ranked, {row["id"]: row for row in incidents_by_id(conn, {r.id for r in ranked})})


def grouped(ranked: list, rows: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """`by_group` with the incident rows already read by id (`rows`: every ranked id among them;
    the context report reads them with its listed neighbours, in one statement)."""
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


def flat_within(flat: ColumnElement, metres: ColumnElement, exact: ColumnElement) -> ColumnElement:
    """Within `metres`, by a row's `flat` distance (`region`) where it decides (within `margin`
    of the geodesic one), by `exact` (the geodesic test) only in the band between the bounds."""
    margin = bindparam("margin", type_=Float)
    return case((flat <= metres / margin, true()), (flat > metres * margin, false()), else_=exact)


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
    own = func.daterange(incidents.c.date_start, incidents.c.date_end, "[]")
    return ranked_prior(region(*ended_in_window_indexed(own)))


def region(*dates: ColumnElement) -> CTE:
    """`region_rows`, materialised so that each flat distance is computed once."""
    return select(region_rows(*dates)).cte("near").prefix_with("MATERIALIZED")


def region_rows(*dates: ColumnElement) -> Subquery:
    """The incidents in the box (`west`..`north`) that meet the date conditions, a scan of the
    (geom, daterange) GiST: id, groups, dates, precision, lon, lat and the flat distance from
    (`lon`, `lat`) in the local scale (`east_m`, `north_m`), from the stored lon/lat columns
    (`ST_X(geom)` read the geometry seven times a row). Each step is fenced (OFFSET 0) so that
    the planner does not copy an expression into every use of it: the offsets east and north
    are computed once, the flat distance once."""
    c = incidents.c
    lon, lat = bindparam("lon", type_=Float), bindparam("lat", type_=Float)
    box = func.ST_MakeEnvelope(*(bindparam(k, type_=Float) for k in ("west", "south", "east", "north")), 4326)
    turn, two = literal(360.0, Float), literal(2.0, Float)  # floats: with integers, SQLAlchemy divides as NUMERIC
    east = func.radians(c.lon - lon - turn * func.round((c.lon - lon) / turn)) * bindparam("east_m", type_=Float) \
        * func.cos(func.radians((c.lat + lat) / two))
    north = func.radians(c.lat - lat) * bindparam("north_m", type_=Float)
    kept = (c.id, c.attributed_groups.label("groups"), c.date_start, c.date_end, c.precision_m, c.lon, c.lat)
    offsets = (select(*kept, east.label("east"), north.label("north"))
               .where(c.geom.op("&&")(box), *dates).offset(0).subquery("offsets"))
    o = offsets.c
    flat = func.sqrt(o.east * o.east + o.north * o.north)
    return (select(o.id, o.groups, o.date_start, o.date_end, o.precision_m, o.lon, o.lat, flat.label("flat"))
            .offset(0).subquery("located"))


def ended_in_window(date_end: ColumnElement) -> list[ColumnElement]:
    """An incident that ended before `before`, at most `days` earlier (at `since` or after), by
    its last day: `since <= date_end < before`, the one rule. On rows already read
    (`geomap.db.region`), as it stands; on the table, `ended_in_window_indexed`."""
    return [date_end >= bindparam("since", type_=Date), date_end < bindparam("before", type_=Date)]


def ended_in_window_indexed(own: ColumnElement) -> list[ColumnElement]:
    """`ended_in_window` for the incidents' days `own` (a daterange, the GiST's column) as the
    index answers it: overlaps [since, before) and does not extend to its right (`&<`) is
    exactly `since <= date_end < before`. As `date_end < before`, the planner walked the
    date_end B-tree over every earlier incident (500,000 rows at 1M)."""
    window = func.daterange(bindparam("since", type_=Date), bindparam("before", type_=Date), "[)")
    return [own.op("&&")(window), own.op("&<")(window)]


def ranked_prior(near: CTE, *where: ColumnElement) -> Select:
    """Each group's `per_group` nearest (group_id, id, rank) within `within_m` among the rows of
    `near` (`region`) that meet `where`, nearest first."""
    lon, lat = bindparam("lon", type_=Float), bindparam("lat", type_=Float)
    margin = bindparam("margin", type_=Float)
    per_group = bindparam("per_group", type_=Integer)
    claimed = (select(func.unnest(near.c.groups).label("group_id"), near.c.id, near.c.lon, near.c.lat, near.c.flat)
               .where(near.c.flat <= bindparam("within_m", type_=Float) * margin, *where)
               .cte("claimed").prefix_with("MATERIALIZED"))
    kept = _within_kth_step(claimed, per_group, margin)
    kth = func.nth_value(kept.c.flat, per_group).over(partition_by=kept.c.group_id, order_by=kept.c.flat,
                                                      rows=(None, None))
    bounded = select(kept, kth.label("kth")).subquery("bounded")
    at = cast(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326), Geography)
    few = (select(bounded.c.group_id, bounded.c.id,
                  func.ST_Distance(located(bounded.c.lon, bounded.c.lat), at).label("metres"))
           .where(bounded.c.flat <= func.coalesce(bounded.c.kth, float("inf")) * margin).subquery("few"))
    rank = func.row_number().over(partition_by=few.c.group_id, order_by=(few.c.metres, few.c.id))
    ranked = (select(few.c.group_id, few.c.id, rank.label("rank"))
              .where(few.c.metres <= bindparam("within_m", type_=Float)).subquery("ranked"))
    return (select(ranked.c.group_id, ranked.c.id, ranked.c.rank).where(ranked.c.rank <= bindparam("per_group", type_=Integer))
            .order_by(ranked.c.group_id, ranked.c.rank))


# Flat distances (m) tried in turn as a bound on each group's k-th nearest (`_within_kth_step`).
KTH_STEPS_M = (5_000.0, 10_000.0, 25_000.0, 50_000.0)


def _within_kth_step(claimed: CTE, per_group: ColumnElement, margin: ColumnElement) -> Subquery:
    """The rows of `claimed` (group_id, ..., flat) that can be among a group's nearest: within
    `margin` times the first of KTH_STEPS_M within which the group has `per_group` rows (all
    its rows when no step holds that many). Its k-th smallest flat distance is at most that
    step, so every row within `margin` of the k-th is kept, and so are the k nearest: the k-th
    read from these rows is the k-th of all. Counted in one pass per group, this spares sorting
    every candidate (a region's groups have thousands within 100 km, and the 5th nearest is
    mostly within a few km)."""
    flat = claimed.c.flat
    step = case(*((func.count().filter(flat <= metres) >= per_group, literal(metres, Float)) for metres in KTH_STEPS_M),
                else_=literal_column("'Infinity'::float8"))
    steps = select(claimed.c.group_id, step.label("step")).group_by(claimed.c.group_id).subquery("steps")
    return (select(claimed).join(steps, steps.c.group_id == claimed.c.group_id)
            .where(flat <= steps.c.step * margin).subquery("kept"))
