"""Exact proximity among candidates the database has narrowed by index.

One vectorised geodesic call measures every candidate (pyproj.Geod on arrays), so ranking
thousands of candidates costs about as much as the query that fetched them.
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from geomap.analysis.frozen import filler
from geomap.analysis.geodesy import (
    GEOD,
    UNCHECKED_LOCATION,
    Answer,
    Distance,
    Location,
    check_radius,
    normalise_bearing,
)
from geomap.analysis.model import DayRange, Incident


@dataclass(frozen=True)
class NearbyIncident:
    """An incident seen from an origin: its distance triple, bearing, and days before the focus.
    `note` says how the distance was measured when not between the two points (location
    constraints relate them), and where a location used was derived from another."""

    incident: Incident
    distance: Distance
    bearing: float
    within: Answer | None
    days_before: DayRange | None
    note: str | None = None


@dataclass(frozen=True)
class Spread:
    """Geodesic measures from an origin to many points at once: initial bearing (raw azimuth),
    and the distance triple (best, low = min, high = max) as arrays."""

    azimuth: np.ndarray
    best: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def measure(cls, origin: Location, lon: np.ndarray, lat: np.ndarray, precision_m: np.ndarray) -> Spread:
        azimuth, _, best = GEOD.inv(np.full_like(lon, origin.lon), np.full_like(lat, origin.lat), lon, lat)
        reach = origin.precision_m + precision_m
        return cls(azimuth, best, np.maximum(0.0, best - reach), best + reach)  # as Distance.from_best


@dataclass(frozen=True)
class Neighbours:
    """Incidents around a focus as columns: what measuring and counting thousands of them needs,
    without an object for each. Dates are proleptic ordinals (`date.toordinal`)."""

    ids: tuple[str, ...]
    lon: np.ndarray
    lat: np.ndarray
    precision_m: np.ndarray
    first: np.ndarray  # date_start
    last: np.ndarray  # date_end
    groups: dict[str, np.ndarray]  # each group's row numbers
    # measured from an origin once: the report measures its neighbours from the focus three
    # times (the list, the counts, the likely duplicates), a geodesic call over thousands each
    _spreads: dict[Location, Spread] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_columns(cls, columns: dict) -> Neighbours:
        """From columns ("id", "lon", "lat", "precision_m", "first" and "last" as ordinals,
        "group_count": how many groups each row names, "groups": those ids, row after row), as
        `geomap.db.near.neighbour_columns` gives them."""
        floats = (np.array(columns[k], dtype=float) for k in ("lon", "lat", "precision_m"))
        days = (np.array(columns[k], dtype=np.int64) for k in ("first", "last"))
        rows = np.repeat(np.arange(len(columns["id"])), np.array(columns["group_count"], dtype=np.int64))
        return cls(tuple(columns["id"]), *floats, *days, _by_group(rows, columns["groups"]))

    def __len__(self) -> int:
        return len(self.ids)

    def measure(self, origin: Location) -> Spread:
        """`Spread.measure` from `origin` to every neighbour (kept: read it, do not change it)."""
        if origin not in self._spreads:
            spread = Spread.measure(origin, self.lon, self.lat, self.precision_m)
            for array in (spread.azimuth, spread.best, spread.low, spread.high):
                array.flags.writeable = False
            self._spreads[origin] = spread
        return self._spreads[origin]

    def days_before(self, focus: tuple[date, date]) -> tuple[np.ndarray, np.ndarray]:
        """`DayRange.between` for every neighbour: (min, max) arrays."""
        return focus[0].toordinal() - self.last, focus[1].toordinal() - self.first

    def members(self) -> dict[str, np.ndarray]:
        """The row numbers of each group's incidents."""
        return self.groups

    def nearest(self, origin: Location, radius_m: float, count: int) -> list[str]:
        """The ids of the `count` nearest that are (possibly) within `radius_m`, nearest first."""
        if not self.ids:
            return []
        spread = self.measure(origin)
        kept = np.flatnonzero(spread.low <= check_radius(radius_m, "radius_m"))
        if 0 < count < len(kept):  # only those as near as the count-th nearest can be listed (ties kept)
            best = spread.best[kept]
            kept = kept[best <= np.partition(best, count - 1)[count - 1]]
        order = kept[np.lexsort((np.array([self.ids[i] for i in kept], dtype=object), spread.best[kept]))]
        return [self.ids[i] for i in order[:count]]


