"""Zones as of a date: which contain a point, how far each group's nearest zone is, and which
zones of different groups overlap."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from shapely import STRtree

from geomap.analysis.geodesy import Answer, Distance, Location
from geomap.analysis.model import ControlZone
from geomap.analysis.polygons import overlap_area_km2, relate_points


@dataclass(frozen=True)
class ZoneRelation:
    """A zone seen from a point: does the zone contain it, and how far is the zone."""

    zone: ControlZone
    contains: Answer
    distance: Distance


@dataclass(frozen=True)
class Overlap:
    """Two zones of different groups that overlap, and the area they share in km²."""

    a: ControlZone
    b: ControlZone
    area_km2: float


def relate(location: Location, zones: Iterable[ControlZone], on: date) -> list[ZoneRelation]:
    """Every zone in force on `on`, related to `location`, nearest first.

    The zone's own boundary uncertainty widens both the containment test and the distance.
    """
    current = [zone for zone in zones if zone.in_force(on)]
    measured = relate_points(location.lon, location.lat, location.precision_m,
                             [(zone.geometry, zone.precision_m) for zone in current])
    relations = [ZoneRelation(zone, *m) for zone, m in zip(current, measured, strict=True)]
    return sorted(relations, key=lambda r: (r.distance.best, r.zone.id))


def nearest_by_group(relations: Iterable[ZoneRelation]) -> dict[str, ZoneRelation]:
    """For each group, its relation with the smallest best distance (relations come sorted)."""
    nearest: dict[str, ZoneRelation] = {}
    for relation in relations:
        nearest.setdefault(relation.zone.group, relation)
    return nearest


def overlaps(zones: Sequence[ControlZone], on: date) -> list[Overlap]:
    """Pairs of zones of different groups, both in force on `on`, that overlap (area > 0)."""
    current = [z for z in zones if z.in_force(on)]
    if not current:  # STRtree cannot query an empty list
        return []
    tree = STRtree([z.geometry for z in current])
    found = []
    for i, j in sorted({tuple(sorted(pair)) for pair in zip(*tree.query([z.geometry for z in current]), strict=True)}):
        a, b = current[i], current[j]
        if i != j and a.group != b.group and (area := overlap_area_km2(a.geometry, b.geometry)) > 0:
            found.append(Overlap(a, b, area))
    return sorted(found, key=lambda o: -o.area_km2)
