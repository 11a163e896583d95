"""Exact proximity among candidates the database has narrowed by index.

One vectorised geodesic call measures every candidate (pyproj.Geod on arrays), so ranking
thousands of candidates costs about as much as the query that fetched them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from geomap.analysis.geodesy import GEOD, Answer, Distance, Location, check_radius, normalise_bearing, within
from geomap.analysis.model import DayRange, Incident


@dataclass(frozen=True)
class NearbyIncident:
    """An incident seen from an origin: its distance triple, bearing, and days before the focus."""

    incident: Incident
    distance: Distance
    bearing: float
    within: Answer | None
    days_before: DayRange | None


def rank_nearby(origin: Location, candidates: Sequence[Incident], radius_m: float | None,
                focus_dates: tuple[date, date] | None = None) -> list[NearbyIncident]:
    """The candidates that are (possibly) within `radius_m` of `origin`, nearest first.

    A candidate is kept unless it is certainly beyond the radius (`within` says "no"); with
    `radius_m` None every candidate is kept and ranked, and `within` is None.
    """
    if radius_m is not None:
        radius_m = check_radius(radius_m, "radius_m")
    if not candidates:
        return []
    lons = np.array([c.location.lon for c in candidates])
    lats = np.array([c.location.lat for c in candidates])
    azimuths, _, metres = GEOD.inv(np.full_like(lons, origin.lon), np.full_like(lats, origin.lat), lons, lats)
    found = []
    for candidate, azimuth, best in zip(candidates, azimuths, metres):
        triple = Distance.from_best(float(best), origin.precision_m, candidate.location.precision_m)
        answer = None if radius_m is None else within(triple, radius_m)
        if answer != "no":
            days = DayRange.between(candidate.dates, focus_dates) if focus_dates else None
            found.append(NearbyIncident(candidate, triple, normalise_bearing(float(azimuth)), answer, days))
    return sorted(found, key=lambda n: (n.distance.best, n.incident.id))


def in_window(days: DayRange, window_days: int) -> Answer:
    """Did the other event happen within `window_days` before the focus (not after it)?

    "yes" when every possible gap is in [0, window_days], "no" when none is, else "possibly".
    """
    if days.min >= 0 and days.max <= window_days:
        return "yes"
    if days.max < 0 or days.min > window_days:
        return "no"
    return "possibly"
