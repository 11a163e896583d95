"""What a map of a selection shows (geomap.maps): its incidents, cells, sites and zones.

The selection filters are the items endpoint's (bbox, datetime, event_type, group); every value
is bound.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Double,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.types import NullType

from geomap.db import prepared
from geomap.db.candidates import incident_filters, incident_select, site_select, zone_row, zone_select
from geomap.db.schema import change_stamps as change_stamps_table
from geomap.db.schema import control_zones, incidents, sites

MAP_PERIODS = ("month", "quarter", "year")  # the time bins of server-side aggregation
# The cell counts' settings, for their transaction alone (`set_config(..., true)`, as SET LOCAL):
# memory for their aggregate, and up to two parallel workers, which every other statement goes
# without (`geomap.db.engine.SESSION_OPTIONS`). PostgreSQL plans the workers for a large selection
# only: on 2 cores the 1,000,000-incident map's cold request 1,679 and 1,762 -> 978 and 941 ms in
# process (its statement 1,460-1,507 -> 758-782 ms; bench/README.md, session 20); the
# 100,000-incident map's plan stays serial.
CELLS_SETTINGS = {"work_mem": "64MB", "max_parallel_workers_per_gather": "2"}


def _in_bbox(geom_column, bbox: tuple[float, float, float, float]) -> ColumnElement:
    envelope = func.ST_MakeEnvelope(*(float(v) for v in bbox), 4326)
    return and_(geom_column.op("&&")(envelope), func.ST_Intersects(geom_column, envelope))


def map_incident_filters(bbox=None, date_from: date | None = None, date_to: date | None = None,
                         event_types: Iterable[str] = (), group_ids: Iterable[str] = (),
                         ids: Iterable[str] = ()) -> list[ColumnElement]:
    """The selection of a map: the items endpoint's bbox, datetime, event_type and group filters."""
    clauses = incident_filters(date_from, date_to, event_types, group_ids, ())
    if ids := list(ids):
        clauses.append(incidents.c.id.in_(ids))
    return clauses + ([_in_bbox(incidents.c.geom, bbox)] if bbox else [])


def map_incidents(conn: Connection, clauses: list[ColumnElement], limit: int | None = None) -> list[dict[str, Any]]:
    """Incidents with the columns a map popup shows, oldest first."""
    query = (incident_select().add_columns(incidents.c.description, incidents.c.location_name,
                                           incidents.c.fatalities_best)
             .where(*clauses).order_by(incidents.c.date_start, incidents.c.id).limit(limit))
    return [dict(row) for row in conn.execute(query).mappings()]


def incident_bounds(conn: Connection, clauses: list[ColumnElement]) -> dict[str, Any] | None:
    """How many incidents match (n), their bounding box (west, south, east, north) and dates
    (first, last); None when none match."""
    row = conn.execute(bounds_query(clauses)).mappings().first()
    return None if row is None or row["west"] is None else dict(row)


def bounds_query(clauses: list[ColumnElement]) -> Select:
    """`incident_bounds`' statement: it reads only columns of the index `incidents_map_columns`
    (0012), so PostgreSQL can answer it from that index alone when the filters allow."""
    lon, lat = incidents.c.lon, incidents.c.lat  # ST_X(geom), ST_Y(geom), stored
    return select(func.min(lon).label("west"), func.min(lat).label("south"), func.max(lon).label("east"),
                  func.max(lat).label("north"), func.min(incidents.c.date_start).label("first"),
                  func.max(incidents.c.date_end).label("last"), func.count().label("n")).where(*clauses)


def incident_cells(conn: Connection, clauses: list[ColumnElement], origin: tuple[float, float],
                   cell: tuple[float, float], period: str, by: str) -> list:
    """Incidents counted per grid cell and period (server-side clustering for big maps).

    A cell is `cell` degrees wide and high from `origin`; the period is the month, quarter or
    year of `date_start`; the category is the event type (`by="event_type"`) or the attributed
    group (`by="group"`: a group id, "" for none, "+" for two or more groups). One row per cell
    and period: cx, cy, period (its first day), categories and counts (largest first), n, mean
    lon and lat, first and last date.
    """
    conn.execute(select(*(func.set_config(name, value, True) for name, value in CELLS_SETTINGS.items())))
    return conn.execute(cells_query(clauses, origin, cell, period, by)).all()


