"""Incidents whose precision circle may reach within some metres of a point, in a date window:
the (geom, daterange) GiST answers the boxes of the reach and the dates together, an exact
`ST_DWithin` on geography keeps the rows that can reach, and `geomap.analysis` measures them.

Each statement is built once per shape (its values are bound parameters), and the largest
precision radius in the table, which widens the boxes, is kept per connection, not queried per
call, and the statements run on the driver's cursor (`prepared.run_on_driver`), their rows read
by position (issue 16).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    Float,
    Select,
    Text,
    all_,
    and_,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

from geomap.db import prepared
from geomap.db.candidates import incident_select
from geomap.db.kept import Kept
from geomap.db.reach import Geography, envelope
from geomap.db.schema import incidents

INCIDENT_COLUMNS = tuple(incident_select().selected_columns.keys())  # incidents_near's rows' names, in order


def max_precision(conn: Connection) -> float:
    """The largest incident precision radius (read from its index)."""
    return conn.execute(select(func.coalesce(func.max(incidents.c.precision_m), 0.0))).scalar_one()


# The largest precision radius is kept per pooled connection rather than read before every
# query (`geomap.db.kept`): `widest_holds` checks in each statement that it still holds.
WIDEST = Kept("geomap.widest_precision_m", max_precision)


def widest_holds() -> ColumnElement:
    """The largest precision radius is still at most the kept one (`widest`)."""
    return select(func.coalesce(func.max(incidents.c.precision_m), 0.0)).scalar_subquery() <= bindparam("widest")


def kept_widest(conn: Connection) -> float:
    """The largest precision radius kept for the connection (read and kept if none is)."""
    return WIDEST.value(conn)


def _guarded(conn: Connection, statement: Callable[[int], Select], params: dict[str, Any]) -> list:
    """The rows of a statement built on `_near_clauses` for its number of boxes, with the kept
    largest precision, and again with the one read now when it may have grown since (no rows)."""
    return WIDEST.rows(conn, lambda widest: _execute(conn, statement, params, widest))


def _execute(conn: Connection, statement: Callable[[int], Select], params: dict[str, Any], widest: float) -> list:
    """The statement's rows, with the boxes of the reach (the radius plus the largest precision)."""
    boxes = envelope(params["lon"], params["lat"], params["radius"] + widest)
    values = params | {"widest": widest} | {f"{k}{i}": v for i, box in enumerate(boxes)
                                            for k, v in zip(("west", "south", "east", "north"), box, strict=True)}
    return prepared.run_on_driver(conn, statement(len(boxes)), values)