def _by_group(rows: np.ndarray, groups: Sequence[str]) -> dict[str, np.ndarray]:
    """Each group's row numbers, ascending: `rows[i]` is the row that names `groups[i]`."""
    if not len(groups):
        return {}
    names, which = np.unique(np.array(groups, dtype=object), return_inverse=True)
    order = np.argsort(which, kind="stable")
    split = np.split(rows[order], np.cumsum(np.bincount(which, minlength=len(names)))[:-1])
    return dict(zip(names.tolist(), split, strict=True))


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
    lon, lat, precision = np.array([(c.location.lon, c.location.lat, c.location.precision_m) for c in candidates],
                                   dtype=float).T
    return _ranked(origin, lon, lat, precision, [c.id for c in candidates], candidates.__getitem__, radius_m,
                   focus_dates)


def rank_rows(origin: Location, rows: Sequence[Sequence], columns: Sequence[str], radius_m: float | None,
              focus_dates: tuple[date, date] | None = None) -> list[NearbyIncident]:
    """`rank_nearby` of the incidents given as rows of `columns` (`Incident.from_row`'s names, in
    any order: `geomap.db.near.incident_rows`' tuples): the same results, equal object for
    object, with an `Incident` built only for each row kept, and every object of a result filled
    by `filler` (its locations checked at once by `Location.check_all`), not by the frozen
    classes' `__init__`: building and ranking the rows was most of nearby's Python (issue 16;
    bench/README.md, session 12)."""
    if radius_m is not None:
        radius_m = check_radius(radius_m, "radius_m")
    if not rows:
        return []
    at = {name: i for i, name in enumerate(columns)}
    take = operator.itemgetter(*(at[k] for k in _INCIDENT_FIELDS))
    i_lon, i_lat, i_precision = at["lon"], at["lat"], at["precision_m"]
    lon, lat, precision = np.array([(r[i_lon], r[i_lat], r[i_precision]) for r in rows], dtype=float).T
    Location.check_all(lon, lat, precision)
    i_id = at["id"]

    def incident(i: int) -> Incident:
        (ident, title, date_start, date_end, event_type, sub_event_type, status, target_site, groups, sources,
         x, y, metres) = take(rows[i])
        return _INCIDENT(ident, title, _LOCATION(x, y, metres), date_start, date_end, event_type, sub_event_type,
                         status, target_site, tuple(sorted(groups)), tuple(sources))

    return _ranked(origin, lon, lat, precision, [r[i_id] for r in rows], incident, radius_m, focus_dates)


# Incident.from_row's columns, in the order `rank_rows` reads them
_INCIDENT_FIELDS = ("id", "title", "date_start", "date_end", "event_type", "sub_event_type", "status", "target_site",
                    "groups", "sources", "lon", "lat", "precision_m")
_INCIDENT, _LOCATION = filler(Incident), UNCHECKED_LOCATION
_DISTANCE, _NEARBY = filler(Distance), filler(NearbyIncident)


def _ranked(origin: Location, lon: np.ndarray, lat: np.ndarray, precision: np.ndarray, ids: list[str],
            incident: Callable[[int], Incident], radius_m: float | None,
            focus_dates: tuple[date, date] | None) -> list[NearbyIncident]:
    """rank_nearby's ranking of candidates given as arrays of their locations and their ids,
    `incident(i)` the i-th's Incident, built once it is kept. Nearest first, then by id."""
    s = Spread.measure(origin, lon, lat, precision)
    kept = np.arange(len(ids)) if radius_m is None else np.flatnonzero(s.low <= radius_m)
    kept_list = kept.tolist()
    best, low, high, azimuth = (a[kept].tolist() for a in (s.best, s.low, s.high, s.azimuth))
    found = []
    for _, _, j in sorted(zip(best, [ids[i] for i in kept_list], range(len(kept_list)), strict=True)):
        candidate = incident(kept_list[j])
        answer = None if radius_m is None else ("yes" if high[j] <= radius_m else "possibly")
        days = DayRange.between(candidate.dates, focus_dates) if focus_dates else None
        found.append(_NEARBY(candidate, _DISTANCE(best[j], low[j], high[j]), normalise_bearing(azimuth[j]), answer,
                             days, None))
    return found
