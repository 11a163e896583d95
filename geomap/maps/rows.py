"""The records a scene draws, from database rows: groups, incidents with their claims, sites."""
from __future__ import annotations

from sqlalchemy import Connection

from geomap.db import candidates, map_queries, relations, store
from geomap.layers.scene import Claim, Group, MapIncident, MapSite


def groups(conn: Connection) -> dict[str, Group]:
    """Every group as a map shows it, by id."""
    return {g["id"]: Group(g["id"], g["name"], g["color"]) for g in candidates.all_groups(conn)}


def incidents(conn: Connection, clauses) -> list[MapIncident]:
    """The incidents that `clauses` (`map_queries.map_incident_filters`) select, with their claims."""
    rows = map_queries.map_incidents(conn, clauses)
    claims = store.current_attributions(conn, [r["id"] for r in rows]) if rows else {}
    derived = relations.derived_incidents(conn) if rows else {}
    return [MapIncident(
        id=r["id"], title=r["title"], lon=r["lon"], lat=r["lat"], precision_m=r["precision_m"],
        date_start=r["date_start"], date_end=r["date_end"], event_type=r["event_type"], status=r["status"],
        sub_event_type=r["sub_event_type"], description=r["description"], location_name=r["location_name"],
        fatalities_best=r["fatalities_best"], sources=tuple(r["sources"]),
        claims=tuple(Claim(c["group_id"], c["claimant"], c["stance"], tuple(c["sources"] or ()), c["notes"])
                     for c in claims.get(r["id"], ())), derived_from=derived.get(r["id"], ())) for r in rows]


def site(row: dict) -> MapSite:
    """A database row of a site as a MapSite."""
    return MapSite(row["id"], row["name"], row["kind"], row["lon"], row["lat"], row["precision_m"], row["status"],
                   tuple(row["sources"]))