def incidents_near(conn: Connection, lon: float, lat: float, radius_m: float, *,
                   date_from: date | None = None, date_to: date | None = None,
                   event_types: Iterable[str] = (), group_ids: Iterable[str] = (),
                   exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Incidents whose precision circle may reach within `radius_m` of the point."""
    return [dict(zip(INCIDENT_COLUMNS, row, strict=True))
            for row in incident_rows(conn, lon, lat, radius_m, date_from=date_from, date_to=date_to,
                                     event_types=event_types, group_ids=group_ids, exclude=exclude)]


def incident_rows(conn: Connection, lon: float, lat: float, radius_m: float, *,
                  date_from: date | None = None, date_to: date | None = None,
                  event_types: Iterable[str] = (), group_ids: Iterable[str] = (),
                  exclude: Iterable[str] = ()) -> list[tuple]:
    """`incidents_near`'s rows as the driver's tuples, their values in `INCIDENT_COLUMNS`' order
    (nearby's: `geomap.analysis.proximity.rank_rows` reads them by position)."""
    params = _near_params(lon, lat, radius_m, date_from, date_to, event_types=list(event_types),
                          groups=list(group_ids), exclude=list(exclude))
    shape = _shape(params)
    return _guarded(conn, lambda boxes: _incidents_near_statement(boxes, *shape), params)


def neighbour_columns(conn: Connection, lon: float, lat: float, radius_m: float, *, date_from: date,
                      date_to: date, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Like `incidents_near`, but as columns, one list each, what counting thousands of
    neighbours needs (`geomap.analysis.proximity.Neighbours`): "id", "lon", "lat",
    "precision_m", "first" and "last" (date_start and date_end as proleptic ordinals,
    `date.toordinal`), "group_count" (how many groups each is attributed to) and "groups" (those
    groups' ids, row after row).

    PostgreSQL aggregates the rows into one row of arrays: decoding tens of thousands of rows
    of dates and group lists in Python was most of a dense report's Python time (issue 16)."""
    params = _near_params(lon, lat, radius_m, date_from, date_to, event_types=[], groups=[], exclude=list(exclude))
    shape = _shape(params)
    found = _guarded(conn, lambda boxes: _neighbour_columns_statement(boxes, *shape), params)
    return as_columns(found[0] if found else None)


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
    """One row of arrays (none when no row matches): `neighbour_aggregates` of the incidents."""
    c = incidents.c
    return (select(*neighbour_aggregates(c.id, c.lon, c.lat, c.precision_m, c.date_start, c.date_end, c.attributed_groups))
            .where(*_near_clauses(boxes, dated), *_list_clauses(event_types, groups, exclude))
            .having(func.count() > 0))


def neighbour_aggregates(ident: ColumnElement, lon: ColumnElement, lat: ColumnElement, precision_m: ColumnElement,
                         date_start: ColumnElement, date_end: ColumnElement, groups: ColumnElement
                         ) -> list[ColumnElement]:
    """`neighbour_columns`'s aggregates, every one over the same rows in the same order: ids,
    lon, lat, precision, first and last day as ordinals, each row's number of groups, and the
    group ids of all rows in row order (over the incidents table, or over rows already read:
    `geomap.db.region`)."""
    day_one = literal_column("DATE '0001-01-01'")  # its ordinal is 1
    return [func.array_agg(ident), func.array_agg(lon), func.array_agg(lat),
            func.array_agg(precision_m), func.array_agg(date_start - day_one + 1),
            func.array_agg(date_end - day_one + 1), func.array_agg(func.coalesce(func.cardinality(groups), 0)),
            func.string_agg(func.nullif(func.array_to_string(groups, " "), ""), " ")]


def as_columns(found: tuple | None) -> dict[str, Any]:
    """`neighbour_aggregates`' row (None or NULLs when no row matched) as `neighbour_columns`' dict."""
    ids, lon_, lat_, precision, first, last, sizes, flat = found if found and found[0] is not None \
        else ([],) * 7 + (None,)
    return {"id": ids, "lon": lon_, "lat": lat_, "precision_m": precision, "first": first, "last": last,
            "group_count": sizes, "groups": flat.split(" ") if flat else []}


def reaches(geog: ColumnElement, precision_m: ColumnElement) -> ColumnElement:
    """The row's precision circle (about its geography `geog`) reaches within `radius` of
    (`lon`, `lat`): the exact test."""
    at = func.ST_SetSRID(func.ST_MakePoint(bindparam("lon", type_=Float), bindparam("lat", type_=Float)), 4326)
    return func.ST_DWithin(geog, cast(at, Geography), bindparam("radius", type_=Float) + precision_m)


def in_window(date_start: ColumnElement, date_end: ColumnElement) -> ColumnElement:
    """The row's days meet [`date_from`, `date_to`] (as a range overlap, which the
    (geom, daterange) GiST answers on the table). On rows already read, `in_window_read`."""
    own = func.daterange(date_start, date_end, "[]")
    return own.op("&&")(func.daterange(bindparam("date_from", type_=Date), bindparam("date_to", type_=Date), "[]"))


def in_window_read(date_start: ColumnElement, date_end: ColumnElement) -> ColumnElement:
    """`in_window` on rows already read (`geomap.db.region`): `date_start <= date_to` and
    `date_end >= date_from`, the same rule (an incident's days are ordered, a check of the table),
    without building two ranges a row."""
    return and_(date_start <= bindparam("date_to", type_=Date), date_end >= bindparam("date_from", type_=Date))


def _near_clauses(boxes: int, dated: bool) -> list[ColumnElement]:
    """Rows whose precision circle may reach within the radius of the point. The index condition
    is the boxes of the reach, with the widest precision in the table; the exact test keeps only
    rows whose own precision lets them reach, so that no row is transferred for nothing."""
    box = [incidents.c.geom.op("&&")(func.ST_MakeEnvelope(*(bindparam(f"{k}{i}", type_=Float) for k in
                                                           ("west", "south", "east", "north")), 4326))
           for i in range(boxes)]
    clauses = [widest_holds(), or_(*box), reaches(cast(incidents.c.geom, Geography), incidents.c.precision_m)]
    if dated:  # so that the (geom, daterange) index answers both
        clauses.insert(2, in_window(incidents.c.date_start, incidents.c.date_end))
    return clauses


def _list_clauses(event_types: bool, groups: bool, exclude: bool) -> list[ColumnElement]:
    """The lists as arrays (`= ANY`, `<> ALL`), one bound value each, so that the statement's
    text does not depend on their lengths (`prepared.run`)."""
    clauses = []
    if event_types:
        clauses.append(incidents.c.event_type == any_(cast(bindparam("event_types"), ARRAY(Text))))
    if groups:
        clauses.append(incidents.c.attributed_groups.overlap(cast(bindparam("groups"), ARRAY(Text))))
    if exclude:
        clauses.append(incidents.c.id != all_(cast(bindparam("exclude"), ARRAY(Text))))
    return clauses
