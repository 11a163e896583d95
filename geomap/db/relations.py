"""Relations for the analysis: the location constraints that bear on some features (followed
from feature to feature), the locations and zones they name, and where a location was derived
from. Every value is bound."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, or_, select

from geomap.db.schema import control_zones, incidents, relations, sites
from geomap.vocabulary import EVENT_RELATIONS, LOCATION_RELATIONS

MAX_FEATURES = 200  # a chain of constraints is followed to at most this many features
_POINTS = {"incidents": incidents, "sites": sites}


def _columns():
    r = relations.c
    return (r.id, r.kind, r.subject, r.object, r.distance_min_m, r.distance_max_m, r.bearing_from, r.bearing_to,
            func.ST_AsBinary(r.geom).label("wkb"), r.notes, r.sources)


def constraints_around(conn: Connection, refs: Iterable[str]) -> list[dict[str, Any]]:
    """The location relations touching the features `refs` (`collection/id`), and those touching
    the features they lead to, up to MAX_FEATURES features; by id."""
    reached, frontier, found = set(refs), set(refs), {}
    while frontier and len(reached) <= MAX_FEATURES:
        query = select(*_columns()).where(relations.c.kind.in_(LOCATION_RELATIONS),
                                          or_(relations.c.subject.in_(frontier), relations.c.object.in_(frontier)))
        rows = [dict(row) for row in conn.execute(query).mappings() if row["id"] not in found]
        found.update((row["id"], row) for row in rows)
        ends = {end for row in rows for end in (row["subject"], row["object"]) if end}
        frontier = {e for e in ends - reached if not e.startswith("control_zones/")}
        reached |= frontier
    return [found[k] for k in sorted(found)]


def derivations(conn: Connection, refs: Iterable[str], either_end: bool = False) -> list[dict[str, Any]]:
    """The `derived_from` relations whose subject (or, `either_end`, object) is one of `refs`, by id."""
    refs = list(refs)
    ends = or_(relations.c.subject.in_(refs), relations.c.object.in_(refs)) if either_end else \
        relations.c.subject.in_(refs)
    query = select(*_columns()).where(relations.c.kind == "derived_from", ends)
    return [dict(row) for row in conn.execute(query.order_by(relations.c.id)).mappings()]


def locations(conn: Connection, refs: Iterable[str]) -> dict[str, tuple[float, float, float]]:
    """(lon, lat, precision_m) of each incident or site among `refs`."""
    out = {}
    by_collection: dict[str, list[str]] = {}
    for ref in refs:
        collection, _, fid = ref.partition("/")
        by_collection.setdefault(collection, []).append(fid)
    for collection, ids in by_collection.items():
        if collection not in _POINTS:
            continue
        t = _POINTS[collection]
        query = select(t.c.id, func.ST_X(t.c.geom), func.ST_Y(t.c.geom), t.c.precision_m).where(t.c.id.in_(ids))
        out.update({f"{collection}/{row[0]}": (row[1], row[2], row[3]) for row in conn.execute(query)})
    return out


def zones(conn: Connection, ids: Iterable[str]) -> dict[str, tuple[bytes, float]]:
    """(WKB, precision_m) of each zone among `ids`."""
    if not (ids := list(ids)):
        return {}
    z = control_zones.c
    query = select(z.id, func.ST_AsBinary(z.geom), z.precision_m).where(z.id.in_(ids))
    return {row[0]: (bytes(row[1]), row[2]) for row in conn.execute(query)}


def derived_incidents(conn: Connection) -> dict[str, tuple[str, ...]]:
    """For each incident whose point was derived from another feature's, those features
    (`collection/id`), by incident id. Relations are few: read whole, not per incident."""
    r = relations.c
    query = (select(r.subject, r.object).where(r.kind == "derived_from", r.subject.startswith("incidents/"))
             .order_by(r.subject, r.object))
    found: dict[str, tuple[str, ...]] = {}
    for subject, obj in conn.execute(query):
        key = subject.partition("/")[2]
        found[key] = (*found.get(key, ()), obj)
    return found


def event_links(conn: Connection, incident_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The links between events (`precedes`, `response_to`, `part_of`), with their sources and
    notes, by id; with `incident_ids`, those touching any of them (for a story map's chain)."""
    query = select(*_columns()).where(relations.c.kind.in_(EVENT_RELATIONS))
    if incident_ids is not None:
        refs = [f"incidents/{i}" for i in incident_ids]
        query = query.where(or_(relations.c.subject.in_(refs), relations.c.object.in_(refs)))
    return [dict(row) for row in conn.execute(query.order_by(relations.c.id)).mappings()]


def incident_starts(conn: Connection, ids: Iterable[str]) -> dict[str, Any]:
    """The start date of each incident among `ids` (stories are named by their first incident)."""
    ids = list(ids)
    if not ids:
        return {}
    query = select(incidents.c.id, incidents.c.date_start).where(incidents.c.id.in_(ids))
    return {row[0]: row[1] for row in conn.execute(query)}
