"""Incidents, sites, zones and groups as the analysis reads them (`geomap.analysis.model`), and
the incident filters the queries share. The queries around a point are `geomap.db.near`
(incidents near), `geomap.db.prior` (each group's nearest before a date) and
`geomap.db.base_counts`; `geomap.db.reach` says where to look. Every value is bound.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Text, and_, bindparam, cast, func, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import NullType

from geomap.db.reach import within
from geomap.db.schema import control_zones, groups, incidents, sites


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


def incident(conn: Connection, incident_id: str) -> dict[str, Any] | None:
    """One incident as the analysis reads it, or None if there is none with this id."""
    row = conn.execute(_incident_statement(), {"id": incident_id}).mappings().first()
    return dict(row) if row else None


def incident_with_facts(conn: Connection, incident_id: str) -> dict[str, Any] | None:
    """`incident` and the facts a report prints about it (`geomap.analysis.model.Facts`) in one row
    (one round trip), or None if there is no incident with this id."""
    row = conn.execute(_incident_statement(with_facts=True), {"id": incident_id}).mappings().first()
    return dict(row) if row else None


def _fact_columns() -> tuple:
    c = incidents.c
    return (c.description, c.location_name, c.fatalities_low, c.fatalities_best, c.fatalities_high, c.injured,
            c.notes, c.reported_events)


@functools.cache
def _incident_statement(with_facts: bool = False) -> Select:
    query = incident_select().where(incidents.c.id == bindparam("id"))
    return query.add_columns(*_fact_columns()) if with_facts else query


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


def widest_site(conn: Connection) -> float:
    """The largest site precision radius (`sites_near` reaches out by it)."""
    return conn.execute(select(func.coalesce(func.max(sites.c.precision_m), 0.0))).scalar_one()


def sites_near(conn: Connection, lon: float, lat: float, radius_m: float, widest: float | None = None
               ) -> list[dict[str, Any]]:
    """The sites that may lie within `radius_m` metres of the point, given their precision.

    The search reaches out by the largest site precision too (`widest`, read when not given:
    `widest_site`); the analysis measures each exactly.
    """
    reach = radius_m + (widest_site(conn) if widest is None else widest)
    return [dict(r) for r in conn.execute(site_select().where(within(sites.c.geom, lon, lat, reach))).mappings()]


def zone_select() -> Select:
    """The zone columns the analysis needs (notes included: the report prints them), with the
    geometry as WKB."""
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
