"""Exact proximity among candidates the database has narrowed by index.

One vectorised geodesic call measures every candidate (pyproj.Geod on arrays), so ranking
thousands of candidates costs about as much as the query that fetched them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from geomap.analysis.geodesy import GEOD, Answer, Distance, Location, check_radius, normalise_bearing
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
    azimuths, _, best = GEOD.inv(np.full_like(lons, origin.lon), np.full_like(lats, origin.lat), lons, lats)
    reach = origin.precision_m + np.array([c.location.precision_m for c in candidates])
    low, high = np.maximum(0.0, best - reach), best + reach  # as Distance.from_best, for all at once
    keep = np.ones(len(candidates), bool) if radius_m is None else low <= radius_m
    found = []
    for i in np.flatnonzero(keep):
        candidate = candidates[i]
        answer = None if radius_m is None else ("yes" if high[i] <= radius_m else "possibly")
        days = DayRange.between(candidate.dates, focus_dates) if focus_dates else None
        distance = Distance(float(best[i]), float(low[i]), float(high[i]))
        found.append(NearbyIncident(candidate, distance, normalise_bearing(float(azimuths[i])), answer, days))
    return sorted(found, key=lambda n: (n.distance.best, n.incident.id))