def cells_query(clauses: list[ColumnElement], origin: tuple[float, float], cell: tuple[float, float], period: str,
                by: str) -> Select:
    """`incident_cells`' statement. Like `bounds_query` it reads only columns of the index
    `incidents_map_columns`: a selection's 100,000 rows are read from its 10 MB, not the table's 49."""
    if period not in MAP_PERIODS:
        raise ValueError(f"period must be one of {MAP_PERIODS}")
    lon, lat = incidents.c.lon, incidents.c.lat  # ST_X(geom), ST_Y(geom), stored (migration 0012)
    category = incidents.c.event_type if by == "event_type" else _group_category()
    inner = select(
        lon.label("lon"), lat.label("lat"), incidents.c.date_start, incidents.c.date_end,
        func.floor((lon - float(origin[0])) / float(cell[0])).label("cx"),
        func.floor((lat - float(origin[1])) / float(cell[1])).label("cy"),
        # date -> timestamp (not timestamptz): truncating in a time zone costs more than the rest
        func.date(func.date_trunc(period, cast(incidents.c.date_start, TIMESTAMP))).label("period"),
        category.label("category"),
    ).where(*clauses).subquery()
    keys = (inner.c.cx, inner.c.cy, inner.c.period)
    # Counted per category in one hash aggregate, then sorted by cell and, within a cell, largest
    # category first: the outer GROUP BY reads the rows in that order (a sorted subquery is never
    # pulled up into its parent), so each array_agg takes them so, with no sort of its own.
    # `array_agg(... ORDER BY n DESC, category)` sorted every cell's rows again: 237 against 182 ms
    # for the 100,000-incident map (median of 8, alternating; the same rows). PostgreSQL 16 skips
    # such sorts itself; Debian bookworm's 15 does not.
    n_desc = func.count().desc()
    per_category = (select(*keys, inner.c.category, func.count().label("n"), func.sum(_fixed(inner.c.lon)).label("lons"),
                           func.sum(_fixed(inner.c.lat)).label("lats"), func.min(inner.c.date_start).label("first"),
                           func.max(inner.c.date_end).label("last"))
                    .group_by(*keys, inner.c.category).order_by(*keys, n_desc, inner.c.category).subquery("per_category"))
    c = per_category.c
    untyped = NullType()  # psycopg already returns Python lists; SQLAlchemy need not walk them again
    n, weight = cast(func.sum(c.n), Integer), cast(func.sum(c.n), Double)  # floats, not Decimals
    return (select(c.cx, c.cy, c.period,
                   type_coerce(func.array_agg(c.category), untyped).label("categories"),
                   type_coerce(func.array_agg(c.n), untyped).label("counts"),
                   n.label("n"), _mean(c.lons, weight).label("lon"), _mean(c.lats, weight).label("lat"),
                   func.min(c.first).label("first"), func.max(c.last).label("last"))
            .group_by(c.cx, c.cy, c.period).order_by(c.cx, c.cy, c.period))


# A cell's centre is the mean of its coordinates summed as integers of FIXED degrees (1 cm): exact,
# so the same rows give the same centre in any order. Summed as floats, rows read in another order
# (a synchronised scan, an updated row) changed the last bits, the map and its data version.
FIXED = 10**-7


def _fixed(degrees: ColumnElement) -> ColumnElement:
    return cast(func.round(degrees / FIXED), Integer)  # |degrees| <= 180: within int4; sum(int4) is a bigint


def _mean(fixed_sum: ColumnElement, weight: ColumnElement) -> ColumnElement:
    return cast(func.sum(fixed_sum), Double) * FIXED / weight


def _group_category() -> ColumnElement:
    """"" (none), a group id (one) or "+" (several), from `incidents.attributed_groups` (the
    distinct groups of the incident's affirmative claims, kept by the database)."""
    groups = incidents.c.attributed_groups
    # CASE on one value: cardinality() once a row, not once per branch (at 100,000 incidents the
    # cells' statement 78.7 -> 71.6 ms, its aggregate alone 48.1 -> 44.8 ms: medians of 7)
    return case({0: literal_column("''"), 1: groups[1]}, value=func.cardinality(groups), else_=literal_column("'+'"))


def map_sites(conn: Connection, bbox=None) -> list[dict[str, Any]]:
    """The sites to draw, within `bbox` (west, south, east, north) when given, in id order."""
    query = site_select().order_by(sites.c.id)
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
    return [zone_row(r) for r in conn.execute(zone_select().where(*clauses).order_by(c.id))
            .mappings()]


def change_stamp(table_name: str) -> ColumnElement:
    """A table's change stamp (as `change_stamps` reads it) as a value of another statement, so
    that it is read in that statement's snapshot, with no round trip of its own."""
    c = change_stamps_table.c
    return select(c.stamp).where(c.table_name == table_name).scalar_subquery().label("change_stamp")


def change_stamps(conn: Connection, table_names: Iterable[str]) -> tuple[tuple[str, int], ...]:
    """The tables' change stamps (migration 0007): each moves with every committed write to its
    table and with nothing else (not autovacuum, not writes elsewhere). Data read after them is at
    least as new as they are, so a cache keyed on them is never stale. On a read replica, the
    stamps replayed so far."""
    names = {f"table_{i}": name for i, name in enumerate(sorted(table_names))}
    c = change_stamps_table.c
    compiled = prepared.STATEMENTS.get(("change_stamps", len(names)), conn.dialect, lambda: select(c.table_name, c.stamp)
                                       .where(c.table_name.in_([bindparam(k, v) for k, v in names.items()]))
                                       .order_by(c.table_name), frozenset(names))
    return tuple((name, stamp) for name, stamp in compiled.execute(conn, names))
